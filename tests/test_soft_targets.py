"""Soft targets in the training engine: FERNetClassifier.fit(..., soft_targets=...)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from hybridfer.classifiers.fernet import FERNetClassifier
from hybridfer.data import make_faces
from hybridfer.nn.losses import FocalLoss, check_soft_targets, make_loss
from hybridfer.nn.training import TrainConfig, fit_module, seeded

torch.set_num_threads(1)

TINY = {"widths": (4, 8), "embedding_dim": 8, "convs": 1}


@pytest.fixture(scope="module")
def faces():
    ds = make_faces(n_samples=48, image_size=16, random_state=0)
    keep = np.isin(ds.labels, ["happy", "sad", "surprise"])
    return ds.images[keep], ds.labels[keep]


def _net(**params) -> FERNetClassifier:
    options = {"epochs": 2, "batch_size": 8, "precision": "float32", "random_state": 0}
    options.update(params)
    return FERNetClassifier("fer_vgg", architecture_params=TINY, **options)


def _one_hot(y: np.ndarray) -> np.ndarray:
    classes = np.unique(y)
    return (y[:, None] == classes[None, :]).astype(np.float32)


def _weights(clf: FERNetClassifier) -> list[torch.Tensor]:
    return [p.detach().clone() for p in clf.model_.state_dict().values()]


def _same_weights(a: FERNetClassifier, b: FERNetClassifier) -> bool:
    return all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(b), strict=True))


@pytest.mark.parametrize(
    "params",
    [
        {},
        # mixup/CutMix mix the soft targets like the hard labels; class and sample weights
        {"augment": "fer_mix", "class_weight": "balanced"},
    ],
)
def test_one_hot_soft_targets_train_exactly_like_hard_labels(faces, params) -> None:
    X, y = faces
    sw = np.linspace(0.5, 1.5, len(y))
    sw[[0, 5]] = 0  # zero-weight images are left out, their soft targets with them
    hard = _net(**params).fit(X, y, sample_weight=sw)
    soft = _net(**params).fit(X, y, sample_weight=sw, soft_targets=_one_hot(y))
    assert _same_weights(hard, soft)
    np.testing.assert_array_equal(hard.predict_proba(X), soft.predict_proba(X))
    assert [h["loss"] for h in hard.history_] == [h["loss"] for h in soft.history_]


@pytest.mark.parametrize(
    "params",
    [
        # torch smooths probability targets in another order of operations than indices
        {"label_smoothing": 0.1},
        # the soft focal loss sums over the classes, the index form gathers one
        {"loss": "focal", "focal_alpha": [0.5, 1.0, 2.0], "label_smoothing": 0.1},
    ],
)
def test_one_hot_soft_targets_match_hard_labels_to_rounding(faces, params) -> None:
    X, y = faces
    hard = _net(**params).fit(X, y)
    soft = _net(**params).fit(X, y, soft_targets=_one_hot(y))
    for a, b in zip(_weights(hard), _weights(soft), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(hard.predict_proba(X), soft.predict_proba(X), atol=1e-4)


def test_dataframe_columns_are_reordered_to_classes(faces) -> None:
    X, y = faces
    rng = np.random.default_rng(0)
    soft = 0.6 * _one_hot(y) + 0.4 * rng.dirichlet(np.ones(3), len(y))
    classes = np.unique(y).tolist()  # ['happy', 'sad', 'surprise']
    frame = pd.DataFrame(soft[:, ::-1], columns=classes[::-1])
    frame["angry"] = 0.0  # a class y lacks, with no probability: ignored
    a = _net(epochs=1).fit(X, y, soft_targets=soft)
    b = _net(epochs=1).fit(X, y, soft_targets=frame)
    assert _same_weights(a, b)
    c = _net(epochs=1).fit(X, y)
    assert not _same_weights(a, c)  # the soft targets do change training
    # validation metrics are on the hard labels
    d = _net(epochs=1, early_stopping=True, validation_fraction=0.25).fit(X, y, soft_targets=soft)
    assert 0 <= d.history_[0]["val_accuracy"] <= 1


def test_wrong_soft_targets_are_refused(faces) -> None:
    X, y = faces
    n = len(y)
    with pytest.raises(ValueError, match=rf"has shape \({n}, 2\); expected \({n}, 3\).*'happy'"):
        _net().fit(X, y, soft_targets=np.full((n, 2), 0.5))
    with pytest.raises(ValueError, match=rf"has shape \({n - 1}, 3\); expected \({n}, 3\)"):
        _net().fit(X, y, soft_targets=_one_hot(y)[1:])
    bad = _one_hot(y)
    bad[3] *= 0.5
    with pytest.raises(ValueError, match="row 3 sums to 0.5"):
        _net().fit(X, y, soft_targets=bad)
    bad = _one_hot(y)
    bad[2] = [1.5, -0.5, 0.0]
    with pytest.raises(ValueError, match="row 2 has the negative probability -0.5"):
        _net().fit(X, y, soft_targets=bad)
    shifted = np.roll(_one_hot(y), 1, axis=1)  # columns in another order
    with pytest.raises(ValueError, match="row 0 gives probability 0 to its own label"):
        _net().fit(X, y, soft_targets=shifted)
    frame = pd.DataFrame(_one_hot(y), columns=["happy", "sad", "fear"])
    with pytest.raises(ValueError, match=r"no column for the classes \['surprise'\]"):
        _net().fit(X, y, soft_targets=frame)
    frame = pd.DataFrame(np.c_[_one_hot(y) * 0.5, np.full(n, 0.5)])
    frame.columns = ["happy", "sad", "surprise", "angry"]
    with pytest.raises(ValueError, match=r"gives probability to \['angry'\]"):
        _net().fit(X, y, soft_targets=frame)
    frame = pd.DataFrame({"happy": ["a"] * n, "sad": 0.5, "surprise": 0.5})
    with pytest.raises(ValueError, match="cannot be read as numbers"):
        _net().fit(X, y, soft_targets=frame)


def test_loss_against_a_mixed_target_is_the_mixed_loss() -> None:
    # why mixing two samples' losses in the ratio lam is mixing their soft targets
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 4, generator=g)
    a = torch.softmax(torch.randn(5, 4, generator=g), 1)
    b = torch.softmax(torch.randn(5, 4, generator=g), 1)
    lam = torch.rand(5, 1, generator=g)
    for loss in (
        make_loss("cross_entropy", label_smoothing=0.1),
        make_loss("focal", focal_alpha=[1, 2, 3, 4], label_smoothing=0.1),
    ):
        mixed = lam[:, 0] * loss(logits, a) + (1 - lam[:, 0]) * loss(logits, b)
        torch.testing.assert_close(loss(logits, lam * a + (1 - lam) * b), mixed)
    hard = torch.tensor([0, 3, 1, 2, 1])
    weighted = FocalLoss(gamma=1.5, weight=torch.tensor([1.0, 2.0, 3.0, 4.0]))
    one_hot = nn.functional.one_hot(hard, 4).float()
    torch.testing.assert_close(weighted(logits, one_hot), weighted(logits, hard))
    with pytest.raises(ValueError, match=r"targets have shape \(5, 3\)"):
        weighted(logits, one_hot[:, :3])


def test_fit_module_takes_soft_targets_and_checks_them() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 6)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    with seeded(0):
        model = nn.Linear(6, 3)
    config = TrainConfig(epochs=1, batch_size=8, random_state=0, precision="float32")
    fit_module(model, X, y, config, soft_targets=rng.dirichlet(np.ones(3), 32))
    with pytest.raises(ValueError, match=r"has shape \(32, 2\); expected \(32, 3\)"):
        fit_module(model, X, y, config, soft_targets=np.full((32, 2), 0.5))
    with pytest.raises(ValueError, match="row 1 holds a non-finite value"):
        check_soft_targets([[1, 0], [np.nan, 1]], 2, 2)
