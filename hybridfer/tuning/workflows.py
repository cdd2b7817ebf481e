"""The ``hybridfer`` command's workflows over a configuration, callable from Python.

A :class:`RunSetup` is a configuration (:mod:`hybridfer.tuning.config`) made ready for one
run: its working folder created, its storage, study name and feature cache resolved, its
data loaded once. Each workflow takes one and returns the library's result object, which
writes its own files (``.save(dir)``):

- :func:`tune_config` -> :class:`~hybridfer.tuning.study.TuneResult` (``hybridfer tune``);
- :func:`ablate_config` -> :class:`~hybridfer.tuning.ablation.AblationResult`
  (``hybridfer ablate``);
- :func:`evaluate_config` -> :class:`~hybridfer.evaluation.PipelineEvaluation`
  (``hybridfer evaluate``): a pipeline file, a pair at fixed settings or the study's best
  trial, fitted on the training split and reported on the test split;
- :func:`extract_features` fills the on-disk feature cache (``hybridfer extract``);
- :func:`demo_config` is the configuration of ``hybridfer demo`` (package data).

>>> setup = RunSetup(load_config("study.toml"))  # doctest: +SKIP
>>> tune_config(setup).save(setup.workdir)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from hybridfer._messages import one_line
from hybridfer.tuning.config import Config, ConfigError, check_folds, load_data, parse_config

__all__ = [
    "RunSetup",
    "ablate_config",
    "demo_config",
    "evaluate_config",
    "extract_features",
    "tune_config",
]

Log = Callable[[str], None]


def _silent(line: str) -> None:
    pass


class RunSetup:
    """A configuration made ready for one run: folders, storage, study name, cache and data.

    Parameters
    ----------
    cfg : Config
    workdir : path, optional
        The working folder (default: the config's ``[output] workdir``); created here.
    storage, study : str, optional
        Override the config's ``[study] storage`` and ``name``.
    data : (train, test), optional
        Datasets already loaded (the demo loads them once for its three steps).
    log : callable, optional
        Called with each progress line (how long the data took to load).

    Attributes
    ----------
    workdir : Path
    storage_url : str
    study_name : str
    cache : Path or None
        The feature cache (None when ``[cache] path`` is empty).
    """

    def __init__(
        self,
        cfg: Config,
        workdir: str | os.PathLike | None = None,
        storage: str | None = None,
        study: str | None = None,
        data: tuple | None = None,
        log: Log | None = None,
    ) -> None:
        self.cfg = cfg
        self.log = log or _silent
        self.workdir = _make_workdir(
            Path(workdir) if workdir else cfg.workdir,
            "--workdir" if workdir else f"{cfg.source}: output.workdir",
        )
        self.storage_url = storage or cfg.storage_url(self.workdir)
        self.study_name = study or cfg.study.name
        self.cache = cfg.cache_path(self.workdir)
        self._data = data

    def data(self, folds: bool = False) -> tuple[Any, Any]:
        """``(train, test)``, loaded on first use (test None without a test split); with
        ``folds``, check that the config's folds can be made from ``train``."""
        if self._data is None:
            start = time.perf_counter()
            self._data = load_data(self.cfg)
            train, test = self._data
            test_txt = f", test {len(test)} images" if test is not None else ""
            self.log(
                f"data: {train.name}: train {len(train)} images{test_txt} "
                f"({time.perf_counter() - start:.1f} s)"
            )
        if folds:
            check_folds(self.cfg, self._data[0])
        return self._data

    def groups(self, ds: Any) -> np.ndarray | None:
        """The subject ids folds keep together (None when ``cv.group`` is off)."""
        return ds.groups if self.cfg.cv.group else None

    def storage(self):
        """The study storage, with the config's heartbeat and retry settings."""
        from hybridfer.tuning.storage import make_storage

        s = self.cfg.study
        return make_storage(
            self.storage_url,
            heartbeat_interval=s.heartbeat_interval,
            grace_period=s.grace_period or None,
            max_retry=s.max_retry,
        )

    def data_source(self) -> str:
        """Where the data comes from, as the saved pipelines' metadata records it."""
        d = self.cfg.data
        return f"data.source = {d.source!r}" + (f", data.path = {d.path!r}" if d.path else "")


def _make_workdir(path: Path, what: str) -> Path:
    path = path.expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what} {os.fspath(path)!r} is a file; expected a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{what} {os.fspath(path)!r}: cannot create the folder ({exc.strerror or exc})"
        ) from None
    return path


