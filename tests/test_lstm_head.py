"""LSTMHeadClassifier: 3-D sequences, reshaped 2-D rows, multi-level taps, scikit-learn checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from hybridfer.classifiers.lstm_head import LSTMHeadClassifier, tap_sizes_from_names

torch.set_num_threads(1)

FAST = {"hidden_size": 16, "epochs": 30, "batch_size": 16, "learning_rate": 1e-2, "random_state": 0}


def _order_task(n=240, T=6, d=3, seed=0):
    """Label 1 when the signal in feature 0 rises over time, 0 when it falls: only the order of
    the timesteps tells the classes apart (their sets of values are alike)."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(-1, 1, T)
    y = rng.integers(0, 2, n)
    X = rng.normal(scale=0.3, size=(n, T, d)).astype(np.float32)
    X[:, :, 0] += np.where(y[:, None] == 1, ramp, ramp[::-1])
    return X, np.array(["falls", "rises"])[y]


def test_3d_sequences_learn_temporal_order():
    X, y = _order_task()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0)
    clf = LSTMHeadClassifier(**FAST).fit(X_tr, y_tr)
    assert clf.sequence_shape_ == (6, 3)
    assert clf.score(X_te, y_te) > 0.9
    proba = clf.predict_proba(X_te)
    assert proba.shape == (len(X_te), 2)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert set(clf.predict(X_te)) <= {"falls", "rises"}
    assert list(clf.classes_) == ["falls", "rises"]


def test_2d_rows_reshaped_by_sequence():
    X, y = _order_task()
    flat = X.reshape(len(X), -1)
    clf = LSTMHeadClassifier(sequence=(6, 3), **FAST).fit(flat[:160], y[:160])
    assert clf.sequence_shape_ == (6, 3) and clf.n_features_in_ == 18
    ref = LSTMHeadClassifier(**FAST).fit(X[:160], y[:160])
    # the same numbers as the 3-D input, in the same order
    np.testing.assert_allclose(clf.predict_proba(flat[160:]), ref.predict_proba(X[160:]))
    with pytest.raises(ValueError, match="T \\* d == n_features"):
        LSTMHeadClassifier(sequence=(5, 3), **FAST).fit(flat, y)


def test_2d_without_sequence_is_one_timestep():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    clf = LSTMHeadClassifier(**FAST).fit(X, y)
    assert clf.sequence_shape_ == (1, 4)
    assert clf.score(X, y) > 0.9


