"""The cnn-lstm-fer2013 recipe at smoke scale on a tiny, imbalanced FER2013-like folder with no
duplicate images: the paper protocol's test holds copies of training images, the honest one
none."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _helpers import assert_resumes_honest
from PIL import Image

from hybridfer.data import FER2013_CLASSES
from hybridfer.recipes import RecipeError, get_recipe, run_recipe

# Training images per class: imbalanced, so oversampling has to copy
_PER_CLASS = {
    "Training": [24, 5, 16, 30, 20, 12, 24],
    "PublicTest": [6] * 7,
    "PrivateTest": [4] * 7,
}


@pytest.fixture(scope="module")
def tiny_fer_unique(tmp_path_factory):
    root = tmp_path_factory.mktemp("fer_unique") / "fer2013"
    rng = np.random.default_rng(1)
    for usage, counts in _PER_CLASS.items():
        folder = "train" if usage == "Training" else "test"
        for k, name in enumerate(FER2013_CLASSES):
            d = root / folder / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(counts[k]):
                img = rng.integers(0, 80, (48, 48)).astype(np.uint8)
                img[6 * k : 6 * k + 6, :] += 150
                Image.fromarray(img).save(d / f"{usage}_{k}{i:04d}.png")
    return root


def test_registered_with_the_papers_claims():
    recipe = get_recipe("cnn-lstm-fer2013")
    assert recipe.claims["Model 3 accuracy (oversampled, random 10% test)"] == 0.8511
    assert "Hybrid CNN and LSTM" in recipe.source


def test_smoke_shows_both_protocols_and_the_paper_protocols_copies(tiny_fer_unique, tmp_path):
    work = tmp_path / "work"
    result = run_recipe("cnn-lstm-fer2013", tiny_fer_unique, scale="smoke", workdir=work, verbose=0)
    rows = {r["protocol"]: r for r in result.rows}
    assert list(rows) == ["paper", "honest"]
    n_all = sum(sum(v) for v in _PER_CLASS.values())
    majority = max(sum(v[k] for v in _PER_CLASS.values()) for k in range(7))
    paper, honest = rows["paper"], rows["honest"]
    assert paper["n train"] + paper["n test"] == 7 * majority  # oversampled whole data
    # honest: Training oversampled inside itself (to its majority, 30), PublicTest untouched
    assert honest["n train"] == 7 * 30 and honest["n test"] == 42
    assert paper["test with exact copy in train"] > 0
    assert paper["test with exact copy in train"] == paper["test rows copied from training"]
    assert honest["test with exact copy in train"] == 0
    assert honest["test rows copied from training"] == 0
    for r in result.rows:
        assert r["claimed acc"] == 0.8511 and 0.0 <= r["acc"] <= 1.0 and r["epochs"] == 1
        assert r["acc - claimed"] == pytest.approx(r["acc"] - 0.8511)
    assert result.details["n_images"] == min(420, n_all)
    assert result.details["profile"]["parameters_keras"] == 457_863
    assert set(result.details["summary"]) == {
        "claimed",
        "paper protocol",
        "honest",
        "paper - honest",
    }
    md = (work / "report.md").read_text()
    assert "oversample_then_split (LEAKY paper protocol)" in md
    assert "official_fer2013 (honest)" in md and "test with exact copy in train" in md
    report = json.loads((work / "report.json").read_text())
    assert report["recipe"] == "cnn-lstm-fer2013" and len(report["rows"]) == 2
    for key in ("model paper", "model honest", "confusion paper", "confusion honest"):
        assert Path(result.paths[key]).stat().st_size > 0

    # resume: the fitted models are reused, not trained again
    assert_resumes_honest("cnn-lstm-fer2013", tiny_fer_unique, work, honest)


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