def tune_config(
    setup: RunSetup,
    *,
    n_trials: int | None = None,
    add_trials: int | None = None,
    timeout: float | None = None,
    max_trials: int | None = None,
    resume: bool = True,
    reclaim_running: bool = False,
    refit: bool = True,
    progress: bool = False,
    log: Log | None = None,
):
    """Run (or join, or continue) the config's study with :func:`hybridfer.tuning.tune`.

    The study's target of finished trials is ``n_trials`` (else the config's) when it is
    created; ``n_trials`` sets it on an existing study and ``add_trials`` raises it.
    ``timeout`` (else the config's) and ``max_trials`` bound this call. Returns the
    :class:`~hybridfer.tuning.study.TuneResult`; raises TrialsFailedError when every trial
    of this call failed.
    """
    from hybridfer.tuning import study as study_module
    from hybridfer.tuning.samplers import make_sampler

    cfg, s = setup.cfg, setup.cfg.study
    space = cfg.tune_space()
    train, _ = setup.data(folds=True)
    return study_module.tune(
        train.X,
        train.y,
        space=space,
        groups=setup.groups(train),
        cv=cfg.cv.n_splits,
        scoring=s.metric,
        n_trials=n_trials,
        initial_trials=s.n_trials,
        add_trials=add_trials,
        timeout=(timeout or s.timeout) or None,
        storage=setup.storage_url,
        study_name=setup.study_name,
        resume=resume,
        sampler=make_sampler(s.sampler, s.random_state),
        pruner=s.pruner,
        cache=setup.cache,
        reuse_features=cfg.cache.reuse,
        resample=cfg.cv.resample,
        random_state=cfg.cv.random_state,
        refit=refit,
        progress=progress,
        max_trials=max_trials,
        heartbeat_interval=s.heartbeat_interval,
        grace_period=s.grace_period or None,
        max_retry=s.max_retry,
        reclaim_running=reclaim_running,
        metadata={"training_data": {"name": train.name, "source": setup.data_source()}},
        log=log,
    )


def ablate_config(
    setup: RunSetup,
    *,
    name: str | None = None,
    max_trials: int | None = None,
    resume: bool = True,
    progress: bool = False,
    test: bool | None = None,
    log: Log | None = None,
):
    """Every feature set x classifier of the config on identical folds
    (:func:`hybridfer.tuning.ablate`).

    ``name`` is the study's (default: ``[ablation] name``, else ``<study>-ablation``);
    ``test`` (default: ``[ablation] test``) also fits each pair on the training split and
    scores the test split. Returns the :class:`~hybridfer.tuning.ablation.AblationResult`.
    """
    from hybridfer.tuning.ablation import ablate

    say = log or _silent
    cfg = setup.cfg
    name = name or cfg.ablation.name or f"{cfg.study.name}-ablation"
    cfg.ablation_space()  # validates component parameters before any work
    train, test_ds = setup.data(folds=True)
    use_test = cfg.ablation.test if test is None else test
    if use_test and test_ds is None:
        raise ConfigError(
            f"{cfg.source}: ablation.test needs a test split (data.test_size > 0 "
            "or FER2013's test usage)"
        )
    say(
        f"ablation {name!r}: {len(cfg.ablation_features)} feature sets x "
        f"{len(cfg.ablation_classifiers)} classifiers, {cfg.cv.n_splits}-fold CV on "
        f"{len(train)} images"
        + (f", plus the test split ({len(test_ds)} images)" if use_test else "")
    )
    return ablate(
        train.X,
        train.y,
        features=cfg.ablation_features,
        classifiers=cfg.ablation_classifiers,
        params=cfg.fixed_params(),
        groups=setup.groups(train),
        cv=cfg.cv.n_splits,
        metrics=cfg.ablation.metrics,
        baseline=cfg.ablation.baseline,
        X_test=test_ds.X if use_test else None,
        y_test=test_ds.y if use_test else None,
        storage=setup.storage(),
        study_name=name,
        resume=resume,
        cache=setup.cache,
        reuse_features=cfg.cache.reuse,
        resample=cfg.cv.resample,
        random_state=cfg.cv.random_state,
        progress=progress,
        max_trials=max_trials,
        max_retry=cfg.study.max_retry,
    )


