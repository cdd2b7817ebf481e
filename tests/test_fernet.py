"""FERNetClassifier: end-to-end image classifiers as scikit-learn estimators."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from _helpers import square_images
from _image_net_checks import expected_failures
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from hybridfer.classifiers.fernet import FERNetClassifier
from hybridfer.nn.estimator import seed_from

torch.set_num_threads(1)

SMALL = {"widths": (8, 16, 16, 16), "embedding_dim": 16}


@pytest.mark.parametrize(
    ("backbone", "head", "extra"),
    [
        ("cnnlstm_model3", "auto", {}),
        ("fer_resnet", "linear", {"architecture_params": SMALL}),
        ("fer_resnet", "mlp", {"architecture_params": SMALL, "hidden_units": (16,)}),
        ("fer_vgg", "lstm", {"architecture_params": SMALL, "lstm_hidden": 8}),
    ],
)
def test_heads_train_and_predict(backbone, head, extra):
    X, y = square_images()
    clf = FERNetClassifier(backbone, head=head, epochs=2, random_state=0, **extra).fit(X, y)
    proba = clf.predict_proba(X[:7])
    assert proba.shape == (7, 3)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert set(clf.predict(X)) <= set(clf.classes_)
    if head == "auto":
        assert type(clf.model_).__name__ == "CNNLSTMPaperNet"
    else:
        assert {n for n, _ in clf.model_.named_children()} == {"backbone", "head"}


def test_learns_an_easy_task():
    X, y = square_images(n=90)
    clf = FERNetClassifier(
        "fer_resnet",
        head="linear",
        architecture_params=SMALL,
        epochs=25,
        batch_size=16,
        learning_rate=3e-3,
        random_state=0,
    ).fit(X[:60], y[:60])
    assert clf.score(X[60:], y[60:]) > 0.6


def test_torchvision_backbone_two_stage():
    X, y = square_images(n=24, size=32)
    clf = FERNetClassifier(
        "mobilenet_v3_small",
        head="mlp",
        hidden_units=(8,),
        weights=None,
        freeze="backbone",
        frozen_epochs=1,
        epochs=2,
        batch_size=8,
        random_state=0,
    ).fit(X, y)
    assert [h["stage"] for h in clf.history_] == [1, 2]
    assert clf.in_channels_ == 3 and clf.normalize_ == "imagenet"
    assert clf.predict(X).shape == (24,)
    with pytest.raises(ValueError, match="head='native'"):
        FERNetClassifier("mobilenet_v3_small", head="native", epochs=1).fit(X, y)


def test_frozen_backbone_keeps_its_initial_weights():
    X, y = square_images()
    clf = FERNetClassifier(
        "fer_resnet",
        head="linear",
        architecture_params=SMALL,
        freeze="backbone",
        epochs=2,
        random_state=0,
    ).fit(X, y)
    fresh = clf._build_network(seed_from(0), 3)
    trained, initial = clf.model_.state_dict(), fresh.state_dict()
    for k in initial:
        assert torch.equal(trained[k], initial[k]) == k.startswith("backbone."), k


def test_same_seed_same_predictions_and_pickle():
    X, y = square_images()
    params = {"epochs": 2, "augment": "default", "random_state": 1, "architecture_params": SMALL}
    a = FERNetClassifier("fer_resnet", **params).fit(X, y)
    b = FERNetClassifier("fer_resnet", **params).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(c.predict_proba(X), a.predict_proba(X))


def test_grouped_cross_validation_in_a_pipeline():
    X, y = square_images(n=48)
    groups = np.repeat(np.arange(8), 6)
    pipe = Pipeline([("net", FERNetClassifier("cnnlstm_model1", epochs=1, random_state=0))])
    scores = cross_val_score(pipe, X, y, groups=groups, cv=GroupKFold(n_splits=2))
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


def test_focal_loss_class_weight_ema_and_early_stopping():
    X, y = square_images(n=60)
    clf = FERNetClassifier(
        "cnnlstm_model1",
        loss="focal",
        focal_alpha=0.25,
        class_weight="normalized",
        ema_decay=0.9,
        early_stopping=True,
        validation_fraction=0.25,
        patience=1,
        epochs=4,
        lr_schedule="cosine",
        random_state=0,
    ).fit(X, y)
    assert clf.best_epoch_ is not None
    assert all("val_loss" in h for h in clf.history_)


# sklearn's common checks fit on tabular data, which an image network cannot read; the same
# properties are tested above on images (see tests/_image_net_checks.py).
EXPECTED_FAILED = expected_failures(
    "FERNetClassifier",
    (
        "check_class_weight_classifiers",
        "check_classifier_data_not_an_array",
        "check_classifiers_classes",
        "check_classifiers_train",
        "check_supervised_y_2d",
    ),
)


@parametrize_with_checks(
    [FERNetClassifier("cnnlstm_model1", epochs=1, random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
