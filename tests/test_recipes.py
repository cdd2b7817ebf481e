"""Recipes: the registry, and the FER2013 recipe end to end at smoke scale on a tiny
FER2013-like folder (with a PrivateTest usage holding copies of Training images)."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pytest
from PIL import Image

from hybridfer.data import FER2013_CLASSES
from hybridfer.recipes import RecipeError, get_recipe, list_recipes, run_recipe
from hybridfer.recipes.ladder import RUNGS
from tools.data_root import data_root

DATA = data_root()  # tools/data_root.py: $HYBRIDFER_DATA, else ../shared/data
SETTINGS_SMOKE_MIN_LR = 1e-5  # fer2013-cpu's smoke schedule ends there


def _face(rng, label_index):
    img = rng.integers(0, 80, (48, 48)).astype(np.uint8)
    # a class-dependent bright bar so the tiny network has something to learn
    img[6 * label_index : 6 * label_index + 6, :] += 150
    return img


@pytest.fixture(scope="module")
def tiny_fer(tmp_path_factory):
    """train/ (Training_), test/ (PublicTest_ and PrivateTest_), 7 classes; 6 PrivateTest
    images are exact copies of Training images."""
    root = tmp_path_factory.mktemp("fer") / "fer2013"
    rng = np.random.default_rng(0)
    kept = []
    for usage, folder, per_class in (
        ("Training", "train", 30),
        ("PublicTest", "test", 8),
        ("PrivateTest", "test", 8),
    ):
        for k, name in enumerate(FER2013_CLASSES):
            d = root / folder / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                img = _face(rng, k)
                if usage == "Training" and i == 0 and k < 6:
                    kept.append((k, img))
                if usage == "PrivateTest" and i == 0 and k < 6:
                    img = kept[k][1]  # an exact copy of a Training image
                Image.fromarray(img).save(d / f"{usage}_{k}{i:04d}.png")
    return root


def test_registry_lists_the_fer2013_recipes():
    names = [r.name for r in list_recipes()]
    assert {"fer2013-cpu", "fer2013-gpu"} <= set(names)
    recipe = get_recipe("fer2013-cpu")
    assert recipe.version and recipe.claims and recipe.default_scale == "cpu"
    with pytest.raises(RecipeError, match="unknown recipe 'fer2013'.*fer2013-cpu"):
        get_recipe("fer2013")


def test_fer2013_smoke_writes_the_report_and_scores_deduplicated_privatetest(tiny_fer, tmp_path):
    work = tmp_path / "work"
    result = run_recipe("fer2013-cpu", tiny_fer, scale="smoke", workdir=work, verbose=0)
    models = [r["model"] for r in result.rows]
    assert models == [
        "network",
        "network + flip TTA",
        "logreg",
        "svm",
        "wnxgb",
        "svm (emb + pooled)",
        "logreg (emb + HOG)",
        "network + logreg",
    ]
    dedup = "PrivateTest (no exact copy in Training) acc"
    for col in ("PublicTest acc", "PublicTest macro-F1", "PrivateTest acc", dedup):
        assert col in result.columns
        assert all(0.0 <= r[col] <= 1.0 for r in result.rows)
    # 7 x 8 PrivateTest images at smoke scale subsample 140 -> all 56; 6 are copies
    assert result.details["private_dedup_n"] == {"PrivateTest (no exact copy in Training)": 50}
    assert result.details["n_train"] == 7 * 30
    for key in ("report_md", "report_json", "network", "pipeline", "network_state_dict"):
        assert Path(result.paths[key]).stat().st_size > 0
    pngs = [p for k, p in result.paths.items() if k.startswith("confusion")]
    assert len(pngs) == 4 and all(Path(p).stat().st_size > 0 for p in pngs)
    report = json.loads((work / "report.json").read_text())
    assert report["recipe"] == "fer2013-cpu" and report["scale"] == "smoke"
    assert "Training only" in report["protocol"] and report["machine"]
    # the saved head is fixed before the run, whatever PublicTest says of the heads
    assert report["details"]["saved_head"] == "svm (emb + pooled)"
    assert "fixed before the run" in report["protocol"]
    text = (work / "report.md").read_text()
    assert "| model | PublicTest acc" in text and "Time to accuracy" in text
    # the fitted pipeline and the network are usable on new images without retraining
    pipe = joblib.load(work / "pipeline.joblib")
    images = np.stack([_face(np.random.default_rng(1), k) for k in range(7)])
    assert pipe.predict(images).shape == (7,)
    # its network gives the columns its head was fitted on (embedding+pooled for that head)
    head = pipe[-1][-1] if hasattr(pipe[-1], "steps") else pipe[-1]
    assert pipe[:-1].transform(images).shape[1] == head.n_features_in_
    assert pipe[0].output == "embedding+pooled"
    net = joblib.load(work / "network.joblib")
    assert net.transform(images).shape == (7, net.n_features_out_)
    # resume: the fitted network is reused, not retrained
    again = run_recipe("fer2013-cpu", tiny_fer, scale="smoke", workdir=work, resume=True, verbose=0)
    assert again.rows[0] == result.rows[0]


def test_bad_inputs(tmp_path):
    with pytest.raises(RecipeError, match="scale must be one of"):
        run_recipe("fer2013-cpu", tmp_path, scale="huge", workdir=tmp_path / "w")
    with pytest.raises(RecipeError, match=r"does not take the option\(s\) \['protocol'\]"):
        run_recipe("fer2013-cpu", tmp_path, scale="smoke", workdir=tmp_path / "w", protocol="paper")
    with pytest.raises(RecipeError, match="does not exist"):
        run_recipe("fer2013-cpu", tmp_path / "missing", scale="smoke", workdir=tmp_path / "w")


@pytest.mark.skipif(not (DATA / "fer2013").exists(), reason=f"FER2013 not found under {DATA}")
def test_fer2013_smoke_on_the_real_data(tmp_path):
    cross = [f"ckplus48:{DATA / 'ckplus48'}", str(DATA / "jaffe")]
    if not all((DATA / d).exists() for d in ("ckplus48", "jaffe")):
        cross = None
    result = run_recipe(
        "fer2013-cpu", DATA, scale="smoke", workdir=tmp_path, verbose=0, cross_data=cross
    )
    assert "PrivateTest acc" not in result.columns  # the shared copy holds no PrivateTest
    assert result.details["n_test"] == {"PublicTest": 140}
    if cross is None:
        return
    rows = result.details["cross_dataset"]
    ck = [r for r in rows if r["test"] == "ckplus48->fer2013"]
    jaffe = [r for r in rows if r["test"] == "jaffe->fer2013"]
    # CK+48 without its 54 contempt frames; JAFFE's 213 frames, faces cropped first
    assert {r["n test"] for r in ck} == {927} and {r["n test"] for r in jaffe} == {213}
    models = {r["model"] for r in ck}
    assert {"network", "network + flip TTA", "svm", "logreg"} <= models
    shared = [r for r in ck if r["scored over"] == "shared"]
    assert {r["classes"] for r in shared} == {6} and len(shared) == len(models)
    report = (tmp_path / "report.md").read_text()
    assert "## Cross-dataset (trained on FER2013 Training only)" in report
    assert "test classes dropped: contempt (54 images)" in report


def test_cli_recipes_and_reproduce(tiny_fer, tmp_path, capsys):
    from hybridfer.cli import main

    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    assert "fer2013-cpu (v2" in out and "claims:" in out
    work = tmp_path / "cli"
    code = main(
        [
            "reproduce",
            "fer2013-cpu",
            "--data",
            str(tiny_fer),
            "--scale",
            "smoke",
            "--workdir",
            str(work),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "| network + flip TTA |" in out and "report:" in out
    assert (work / "report.md").exists()
    assert main(["reproduce", "fer2013", "--data", str(tiny_fer)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown recipe 'fer2013'" in err[0]


def test_a_tiny_whole_run_budget_still_ends_annealed_with_its_report(tiny_fer, tmp_path):
    work = tmp_path / "tiny-budget"
    result = run_recipe(
        "fer2013-cpu",
        tiny_fer,
        scale="smoke",
        workdir=work,
        verbose=0,
        budget_minutes=0.02,
        rung="auto",  # the cpu scale's ladder: every rung with points measured, one chosen
    )
    ladder = result.details["ladder"]
    assert [r["rung"] for r in ladder["rows"]] == [r.name for r in RUNGS if r.measured]
    assert ladder["rung"] in [r.name for r in RUNGS] and ladder["train_s"] == 1.0
    chosen = next(r for r in RUNGS if r.name == ladder["rung"])
    assert result.details["settings"]["architecture_params"]["widths"] == chosen.widths
    assert json.loads((work / "ladder.json").read_text())["rung"] == ladder["rung"]
    budget = result.details["budget"]
    assert budget["budget_s"] == pytest.approx(1.2)
    # less than the required work: training gets its floor, the saved head is still fitted
    assert budget["train_s"] == 1.0
    assert budget["heads"] == ["svm (emb + pooled)"]
    assert set(budget["skipped"]) == {"logreg", "svm", "wnxgb", "logreg (emb + HOG)"}
    models = [r["model"] for r in result.rows]
    assert models == ["network", "network + flip TTA", "svm (emb + pooled)"]
    history = result.details["history"]
    assert history[-1]["lr"] == pytest.approx(SETTINGS_SMOKE_MIN_LR, rel=1e-3)  # annealed
    text = (work / "report.md").read_text()
    assert "## Budget" in text and "left out to fit the budget" in text
    assert "## Ladder" in text and f"Chosen: **{ladder['rung']}**" in text
    assert joblib.load(work / "pipeline.joblib")[-1] is not None


def test_an_unknown_rung_is_refused_with_the_rungs_named(tiny_fer, tmp_path):
    with pytest.raises(RecipeError, match=r"rung must be 'auto' or one of \['vgg48@48'"):
        run_recipe("fer2013-cpu", tiny_fer, scale="smoke", workdir=tmp_path, rung="vgg99")
    assert not (tmp_path / "ladder.json").exists()