def evaluate_config(
    setup: RunSetup,
    *,
    pipeline: str | os.PathLike | None = None,
    pair: str | None = None,
    audit: bool = True,
    cross_data: Sequence[str] = (),
    log: Log | None = None,
):
    """Fit a pipeline on the config's training split and report on its test split, and on
    the ``cross_data`` sets (``"NAME:PATH"`` or paths; see
    :meth:`~hybridfer.evaluation.PipelineEvaluation.add_cross_data`).

    The pipeline is ``pipeline`` (a saved pipeline file, refitted), or ``pair``
    (``"features/classifier"`` at fixed settings), or else the best trial of the config's
    study. Returns the :class:`~hybridfer.evaluation.PipelineEvaluation` (``.save(dir)``
    writes its report).
    """
    from hybridfer.evaluation import evaluate_pipeline
    from hybridfer.tuning.objective import resample_indices

    say = log or _silent
    cfg = setup.cfg
    train, test = setup.data()
    if test is None:
        raise ConfigError(
            f"{cfg.source}: no test split to evaluate on: set data.test_size > 0 "
            "(or use FER2013's test usage)"
        )
    model, source, label = _chosen_pipeline(setup, pipeline, pair)
    say(
        f"evaluating {source}: fit on {len(train)} training images, report on {len(test)} "
        "test images"
    )
    rs = cfg.cv.random_state
    evaluation = evaluate_pipeline(
        model,
        train,
        test,
        source=source,
        label=label,
        fit_rows=resample_indices(train.y, np.arange(len(train)), cfg.cv.resample, rs),
        audit=audit,
        data_source=setup.data_source(),
        color=cfg.data.color if cfg.data.source == "folder" else "gray",
    )
    for spec in cross_data:
        try:
            report = evaluation.add_cross_data(spec, log=say)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--cross-data {os.fspath(spec)!r}: {one_line(exc)}") from exc
        say(report.split.describe())
    return evaluation


def _chosen_pipeline(setup: RunSetup, pipeline, pair) -> tuple[Any, str, str]:
    """(unfitted model, what it is in reports, its metadata label)."""
    cfg, rs = setup.cfg, setup.cfg.cv.random_state
    if pipeline is not None:
        from sklearn.base import clone

        from hybridfer.predict.saved import load_pipeline

        loaded, meta = load_pipeline(pipeline, "--pipeline")
        label = (meta or {}).get("pipeline") or Path(pipeline).name
        return clone(loaded), f"pipeline file {pipeline}", label
    if pair is not None:
        from hybridfer.tuning.spaces import PipelineSpace

        features, _, classifier = pair.partition("/")
        try:
            space = PipelineSpace(features, classifier, params=cfg.fixed_params(), tune=False)
        except ValueError as exc:
            raise ConfigError(f"--pair {pair!r}: {exc}") from None
        model = space.build_pipeline(
            space.choice(features, classifier), cache=setup.cache, random_state=rs
        )
        return model, f"pair {pair} at fixed settings", pair
    import optuna

    from hybridfer.tuning.storage import redact_url

    try:
        st = optuna.load_study(study_name=setup.study_name, storage=setup.storage())
        best = st.best_trial
    except (KeyError, ValueError) as exc:
        raise ConfigError(
            f"no completed trial of study {setup.study_name!r} in "
            f"{redact_url(setup.storage_url)} ({exc}); run `hybridfer tune` first, or pass "
            "--pipeline FILE or --pair FEATURES/CLASSIFIER"
        ) from None
    choice = cfg.tune_space().from_params(best.params)
    model = cfg.tune_space().build_pipeline(choice, cache=setup.cache, random_state=rs)
    source = f"best trial #{best.number} of study {setup.study_name!r} ({choice.label})"
    return model, source, choice.label


