"""The resnet50-wnxgboost recipe at smoke scale on a tiny FER2013-like folder whose Training
usage holds exact duplicates: the paper's random 80:20 split of all images puts copies on both
sides, the official usages none."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pytest

from hybridfer.data.synthetic_folders import DEFAULT_FER2013_COUNTS, write_fer2013_folders
from hybridfer.recipes import RecipeError, get_recipe, run_recipe

N_IMAGES = sum(sum(v) for v in DEFAULT_FER2013_COUNTS.values())


@pytest.fixture(scope="module")
def tiny_fer(tmp_path_factory):
    root = tmp_path_factory.mktemp("fer")
    write_fer2013_folders(root / "fer2013", duplicate_fraction=0.3)
    return root


def test_registered_with_the_papers_claim():
    recipe = get_recipe("resnet50-wnxgboost")
    assert recipe.claims["FER2013 accuracy (random 80:20)"] == 0.9919
    assert "ResNet50" in recipe.source and "fine_tune" in recipe.options


def test_smoke_random_split_finds_copies_the_official_split_does_not(tiny_fer, tmp_path):
    work = tmp_path / "work"
    result = run_recipe("resnet50-wnxgboost", tiny_fer, scale="smoke", workdir=work, verbose=0)
    rows = {r["protocol"]: r for r in result.rows}
    paper, honest = rows["paper"], rows["honest"]
    assert paper["n train"] + paper["n test"] == N_IMAGES  # every usage pooled
    assert abs(paper["n test"] - 0.2 * N_IMAGES) <= 1
    assert paper["test with exact copy in train"] > 0
    assert honest["n train"] == sum(DEFAULT_FER2013_COUNTS["Training"])
    assert honest["n test"] == sum(DEFAULT_FER2013_COUNTS["PublicTest"])
    assert honest["test with exact copy in train"] == 0 and honest["test with near copy only"] == 0
    for r in result.rows:
        assert r["claimed acc"] == 0.9919 and 0.0 <= r["acc"] <= 1.0
    # smoke: a fixed random ResNet50, not trained, and the report says so
    assert "random initialisation" in result.details["weights"]
    assert "fixed random network" in result.details["weights"]
    assert result.details["settings"]["fine_tune"] is False
    profile = result.details["profile"]
    assert profile["features"] == 3840 and profile["trees"] == 5 * 7
    assert profile["parameters"] == 23_508_032  # ResNet50 up to layer4, no fc
    md = (work / "report.md").read_text()
    assert "random_split (LEAKY paper protocol)" in md and "official_fer2013 (honest)" in md
    assert "## Backbone weights" in md
    assert json.loads((work / "report.json").read_text())["recipe"] == "resnet50-wnxgboost"
    # the saved pipeline predicts images as they come (48x48 gray)
    pipe = joblib.load(result.paths["model honest"])
    images = np.zeros((3, 48, 48), dtype=np.uint8)
    assert pipe.predict(images).shape == (3,)
    assert pipe.hybridfer_metadata_["recipe"] == "resnet50-wnxgboost"


def test_fine_tune_option_trains_the_backbone(tiny_fer, tmp_path):
    result = run_recipe(
        "resnet50-wnxgboost",
        tiny_fer,
        scale="smoke",
        workdir=tmp_path,
        protocol="honest",
        fine_tune=True,
        n_estimators=3,
        verbose=0,
    )
    assert [r["protocol"] for r in result.rows] == ["honest"]
    assert result.details["settings"]["fine_tune"] is True
    note = result.details["weights"]
    assert "trained from random weights on each protocol's training split" in note
    assert any("the backbone is trained" in r for r in result.reductions)
    assert result.rows[0]["epochs"] == 1  # the backbone's training, read from the extractor
    assert result.details["profile"]["trees"] == 3 * 7
    assert not list(Path(tmp_path).glob("*.ckpt"))


def test_bad_options_and_missing_usages(tiny_fer, tmp_path):
    with pytest.raises(RecipeError, match="fine_tune must be"):
        run_recipe("resnet50-wnxgboost", tiny_fer, scale="smoke", workdir=tmp_path, fine_tune=2)
    train_only = tmp_path / "train_only"
    write_fer2013_folders(train_only, counts={"Training": (3,) * 7})
    with pytest.raises(RecipeError, match=r"holds the usages \['Training'\]"):
        run_recipe("resnet50-wnxgboost", train_only, scale="smoke", workdir=tmp_path / "w")


def test_smoke_on_the_real_fer2013(fer2013_root, tmp_path):
    result = run_recipe(
        "resnet50-wnxgboost", fer2013_root, scale="smoke", workdir=tmp_path, verbose=0
    )
    rows = {r["protocol"]: r for r in result.rows}
    assert rows["paper"]["n train"] + rows["paper"]["n test"] == result.details["n_images"] == 280
    assert result.details["usages"] == ["PublicTest", "Training"]
    assert all(0.0 <= r["acc"] <= 1.0 for r in result.rows)
