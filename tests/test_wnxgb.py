"""WNXGBClassifier: scikit-learn conformance, the paper readings it offers, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from hybridfer.classifiers import WNXGBClassifier
from hybridfer.classifiers._weights import class_weight_vector
from hybridfer.classifiers.wnxgb import _SoftmaxObjective

FAST = {"n_estimators": 5, "n_jobs": 1, "random_state": 0}


def _expected_failures(estimator: WNXGBClassifier) -> dict[str, str]:
    if estimator.early_stopping_rounds is not None:
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "early stopping holds out a random validation_fraction of the rows; repeating "
                "rows instead of weighting them changes which rows are held out"
            )
        }
    return {}


@parametrize_with_checks(
    [
        WNXGBClassifier(**FAST),
        WNXGBClassifier(**FAST, feature_norm="l2", normalized_gradient=True),
        WNXGBClassifier(**FAST, class_weight="balanced", preset="paper", feature_norm="standard"),
        WNXGBClassifier(**FAST, early_stopping_rounds=2, validation_fraction=0.2),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _problem(n=600, d=20, n_classes=3, **kw):
    params = {"n_informative": 8, "n_redundant": 2, "class_sep": 1.5, "random_state": 0}
    params.update(kw)
    X, y = make_classification(n, d, n_classes=n_classes, **params)
    return X[: n * 2 // 3], y[: n * 2 // 3], X[n * 2 // 3 :], y[n * 2 // 3 :]


def test_accuracy_well_above_chance():
    X, y, Xt, yt = _problem(class_sep=2.0)
    clf = WNXGBClassifier(n_estimators=40, n_jobs=1, random_state=0).fit(X, y)
    proba = clf.predict_proba(Xt)
    assert proba.shape == (len(Xt), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert np.mean(clf.predict(Xt) == yt) > 0.85  # chance is 1/3
    assert clf.n_features_in_ == X.shape[1]
    assert clf.booster_.num_boosted_rounds() == 40 and clf.best_iteration_ == 39


def test_binary_problem():
    X, y, Xt, yt = _problem(n_classes=2, class_sep=2.0)
    clf = WNXGBClassifier(n_estimators=30, n_jobs=1, random_state=0).fit(X, y)
    assert clf.xgb_params_["objective"] == "binary:logistic"
    proba = clf.predict_proba(Xt)
    assert proba.shape == (len(Xt), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert np.mean(clf.predict(Xt) == yt) > 0.85


@pytest.mark.parametrize("n_classes", [2, 3])
def test_string_labels_round_trip(n_classes):
    names = np.array(["surprise", "angry", "happy"][:n_classes])
    X, y, Xt, yt = _problem(n_classes=n_classes, class_sep=2.0)
    clf = WNXGBClassifier(n_estimators=20, n_jobs=1, random_state=0).fit(X, names[y])
    assert clf.classes_.tolist() == sorted(names.tolist())
    pred = clf.predict(Xt)
    assert pred.dtype == names.dtype and set(pred) <= set(names)
    assert np.mean(pred == names[yt]) > 0.85
    # predict_proba columns follow classes_
    np.testing.assert_array_equal(clf.classes_[clf.predict_proba(Xt).argmax(axis=1)], pred)


def test_balanced_class_weights_mean_one_and_change_predictions():
    X, y, Xt, yt = _problem(n=900, weights=[0.8, 0.15, 0.05], class_sep=0.8, flip_y=0.05)
    plain = WNXGBClassifier(n_estimators=30, n_jobs=1, random_state=0).fit(X, y)
    balanced = WNXGBClassifier(
        n_estimators=30, n_jobs=1, random_state=0, class_weight="balanced"
    ).fit(X, y)
    np.testing.assert_array_equal(plain.class_weights_, np.ones(3))
    assert np.mean(balanced.class_weights_[y]) == pytest.approx(1.0)
    counts = np.bincount(y)
    # every class carries the same total weight
    np.testing.assert_allclose(balanced.class_weights_ * counts, len(y) / 3)
    minority_plain = np.sum(plain.predict(Xt) != 0)
    minority_balanced = np.sum(balanced.predict(Xt) != 0)
    assert minority_balanced > minority_plain
    assert not np.array_equal(plain.predict(Xt), balanced.predict(Xt))


def test_class_weight_vector_forms():
    classes = np.array(["a", "b", "c"])
    y = np.array([0, 0, 0, 1, 2, 2])
    np.testing.assert_allclose(class_weight_vector(None, y, classes), [1, 1, 1])
    np.testing.assert_allclose(class_weight_vector("balanced", y, classes), [6 / 9, 2, 1])
    np.testing.assert_allclose(class_weight_vector({"b": 5.0}, y, classes), [1, 5, 1])
    # weighting a sample by k is the same as repeating it k times
    w = np.array([2.0, 1, 1, 1, 1, 0])
    repeated = np.array([0, 0, 0, 0, 1, 2])
    np.testing.assert_allclose(
        class_weight_vector("balanced", y, classes, w),
        class_weight_vector("balanced", repeated, classes),
    )
    with pytest.raises(ValueError, match="not classes of y"):
        class_weight_vector({"z": 1.0}, y, classes)
    with pytest.raises(ValueError, match="non-negative"):
        class_weight_vector({"a": -1.0}, y, classes)


def test_dict_class_weight_shifts_predictions_to_heavy_class():
    X, y, Xt, _ = _problem(class_sep=0.5, flip_y=0.2)
    base = WNXGBClassifier(n_estimators=20, n_jobs=1, random_state=0).fit(X, y)
    heavy = WNXGBClassifier(n_estimators=20, n_jobs=1, random_state=0, class_weight={2: 20.0}).fit(
        X, y
    )
    np.testing.assert_allclose(heavy.class_weights_, [1, 1, 20])
    assert np.sum(heavy.predict(Xt) == 2) > np.sum(base.predict(Xt) == 2)


def test_zero_sample_weight_equals_dropping_rows():
    X, y, Xt, _ = _problem(n=900)
    w = np.ones(len(y))
    w[::3] = 0.0
    weighted = WNXGBClassifier(n_estimators=15, n_jobs=1, random_state=0).fit(X, y, w)
    dropped = WNXGBClassifier(n_estimators=15, n_jobs=1, random_state=0).fit(X[w > 0], y[w > 0])
    np.testing.assert_allclose(weighted.predict_proba(Xt), dropped.predict_proba(Xt), rtol=1e-5)
    # a class with zero weight is never predicted
    w_class = np.where(y == 2, 0.0, 1.0)
    clf = WNXGBClassifier(n_estimators=15, n_jobs=1, random_state=0).fit(X, y, w_class)
    assert clf.classes_.tolist() == [0, 1, 2]
    assert not np.any(clf.predict(Xt) == 2)
    assert clf.predict_proba(Xt)[:, 2].max() < 1e-3


def test_standard_feature_norm_invariant_to_feature_scaling(rng):
    X, y, Xt, _ = _problem()
    scale = 10.0 ** rng.uniform(-3, 3, size=X.shape[1])
    shift = rng.normal(0, 100, size=X.shape[1])
    clf = WNXGBClassifier(n_estimators=15, n_jobs=1, random_state=0, feature_norm="standard")
    p1 = clone(clf).fit(X, y).predict_proba(Xt)
    fitted = clone(clf).fit(X * scale + shift, y)
    p2 = fitted.predict_proba(Xt * scale + shift)
    np.testing.assert_allclose(p1, p2, atol=1e-6)
    np.testing.assert_allclose(fitted.scaler_.mean_, (X * scale + shift).mean(axis=0))


def test_l2_feature_norm_ignores_per_sample_scale(rng):
    X, y, Xt, _ = _problem()
    row_scale = 10.0 ** rng.uniform(-2, 2, size=(len(Xt), 1))
    l2 = WNXGBClassifier(n_estimators=15, n_jobs=1, random_state=0, feature_norm="l2").fit(X, y)
    np.testing.assert_allclose(l2.predict_proba(Xt), l2.predict_proba(Xt * row_scale), atol=1e-6)
    # fitting on rescaled rows gives the same model
    fit_scale = 10.0 ** rng.uniform(-2, 2, size=(len(X), 1))
    l2b = clone(l2).fit(X * fit_scale, y)
    np.testing.assert_allclose(l2.predict_proba(Xt), l2b.predict_proba(Xt), atol=1e-6)
    # without it, the magnitude of a sample does matter (the check above is not vacuous)
    raw = WNXGBClassifier(n_estimators=15, n_jobs=1, random_state=0).fit(X, y)
    assert not np.allclose(raw.predict_proba(Xt), raw.predict_proba(Xt * row_scale), atol=1e-3)


def test_paper_preset_is_unregularised_unit_step_newton_boosting():
    X, y, _, _ = _problem(n_classes=2)
    clf = WNXGBClassifier(preset="paper", n_estimators=1, max_depth=2, n_jobs=1, random_state=0)
    clf.fit(X, y)
    assert clf.learning_rate == 0.1 and clf.get_params()["reg_lambda"] == 1.0  # not mutated
    assert clf.xgb_params_["learning_rate"] == 1.0
    assert clf.xgb_params_["reg_lambda"] == 0.0 and clf.xgb_params_["gamma"] == 0.0
    stored = clf.booster_params()
    assert float(stored["eta"]) == 1.0 and float(stored["lambda"]) == 0.0
    assert float(stored["gamma"]) == 0.0
    # one tree: every leaf holds -S/V of the paper (gradient and hessian sums of its samples)
    p0 = y.mean()
    leaves = clf.get_booster().predict(xgb.DMatrix(X.astype(np.float32)), pred_leaf=True)
    step = np.log(clf.predict_proba(X)[:, 1] / clf.predict_proba(X)[:, 0]) - np.log(p0 / (1 - p0))
    leaves = leaves.reshape(-1)
    for leaf in np.unique(leaves):
        rows = leaves == leaf
        s_sum, v_sum = np.sum(p0 - y[rows]), np.sum(np.full(rows.sum(), p0 * (1 - p0)))
        np.testing.assert_allclose(step[rows], -s_sum / v_sum, rtol=1e-4)


def test_early_stopping_on_noisy_problem():
    X, y, Xt, yt = _problem(n=900, class_sep=0.3, flip_y=0.5)
    clf = WNXGBClassifier(
        n_estimators=200, learning_rate=0.3, early_stopping_rounds=5, n_jobs=1, random_state=0
    ).fit(X, y)
    assert clf.best_iteration_ < clf.n_iter_ - 1 < 199
    assert clf.get_booster().num_boosted_rounds() == clf.best_iteration_ + 1
    curve = clf.evals_result_["validation"]["mlogloss"]
    assert len(curve) == clf.n_iter_
    assert clf.best_score_ == pytest.approx(min(curve), rel=1e-6)
    assert int(np.argmin(curve)) == clf.best_iteration_

    # with an eval_set: the prediction equals a model trained for best_iteration_ + 1 rounds
    params = {"learning_rate": 0.3, "n_jobs": 1, "random_state": 0}
    stopped = WNXGBClassifier(n_estimators=200, early_stopping_rounds=5, **params)
    stopped.fit(X, y, eval_set=[(Xt, yt)])
    assert stopped.n_iter_ < 200
    short = WNXGBClassifier(n_estimators=stopped.best_iteration_ + 1, **params).fit(X, y)
    np.testing.assert_allclose(stopped.predict_proba(Xt), short.predict_proba(Xt), rtol=1e-6)
    full = WNXGBClassifier(n_estimators=stopped.n_iter_, **params).fit(X, y)
    assert not np.allclose(stopped.predict_proba(Xt), full.predict_proba(Xt))

    # eval_set without early stopping only records the curve
    recorded = WNXGBClassifier(n_estimators=7, **params).fit(X, y, eval_set=[(Xt, yt)])
    assert len(recorded.evals_result_["validation"]["mlogloss"]) == 7
    assert recorded.best_iteration_ == 6


def test_early_stopping_with_normalized_gradient_uses_log_loss():
    X, y, Xt, yt = _problem(n=900, class_sep=0.3, flip_y=0.5)
    clf = WNXGBClassifier(
        n_estimators=200,
        learning_rate=0.3,
        normalized_gradient=True,
        early_stopping_rounds=5,
        n_jobs=1,
        random_state=0,
    ).fit(X, y, eval_set=[(Xt, yt)])
    assert clf.n_iter_ < 200
    curve = clf.evals_result_["validation"]["mlogloss"]
    # the recorded metric is the log loss of the model's probabilities
    proba = clf.predict_proba(Xt)
    expected = -np.mean(np.log(proba[np.arange(len(yt)), yt]))
    assert curve[clf.best_iteration_] == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_normalized_gradient_valid_and_different(n_classes):
    X, y, Xt, yt = _problem(n_classes=n_classes, class_sep=2.0)
    kw = {"n_estimators": 30, "n_jobs": 1, "random_state": 0}
    plain = WNXGBClassifier(**kw).fit(X, y)
    norm = WNXGBClassifier(normalized_gradient=True, **kw).fit(X, y)
    proba = norm.predict_proba(Xt)
    assert proba.shape == (len(Xt), n_classes)
    assert np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert np.mean(norm.predict(Xt) == yt) > 0.8
    assert np.abs(proba - plain.predict_proba(Xt)).max() > 1e-3
    scales = norm.gradient_scales_
    assert scales.shape == (30,) and np.all(scales > 0)
    assert scales[-1] < scales[0]  # gradients shrink as the fit improves
    assert plain.gradient_scales_ is None


def test_unscaled_custom_objective_matches_xgboost_softprob():
    X, y, _, _ = _problem(n_classes=3)
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    params = {"tree_method": "hist", "num_class": 3, "max_depth": 3, "nthread": 1}
    params["base_score"] = [0.0, 0.0, 0.0]
    dtrain = xgb.DMatrix(X, label=y, weight=w)
    ours = xgb.train(
        {**params, "disable_default_eval_metric": 1},
        dtrain,
        5,
        obj=_SoftmaxObjective(3, normalize=False),
    )
    builtin = xgb.train({**params, "objective": "multi:softprob"}, dtrain, 5)
    np.testing.assert_allclose(
        ours.predict(dtrain, output_margin=True),
        builtin.predict(dtrain, output_margin=True),
        rtol=1e-4,
        atol=1e-5,
    )


def test_normalized_gradient_is_a_no_op_without_regularisation():
    X, y, Xt, _ = _problem(n_classes=3)
    kw = {
        "n_estimators": 5,
        "max_depth": 3,
        "reg_lambda": 0.0,
        "min_child_weight": 0.0,
        "n_jobs": 1,
        "random_state": 0,
    }
    plain = WNXGBClassifier(**kw).fit(X, y)
    norm = WNXGBClassifier(normalized_gradient=True, **kw).fit(X, y)
    np.testing.assert_allclose(plain.predict_proba(Xt), norm.predict_proba(Xt), atol=1e-4)


def test_deterministic_for_fixed_random_state():
    X, y, Xt, _ = _problem()
    kw = {"n_estimators": 15, "subsample": 0.6, "colsample_bytree": 0.6, "n_jobs": 2}
    a = WNXGBClassifier(random_state=3, **kw).fit(X, y).predict_proba(Xt)
    b = WNXGBClassifier(random_state=3, **kw).fit(X, y).predict_proba(Xt)
    c = WNXGBClassifier(random_state=4, **kw).fit(X, y).predict_proba(Xt)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    es = {"early_stopping_rounds": 3, "n_estimators": 30, "n_jobs": 1}
    d = WNXGBClassifier(random_state=3, **es).fit(X, y)
    e = WNXGBClassifier(random_state=3, **es).fit(X, y)
    np.testing.assert_array_equal(d.predict_proba(Xt), e.predict_proba(Xt))
    assert d.evals_result_ == e.evals_result_


def test_dataframe_names_and_importances():
    X, y, Xt, _ = _problem(shuffle=False)  # columns 0..7 informative, 8..9 redundant
    cols = [f"resnet50.layer4.gap.{i}" for i in range(X.shape[1])]
    clf = WNXGBClassifier(n_estimators=20, n_jobs=1, random_state=0)
    clf.fit(pd.DataFrame(X, columns=cols), y)
    np.testing.assert_array_equal(clf.feature_names_in_, cols)
    imp = clf.feature_importances_
    assert imp.shape == (X.shape[1],) and imp.sum() == pytest.approx(1.0)
    assert imp[:10].sum() > 0.8  # informative and redundant columns carry the gain
    pred = clf.predict(pd.DataFrame(Xt, columns=cols))
    assert pred.shape == (len(Xt),)


def test_pickle_and_clone():
    X, y, Xt, _ = _problem()
    clf = WNXGBClassifier(n_estimators=10, n_jobs=1, random_state=0, feature_norm="standard")
    clf.fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(Xt), clf.predict_proba(Xt))
    cloned = clone(clf)
    assert cloned.get_params() == clf.get_params()
    assert not hasattr(cloned, "booster_")


def test_auto_device_resolves():
    import torch

    X, y, _, _ = _problem(n=150)
    clf = WNXGBClassifier(n_estimators=2, n_jobs=1, device="auto").fit(X, y)
    assert clf.device_ == ("cuda" if torch.cuda.is_available() else "cpu")
    assert clf.xgb_params_["device"] == clf.device_


def test_errors():
    X, y, _, _ = _problem(n=150)
    clf = WNXGBClassifier(n_estimators=2, n_jobs=1)
    with pytest.raises(ValueError, match=r"y has 1 class \('x'\); expected at least 2"):
        clf.fit(X, np.array(["x"] * len(X)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, y[:-1])
    with pytest.raises(ValueError, match="sample_weight"):
        clf.fit(X, y, sample_weight=np.ones(3))
    y_nan = y.astype(float)
    y_nan[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X, y_nan)
    y_none = np.array(["a", "b"] * (len(X) // 2), dtype=object)
    y_none[4] = None
    with pytest.raises(ValueError, match=r"missing labels .* \[4\]"):
        clf.fit(X, y_none)
    with pytest.raises(InvalidParameterError, match="'preset' parameter"):
        WNXGBClassifier(preset="kaggle").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'feature_norm' parameter"):
        WNXGBClassifier(feature_norm="minmax").fit(X, y)
    with pytest.raises(ValueError, match="device must be"):
        WNXGBClassifier(device="tpu").fit(X, y)
    with pytest.raises(ValueError, match="not in y"):
        clf.fit(X, y, eval_set=[(X[:10], np.full(10, 7))])
    with pytest.raises(ValueError, match="non-zero"):
        clf.fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="sums to zero"):
        clone(clf).set_params(class_weight={0: 0.0, 1: 0.0, 2: 0.0}).fit(X, y)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        WNXGBClassifier(n_estimators=2, feature_norm="l2").fit(X_nan, y)
    # NaN features are missing values otherwise
    assert WNXGBClassifier(n_estimators=2, n_jobs=1).fit(X_nan, y).predict(X_nan).shape == y.shape
    fitted = clf.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :5])


@pytest.mark.realdata
def test_ckplus_downsampled_pixels_subject_split(ckplus_root):
    from hybridfer.data import load_ckplus48, make_cv

    ds = load_ckplus48(ckplus_root)
    images = ds.images.astype(np.float32) / 255.0
    n = len(images)
    X = images.reshape(n, 12, 4, 12, 4).mean(axis=(2, 4)).reshape(n, -1)  # 144 features
    train, test = next(
        make_cv(n_splits=5, groups=ds.groups, random_state=0).split(X, ds.y, ds.groups)
    )
    assert not set(ds.groups[train]) & set(ds.groups[test])
    clf = WNXGBClassifier(n_estimators=60, max_depth=4, n_jobs=1, random_state=0)
    clf.fit(X[train], ds.y[train])
    accuracy = np.mean(clf.predict(X[test]) == ds.y[test])
    majority = max(np.mean(ds.y[test] == c) for c in np.unique(ds.y))
    assert accuracy > majority + 0.15, (accuracy, majority)


def test_module_docstring_cites_the_paper_and_states_each_reading():
    """It pointed at a file on a development machine instead of saying what the variants do."""
    import hybridfer.classifiers.wnxgb as module

    doc = module.__doc__
    assert "/work" not in doc and "SEEDS.md" not in doc
    assert "Amplifying Accuracy with ResNet50 Features and Innovated XG-Boost Algorithm" in doc
    for option in ("feature_norm", 'class_weight="balanced"', "normalized_gradient=True"):
        assert f"``{option}" in doc, option
    assert 'preset="paper"' in doc and "reg_lambda=0, gamma=0" in doc
