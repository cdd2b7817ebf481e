"""The clcm-mobilenetv2 recipe at smoke scale on tiny FER2013- and CK+48-like folders: the
paper's protocol is FER2013's official one (run once, 'paper = honest'), the cross-dataset test
maps CK+'s labels to FER2013's and handles contempt as asked."""

from __future__ import annotations

import json

import joblib
import pytest

from hybridfer.data.synthetic_folders import (
    DEFAULT_FER2013_COUNTS,
    write_ckplus48_folders,
    write_fer2013_folders,
)
from hybridfer.recipes import RecipeError, get_recipe, run_recipe
from hybridfer.recipes.clcm import CKPLUS_TO_FER2013

N_SUBJECTS, N_SEQ, N_FRAMES = 7, 2, 3  # 14 sequences: each of the 7 classes twice


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_fer2013_folders(root / "fer2013")
    write_ckplus48_folders(
        root / "ckplus48",
        n_subjects=N_SUBJECTS,
        sequences_per_subject=N_SEQ,
        frames_per_sequence=N_FRAMES,
    )
    return root


def test_registered_with_the_papers_claims():
    recipe = get_recipe("clcm-mobilenetv2")
    assert recipe.claims["FER2013 accuracy"] == 0.63
    assert recipe.claims["CK+ accuracy (trained on FER2013)"] == 0.71
    assert recipe.claims["parameters"] == 2_393_191
    assert "Custom Lightweight CNN" in recipe.source
    assert {"cross_data", "contempt"} <= set(recipe.options)


def test_smoke_official_split_once_and_the_cross_dataset_test(tiny, tmp_path):
    work = tmp_path / "work"
    result = run_recipe(
        "clcm-mobilenetv2",
        tiny / "fer2013",
        scale="smoke",
        workdir=work,
        cross_data=tiny / "ckplus48",
        verbose=0,
    )
    assert [r["protocol"] for r in result.rows] == ["paper = honest", "CK+48 cross-dataset"]
    fer, cross = result.rows
    assert fer["n train"] == sum(DEFAULT_FER2013_COUNTS["Training"])  # 80/20 inside it
    assert fer["n test"] == sum(DEFAULT_FER2013_COUNTS["PublicTest"])
    assert fer["test with exact copy in train"] == 0 and fer["epochs"] == 1
    n_contempt = 2 * N_FRAMES  # two contempt sequences
    assert cross["n test"] == N_SUBJECTS * N_SEQ * N_FRAMES - n_contempt
    assert cross["claimed acc"] == 0.71 and 0.0 <= cross["acc"] <= 1.0
    assert cross["test with exact copy in train"] == 0
    summary = result.details["summary"]
    assert summary["paper protocol"] == summary["honest"] == fer["acc"]
    assert summary["CK+48 cross-dataset"] == cross["acc"]
    assert "paper - honest" not in summary

    clf = joblib.load(result.paths["model honest"])
    # random weights at smoke scale: nothing frozen, Adam at 1e-3 (stated in the report)
    assert clf.backbone == "mobilenet_v2" and clf.freeze_up_to is None
    assert clf.normalize == "minus_one_one" and clf.learning_rate == 1e-3
    assert any("nothing frozen and Adam at 1e-3" in r for r in result.reductions)
    dense = [m for m in clf.model_.head.modules() if type(m).__name__ == "Linear"]
    assert [(d.in_features, d.out_features) for d in dense] == [(1280, 128), (128, 64), (64, 7)]
    assert result.details["profile"]["parameters"] == 2_396_551
    assert result.details["profile"]["gflops_paper_input"] == pytest.approx(0.5994, abs=2e-3)

    md = (work / "report.md").read_text()
    assert "anger -> angry" in md and "sadness -> sad" in md
    assert f"its {n_contempt} contempt frames left out" in md
    assert "(paper: 2,393,191)" in md and "paper = honest" in md
    report = json.loads((work / "report.json").read_text())
    assert report["details"]["n_cross"] == cross["n test"]
    assert "confusion CK+48 cross-dataset" in result.paths


def test_contempt_mapped_and_bad_options(tiny, tmp_path):
    result = run_recipe(
        "clcm-mobilenetv2",
        tiny,
        scale="smoke",
        workdir=tmp_path,
        cross_data=tiny,
        contempt="disgust",
        protocol="paper",
        verbose=0,
    )
    assert result.rows[1]["n test"] == N_SUBJECTS * N_SEQ * N_FRAMES
    assert "contempt -> disgust" in result.details["sections"]["CK+48 cross-dataset"]
    assert set(CKPLUS_TO_FER2013) | {"contempt"} == {
        "anger",
        "contempt",
        "disgust",
        "fear",
        "happy",
        "sadness",
        "surprise",
    }
    with pytest.raises(RecipeError, match="contempt must be 'drop' or a FER2013 class"):
        run_recipe("clcm-mobilenetv2", tiny, scale="smoke", workdir=tmp_path, contempt="x")
    with pytest.raises(RecipeError, match="does not exist; expected CK"):
        run_recipe(
            "clcm-mobilenetv2", tiny, scale="smoke", workdir=tmp_path, cross_data=tmp_path / "no"
        )


def test_cli_cross_data_and_options(tiny, tmp_path, capsys):
    from hybridfer.cli import main

    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    for name in (
        "clcm-mobilenetv2",
        "cnn-lstm-fer2013",
        "ctan-convnext",
        "mobilenetv3-lstm-pain",
        "resnet50-wnxgboost",
    ):
        assert f"{name} (v" in out
    assert "options: protocol, cross_data, contempt" in out
    args = ["reproduce", "clcm-mobilenetv2", "--data", str(tiny), "--scale", "smoke"]
    code = main(
        [
            *args,
            "--workdir",
            str(tmp_path / "cli"),
            "--cross-data",
            str(tiny),
            "--option",
            "contempt=disgust",
            "--option",
            "verbose=0",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "| CK+48 cross-dataset |" in out and "report:" in out
    assert "contempt -> disgust" in (tmp_path / "cli" / "report.md").read_text()
    for bad, message in (
        (["--option", "contempt"], "expected NAME=VALUE"),
        (["--protocol", "paper", "--option", "protocol=honest"], "both as a flag and with"),
        (["--option", "rfb=true"], "does not take the option(s) ['rfb']"),
    ):
        assert main([*args, "--workdir", str(tmp_path / "bad"), *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]


def test_given_weights_get_the_papers_fine_tuning_settings(tiny, tmp_path):
    import torch
    from torchvision.models import mobilenet_v2

    path = tmp_path / "mnv2.pt"
    torch.save(mobilenet_v2(weights=None).state_dict(), path)
    result = run_recipe(
        "clcm-mobilenetv2",
        tiny / "fer2013",
        scale="smoke",
        workdir=tmp_path / "work",
        weights=str(path),
        verbose=0,
    )
    clf = joblib.load(result.paths["model honest"])
    assert (clf.freeze_up_to, clf.learning_rate) == ("backbone.1", 1e-4)
    assert not any("nothing frozen" in r for r in result.reductions)
