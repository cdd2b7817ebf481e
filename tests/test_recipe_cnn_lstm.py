"""The cnn-lstm-fer2013 recipe at smoke scale on tiny, imbalanced FER2013-like folders with no
duplicate images: the paper protocol oversamples every usage the data holds (the sizes the
docstring states: per-class target, pool, ceil(10%) test) and its test holds copies of training
images; the honest one none, with a PrivateTest row where the data has that usage."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pytest
from PIL import Image

from hybridfer.data import FER2013_CLASSES
from hybridfer.recipes import RecipeError, get_recipe, run_recipe
from hybridfer.recipes.cnn_lstm import AUGMENTATION, PAPER_SIZES, oversampled_sizes

# Training images per class: imbalanced, so oversampling has to copy
_PER_CLASS = {
    "Training": [24, 5, 16, 30, 20, 12, 24],
    "PublicTest": [6] * 7,
    "PrivateTest": [4] * 7,
}


def _write(root, per_class):
    rng = np.random.default_rng(1)
    for usage, counts in per_class.items():
        folder = "train" if usage == "Training" else "test"
        for k, name in enumerate(FER2013_CLASSES):
            d = root / folder / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(counts[k]):
                img = rng.integers(0, 80, (48, 48)).astype(np.uint8)
                img[6 * k : 6 * k + 6, :] += 150
                Image.fromarray(img).save(d / f"{usage}_{k}{i:04d}.png")
    return root


@pytest.fixture(scope="module")
def tiny_fer_unique(tmp_path_factory):
    """Every usage, PrivateTest included (the full release's layout)."""
    return _write(tmp_path_factory.mktemp("fer_unique") / "fer2013", _PER_CLASS)


@pytest.fixture(scope="module")
def tiny_fer_no_private(tmp_path_factory):
    """Training and PublicTest only (this machine's layout)."""
    per_class = {u: c for u, c in _PER_CLASS.items() if u != "PrivateTest"}
    return _write(tmp_path_factory.mktemp("fer_no_private") / "fer2013", per_class)


def test_registered_with_the_papers_claims():
    recipe = get_recipe("cnn-lstm-fer2013")
    assert recipe.claims["Model 3 accuracy (oversampled, random 10% test)"] == 0.8511
    assert "Hybrid CNN and LSTM" in recipe.source


def test_oversampled_sizes_are_the_papers_on_the_full_release():
    # FER2013's class counts over all three usages (the paper's Table 1, train + test)
    full = dict(zip(FER2013_CLASSES, [4953, 547, 5121, 8989, 6198, 6077, 4002], strict=True))
    labels = np.repeat(list(full), list(full.values()))
    assert len(labels) == PAPER_SIZES["images"] == 35_887
    assert oversampled_sizes(labels) == PAPER_SIZES
    # Training + PublicTest only (32,298 images): happy 7,215 + 895
    public = [3995 + 467, 436 + 56, 4097 + 496, 7215 + 895, 4965 + 607, 4830 + 653, 3171 + 415]
    sizes = oversampled_sizes(np.repeat(FER2013_CLASSES, public))
    assert sizes == {
        "images": 32_298,
        "per_class": 8_110,
        "pool": 56_770,
        "train": 51_093,
        "test": 5_677,
    }


def test_smoke_shows_both_protocols_and_the_paper_protocols_copies(tiny_fer_unique, tmp_path):
    work = tmp_path / "work"
    result = run_recipe("cnn-lstm-fer2013", tiny_fer_unique, scale="smoke", workdir=work, verbose=0)
    rows = {r["protocol"]: r for r in result.rows}
    assert list(rows) == ["paper", "honest", "honest (PrivateTest)"]
    n_all = sum(sum(v) for v in _PER_CLASS.values())
    majority = max(sum(v[k] for v in _PER_CLASS.values()) for k in range(7))  # 40: happy
    paper, honest, private = rows["paper"], rows["honest"], rows["honest (PrivateTest)"]
    # the paper protocol: every usage oversampled to the majority's count, then ceil(10%)
    assert paper["n train"] + paper["n test"] == 7 * majority == 280
    assert paper["n test"] == 28
    sizes = result.details["sizes"]
    assert result.details["usages"] == ["Training", "PublicTest", "PrivateTest"]
    assert sizes["paper"] == {
        "images": n_all,
        "per_class": majority,
        "pool": 280,
        "train": paper["n train"],
        "test": paper["n test"],
    }
    test_counts = result.details["protocols"]["paper"]["folds"][0]["class_counts_test"]
    assert sorted(test_counts.values()) == [4] * 7  # stratified: a tenth of every class
    # honest: Training oversampled inside itself (to its majority, 30), PublicTest untouched
    assert honest["n train"] == 7 * 30 and honest["n test"] == 42
    assert sizes["honest"] == {
        "training": sum(_PER_CLASS["Training"]),
        "oversampled": True,
        "per_class": 30,
        "train": 210,
        "test": {"PublicTest": 42, "PrivateTest": 28},
    }
    # the honest model scored on PrivateTest too: no copies of training there either
    assert private["n test"] == 28 and private["n train"] == honest["n train"]
    assert private["test with exact copy in train"] == 0
    assert paper["test with exact copy in train"] > 0
    assert paper["test with exact copy in train"] == paper["test rows copied from training"]
    assert honest["test with exact copy in train"] == 0
    assert honest["test rows copied from training"] == 0
    for r in result.rows:
        assert r["claimed acc"] == 0.8511 and 0.0 <= r["acc"] <= 1.0
        assert r["acc - claimed"] == pytest.approx(r["acc"] - 0.8511)
    assert paper["epochs"] == honest["epochs"] == private["epochs"] == 1
    assert result.details["n_images"] == min(420, n_all)
    assert result.details["profile"]["parameters_keras"] == 457_863
    assert set(result.details["summary"]) == {
        "claimed",
        "paper protocol",
        "honest",
        "paper - honest",
        "honest (PrivateTest)",
    }
    assert result.details["summary"]["honest (PrivateTest)"] == private["acc"]
    # the paper's augmentation, on by default, and the same model for every protocol
    for tag in ("paper", "honest"):
        clf = joblib.load(result.paths[f"model {tag}"])
        assert clf.augment == AUGMENTATION
        assert {"hflip", "degrees", "scale"} <= set(clf.augment)
    md = (work / "report.md").read_text()
    assert "oversample_then_split (LEAKY paper protocol)" in md
    assert "official_fer2013 (honest)" in md and "test with exact copy in train" in md
    assert "every class oversampled to 40 (the majority's count), 280 in all, 28 test" in md
    assert "62,923 in all, 6,293 test" in md and "tested on PublicTest 42, PrivateTest 28" in md
    assert "rotation up to 10 degrees" in md
    report = json.loads((work / "report.json").read_text())
    assert report["recipe"] == "cnn-lstm-fer2013" and len(report["rows"]) == 3
    for key in ("model paper", "model honest", "confusion paper", "confusion honest"):
        assert Path(result.paths[key]).stat().st_size > 0

    # resume: the fitted models are reused, not trained again
    again = run_recipe(
        "cnn-lstm-fer2013",
        tiny_fer_unique,
        scale="smoke",
        workdir=work,
        resume=True,
        protocol="honest",
        verbose=0,
    )
    assert [r["protocol"] for r in again.rows] == ["honest", "honest (PrivateTest)"]
    assert again.rows[0]["acc"] == pytest.approx(honest["acc"])
    assert again.rows[1]["acc"] == pytest.approx(private["acc"])


def test_without_private_test_the_pool_is_training_and_public_test(tiny_fer_no_private, tmp_path):
    result = run_recipe(
        "cnn-lstm-fer2013",
        tiny_fer_no_private,
        scale="smoke",
        workdir=tmp_path,
        model=1,
        augment=False,
        verbose=0,
    )
    assert [r["protocol"] for r in result.rows] == ["paper", "honest"]
    majority = max(_PER_CLASS["Training"][k] + _PER_CLASS["PublicTest"][k] for k in range(7))
    paper = result.rows[0]
    assert paper["n train"] + paper["n test"] == 7 * majority == 252
    assert paper["n test"] == 26  # ceil(25.2)
    assert result.details["sizes"]["paper"]["test"] == 26
    assert result.details["sizes"]["honest"]["test"] == {"PublicTest": 42}
    assert result.details["usages"] == ["Training", "PublicTest"]
    assert joblib.load(result.paths["model paper"]).augment is None
    assert any("no augmentation (augment=False" in r for r in result.reductions)
    md = (tmp_path / "report.md").read_text()
    assert "without PrivateTest the pool and the test are smaller than the paper's" in md


def test_model_1_and_option_errors(tiny_fer_unique, tmp_path):
    result = run_recipe(
        "cnn-lstm-fer2013",
        tiny_fer_unique,
        scale="smoke",
        workdir=tmp_path,
        model=1,
        protocol="paper",
        verbose=0,
    )
    assert [r["protocol"] for r in result.rows] == ["paper"]
    assert result.rows[0]["claimed acc"] == 0.7465
    assert result.details["profile"]["parameters_keras"] == 117_031
    plain = run_recipe(
        "cnn-lstm-fer2013",
        tiny_fer_unique,
        scale="smoke",
        workdir=tmp_path / "plain",
        model=1,
        protocol="honest",
        honest_oversample=False,
        verbose=0,
    )
    assert plain.rows[0]["n train"] == sum(_PER_CLASS["Training"])
    with pytest.raises(RecipeError, match="model must be 1, 2 or 3"):
        run_recipe("cnn-lstm-fer2013", tiny_fer_unique, scale="smoke", workdir=tmp_path, model=4)
    with pytest.raises(RecipeError, match="protocol must be"):
        run_recipe(
            "cnn-lstm-fer2013", tiny_fer_unique, scale="smoke", workdir=tmp_path, protocol="x"
        )
