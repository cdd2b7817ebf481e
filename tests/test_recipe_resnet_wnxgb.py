"""The resnet50-wnxgboost recipe at smoke scale on a tiny FER2013-like folder whose Training
usage holds exact duplicates: the paper's random 80:20 split of all images puts copies on both
sides, the official usages none, and the train_is_test protocol scores the training images
themselves."""

from __future__ import annotations

import json
import math
from pathlib import Path

import joblib
import numpy as np
import pytest

from hybridfer.data import random_split
from hybridfer.data.synthetic_folders import DEFAULT_FER2013_COUNTS, write_fer2013_folders
from hybridfer.recipes import RecipeError, get_recipe, run_recipe
from hybridfer.recipes.data import load_fer2013_subset
from hybridfer.recipes.resnet_wnxgb import TRAIN_IS_TEST, TrainIsTest

N_IMAGES = sum(sum(v) for v in DEFAULT_FER2013_COUNTS.values())
N_PAPER_TEST = math.ceil(0.2 * N_IMAGES)  # the held-out part rounded up, as scikit-learn


@pytest.fixture(scope="module")
def tiny_fer(tmp_path_factory):
    root = tmp_path_factory.mktemp("fer")
    write_fer2013_folders(root / "fer2013", duplicate_fraction=0.3)
    return root


def test_registered_with_the_papers_claims():
    recipe = get_recipe("resnet50-wnxgboost")
    assert recipe.version == "2"
    assert recipe.claims["FER2013 accuracy (random 80:20)"] == 0.9919
    assert recipe.claims["train accuracy = test accuracy (Table 3)"] == 0.99
    assert "ResNet50" in recipe.source
    for option in ("protocol", "fine_tune", "class_weight", "feature_norm", "l2_variant"):
        assert option in recipe.options


def test_train_is_test_scores_exactly_the_training_images(tiny_fer):
    ds = load_fer2013_subset(tiny_fer)
    split = TRAIN_IS_TEST.split(ds, 0)
    paper = random_split.split(ds, 0)
    assert TRAIN_IS_TEST.leaky and TRAIN_IS_TEST.name == "train_is_test"
    # the training part is the paper protocol's 80%, and the test part is that same part
    np.testing.assert_array_equal(split.train_index, paper.train_index)
    np.testing.assert_array_equal(split.test_index, split.train_index)
    assert len(split.train) == len(split.test) == N_IMAGES - N_PAPER_TEST
    np.testing.assert_array_equal(split.test.images, split.train.images)
    np.testing.assert_array_equal(split.test.labels, split.train.labels)
    assert split.n_test_sharing_a_source() == len(split.test)
    assert "LEAKY" in TRAIN_IS_TEST.summary()
    # another base: the official Training usage scored on itself
    from hybridfer.data import official_fer2013

    own = TrainIsTest(base=official_fer2013).split(ds, 0)
    assert len(own.test) == sum(DEFAULT_FER2013_COUNTS["Training"])
    assert set(own.test.usage.tolist()) == {"Training"}


def test_smoke_rows_audit_and_resume(tiny_fer, tmp_path):
    work = tmp_path / "work"
    result = run_recipe("resnet50-wnxgboost", tiny_fer, scale="smoke", workdir=work, verbose=0)
    names = [r["protocol"] for r in result.rows]
    assert names == ["paper", "train_is_test", "paper_l2", "honest", "honest_l2"]
    rows = {r["protocol"]: r for r in result.rows}
    paper, tit, honest = rows["paper"], rows["train_is_test"], rows["honest"]
    assert paper["n train"] + paper["n test"] == N_IMAGES  # every usage pooled
    assert paper["n test"] == N_PAPER_TEST
    assert 0 < paper["test with exact copy in train"] < paper["n test"]  # a few duplicates
    # train_is_test: the paper row's training part, scored on itself
    assert tit["split"] == "train_is_test"
    assert tit["n train"] == tit["n test"] == paper["n train"]
    assert tit["test rows copied from training"] == tit["n test"]
    assert tit["test with exact copy in train"] == tit["n test"]
    assert tit["acc"] > paper["acc"] and tit["acc"] >= 0.9  # boosting recalls its training set
    assert honest["n train"] == sum(DEFAULT_FER2013_COUNTS["Training"])
    assert honest["n test"] == sum(DEFAULT_FER2013_COUNTS["PublicTest"])
    assert honest["test with exact copy in train"] == 0 and honest["test with near copy only"] == 0
    for base in ("paper", "honest"):  # the l2 rows: same split, same backbone, l2 boosting
        for col in ("n train", "n test", "test with exact copy in train"):
            assert rows[f"{base}_l2"][col] == rows[base][col]
    for r in result.rows:
        assert r["claimed acc"] == 0.9919 and 0.0 <= r["acc"] <= 1.0
    protocols = result.details["protocols"]
    assert protocols["train_is_test"]["leaky"] and protocols["train_is_test"]["model_of"] == "paper"
    assert [protocols[n]["feature_norm"] for n in names] == ["none", "none", "l2", "none", "l2"]
    # two backbones (paper, honest), four boostings; train_is_test trained nothing
    assert result.details["fits"] == {"backbones": 2, "boostings": 4}
    settings = result.details["settings"]
    assert settings["class_weight"] is None and settings["feature_norm"] == "none"
    assert settings["variant_feature_norm"] == "l2"
    # smoke: a fixed random ResNet50, not trained, and the report says so
    assert "random initialisation" in result.details["weights"]
    assert "fixed random network" in result.details["weights"]
    assert settings["fine_tune"] is False
    profile = result.details["profile"]
    assert profile["features"] == 3840 and profile["trees"] == 5 * 7
    assert profile["parameters"] == 23_508_032  # ResNet50 up to layer4, no fc
    md = (work / "report.md").read_text()
    assert "random_split (LEAKY paper protocol)" in md and "official_fer2013 (honest)" in md
    assert "train_is_test (LEAKY paper protocol)" in md
    for heading in ("Where a 99% comes from", "Feature normalisation", "Backbone weights"):
        assert f"## {heading}" in md
    assert json.loads((work / "report.json").read_text())["recipe"] == "resnet50-wnxgboost"
    # the saved pipelines predict images as they come (48x48 gray), each with its protocol
    images = np.zeros((3, 48, 48), dtype=np.uint8)
    for name in names:
        pipe = joblib.load(result.paths[f"model {name}"])
        assert pipe.predict(images).shape == (3,)
        assert pipe.hybridfer_metadata_["recipe"] == "resnet50-wnxgboost"
    tit_pipe = joblib.load(result.paths["model train_is_test"])
    assert tit_pipe.hybridfer_metadata_["protocol"].startswith("train_is_test")
    assert (
        joblib.load(result.paths["model paper"])
        .hybridfer_metadata_["protocol"]
        .startswith("random_split")
    )
    l2 = joblib.load(result.paths["model honest_l2"]).named_steps["wnxgb"]
    assert l2.feature_norm == "l2" and l2.class_weight is None
    # resume: every row reloaded, nothing fitted again, the same scores
    again = run_recipe(
        "resnet50-wnxgboost", tiny_fer, scale="smoke", workdir=work, resume=True, verbose=0
    )
    assert again.details["fits"] == {"backbones": 0, "boostings": 0}
    assert [r["acc"] for r in again.rows] == [r["acc"] for r in result.rows]


