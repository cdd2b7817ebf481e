"""Ablations: every feature set x classifier pair, on identical folds, against a baseline.

An ablation is an Optuna study whose trials are the grid's pairs (one queued trial per pair,
fixed settings, no pruning), so it is stored, resumable and shareable by several workers like
any study. Each trial records its per-fold scores and the digests of its folds; the table is
built from the finished trials: mean +- std per pair, and the paired, fold-by-fold difference
to a named baseline pair with the Nadeau-Bengio corrected resampled t-test (folds share
training data, so the plain paired t-test is too optimistic).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from hybridfer.data.dataset import is_dataset
from hybridfer.tuning.objective import CVObjective, check_scoring
from hybridfer.tuning.spaces import PipelineSpace
from hybridfer.tuning.study import (
    STUDY_ATTR,
    make_storage,
    open_study,
    run_worker,
    study_spec,
)

__all__ = ["METRIC_LABELS", "AblationObjective", "AblationResult", "ablate", "corrected_ttest"]

#: Readable names of common metrics in tables.
METRIC_LABELS = {
    "accuracy": "accuracy",
    "f1_macro": "macro-F1",
    "balanced_accuracy": "balanced accuracy",
    "f1_weighted": "weighted F1",
}


def _label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def corrected_ttest(diffs: Sequence[float], test_train_ratio: float) -> float:
    """Two-sided p-value of the Nadeau-Bengio corrected resampled t-test on fold differences.

    ``t = mean(d) / sqrt((1/k + n_test/n_train) * var(d))`` with ``k - 1`` degrees of freedom.
    NaN with fewer than two folds or no variance.
    """
    from scipy import stats

    d = np.asarray(diffs, dtype=float)
    k = len(d)
    if k < 2:
        return float("nan")
    var = d.var(ddof=1)
    if var <= 0:
        return float("nan")
    t = d.mean() / math.sqrt((1.0 / k + test_train_ratio) * var)
    return float(2 * stats.t.sf(abs(t), df=k - 1))


class AblationObjective:
    """Trial objective of an ablation: the trial's queued pair, scored on every fold."""

    def __init__(self, objective: CVObjective, score_test: bool = False) -> None:
        self.objective = objective
        self.score_test = score_test

    def __call__(self, trial: optuna.trial.BaseTrial) -> float:
        space = self.objective.space
        features = trial.suggest_categorical("features", list(space.features))
        classifier = trial.suggest_categorical("classifier", list(space.classifiers))
        choice = space.choice(features, classifier)
        trial.set_user_attr("pipeline", choice.label)
        value = self.objective.evaluate(trial, choice, prune=False)
        if self.score_test:
            trial.set_user_attr("test_scores", self.objective.score_test(choice))
        return value


