"""The ctan-convnext recipe at smoke scale on a tiny CK+48-like folder (8 subjects, 3 frames per
sequence that are near copies of each other): the paper's random 8:1:1 split of frames puts
near copies and subjects on both sides, the subject-grouped folds none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _helpers import N_FRAMES, N_SEQ, N_SUBJECTS, assert_resumes_honest

from hybridfer.recipes import RecipeError, get_recipe, run_recipe

CTAN_PARAMETERS = 29_095_867  # 7 classes, 3 input channels (tests/test_ctan.py)
RFB_PARAMETERS = 45_468  # BasicRFB(96)


def test_registered_with_the_papers_claim_and_options():
    recipe = get_recipe("ctan-convnext")
    assert recipe.claims["CK+ accuracy (random 8:1:1 of frames)"] == 0.9899
    assert "Improved CTAN" in recipe.source
    assert {"protocol", "rfb", "weights", "folds"} <= set(recipe.options)


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
    assert "random initialisation" in result.details["weights"]
    assert any("inputs 32x32" in r for r in result.reductions)

    md = (work / "report.md").read_text()
    assert "random_split_811 (LEAKY paper protocol)" in md and "subject_kfold (honest)" in md
    assert "## Basic RFB" in md and "off (the default)" in md and "## Profile" in md
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