def _taps_frame(n=160, seed=0):
    """Multi-level pooled features named like the deep extractors' output."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    widths = {"layer1": 4, "layer2": 8, "layer3": 16}
    cols, names = [], []
    for tap, w in widths.items():
        block = rng.normal(size=(n, w))
        block[:, 0] += 1.5 * y  # every tap carries some signal
        cols.append(block)
        names += [f"resnet50.{tap}.avg.{i}" for i in range(w)]
    return pd.DataFrame(np.hstack(cols), columns=names), y


def test_multilevel_taps_become_one_timestep_each():
    X, y = _taps_frame()
    clf = LSTMHeadClassifier(sequence="taps", projection_dim=8, **FAST).fit(X, y)
    assert clf.taps_ == ["resnet50.layer1.avg", "resnet50.layer2.avg", "resnet50.layer3.avg"]
    assert clf.tap_sizes_ == [4, 8, 16]
    assert clf.sequence_shape_ == (3, 28)
    proj = clf.model_.project.projections
    assert [p.in_features for p in proj] == [4, 8, 16] and {p.out_features for p in proj} == {8}
    assert clf.score(X, y) > 0.8
    # the same taps given as widths on a plain array
    by_sizes = LSTMHeadClassifier(sequence=[4, 8, 16], projection_dim=8, **FAST).fit(X.values, y)
    np.testing.assert_allclose(by_sizes.predict_proba(X.values), clf.predict_proba(X), atol=1e-6)
    with pytest.raises(ValueError, match="DataFrame"):
        LSTMHeadClassifier(sequence="taps", **FAST).fit(X.values, y)
    with pytest.raises(ValueError, match="summing to"):
        LSTMHeadClassifier(sequence=[4, 8], **FAST).fit(X.values, y)


def test_tap_names_must_be_contiguous():
    assert tap_sizes_from_names(["a.x.0", "a.x.1", "hog.0"]) == (["a.x", "hog"], [2, 1])
    with pytest.raises(ValueError, match="not contiguous"):
        tap_sizes_from_names(["a.0", "b.0", "a.1"])


def test_spatial_tokens_bidirectional_stacked_and_pooling():
    X, y = _order_task(n=120)
    for params in (
        {"bidirectional": True, "num_layers": 2, "dropout": 0.1},
        {"pooling": "mean", "dense_units": (8,)},
        {"pooling": "max", "projection_dim": 5},
    ):
        clf = LSTMHeadClassifier(**{**FAST, "epochs": 3}, **params).fit(X, y)
        assert clf.predict_proba(X).shape == (120, 2)
    assert clf.model_.lstm.input_size == 5


def test_focal_loss_class_weights_sample_weight_and_early_stopping():
    X, y = _order_task(n=200)
    X_val, y_val = _order_task(n=60, seed=1)
    clf = LSTMHeadClassifier(
        **{**FAST, "epochs": 40},
        loss="focal",
        focal_gamma=2.0,
        class_weight="balanced",
        early_stopping=True,
        patience=3,
    ).fit(X, y, sample_weight=np.linspace(0.5, 1.5, len(y)), eval_set=(X_val, y_val))
    assert clf.best_epoch_ is not None and clf.best_epoch_ <= clf.n_epochs_
    best = clf.history_[clf.best_epoch_ - 1]["val_loss"]
    assert best == min(h["val_loss"] for h in clf.history_)
    assert clf.score(X_val, y_val) > 0.8
    # zero weights leave samples out exactly
    sw = np.ones(len(y))
    sw[:50] = 0
    a = clone(clf).set_params(early_stopping=False, epochs=3).fit(X, y, sample_weight=sw)
    b = clone(clf).set_params(early_stopping=False, epochs=3).fit(X[50:], y[50:])
    np.testing.assert_allclose(a.predict_proba(X_val), b.predict_proba(X_val))


def test_same_seed_same_predictions():
    X, y = _order_task(n=100)
    p1 = LSTMHeadClassifier(**{**FAST, "epochs": 3}).fit(X, y).predict_proba(X)
    p2 = LSTMHeadClassifier(**{**FAST, "epochs": 3}).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)


def test_in_a_pipeline_with_string_labels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6))
    y = np.where(X[:, 0] > 0, "happy", "sad")
    pipe = make_pipeline(StandardScaler(), LSTMHeadClassifier(sequence=(2, 3), **FAST))
    assert pipe.fit(X, y).score(X, y) > 0.9


def test_bad_input_errors():
    X, y = _order_task(n=40)
    clf = LSTMHeadClassifier(**{**FAST, "epochs": 1}).fit(X, y)
    # timesteps and widths are named so, not "features" (scikit-learn's word for axis 1)
    with pytest.raises(ValueError, match="4 timesteps of width 3, but .* fitted on 6 timesteps"):
        clf.predict(X[:, :4])
    with pytest.raises(ValueError, match="6 timesteps of width 2, .* fitted on 6 timesteps of wi"):
        clf.predict(X[:, :, :2])
    with pytest.raises(ValueError, match=r"X is 2-D with 18 columns, .* of shape \(n, 6, 3\)"):
        clf.predict(X.reshape(len(X), -1))
    flat = LSTMHeadClassifier(**{**FAST, "epochs": 1}, sequence=(6, 3))
    flat.fit(X.reshape(len(X), -1), y)
    with pytest.raises(ValueError, match=r"X has 12 features, .* 18 .* \(6 timesteps of width 3"):
        flat.predict(X[:, :4].reshape(len(X), -1))
    with pytest.raises(ValueError, match=r"3-D sequences of shape \(6, 3\), .* 2-D rows"):
        flat.predict(X)
    with pytest.raises(ValueError, match="is for 2-D input"):
        LSTMHeadClassifier(sequence=(2, 9), **FAST).fit(X, y)
    with pytest.raises(ValueError, match="expected \\(n, T, d\\)"):
        LSTMHeadClassifier(**FAST).fit(np.zeros((4, 2, 2, 2)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        LSTMHeadClassifier(**FAST).fit(X, ["a"] * len(X))
    with pytest.raises(ValueError, match="focal_alpha"):
        LSTMHeadClassifier(**FAST, loss="focal", focal_alpha=[1.0, 2.0, 3.0]).fit(X, y)


EXPECTED_FAILED = {
    "check_sample_weight_equivalence_on_dense_data": (
        "mini-batch training with sample weights is not equivalent to training on repeated "
        "samples (the batches differ); zero weights are exact (those samples are left out)"
    ),
}


@parametrize_with_checks(
    [LSTMHeadClassifier(**FAST)], expected_failed_checks=lambda est: EXPECTED_FAILED
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