class AblationResult:
    """Per-fold scores of an ablation and the tables and chart built from them.

    Parameters
    ----------
    scores : DataFrame
        One row per (pair, fold): ``features``, ``classifier``, ``pair``, ``fold``,
        ``fold_id`` and one column per metric.
    metrics : sequence of str
        The metric columns; the first is the one the baseline comparison tests.
    baseline : str
        ``"features/classifier"`` of the reference pair.
    test_scores : DataFrame, optional
        One row per pair with its test-split scores.
    study : optuna.Study, optional
        The study the scores come from.
    test_train_ratio : float
        Validation to training size ratio of the folds (for the corrected t-test).
    """

    def __init__(
        self,
        scores: pd.DataFrame,
        metrics: Sequence[str],
        baseline: str,
        test_scores: pd.DataFrame | None = None,
        study: optuna.Study | None = None,
        test_train_ratio: float = 0.25,
    ) -> None:
        self.scores = scores
        self.metrics = tuple(metrics)
        self.baseline = baseline
        self.test_scores = test_scores
        self.study = study
        self.test_train_ratio = test_train_ratio

    @classmethod
    def from_study(cls, study: optuna.Study, baseline: str | None = None) -> AblationResult:
        """Rebuild the result of an ablation study (e.g. one loaded from its storage)."""
        spec = study.user_attrs.get(STUDY_ATTR, {})
        if spec.get("kind") != "ablation":
            raise ValueError(f"study {study.study_name!r} is not a hybridfer ablation")
        metrics = spec["metrics"]
        order = {p: i for i, p in enumerate(spec["pairs"])}
        rows, test_rows = [], []
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            pair = t.user_attrs["pipeline"]
            features, classifier = pair.split("/")
            per_fold = t.user_attrs["fold_scores"]
            for k, fold_id in enumerate(t.user_attrs["fold_ids"]):
                rows.append(
                    {
                        "features": features,
                        "classifier": classifier,
                        "pair": pair,
                        "fold": k,
                        "fold_id": fold_id,
                        **{m: per_fold[m][k] for m in metrics},
                    }
                )
            if "test_scores" in t.user_attrs:
                test_rows.append({"pair": pair, **t.user_attrs["test_scores"]})
        scores = pd.DataFrame(
            rows, columns=["features", "classifier", "pair", "fold", "fold_id", *metrics]
        )
        scores = scores.sort_values(
            ["pair", "fold"], key=lambda s: s.map(order) if s.name == "pair" else s, kind="stable"
        )
        scores = scores.reset_index(drop=True)
        tests = (
            pd.DataFrame(test_rows)
            .set_index("pair")
            .reindex([p for p in spec["pairs"] if p in {r["pair"] for r in test_rows}])
            if test_rows
            else None
        )
        return cls(
            scores,
            metrics,
            baseline or spec["baseline"],
            tests,
            study,
            spec.get("test_train_ratio", 0.25),
        )

    @property
    def pairs(self) -> list[str]:
        """Pairs with scores, in grid order."""
        return list(dict.fromkeys(self.scores["pair"]))

    def check_same_folds(self) -> None:
        """Raise ValueError unless every pair was scored on exactly the same folds."""
        ids = {p: tuple(g.sort_values("fold")["fold_id"]) for p, g in self.scores.groupby("pair")}
        if len(set(ids.values())) > 1:
            raise ValueError(f"pairs were scored on different folds: {ids}")

    def table(self) -> pd.DataFrame:
        """Numeric table, one row per pair: mean/std of each metric, paired differences to
        the baseline (``d_<metric>_mean``/``_std``), the corrected t-test p-value of the first
        metric's difference, and test-split scores when there are any."""
        self.check_same_folds()
        base = self.scores[self.scores["pair"] == self.baseline].sort_values("fold")
        rows = []
        for pair in self.pairs:
            g = self.scores[self.scores["pair"] == pair].sort_values("fold")
            row: dict[str, Any] = {
                "features": g["features"].iloc[0],
                "classifier": g["classifier"].iloc[0],
                "folds": len(g),
            }
            for m in self.metrics:
                row[f"{m}_mean"] = g[m].mean()
                row[f"{m}_std"] = g[m].std(ddof=1) if len(g) > 1 else float("nan")
            if len(base) == len(g) and len(base):
                for m in self.metrics:
                    d = g[m].to_numpy() - base[m].to_numpy()
                    row[f"d_{m}_mean"] = d.mean()
                    row[f"d_{m}_std"] = d.std(ddof=1) if len(d) > 1 else float("nan")
                d0 = g[self.metrics[0]].to_numpy() - base[self.metrics[0]].to_numpy()
                row[f"p_{self.metrics[0]}"] = (
                    float("nan")
                    if pair == self.baseline
                    else corrected_ttest(d0, self.test_train_ratio)
                )
            if self.test_scores is not None and pair in self.test_scores.index:
                for m in self.metrics:
                    if m in self.test_scores.columns:
                        row[f"test_{m}"] = self.test_scores.loc[pair, m]
            rows.append(row)
        return pd.DataFrame(rows)

    def to_markdown(self, digits: int = 3) -> str:
        """The table as GitHub markdown: ``mean ± std`` cells, differences signed."""
        tab = self.table()
        shown = pd.DataFrame({"features": tab["features"], "classifier": tab["classifier"]})

        def pm(mean: float, std: float, signed: bool = False) -> str:
            if pd.isna(mean):
                return ""
            sign = "+" if signed else ""
            std_txt = "" if pd.isna(std) else f" ± {std:.{digits}f}"
            return f"{mean:{sign}.{digits}f}{std_txt}"

        for m in self.metrics:
            shown[_label(m)] = [
                pm(a, b) for a, b in zip(tab[f"{m}_mean"], tab[f"{m}_std"], strict=True)
            ]
        for m in self.metrics:
            col = f"d_{m}_mean"
            if col in tab:
                shown[f"Δ {_label(m)}"] = [
                    "baseline" if f"{f}/{c}" == self.baseline else pm(a, b, signed=True)
                    for f, c, a, b in zip(
                        tab["features"], tab["classifier"], tab[col], tab[f"d_{m}_std"], strict=True
                    )
                ]
        pcol = f"p_{self.metrics[0]}"
        if pcol in tab:
            shown[f"p (Δ {_label(self.metrics[0])})"] = [
                "" if pd.isna(p) else f"{p:.3f}" for p in tab[pcol]
            ]
        for m in self.metrics:
            if f"test_{m}" in tab:
                shown[f"test {_label(m)}"] = [
                    "" if pd.isna(v) else f"{v:.{digits}f}" for v in tab[f"test_{m}"]
                ]
        header = "| " + " | ".join(shown.columns) + " |"
        rule = "|" + "|".join("---" for _ in shown.columns) + "|"
        body = [
            "| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)
        ]
        n_folds = int(tab["folds"].max()) if len(tab) else 0
        note = (
            f"\n\nMean ± std over {n_folds} folds (identical for every pair); Δ: paired "
            f"fold-by-fold difference to the baseline {self.baseline}; p: corrected "
            "resampled t-test (Nadeau & Bengio)."
        )
        return "\n".join([header, rule, *body]) + note

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the numeric table as CSV (atomically)."""
        from hybridfer._io import atomic_write_text

        atomic_write_text(path, self.table().to_csv(index=False))

    def save(self, directory: str | os.PathLike, name: str | None = None) -> dict[str, str]:
        """Write the ablation's report to ``directory`` (atomically); returns the files by name.

        ``ablation.csv`` (:meth:`table`), ``ablation_folds.csv`` (the per-fold ``scores``),
        ``ablation.md`` (:meth:`to_markdown` under the title ``Ablation NAME``, ``name``
        defaulting to the study's) and ``ablation.png`` (:meth:`plot`).
        """
        from hybridfer._io import atomic_write_text

        out = Path(directory)
        if name is None:
            name = self.study.study_name if self.study is not None else "ablation"
        paths = {
            "table_csv": out / "ablation.csv",
            "folds_csv": out / "ablation_folds.csv",
            "markdown": out / "ablation.md",
            "chart": out / "ablation.png",
        }
        self.to_csv(paths["table_csv"])
        atomic_write_text(paths["folds_csv"], self.scores.to_csv(index=False))
        atomic_write_text(paths["markdown"], f"# Ablation {name}\n\n{self.to_markdown()}\n")
        self.plot(paths["chart"])
        return {k: os.fspath(v) for k, v in paths.items()}

    def plot(self, path: str | os.PathLike | None = None, dpi: int = 150) -> Any:
        """Grouped bar chart (mean ± std per pair, one panel per metric); saved if ``path``."""
        from matplotlib.figure import Figure  # headless: no pyplot state, no display needed

        tab = self.table()
        features = list(dict.fromkeys(tab["features"]))
        classifiers = list(dict.fromkeys(tab["classifier"]))
        fig = Figure(
            figsize=(max(6.0, 1.3 * len(features) * len(self.metrics) + 2), 4.2),
            layout="constrained",
        )
        axes = fig.subplots(1, len(self.metrics), squeeze=False)[0]
        width = 0.8 / max(len(classifiers), 1)
        x = np.arange(len(features))
        for ax, m in zip(axes, self.metrics, strict=True):
            for j, c in enumerate(classifiers):
                sub = tab[tab["classifier"] == c].set_index("features").reindex(features)
                ax.bar(
                    x + (j - (len(classifiers) - 1) / 2) * width,
                    sub[f"{m}_mean"],
                    width,
                    yerr=sub[f"{m}_std"].fillna(0),
                    capsize=3,
                    label=c,
                )
            ax.set_xticks(x, features, rotation=20, ha="right")
            ax.set_ylabel(f"{_label(m)} (CV mean ± std)")
            ax.set_ylim(0, 1)
            ax.grid(axis="y", alpha=0.3)
        axes[0].legend(title="classifier", fontsize="small")
        fig.suptitle(f"Ablation: feature sets x classifiers (baseline {self.baseline})")
        if path is not None:
            from hybridfer._io import atomic_path

            with atomic_path(path) as tmp:
                fig.savefig(tmp, dpi=dpi, format=os.fspath(path).rsplit(".", 1)[-1])
        return fig


def ablate(
    X: Any,
    y: Any = None,
    *,
    features: Sequence[str] | str,
    classifiers: Sequence[str] | str,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    groups: Any = None,
    cv: Any = 5,
    metrics: Sequence[str] = ("accuracy", "f1_macro"),
    baseline: str | None = None,
    X_test: Any = None,
    y_test: Any = None,
    storage: Any = None,
    study_name: str | None = None,
    resume: bool = True,
    cache: Any = None,
    reuse_features: bool = True,
    resample: str | None = None,
    random_state: int | None = 0,
    progress: bool = False,
    max_trials: int | None = None,
    heartbeat_interval: int = 10,
    grace_period: int | None = None,
    max_retry: int | None = 3,
) -> AblationResult:
    """Cross-validate every feature set x classifier pair on the same folds.

    Parameters
    ----------
    X : images (array or paths) or FERDataset
        Training images (a dataset also gives ``y`` and ``groups``).
    y : array-like, optional
    features, classifiers : sequence of str
        The grid (registry names; feature unions with ``+``).
    params : mapping, optional
        Fixed parameters per component (no tuning in an ablation).
    groups : array-like, optional
        Subject ids for grouped folds.
    cv : int, splitter or list of index pairs, default=5
    metrics : sequence of str, default=("accuracy", "f1_macro")
        Scikit-learn scorers; the trial value and the baseline test use ``"f1_macro"`` when
        listed, else the first.
    baseline : str, optional
        ``"features/classifier"`` (default: the first pair).
    X_test, y_test : optional
        A test split: each pair is also fitted on all of ``X`` and scored on it.
    storage, study_name, resume, heartbeat_interval, grace_period, max_retry
        Where the ablation study lives (see :func:`hybridfer.tuning.study.make_storage`).
    cache, reuse_features, resample, random_state, progress, max_trials
        As in :func:`hybridfer.tuning.tune`.
    """
    if is_dataset(X) and y is None:
        X, y, groups = X.X, X.y, X.groups if groups is None else groups
    if y is None:
        raise ValueError("y is required unless X is a dataset (hybridfer.data.FERDataset)")
    if is_dataset(X_test) and y_test is None:
        X_test, y_test = X_test.X, X_test.y
    metrics = [check_scoring(m, "metrics") for m in dict.fromkeys(metrics)]
    if not metrics:
        raise ValueError("metrics must name at least one scorer")
    main = "f1_macro" if "f1_macro" in metrics else metrics[0]
    metrics = [main, *[m for m in metrics if m != main]]
    space = PipelineSpace(features, classifiers, params=params, tune=False)
    pairs = [f"{f}/{c}" for f, c in space.pairs]
    baseline = baseline or pairs[0]
    if baseline not in pairs:
        raise ValueError(f"baseline {baseline!r} is not one of the pairs: {pairs}")
    objective = CVObjective(
        X,
        y,
        space,
        cv=cv,
        groups=groups,
        scoring=main,
        extra_scoring=metrics[1:],
        resample=resample,
        store="auto" if reuse_features else None,
        cache=cache,
        random_state=random_state,
        X_test=X_test,
        y_test=y_test,
    )
    sizes = [(len(va), len(tr)) for tr, va in objective.folds]
    ratio = float(np.mean([a / b for a, b in sizes]))
    storage = make_storage(
        storage,
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
        max_retry=max_retry,
    )
    spec = {
        **study_spec("ablation", space, objective),
        "metrics": metrics,
        "pairs": pairs,
        "baseline": baseline,
        "test": objective.has_test,
        "test_train_ratio": ratio,
    }
    tickets = [{"features": f, "classifier": c} for f, c in space.pairs]
    study = open_study(
        storage,
        study_name,
        spec=spec,
        tickets=tickets,
        sampler=optuna.samplers.RandomSampler(seed=random_state),
        pruner=optuna.pruners.NopPruner(),
        resume=resume,
    )
    run_worker(
        study,
        AblationObjective(objective, score_test=objective.has_test),
        storage=storage,
        max_trials=max_trials,
        progress=progress,
        max_retry=max_retry,
    )
    return AblationResult.from_study(study, baseline)