def extract_features(
    setup: RunSetup,
    *,
    features: Sequence[str] | None = None,
    split: str = "all",
    log: Log | None = None,
) -> dict[str, float]:
    """Fill the on-disk feature cache for the config's images.

    Each component of ``features`` (default: every feature set of the config's pipeline and
    ablation) at its fixed settings (``[params]`` over the estimator's defaults), on the
    ``split`` ``"train"``, ``"test"`` or ``"all"``. Per-image components only (a CNN trained
    in ``fit`` cannot be cached ahead of a study). Returns ``{component: seconds}``.
    """
    from optuna.trial import FixedTrial

    from hybridfer.tuning.objective import concat_images
    from hybridfer.tuning.registry import COMPONENTS, split_feature_set
    from hybridfer.tuning.spaces import parse_space, suggest_params

    say = log or _silent
    cfg = setup.cfg
    if setup.cache is None:
        raise ConfigError(f"{cfg.source}: cache.path is empty: there is no feature cache to fill")
    sets = features or list(dict.fromkeys([*cfg.pipeline.features, *cfg.ablation_features]))
    names: list[str] = []
    for fs in sets:
        for p in split_feature_set(fs, where="--features"):
            if p not in names:
                names.append(p)
    train, test = setup.data()
    tests = [test] if test is not None else []
    parts = {"train": [train], "test": tests, "all": [train, *tests]}[split]
    X = parts[0].X
    for ds in parts[1:]:
        X = concat_images(X, ds.X)
    fixed = cfg.fixed_params()
    timings: dict[str, float] = {}
    for name in names:
        comp = COMPONENTS[name]
        if not comp.per_image:
            say(f"{name}: skipped (trained in fit: its features depend on the training fold)")
            continue
        if "cache" not in comp.param_names():
            say(f"{name}: skipped (it takes no feature cache)")
            continue
        start = time.perf_counter()
        params = suggest_params(FixedTrial({}), name, parse_space(fixed.get(name), name))
        est = comp.build(params, cache=setup.cache, random_state=cfg.cv.random_state)
        F = est.fit(X).transform(X)
        timings[name] = round(time.perf_counter() - start, 2)
        say(f"{name}: {F.shape[0]} images x {F.shape[1]} features in the cache ({timings[name]} s)")
    say(f"feature cache: {setup.cache}")
    return timings


def demo_config(
    workdir: str | os.PathLike, *, n_samples: int | None = None, n_trials: int | None = None
) -> Config:
    """The configuration of ``hybridfer demo`` (``hybridfer/tuning/configs/demo.toml``), its
    relative paths in ``workdir``; ``n_samples`` and ``n_trials`` override its data size and
    its study's target."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    text = resources.files("hybridfer.tuning").joinpath("configs", "demo.toml").read_text()
    raw = tomllib.loads(text)
    if n_samples:
        raw["data"]["n_samples"] = n_samples
    if n_trials:
        raw["study"]["n_trials"] = n_trials
    return parse_config(raw, source="demo config", base_dir=Path(workdir).resolve())
