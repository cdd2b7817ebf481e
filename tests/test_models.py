"""Shipped FER models (hybridfer.models): cards, checked weights, the estimators that load
them, the cache key, and ``hybridfer models``. A tiny seeded model stands in for the shipped
one (``tiny_shipped`` in conftest); the real one is checked in test_models_shipped.py."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from hybridfer.classifiers import FERNetClassifier, pretrained_classifier
from hybridfer.cli import main
from hybridfer.extractors import CNNFeatures
from hybridfer.models import (
    ModelError,
    WeightsHashError,
    available_models,
    get_model,
    load_network,
    sha256_file,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _images(n=12, size=16, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size), dtype=np.uint8)


def _reference(card, images, forward="embed"):
    """What the card's network gives on 16x16 gray images, computed by hand."""
    net = load_network(card)
    x = torch.as_tensor(images, dtype=torch.float32)[:, None] / 255.0
    with torch.no_grad():
        return getattr(net, forward)(x).numpy() if forward else net(x).numpy()


def test_a_written_card_states_its_weights_sha256_and_geometry(tiny_model_folder):
    card = get_model(tiny_model_folder / "tiny-vgg.json")
    assert card.sha256 == sha256_file(card.weights_path)
    assert card.identity == f"tiny-vgg@sha256:{card.sha256}"
    assert card.classes == ["anger", "happiness", "neutral"]
    assert card.input_size == (16, 16) and card.in_channels == 1
    assert card.data["weights"]["dtype"] == "float16"
    state = torch.load(card.weights_path, weights_only=True)
    assert {t.dtype for t in state.values() if t.is_floating_point()} == {torch.float16}


def test_shipped_names_resolve_and_an_unknown_name_lists_the_known_ones(tiny_shipped):
    assert available_models() == ["tiny-vgg"]
    assert get_model("tiny-vgg").name == "tiny-vgg"
    with pytest.raises(ModelError, match=r"unknown model 'fer2013-nope'.*tiny-vgg"):
        get_model("fer2013-nope")
    with pytest.raises(ModelError, match="no such file"):
        get_model("missing/card.json")
    # a misspelt name in an estimator is refused, never trained from random weights instead
    X, y = _images(6), np.array(["a", "b"] * 3)
    with pytest.raises(ModelError, match=r"unknown model 'tiny-vg'.*tiny-vgg"):
        CNNFeatures(weights="tiny-vg").fit(X, y)
    with pytest.raises(ModelError, match=r"unknown model 'tiny-vg'.*tiny-vgg"):
        FERNetClassifier(backbone="fer_vgg", weights="tiny-vg", epochs=1).fit(X, y)


def test_weights_that_do_not_match_the_card_are_refused_naming_both_hashes(
    tiny_model_folder, tmp_path
):
    for f in tiny_model_folder.iterdir():
        shutil.copy(f, tmp_path / f.name)
    card = get_model(tmp_path / "tiny-vgg.json")
    data = bytearray(card.weights_path.read_bytes())
    data[-10] ^= 0xFF
    card.weights_path.write_bytes(bytes(data))
    bad = sha256_file(card.weights_path)
    with pytest.raises(WeightsHashError) as err:
        CNNFeatures(weights=str(card.path)).fit(_images(2))
    assert bad in str(err.value) and card.sha256 in str(err.value)


def test_the_shipped_extractor_learns_nothing_in_fit_and_gives_the_networks_embeddings(
    tiny_shipped,
):
    X = _images()
    ext = CNNFeatures(weights=tiny_shipped, precision="float32").fit(X)  # no labels needed
    card = get_model(tiny_shipped)
    assert ext.n_epochs_ == 0 and ext.history_ == []
    assert list(ext.classes_) == card.classes
    np.testing.assert_allclose(ext.transform(X), _reference(card, X), rtol=1e-4, atol=1e-5)
    # labels of other classes change nothing: fit does not read them
    ext2 = CNNFeatures(weights=tiny_shipped, precision="float32").fit(X, np.array(["a", "b"] * 6))
    np.testing.assert_array_equal(ext2.transform(X), ext.transform(X))
    assert ext.get_feature_names_out()[0] == "tiny-vgg.embedding.0"


def test_images_of_another_colour_and_size_are_converted_as_the_card_states(tiny_shipped):
    X = _images()
    ext = CNNFeatures(weights=tiny_shipped, precision="float32").fit(X)
    rgb = np.repeat(X[..., None], 3, axis=-1)  # equal channels: their luma is the gray image
    np.testing.assert_allclose(ext.transform(rgb), ext.transform(X), rtol=1e-4, atol=1e-5)
    big = np.kron(X, np.ones((3, 3), np.uint8))  # 48x48: resized to the card's 16x16
    out = ext.transform(big)
    assert out.shape == (len(X), 8) and np.isfinite(out).all()
    # a shipped extractor fitted on 48x48 images still resizes 16x16 ones
    assert CNNFeatures(weights=tiny_shipped, precision="float32").fit(big).transform(X).shape == (
        len(X),
        8,
    )


