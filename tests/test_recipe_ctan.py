"""The ctan-convnext recipe at smoke scale on a tiny CK+48-like folder (8 subjects, 3 frames per
sequence that are near copies of each other): the paper's random 8:1:1 split of frames puts
near copies and subjects on both sides, the subject-grouped folds none; and on a tiny
FER2013-like folder whose Training usage holds exact duplicates: the paper's random 8:1:1 of
every image pools the usages and puts copies on both sides, the official usages none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _helpers import N_FRAMES, N_SEQ, N_SUBJECTS, assert_resumes_honest

from hybridfer.data.synthetic_folders import DEFAULT_FER2013_COUNTS, write_fer2013_folders
from hybridfer.recipes import RecipeError, get_recipe, run_recipe
from hybridfer.recipes.ctan import which_dataset

CTAN_PARAMETERS = 29_095_867  # 7 classes, 3 input channels (tests/test_ctan.py)
SPLIT_PARAMETERS = 27_852_067  # the same with attention_branches="split"
RFB_PARAMETERS = 45_468  # BasicRFB(96)
N_TRAINING = sum(DEFAULT_FER2013_COUNTS["Training"])
N_PUBLIC = sum(DEFAULT_FER2013_COUNTS["PublicTest"])


@pytest.fixture(scope="module")
def tiny_fer(tmp_path_factory):
    root = tmp_path_factory.mktemp("fer")
    write_fer2013_folders(root / "fer2013", duplicate_fraction=0.3)
    return root


def test_registered_with_the_papers_claim_and_options():
    recipe = get_recipe("ctan-convnext")
    assert recipe.claims["CK+ accuracy (random 8:1:1 of frames)"] == 0.9899
    assert recipe.claims["FER2013 accuracy (random 8:1:1 of all 35,887 images)"] == 0.74
    assert "Improved CTAN" in recipe.source
    options = {"protocol", "dataset", "attention_branches", "rfb", "weights", "folds", "fraction"}
    assert options <= set(recipe.options)


def test_which_dataset_tells_ckplus_from_fer2013(tiny_ckplus, tiny_fer, tmp_path):
    assert which_dataset(tiny_ckplus) == "ckplus"
    assert which_dataset(tiny_ckplus.parent) == "ckplus"  # a folder holding ckplus48/
    assert which_dataset(tiny_fer) == "fer2013"  # a folder holding fer2013/
    assert which_dataset(tiny_fer / "fer2013") == "fer2013"  # the release's train/, test/
    both = tmp_path / "both"
    (both / "ckplus48").mkdir(parents=True)
    (both / "fer2013").mkdir()
    assert which_dataset(both) == "ckplus"  # as the recipe always read such a folder
    assert which_dataset(both, "fer2013") == "fer2013"
    assert which_dataset(tmp_path / "missing") == "ckplus"  # CK+'s loader says what is missing
    with pytest.raises(RecipeError, match="dataset must be one of"):
        which_dataset(tiny_fer, "kdef")


def test_smoke_paper_split_leaks_frames_and_subjects_the_honest_folds_do_not(tiny_ckplus, tmp_path):
    work = tmp_path / "work"
    result = run_recipe("ctan-convnext", tiny_ckplus, scale="smoke", workdir=work, verbose=0)
    rows = {r["protocol"]: r for r in result.rows}
    assert list(rows) == ["paper", "honest"]
    paper, honest = rows["paper"], rows["honest"]
    n_frames = N_SUBJECTS * N_SEQ * N_FRAMES
    # paper: one random 8:1:1 split; its test frames have sibling frames in training
    assert paper["folds"] == 1 and abs(paper["n test"] - 0.1 * n_frames) <= 1
    assert abs(paper["n train"] - 0.8 * n_frames) <= 1
    assert paper["test with near copy only"] > 0 and paper["subjects on both sides"] > 0
    assert paper["test with exact copy in train"] == 0  # the frames differ by noise
    # honest: 2 subject-grouped folds, every frame tested once, nothing shared
    assert honest["folds"] == 2 and honest["n test"] == n_frames
    assert honest["test with near copy only"] == 0 and honest["test with exact copy in train"] == 0
    assert honest["subjects on both sides"] == 0
    for r in result.rows:
        assert r["claimed acc"] == 0.9899 and 0.0 <= r["acc"] <= 1.0 and r["epochs"] == 1
    assert result.details["summary"]["paper - honest"] == pytest.approx(
        paper["acc"] - honest["acc"]
    )
    assert result.details["profile"]["parameters"] == CTAN_PARAMETERS
    assert result.details["settings"]["input_size"] == 32 and not result.details["settings"]["rfb"]
    assert result.details["dataset"] == "ckplus"
    assert result.details["settings"]["attention_branches"] == "full"
    # the split sizes the report states: the paper's own validation part, 8:1:1 of the frames;
    # the honest folds' subject-grouped validation parts carved out of their training folds
    sizes = result.details["part_sizes"]
    assert sum(sizes["paper"].values()) == n_frames
    assert sizes["paper"]["train"] == paper["n train"] and sizes["paper"]["test"] == paper["n test"]
    assert abs(sizes["paper"]["validation"] - 0.1 * n_frames) <= 1
    # (validation frames of a class the carved training part lacks are left out: tiny data)
    folds = [sizes[f"honest_fold{k}"] for k in (0, 1)]
    assert sum(f["test"] for f in folds) == n_frames
    for fold in folds:
        assert fold["validation"] > 0 and fold["train"] > 0
        assert fold["train"] + fold["validation"] <= n_frames - fold["test"]

    md = (work / "report.md").read_text()
    assert "random_split_811 (LEAKY paper protocol)" in md and "subject_kfold (honest)" in md
    assert "## Basic RFB" in md and "off (the default)" in md and "## Profile" in md
    assert "## Split sizes" in md and "## Efficient Attention" in md
    report = json.loads((work / "report.json").read_text())
    assert report["recipe"] == "ctan-convnext" and len(report["rows"]) == 2
    folds = report["details"]["protocols"]["honest"]["folds"]
    assert [f["fold"] for f in folds] == [0, 1]
    assert sum(f["n_test"] for f in folds) == n_frames
    for key in ("model paper", "model honest_fold0", "model honest_fold1", "confusion honest"):
        assert Path(result.paths[key]).stat().st_size > 0
    assert not list(work.glob("*.ckpt"))  # checkpoints are dropped once the model is saved

    # resume: the fitted models are reloaded, not trained again
    again = assert_resumes_honest("ctan-convnext", tiny_ckplus, work, honest)
    assert again.rows[0]["train s"] == pytest.approx(honest["train s"])


def test_rfb_option_adds_the_block_and_bad_options_are_errors(tiny_ckplus, tmp_path):
    result = run_recipe(
        "ctan-convnext",
        tiny_ckplus,
        scale="smoke",
        workdir=tmp_path,
        protocol="paper",
        rfb=True,
        verbose=0,
    )
    assert [r["protocol"] for r in result.rows] == ["paper"]
    assert result.details["profile"]["parameters"] == CTAN_PARAMETERS + RFB_PARAMETERS
    assert result.details["sections"]["Basic RFB"].startswith("on:")
    with pytest.raises(RecipeError, match="protocol must be"):
        run_recipe("ctan-convnext", tiny_ckplus, scale="smoke", workdir=tmp_path, protocol="x")
    with pytest.raises(RecipeError, match="does not take the option"):
        run_recipe("ctan-convnext", tiny_ckplus, scale="smoke", workdir=tmp_path, model=3)
    with pytest.raises(RecipeError, match="does not exist; expected CK"):
        run_recipe("ctan-convnext", tmp_path / "missing", scale="smoke", workdir=tmp_path)
    with pytest.raises(RecipeError, match="attention_branches must be one of"):
        run_recipe(
            "ctan-convnext", tiny_ckplus, scale="smoke", workdir=tmp_path, attention_branches="x"
        )
    with pytest.raises(RecipeError, match="fraction is FER2013's option"):
        run_recipe("ctan-convnext", tiny_ckplus, scale="smoke", workdir=tmp_path, fraction=0.5)


def test_split_attention_option_changes_the_block(tiny_ckplus, tmp_path):
    result = run_recipe(
        "ctan-convnext",
        tiny_ckplus,
        scale="smoke",
        workdir=tmp_path,
        protocol="paper",
        attention_branches="split",
        verbose=0,
    )
    assert result.details["profile"]["parameters"] == SPLIT_PARAMETERS
    assert result.details["settings"]["attention_branches"] == "split"
    assert result.details["sections"]["Efficient Attention"].startswith("split")
    net = result.paths["model paper"]
    assert Path(net).stat().st_size > 0


def test_smoke_fer2013_paper_811_pools_every_usage_the_official_split_does_not(tiny_fer, tmp_path):
    work = tmp_path / "work"
    result = run_recipe("ctan-convnext", tiny_fer, scale="smoke", workdir=work, verbose=0)
    assert result.details["dataset"] == "fer2013"
    assert result.details["usages"] == ["PublicTest", "Training"]
    n_all = N_TRAINING + N_PUBLIC
    assert result.details["n_images"] == result.details["n_images_in_data"] == n_all
    rows = {r["protocol"]: r for r in result.rows}
    assert list(rows) == ["paper", "honest"]
    paper, honest = rows["paper"], rows["honest"]
    sizes = result.details["part_sizes"]
    # paper: one random 8:1:1 of all the images, PublicTest's pooled with Training's
    p = sizes["paper"]
    assert p["train"] + p["validation"] + p["test"] == n_all > N_TRAINING
    assert abs(p["train"] - 0.8 * n_all) <= 1
    assert abs(p["validation"] - 0.1 * n_all) <= 1 and abs(p["test"] - 0.1 * n_all) <= 1
    assert (paper["n train"], paper["n test"]) == (p["train"], p["test"])
    assert paper["test with exact copy in train"] > 0  # Training's duplicates on both sides
    # honest: train and validation from Training only (a ninth held out), test = PublicTest
    h = sizes["honest"]
    assert h["train"] + h["validation"] == N_TRAINING and h["test"] == N_PUBLIC
    assert abs(h["validation"] - N_TRAINING / 9) <= 1
    assert honest["n test"] == N_PUBLIC and honest["folds"] == 1
    assert honest["test with exact copy in train"] == 0 and honest["test with near copy only"] == 0
    assert honest["subjects on both sides"] is None  # FER2013 has no subjects
    for r in result.rows:
        assert r["claimed acc"] == 0.74 and 0.0 <= r["acc"] <= 1.0 and r["epochs"] == 1
    assert result.details["profile"]["parameters"] == CTAN_PARAMETERS
    assert any("PrivateTest included" in r for r in result.reductions)
    md = (work / "report.md").read_text()
    assert "random_split_811 (LEAKY paper protocol)" in md and "official_fer2013 (honest)" in md
    assert f"FER2013: {n_all} of the {n_all} images the data holds (usages PublicTest, " in md
    with pytest.raises(RecipeError, match="folds is CK"):
        run_recipe("ctan-convnext", tiny_fer, scale="smoke", workdir=tmp_path, folds=3)


def test_smoke_on_the_real_ckplus(ckplus_root, tmp_path):
    """On real CK+48 (12 subjects at smoke scale) the random split of frames puts a test frame's
    sibling frames of its sequence in training; the subject-grouped folds do not."""
    result = run_recipe("ctan-convnext", ckplus_root, scale="smoke", workdir=tmp_path, verbose=0)
    rows = {r["protocol"]: r for r in result.rows}
    paper, honest = rows["paper"], rows["honest"]
    assert paper["test with exact copy in train"] + paper["test with near copy only"] > 0
    assert paper["subjects on both sides"] > 0
    assert honest["subjects on both sides"] == 0 and honest["test with exact copy in train"] == 0
    assert result.details["n_subjects"] == 12


def test_smoke_on_the_real_fer2013(fer2013_root, tmp_path):
    """The shared data folder holds CK+48 too: ``dataset="fer2013"`` picks FER2013. At smoke
    scale a stratified 280 of its images are split 8:1:1, every usage pooled."""
    result = run_recipe(
        "ctan-convnext",
        fer2013_root.parent,
        scale="smoke",
        workdir=tmp_path,
        dataset="fer2013",
        protocol="paper",
        verbose=0,
    )
    assert result.details["dataset"] == "fer2013" and result.details["n_images"] == 280
    assert result.details["n_images_in_data"] == 32_298  # Training + PublicTest
    assert result.details["part_sizes"]["paper"] == {"train": 224, "validation": 28, "test": 28}
    assert [r["protocol"] for r in result.rows] == ["paper"]
    assert result.rows[0]["split"] == "random_split_811"
