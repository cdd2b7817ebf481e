"""The clcm-mobilenetv2 recipe at smoke scale on tiny FER2013- and CK+48-like folders: the
paper's protocol is FER2013's official one (run once per model, 'paper = honest'), CLCM and its
two baselines (plain MobileNetV2, ShuffleNetV2) train on the same split with the same settings
and an equal share of the budget, CLCM's freezing leaves the paper's trainable count, and the
cross-dataset test maps CK+'s labels to FER2013's and handles contempt as asked."""

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
from hybridfer.recipes.clcm import CKPLUS_TO_FER2013, CLCM_FREEZE_UP_TO

ROWS = ["paper = honest", "MobileNetV2 (paper = honest)", "ShuffleNetV2 (paper = honest)"]
CROSS = [
    "CK+48 cross-dataset",
    "MobileNetV2 CK+48 cross-dataset",
    "ShuffleNetV2 CK+48 cross-dataset",
]

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
    assert recipe.claims["MobileNetV2 FER2013 accuracy"] == 0.58
    assert recipe.claims["ShuffleNetV2 FER2013 accuracy"] == 0.65
    assert "Custom Lightweight CNN" in recipe.source
    assert {"cross_data", "contempt", "baselines", "freeze_up_to", "normalize"} <= set(
        recipe.options
    )