def test_the_shipped_extractor_clones_pickles_and_sits_in_a_pipeline(tiny_shipped):
    X, y = _images(), np.array(["anger", "happiness", "neutral"] * 4)
    ext = CNNFeatures(weights=tiny_shipped, output="embedding+pooled", precision="float32").fit(X)
    assert clone(ext).get_params()["weights"] == tiny_shipped
    back = pickle.loads(pickle.dumps(ext))
    np.testing.assert_array_equal(back.transform(X), ext.transform(X))
    pipe = Pipeline(
        [
            ("cnn", CNNFeatures(weights=tiny_shipped, precision="float32")),
            ("lr", LogisticRegression()),
        ]
    )
    pipe.fit(X, y)
    assert pipe.predict(X).shape == (len(X),)


def test_the_feature_cache_keys_a_shipped_model_by_its_sha256(tiny_shipped, tmp_path):
    X = _images()
    ext = CNNFeatures(weights=tiny_shipped, precision="float32", cache=tmp_path / "cache").fit(X)
    key = ext._cache_key_params()
    assert key["weights"] == get_model(tiny_shipped).identity
    first = ext.transform(X)
    assert any((tmp_path / "cache").rglob("*.npy"))
    calls = []
    ext._compute_features = lambda source, idx: calls.append(idx) or None  # must not be called
    np.testing.assert_array_equal(ext.transform(X), first)
    assert calls == []
    # a trained network is keyed by a digest of its state instead
    trained = CNNFeatures(
        architecture="fer_vgg",
        architecture_params={"widths": (4,)},
        epochs=1,
        precision="float32",
        cache=tmp_path / "c2",
    )
    trained.fit(X, np.array(["a", "b"] * 6))
    assert trained._cache_key_params()["weights"].startswith("state:")
    np.testing.assert_allclose(
        trained.transform(X), trained.set_params(cache=None).transform(X), rtol=1e-5
    )


def test_the_classifier_form_predicts_the_networks_softmax(tiny_shipped):
    X = _images()
    card = get_model(tiny_shipped)
    logits = _reference(card, X, forward=None)
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    clf = pretrained_classifier(tiny_shipped, precision="float32")
    assert list(clf.classes_) == card.classes
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-4, atol=1e-6)
    assert set(clf.predict(X)) <= set(card.classes)
    same = FERNetClassifier(weights=tiny_shipped, precision="float32").fit(X)
    np.testing.assert_allclose(same.predict_proba(X), expected, rtol=1e-4, atol=1e-6)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))


def test_fine_tuning_trains_from_the_shipped_weights(tiny_shipped):
    X = _images(24)
    card = get_model(tiny_shipped)
    start = load_network(card).state_dict()
    y_own = np.array(card.classes * 8)
    tuned = FERNetClassifier(weights=tiny_shipped, fine_tune=True, epochs=1, random_state=0)
    tuned.fit(X, y_own)
    assert tuned.n_epochs_ == 1
    state = tuned.model_.state_dict()
    assert not torch.equal(state["trunk.0.weight"], start["trunk.0.weight"])
    # other classes: a fresh output layer of their number
    y_other = np.array(["a", "b", "c", "d"] * 6)
    other = CNNFeatures(weights=tiny_shipped, fine_tune=True, epochs=1, random_state=0)
    other.fit(X, y_other)
    assert list(other.classes_) == ["a", "b", "c", "d"]
    assert other.network_predict_proba(X).shape == (len(X), 4)


def test_hybridfer_models_lists_and_shows_cards(tiny_shipped, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "tiny-vgg" in out and "16x16 gray" in out and "50.00%" in out
    assert main(["models", "show", "tiny-vgg"]) == 0
    out = capsys.readouterr().out
    assert get_model("tiny-vgg").sha256 in out and "anger, happiness, neutral" in out
    assert main(["models", "show", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown model 'nope'" in err[0] and "tiny-vgg" in err[0]


def test_predict_with_a_shipped_model_needs_no_pipeline_file(tiny_shipped, tmp_path, capsys):
    from PIL import Image

    import hybridfer

    X = _images(3)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, img in enumerate(X):
        Image.fromarray(img).save(folder / f"face{i}.png")
    out = tmp_path / "faces.csv"
    assert main(["predict", "--model", tiny_shipped, str(folder), "-o", str(out)]) == 0
    import pandas as pd

    rows = pd.read_csv(out).sort_values("path")
    assert len(rows) == 3 and rows["error"].isna().all()
    probas = rows[[f"proba_{c}" for c in get_model(tiny_shipped).classes]].to_numpy()
    # the card's tta (none for tiny-vgg) and the classifier form give the same probabilities
    expected = pretrained_classifier(tiny_shipped).predict_proba(X)
    np.testing.assert_allclose(probas, expected, atol=2e-3)
    df = hybridfer.predict_faces(tiny_shipped, list(X))
    np.testing.assert_allclose(df[rows.columns[-4:-1]].to_numpy(), expected, atol=2e-3)
    capsys.readouterr()
    assert main(["predict", "--model", "nope", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown model 'nope'" in err[0]
    assert main(["predict"]) == 2
    assert "--model NAME" in capsys.readouterr().err