def test_train_is_test_alone_trains_its_own_model(tiny_fer, tmp_path):
    result = run_recipe(
        "resnet50-wnxgboost",
        tiny_fer,
        scale="smoke",
        workdir=tmp_path,
        protocol="train_is_test",
        n_estimators=2,
        verbose=0,
    )
    assert [r["protocol"] for r in result.rows] == ["train_is_test"]
    row = result.rows[0]
    assert row["n train"] == row["n test"] == N_IMAGES - N_PAPER_TEST
    assert row["test rows copied from training"] == row["n test"]
    assert result.details["fits"] == {"backbones": 1, "boostings": 1}
    assert "## Where a 99% comes from" in (tmp_path / "report.md").read_text()


def test_options_class_weight_and_feature_norm(tiny_fer, tmp_path):
    result = run_recipe(
        "resnet50-wnxgboost",
        tiny_fer,
        scale="smoke",
        workdir=tmp_path,
        protocol="honest",
        class_weight="balanced",
        feature_norm="l2",
        n_estimators=2,
        verbose=0,
    )
    assert [r["protocol"] for r in result.rows] == ["honest"]  # the main rows are already l2
    wnxgb = joblib.load(result.paths["model honest"]).named_steps["wnxgb"]
    assert wnxgb.class_weight == "balanced" and wnxgb.feature_norm == "l2"
    assert result.details["settings"]["variant_feature_norm"] is None
    assert "class_weight='balanced'" in (tmp_path / "report.md").read_text()
    off = run_recipe(
        "resnet50-wnxgboost",
        tiny_fer,
        scale="smoke",
        workdir=tmp_path / "off",
        protocol="honest",
        class_weight="none",
        l2_variant=False,
        n_estimators=2,
        verbose=0,
    )
    assert [r["protocol"] for r in off.rows] == ["honest"]
    assert off.details["settings"]["class_weight"] is None


def test_fine_tune_option_trains_the_backbone_once_per_protocol(tiny_fer, tmp_path):
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
    assert [r["protocol"] for r in result.rows] == ["honest", "honest_l2"]
    assert result.details["settings"]["fine_tune"] is True
    assert result.details["fits"] == {"backbones": 1, "boostings": 2}  # the l2 row shares it
    note = result.details["weights"]
    assert "trained from random weights on each protocol's training split" in note
    assert any("the backbone is trained" in r for r in result.reductions)
    assert all(r["epochs"] == 1 for r in result.rows)  # the backbone's training, read from it
    assert result.details["profile"]["trees"] == 3 * 7
    assert not list(Path(tmp_path).glob("*.ckpt"))
    a, b = (joblib.load(result.paths[f"model {n}"]) for n in ("honest", "honest_l2"))
    images = np.random.default_rng(0).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    fa = a.named_steps["features"].transform(images)
    np.testing.assert_array_equal(fa, b.named_steps["features"].transform(images))


def test_bad_options_and_missing_usages(tiny_fer, tmp_path):
    bad = {
        "fine_tune must be": {"fine_tune": 2},
        "protocol must be one of": {"protocol": "train"},
        "class_weight must be": {"class_weight": "inverse"},
        "feature_norm must be": {"feature_norm": "max"},
        "l2_variant must be": {"l2_variant": "yes"},
    }
    for message, options in bad.items():
        with pytest.raises(RecipeError, match=message):
            run_recipe("resnet50-wnxgboost", tiny_fer, scale="smoke", workdir=tmp_path, **options)
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
    assert rows["train_is_test"]["n test"] == rows["paper"]["n train"] == 224
    assert rows["train_is_test"]["test with exact copy in train"] == 224
    assert result.details["usages"] == ["PublicTest", "Training"]
    assert all(0.0 <= r["acc"] <= 1.0 for r in result.rows)
