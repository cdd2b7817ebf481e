"""hybridfer.tuning: spaces, registry, CV objective, feature reuse, studies and ablations."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState
from sklearn.pipeline import FeatureUnion, Pipeline

from hybridfer.data import make_faces
from hybridfer.tuning import (
    COMPONENTS,
    AblationResult,
    Component,
    ComponentError,
    CVObjective,
    FeatureStore,
    PipelineSpace,
    SpaceError,
    ablate,
    add_trials,
    available_components,
    build_features,
    get_component,
    make_pruner,
    make_sampler,
    make_storage,
    open_study,
    register_component,
    run_worker,
    study_counts,
    tune,
)
from hybridfer.tuning.ablation import corrected_ttest
from hybridfer.tuning.objective import make_folds, resample_indices
from hybridfer.tuning.spaces import decode_value, parse_param, suggest_params
from hybridfer.tuning.study import StorageError, StudyMismatchError, TrialSeededSampler
from hybridfer.tuning.worker import _claim_ticket

optuna.logging.set_verbosity(optuna.logging.WARNING)

FAST = {"logreg": {"max_iter": 300}}


@pytest.fixture(scope="module")
def faces():
    return make_faces(168, image_size=32, random_state=0)


# ---- spaces ---------------------------------------------------------------------------------


def test_parse_param_reads_every_form():
    assert parse_param({"low": 0.1, "high": 10.0, "log": True}, "x") == FloatDistribution(
        0.1, 10.0, log=True
    )
    assert parse_param({"low": 2, "high": 8}, "x") == IntDistribution(2, 8)
    assert parse_param({"low": 2, "high": 8, "type": "float"}, "x") == FloatDistribution(2, 8)
    assert parse_param({"choices": ["a", "None"]}, "x") == CategoricalDistribution(["a", None])
    assert parse_param("None", "x") is None
    assert parse_param([8, 8], "x") == [8, 8]
    assert decode_value({"a": ["None", 1]}) == {"a": [None, 1]}
    # list-valued choices go through the study as JSON and come back as tuples
    spec = parse_param({"choices": [[6, 6], [8, 8]]}, "x")
    trial = optuna.trial.FixedTrial({"hog.pixels_per_cell": "[6, 6]"})
    assert suggest_params(trial, "hog", {"pixels_per_cell": spec}) == {"pixels_per_cell": (6, 6)}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"lo": 1, "high": 2}, "valid keys are"),
        ({"low": 3, "high": 2}, "greater than high"),
        ({"low": 0.0, "high": 1.0, "log": True}, "low > 0"),
        ({"low": 1}, "needs both 'low' and 'high'"),
        ({"choices": []}, "non-empty list"),
        ({"choices": ["a"], "low": 1}, "takes only 'choices'"),
        ({"low": 1, "high": 2, "type": "complex"}, "type must be one of"),
    ],
)
def test_parse_param_errors_say_where_and_what(spec, message):
    with pytest.raises(SpaceError, match="space.svm.C") as info:
        parse_param(spec, "space.svm.C")
    assert message in str(info.value)


# ---- registry -------------------------------------------------------------------------------


def test_registry_names_the_issue_components():
    for name in (
        "resnet50",
        "mobilenetv3_large",
        "mobilenetv3_small",
        "mobilenetv2",
        "convnext_tiny",
        "cnn",
        "hog",
        "lbp",
        "wnxgb",
        "xgb",
        "lgbm",
        "svm",
        "rf",
        "lstm",
        "logreg",
    ):
        assert name in COMPONENTS
    for name in ("hog", "lbp", "wnxgb", "svm", "rf", "logreg"):
        assert name in available_components()


@pytest.mark.parametrize("name", [n for n in COMPONENTS if COMPONENTS[n].available()])
def test_default_spaces_name_real_parameters(name):
    comp = COMPONENTS[name]
    comp.check_params({**comp.defaults, **comp.space}, "default space")
    space = PipelineSpace("hog", name) if comp.kind == "classifier" else PipelineSpace(name, "svm")
    assert name in space.spaces


def test_unknown_and_unavailable_components_are_clear():
    with pytest.raises(ComponentError, match=r"unknown classifier 'svc'.*'svm'"):
        get_component("svc", "classifier")
    with pytest.raises(ComponentError, match=r"unknown feature component 'hogg'"):
        PipelineSpace("hog+hogg", "svm")
    with pytest.raises(ComponentError, match=r"no parameter\(s\) \['gama'\].*valid parameters"):
        PipelineSpace("hog", "svm", params={"svm": {"gama": 1.0}})
    ghost = Component("ghost", "features", "hybridfer_no_such_module:Ghost", "test only")
    register_component(ghost)
    try:
        assert "ghost" not in available_components()  # lazy: listed only once it imports
        assert not ghost.available()
        with pytest.raises(ComponentError, match="hybridfer_no_such_module.Ghost"):
            ghost.build()
    finally:
        del COMPONENTS["ghost"]


def test_union_builds_a_feature_union(faces):
    union = build_features("hog+lbp")
    assert isinstance(union, FeatureUnion)
    X = faces.X[:5]
    width = build_features("hog").fit_transform(X).shape[1]
    width += build_features("lbp").fit_transform(X).shape[1]
    assert union.fit_transform(X).shape == (5, width)


# ---- objective ------------------------------------------------------------------------------


def test_conditional_space_draws_only_chosen_components(faces):
    study, best = tune(
        faces,
        features=["hog", "lbp"],
        classifiers=["svm", "logreg"],
        params=FAST,
        cv=2,
        n_trials=6,
        sampler="random",
        pruner="none",
    )
    for t in study.trials:
        chosen = {t.params["features"], t.params["classifier"]}
        prefixes = {k.split(".")[0] for k in t.params if "." in k}
        assert prefixes == chosen
    choice = PipelineSpace(["hog", "lbp"], ["svm", "logreg"], params=FAST).from_params(
        study.best_trial.params
    )
    assert isinstance(best, Pipeline)
    clf = best.named_steps["classifier"].steps[-1][1]
    for k, v in choice.params[choice.classifier].items():
        assert clf.get_params()[k] == v
    assert set(best.predict(faces.X[:10])) <= set(faces.classes)


def test_features_are_computed_once_per_setting(faces):
    space = PipelineSpace(
        "hog",
        ["svm", "logreg"],
        params=FAST,
        space={
            "hog": {
                "orientations": {"choices": [8, 9]},
                "pixels_per_cell": [8, 8],
                "cells_per_block": 2,
            }
        },
    )
    objective = CVObjective(faces.X, faces.y, space, cv=3, random_state=0)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(objective, n_trials=6)
    settings = {t.params["hog.orientations"] for t in study.trials}
    assert len(settings) == 2
    # every setting embedded every image exactly once, whatever the trials and folds
    assert objective.store.images_transformed["hog"] == len(faces) * len(settings)


def test_cached_and_uncached_objectives_agree(faces):
    space = PipelineSpace("hog+lbp", "logreg", params=FAST, tune=False)
    choice = space.choice("hog+lbp", "logreg")
    cached = CVObjective(faces.X, faces.y, space, cv=3, extra_scoring=["accuracy"])
    plain = CVObjective(faces.X, faces.y, space, cv=3, extra_scoring=["accuracy"], store=None)
    for k in range(3):
        a, b = cached.score_fold(choice, k), plain.score_fold(choice, k)
        assert a.keys() == b.keys() == {"f1_macro", "accuracy"}
        for m in a:
            assert a[m] == pytest.approx(b[m], abs=1e-9)


def test_resampling_touches_training_rows_only():
    y = np.array(["a"] * 30 + ["b"] * 6 + ["c"] * 12)
    train = np.arange(0, 48, 2)
    over = resample_indices(y, train, "oversample", 0)
    under = resample_indices(y, train, "undersample", 0)
    assert set(over) <= set(train) and set(under) <= set(train)
    for idx, target in ((over, 15), (under, 3)):
        _, counts = np.unique(y[idx], return_counts=True)
        assert counts.tolist() == [target] * 3
    assert resample_indices(y, train, "none", 0) is train
    with pytest.raises(ValueError, match="oversample"):
        resample_indices(y, train, "smote", 0)


def test_resampled_objective_scores_untouched_validation_rows(faces):
    seen = []

    class Spy(CVObjective):
        def _fit_score(self, choice, train, test):
            seen.append((train, test))
            return super()._fit_score(choice, train, test)

    unbalanced = faces.subset(
        np.r_[np.flatnonzero(faces.y != "happy"), np.flatnonzero(faces.y == "happy")[:6]]
    )
    space = PipelineSpace("hog", "logreg", params=FAST, tune=False)
    obj = Spy(unbalanced.X, unbalanced.y, space, cv=3, resample="oversample")
    for k in range(3):
        obj.score_fold(space.choice("hog", "logreg"), k)
    for (train, test), (fold_train, fold_test) in zip(seen, obj.folds, strict=True):
        assert np.array_equal(test, fold_test)  # validation rows as they are
        assert set(train) <= set(fold_train) and len(train) > len(fold_train)


@pytest.mark.filterwarnings("ignore:The groups parameter is ignored")
def test_grouped_folds_keep_subjects_apart(faces):
    folds = make_folds(faces.y, 4, faces.groups)
    for train, test in folds:
        assert not set(faces.groups[train]) & set(faces.groups[test])
    from sklearn.model_selection import StratifiedKFold

    leaky = StratifiedKFold(4, shuffle=True, random_state=0)
    with pytest.raises(ValueError, match="groups on both sides"):
        make_folds(faces.y, leaky, faces.groups)


def test_pruning_prunes_in_a_study_built_to_need_it(faces):
    # good settings first, then hopeless ones (a tiny C: chance level), queued as tickets;
    # the hopeless trials fall below the median after their first fold
    space = PipelineSpace(
        "hog",
        "svm",
        space={"svm": {"C": {"low": 1e-7, "high": 10.0, "log": True}, "class_weight": "None"}},
    )
    objective = CVObjective(faces.X, faces.y, space, cv=4)
    storage = make_storage(None)
    tickets = [{"svm.C": c} for c in (1.0, 3.0, 10.0, 0.5, 1e-7, 2e-7, 5e-7, 2.0)]
    study = open_study(
        storage,
        "p",
        spec={"kind": "test"},
        tickets=tickets,
        sampler=make_sampler("random", 0),
        pruner=make_pruner("median", 4, n_startup_trials=3),
    )
    run_worker(study, objective, storage=storage)
    pruned = study.get_trials(states=(TrialState.PRUNED,))
    assert {1e-7, 2e-7, 5e-7} <= {t.params["svm.C"] for t in pruned}
    for t in pruned:
        assert len(t.intermediate_values) < 4  # stopped before its last fold
        steps = sorted(t.intermediate_values)
        folds = t.user_attrs["fold_scores"]["f1_macro"]
        assert t.intermediate_values[steps[-1]] == pytest.approx(np.mean(folds))
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert all(len(t.intermediate_values) == 4 for t in complete)
    assert isinstance(make_pruner("hyperband", 5), optuna.pruners.HyperbandPruner)


# ---- studies --------------------------------------------------------------------------------


def _quick_objective(trial):
    return trial.suggest_float("x", 0, 1)


def test_budget_is_shared_and_resumable(faces, tmp_path):
    kw = dict(
        features="hog",
        classifiers="logreg",
        params=FAST,
        cv=2,
        n_trials=5,
        storage=tmp_path / "s.db",
        study_name="s",
        refit=False,
    )
    study, _ = tune(faces, max_trials=2, **kw)
    assert study_counts(study)["finished"] == 2
    assert study_counts(study)["waiting"] == 3
    study, _ = tune(faces, **kw)
    counts = study_counts(study)
    assert counts["finished"] == 5 and len(study.trials) == 5  # exactly the budget
    study, _ = tune(faces, **kw)  # a finished study runs nothing more
    assert len(study.trials) == 5
    with pytest.raises(StudyMismatchError, match="already exists"):
        tune(faces, resume=False, **kw)
    with pytest.raises(StudyMismatchError, match="space"):
        tune(faces, **{**kw, "classifiers": "svm"})


def test_interrupted_trial_is_failed_and_queued_again(tmp_path):
    storage = make_storage(tmp_path / "i.db")
    study = open_study(storage, "i", spec={"kind": "test"}, tickets=[{}] * 4)
    calls = []

    def interrupted(trial):
        calls.append(trial.number)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return _quick_objective(trial)

    with pytest.raises(KeyboardInterrupt):
        run_worker(study, interrupted, storage=storage)
    counts = study_counts(study)
    assert counts["complete"] == 1 and counts["fail"] == 1 and counts["waiting"] == 3
    report = run_worker(study, _quick_objective, storage=storage)
    assert report.study_done
    counts = study_counts(study)
    assert counts["complete"] == 4 and counts["fail"] == 1 and counts["waiting"] == 0


def test_failing_trials_are_recorded_and_a_broken_setup_stops(tmp_path):
    storage = make_storage(None)
    study = open_study(storage, None, spec={"kind": "test"}, tickets=[{}] * 5)

    def odd_fails(trial):
        if trial.number % 2:
            raise ValueError("odd")
        return 1.0

    report = run_worker(study, odd_fails, storage=storage)
    # the target counts finished trials: each failed one is replaced by a new ticket
    assert (report.complete, report.failed) == (5, 4)
    assert report.study_done
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert failed[0].user_attrs["error"] == "ValueError: odd"
    study = open_study(storage, "b", spec={"kind": "test"}, tickets=[{}] * 5)

    def broken(trial):
        raise ValueError("broken")

    with pytest.raises(RuntimeError, match="3 trials failed in a row"):
        run_worker(study, broken, storage=storage)


def test_dead_workers_trial_is_taken_over(tmp_path):
    storage = make_storage(tmp_path / "h.db", heartbeat_interval=1, grace_period=2)
    study = open_study(storage, "h", spec={"kind": "test"}, tickets=[{}] * 3)
    study_id = storage.get_study_id_from_name("h")
    _, dead = _claim_ticket(storage, study_id)  # a worker that claimed a trial, then died
    storage.record_heartbeat(dead)
    report = run_worker(study, _quick_objective, storage=storage)
    assert report.study_done
    counts = study_counts(study)
    assert counts["complete"] == 3 and counts["fail"] == 1 and counts["running"] == 0
    retried = [t for t in study.trials if t.system_attrs.get("failed_trial") is not None]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE


def test_journal_storage_and_reclaiming_a_crashed_trial(tmp_path):
    storage = make_storage(tmp_path / "study.log")
    study = open_study(storage, "j", spec={"kind": "test"}, tickets=[{}] * 2)
    run_worker(study, _quick_objective, storage=storage)
    assert add_trials(study, 1) == 3
    crashed = _claim_ticket(storage, storage.get_study_id_from_name("j"))
    assert crashed is not None
    report = run_worker(study, _quick_objective, storage=storage)  # no heartbeat: not waited on
    assert not report.study_done and study_counts(study)["running"] == 1
    report = run_worker(study, _quick_objective, storage=storage, reclaim_running=True)
    assert report.study_done
    counts = study_counts(study)
    assert counts["complete"] == 3 and counts["fail"] == 1


def test_sampler_is_reproducible_alone_and_distinct_across_trials():
    def run(seed):
        study = optuna.create_study(sampler=make_sampler("tpe", seed))
        study.optimize(_quick_objective, n_trials=8)
        return [t.params["x"] for t in study.trials]

    a, b = run(3), run(3)
    assert a == b
    assert len(set(a)) == len(a)
    assert run(4) != a
    assert isinstance(make_sampler("random", 0), TrialSeededSampler)
    with pytest.raises(ValueError, match="sampler must be one of"):
        make_sampler("grid")


def test_storage_errors_are_clear(tmp_path):
    with pytest.raises(StorageError, match="SQLite file"):
        make_storage(tmp_path / "study.txt")
    with pytest.raises(ValueError, match="grace_period"):
        make_storage(tmp_path / "a.db", heartbeat_interval=5, grace_period=5)


# ---- ablation -------------------------------------------------------------------------------


def test_ablation_pairs_share_folds_and_compare_to_baseline(faces, tmp_path):
    result = ablate(
        faces,
        features=["hog", "lbp"],
        classifiers=["logreg", "svm"],
        params=FAST,
        cv=3,
        baseline="hog/svm",
        storage=tmp_path / "a.db",
        study_name="a",
    )
    assert result.pairs == ["hog/logreg", "hog/svm", "lbp/logreg", "lbp/svm"]
    fold_ids = result.scores.groupby("pair")["fold_id"].apply(tuple)
    assert fold_ids.nunique() == 1 and len(fold_ids.iloc[0]) == 3
    table = result.table()
    assert len(table) == 4
    base = table[(table["features"] == "hog") & (table["classifier"] == "svm")].iloc[0]
    assert base["d_f1_macro_mean"] == 0 and base["d_accuracy_mean"] == 0
    for _, row in table.iterrows():
        scores = result.scores[result.scores["pair"] == f"{row['features']}/{row['classifier']}"]
        assert row["accuracy_mean"] == pytest.approx(scores["accuracy"].mean())
        assert row["f1_macro_std"] == pytest.approx(scores["f1_macro"].std(ddof=1))
        base_scores = result.scores[result.scores["pair"] == "hog/svm"]["f1_macro"].to_numpy()
        d = scores["f1_macro"].to_numpy() - base_scores
        assert row["d_f1_macro_mean"] == pytest.approx(d.mean())
    md = result.to_markdown()
    for pair in result.pairs:
        assert "| " + pair.replace("/", " | ") + " |" in md
    assert "baseline" in md and "±" in md
    png = tmp_path / "a.png"
    result.plot(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result.to_csv(tmp_path / "a.csv")
    assert (tmp_path / "a.csv").read_text().startswith("features,classifier,folds")
    # the study is the record: reopening it gives the same table
    reopened = AblationResult.from_study(
        optuna.load_study(study_name="a", storage=f"sqlite:///{tmp_path / 'a.db'}")
    )
    assert reopened.table().equals(table)
    tampered = result.scores.copy()
    tampered.loc[0, "fold_id"] = "other"
    with pytest.raises(ValueError, match="different folds"):
        AblationResult(tampered, result.metrics, result.baseline).table()


def test_ablation_test_split_scores_match_a_plain_fit(faces):
    from sklearn.metrics import f1_score

    train, test = faces.subset(np.arange(120)), faces.subset(np.arange(120, 168))
    result = ablate(
        train, features=["hog+lbp"], classifiers=["logreg"], params=FAST, cv=2, X_test=test
    )
    space = PipelineSpace("hog+lbp", "logreg", params=FAST, tune=False)
    model = space.build_pipeline(space.choice("hog+lbp", "logreg"), random_state=0)
    model.fit(train.X, train.y)
    expected = f1_score(test.y, model.predict(test.X), average="macro")
    assert result.table()["test_f1_macro"].iloc[0] == pytest.approx(expected, abs=1e-9)


def test_wnxgb_runs_in_a_study(faces):
    study, best = tune(
        faces,
        features="hog",
        classifiers=["wnxgb", "xgb"],
        cv=2,
        n_trials=2,
        params={"wnxgb": {"n_estimators": 5, "n_jobs": 1}, "xgb": {"n_estimators": 5, "n_jobs": 1}},
        space={"wnxgb": {"n_estimators": 5}, "xgb": {"n_estimators": 5}},
        sampler="random",
        pruner="none",
    )
    assert study_counts(study)["complete"] == 2
    assert set(best.predict(faces.X[:5])) <= set(faces.classes)


def test_corrected_ttest_matches_the_formula():
    from scipy import stats

    d = np.array([0.02, 0.03, 0.01, 0.04, 0.02])
    t = d.mean() / math.sqrt((1 / 5 + 0.25) * d.var(ddof=1))
    assert corrected_ttest(d, 0.25) == pytest.approx(2 * stats.t.sf(t, 4))
    assert math.isnan(corrected_ttest([0.1, 0.1], 0.25))


def test_feature_store_keeps_within_its_memory_budget(faces):
    store = FeatureStore(faces.X, max_bytes=1)
    store.per_image("hog", {})
    store.per_image("lbp", {})
    assert len(store) == 1  # the oldest matrix was dropped
    store.per_image("hog", {})
    assert store.images_transformed["hog"] == 2 * len(faces)