def test_smoke_clcm_and_its_baselines_on_one_split_and_the_cross_dataset_test(tiny, tmp_path):
    work = tmp_path / "work"
    result = run_recipe(
        "clcm-mobilenetv2",
        tiny / "fer2013",
        scale="smoke",
        workdir=work,
        cross_data=tiny / "ckplus48",
        budget_minutes=3.0,  # 1 minute per model; smoke trainings take a second
        verbose=0,
    )
    assert [r["protocol"] for r in result.rows] == ROWS + CROSS
    rows = {r["protocol"]: r for r in result.rows}
    for label, claim in zip(ROWS, (0.63, 0.58, 0.65), strict=True):
        fer = rows[label]
        assert fer["claimed acc"] == claim and fer["epochs"] == 1
        assert fer["n train"] == sum(DEFAULT_FER2013_COUNTS["Training"])  # 80/20 inside it
        assert fer["n test"] == sum(DEFAULT_FER2013_COUNTS["PublicTest"])
        assert fer["test with exact copy in train"] == 0
    n_contempt = 2 * N_FRAMES  # two contempt sequences
    for label, claim in zip(CROSS, (0.71, 0.65, 0.71), strict=True):
        cross = rows[label]
        assert cross["n test"] == N_SUBJECTS * N_SEQ * N_FRAMES - n_contempt
        assert cross["claimed acc"] == claim and 0.0 <= cross["acc"] <= 1.0
        assert cross["test with exact copy in train"] == 0
    fer, cross = rows["paper = honest"], rows["CK+48 cross-dataset"]
    summary = result.details["summary"]
    assert summary["paper protocol"] == summary["honest"] == fer["acc"]
    assert summary["CK+48 cross-dataset"] == cross["acc"]
    assert "paper - honest" not in summary
    for base in ("MobileNetV2", "ShuffleNetV2"):
        assert summary[base] == rows[f"{base} (paper = honest)"]["acc"]
        assert summary[f"CLCM - {base}"] == pytest.approx(summary["honest"] - summary[base])

    # the three models: the same split, training and budget; their own networks
    models = {
        tag: joblib.load(result.paths[f"model {tag}"])
        for tag in ("honest", "mobilenetv2", "shufflenetv2")
    }
    clf, plain, shuffle = models.values()
    shared = (
        "epochs",
        "batch_size",
        "optimizer",
        "learning_rate",
        "augment",
        "color",
        "normalize",
        "input_size",
        "max_time",
        "monitor",
        "patience",
    )
    for other in (plain, shuffle):
        assert [getattr(other, k) for k in shared] == [getattr(clf, k) for k in shared]
    assert clf.max_time == 60.0 and result.details["settings"]["max_time_per_model"] == 60.0
    assert any(
        "3 minutes in all, split equally between CLCM, MobileNetV2, ShuffleNetV2: 1.0 each" in r
        for r in result.reductions
    )
    folds = {tag: result.details["protocols"][tag]["folds"][0] for tag in models}
    assert len({str(f["class_counts_test"]) for f in folds.values()}) == 1
    # random weights at smoke scale: nothing frozen, Adam at 1e-3, the paper's [-1, 1]
    assert clf.backbone == "mobilenet_v2" and clf.freeze_up_to is None
    assert clf.normalize == "minus_one_one" and clf.learning_rate == 1e-3
    assert any("nothing frozen and Adam at 1e-3" in r for r in result.reductions)
    dense = [m for m in clf.model_.head.modules() if type(m).__name__ == "Linear"]
    assert [(d.in_features, d.out_features) for d in dense] == [(1280, 128), (128, 64), (64, 7)]
    assert (plain.backbone, plain.head, plain.freeze_up_to) == ("mobilenet_v2", "linear", None)
    dense = [m for m in plain.model_.head.modules() if type(m).__name__ == "Linear"]
    assert [(d.in_features, d.out_features) for d in dense] == [(1280, 7)]
    assert (shuffle.backbone, shuffle.freeze_up_to) == ("shufflenet_v2_x1_0", None)
    assert type(shuffle.model_.backbone[-1][0]).__name__ == "Conv2d"  # conv5, 1024 channels
    # the profile: trainable against the paper's trainable counts (Table 6)
    profiles = result.details["profiles"]
    assert profiles["CLCM"]["parameters"] == 2_396_551 == profiles["CLCM"]["trainable"]
    assert profiles["CLCM"]["trainable_clcm_freezing"] == 2_393_191  # the paper's count
    assert profiles["MobileNetV2"]["trainable"] == 2_232_839
    assert profiles["ShuffleNetV2"]["trainable"] == 1_260_779
    assert profiles["CLCM"]["gflops_paper_input"] == pytest.approx(0.5994, abs=2e-3)
    assert result.details["profile"] == profiles["CLCM"]

    md = (work / "report.md").read_text()
    assert "anger -> angry" in md and "sadness -> sad" in md
    assert f"its {n_contempt} contempt frames left out" in md
    assert "paper = honest" in md and "(paper: 2,393,191)" not in md  # not against the total
    assert "the paper's trainable count: 2,393,191; with the CLCM freezing" in md
    assert f"({CLCM_FREEZE_UP_TO}): 2,393,191" in md
    assert "the paper's trainable count: 3,511,879" in md
    assert "CLCM - MobileNetV2 on PublicTest:" in md and "(paper: +5)" in md
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
        baselines=False,
        verbose=0,
    )
    assert [r["protocol"] for r in result.rows] == ["paper = honest", "CK+48 cross-dataset"]
    assert set(result.details["models"]) == {"CLCM"}
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
    with pytest.raises(RecipeError, match="normalize must be"):
        run_recipe("clcm-mobilenetv2", tiny, scale="smoke", workdir=tmp_path, normalize="half")
    with pytest.raises(RecipeError, match="shufflenet must name"):
        run_recipe("clcm-mobilenetv2", tiny, scale="smoke", workdir=tmp_path, shufflenet="x")
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
            "baselines=false",
            "--option",
            "verbose=0",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "| CK+48 cross-dataset |" in out and "report:" in out
    assert "MobileNetV2 (paper = honest)" not in out  # baselines=false
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
    state = mobilenet_v2(weights=None).state_dict()
    torch.save(state, path)
    result = run_recipe(
        "clcm-mobilenetv2",
        tiny / "fer2013",
        scale="smoke",
        workdir=tmp_path / "work",
        weights=str(path),
        verbose=0,
    )
    clf = joblib.load(result.paths["model honest"])
    plain = joblib.load(result.paths["model mobilenetv2"])
    shuffle = joblib.load(result.paths["model shufflenetv2"])
    # CLCM: frozen up to the second block's expansion conv, Adam 1e-4, ImageNet statistics
    assert (clf.freeze_up_to, clf.learning_rate) == (CLCM_FREEZE_UP_TO, 1e-4)
    assert clf.normalize == "imagenet"
    assert result.details["profiles"]["CLCM"]["trainable"] == 2_393_191  # the paper's count
    net = clf.model_.backbone
    # the stem, the first block and the expansion conv kept their weights, BatchNorm too
    for key in (
        "0.0.weight",
        "0.1.weight",
        "0.1.running_mean",
        "0.1.running_var",
        "1.conv.0.0.weight",
        "1.conv.1.weight",
        "2.conv.0.0.weight",
    ):
        assert torch.equal(net.state_dict()[key], state[f"features.{key}"]), key
    assert not torch.equal(
        net.state_dict()["2.conv.1.0.weight"], state["features.2.conv.1.0.weight"]
    )
    # the plain MobileNetV2 from the same weights: nothing frozen, the same training
    assert (plain.freeze_up_to, plain.learning_rate, plain.normalize) == (None, 1e-4, "imagenet")
    assert not torch.equal(
        plain.model_.backbone.state_dict()["0.0.weight"], state["features.0.0.weight"]
    )
    assert result.details["profiles"]["MobileNetV2"]["trainable"] == 2_232_839
    # ShuffleNetV2 (random at smoke scale, no file given): the random-weights settings
    assert (shuffle.learning_rate, shuffle.normalize) == (1e-3, "minus_one_one")
    assert any("random initial weights (ShuffleNetV2)" in r for r in result.reductions)
    sections = result.details["sections"]
    assert f"(frozen up to {CLCM_FREEZE_UP_TO})" in sections["Profile"]
    # the prose's reading: the stem and the first block only
    first = run_recipe(
        "clcm-mobilenetv2",
        tiny / "fer2013",
        scale="smoke",
        workdir=tmp_path / "first",
        weights=str(path),
        freeze_up_to="backbone.1",
        baselines=False,
        verbose=0,
    )
    assert first.details["profiles"]["CLCM"]["trainable"] == 2_393_191 + 1_536
