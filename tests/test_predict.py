"""hybridfer predict: saved pipelines carry their metadata; predictions for image folders,
files and FER2013 CSVs, with unreadable images reported instead of stopping the run."""

from __future__ import annotations

import csv
from pathlib import Path

import joblib
import numpy as np
import pytest
from _helpers import one_error_line, tiny_config
from PIL import Image
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from hybridfer.cli import main
from hybridfer.data import FER2013_CLASSES, make_faces
from hybridfer.handcrafted import HOGFeatures
from hybridfer.predict import (
    METADATA_ATTR,
    PipelineFileError,
    load_pipeline,
    pipeline_info,
    pipeline_metadata,
    predict_to_csv,
    save_pipeline,
)

CONFIG = tiny_config(n_trials=1)
#: The columns of hybridfer predict's face layout before the label.
FACE_LAYOUT = [
    "path",
    "frame",
    "time_s",
    "face",
    "track",
    "box_x",
    "box_y",
    "box_w",
    "box_h",
    "score",
]


class ResizeFlatten(TransformerMixin, BaseEstimator):
    """A stand-in for a deep extractor: takes any size, resizes to ``input_size``."""

    def __init__(self, input_size=16):
        self.input_size = input_size

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        side = self.input_size
        return (
            np.stack(
                [np.asarray(Image.fromarray(np.asarray(x)).resize((side, side))) for x in X]
            ).reshape(len(X), -1)
            / 255.0
        )


@pytest.fixture(scope="module")
def faces():
    return make_faces(n_samples=70, image_size=32, random_state=0)


@pytest.fixture(scope="module")
def saved(faces, tmp_path_factory):
    """A HOG + logistic regression pipeline saved with its metadata, and a bare copy."""
    root = tmp_path_factory.mktemp("pipelines")
    model = Pipeline(
        [("features", HOGFeatures()), ("classifier", LogisticRegression(max_iter=300))]
    )
    model.fit(faces.X, faces.y)
    joblib.dump(model, root / "bare.joblib")
    meta = pipeline_metadata(
        model,
        faces.X,
        faces.y,
        data_name=faces.name,
        scores={"cv f1_macro": 0.5},
        label="hog/logreg",
    )
    save_pipeline(model, root / "pipeline.joblib", meta)
    return root


def image_folder(root: Path, faces, n: int = 5, corrupt: bool = True) -> Path:
    (root / "a" / "b").mkdir(parents=True)
    for i in range(n):
        sub = root / "a" if i % 2 else root / "a" / "b"
        Image.fromarray(faces.images[i]).save(sub / f"face{i}.png")
    if corrupt:
        (root / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return root / "a"


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_folder_with_a_corrupt_image(saved, faces, tmp_path, capsys):
    folder = image_folder(tmp_path, faces)
    out = tmp_path / "predictions.csv"
    code = main(["predict", str(saved / "pipeline.joblib"), str(folder), "-o", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert "predicted 5 of 6 images" in captured.out
    assert "1 image could not be read" in captured.out and "broken.png" in captured.out
    assert "Traceback" not in captured.err
    rows = read_rows(out)
    assert len(rows) == 6  # found recursively
    bad = [r for r in rows if r["error"]]
    assert len(bad) == 1 and bad[0]["path"].endswith("broken.png")
    assert bad[0]["label"] == "" and "cannot decode" in bad[0]["error"]
    good = [r for r in rows if not r["error"]]
    assert {Path(r["path"]).name for r in good} == {f"face{i}.png" for i in range(5)}
    classes = sorted(set(faces.y))
    probas = [f"proba_{c}" for c in classes]
    # one row per face; an image of the pipeline's size (32x32) is one face, the whole image
    assert list(rows[0]) == [*FACE_LAYOUT, "label", *probas, "error"]
    assert {(r["box_x"], r["box_w"], r["box_h"], r["face"]) for r in good} == {
        ("0.0", "32.0", "32.0", "0")
    }
    model = joblib.load(saved / "pipeline.joblib")
    by_name = {Path(r["path"]).name: r["label"] for r in good}
    expected = model.predict(faces.images[:5])
    assert [by_name[f"face{i}.png"] for i in range(5)] == list(expected)
    # --faces none: one row per image, the layout of earlier versions, the same labels
    args = ["predict", str(saved / "pipeline.joblib"), str(folder), "-o", str(out)]
    assert main([*args, "--faces", "none"]) == 0
    plain = read_rows(out)
    assert list(plain[0]) == ["path", "label", *probas, "error"]
    assert [(r["path"], r["label"]) for r in plain] == [(r["path"], r["label"]) for r in rows]


def test_probabilities_sum_to_one_and_match_the_label(saved, faces, tmp_path):
    folder = image_folder(tmp_path, faces, n=7, corrupt=False)
    model, meta = load_pipeline(saved / "pipeline.joblib")
    report = predict_to_csv(model, [folder], tmp_path / "p.csv", metadata=meta, batch_size=3)
    assert (report.n_images, report.n_predicted, report.n_failed) == (7, 7, 0)
    assert report.probabilities
    for row in read_rows(tmp_path / "p.csv"):
        probs = {k[len("proba_") :]: float(v) for k, v in row.items() if k.startswith("proba_")}
        assert len(probs) == len(model.classes_)
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
        assert row["label"] == max(probs, key=probs.get)


def test_batches_and_single_files_give_the_same_rows(saved, faces, tmp_path):
    folder = image_folder(tmp_path, faces, n=5)
    model, meta = load_pipeline(saved / "pipeline.joblib")
    predict_to_csv(model, [folder], tmp_path / "big.csv", metadata=meta, batch_size=256)
    predict_to_csv(model, [folder], tmp_path / "small.csv", metadata=meta, batch_size=2)
    assert read_rows(tmp_path / "big.csv") == read_rows(tmp_path / "small.csv")
    files = sorted(str(p) for p in folder.rglob("face*.png"))
    predict_to_csv(model, files, tmp_path / "files.csv", metadata=meta)
    assert [r["path"] for r in read_rows(tmp_path / "files.csv")] == files


def test_missing_or_corrupt_pipeline_is_one_line_exit_2(faces, tmp_path, capsys):
    folder = image_folder(tmp_path, faces)
    missing = tmp_path / "nope.joblib"
    assert main(["predict", str(missing), str(folder)]) == 2
    line = one_error_line(capsys)
    assert line.startswith("hybridfer predict: error: pipeline file") and "no such file" in line
    corrupt = tmp_path / "corrupt.joblib"
    corrupt.write_bytes(b"\x80\x04 definitely not a pickle")
    assert main(["predict", str(corrupt), str(folder)]) == 2
    assert "not a pipeline saved by hybridfer" in one_error_line(capsys)
    joblib.dump({"weights": [1, 2]}, tmp_path / "dict.joblib")
    assert main(["predict", "--info", str(tmp_path / "dict.joblib")]) == 2
    assert "holds a dict, not a pipeline" in one_error_line(capsys)


def test_no_inputs_found_or_missing_input_exit_2(saved, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    pipe = str(saved / "pipeline.joblib")
    out = str(tmp_path / "o.csv")
    assert main(["predict", pipe, str(tmp_path / "empty"), "-o", out]) == 2
    assert "no input images found in" in one_error_line(capsys)
    assert main(["predict", pipe, str(tmp_path / "missing"), "-o", out]) == 2
    assert "no such file or folder" in one_error_line(capsys)
    assert main(["predict", pipe, "-o", out]) == 2
    assert "predict needs INPUTS" in one_error_line(capsys)
    assert main(["predict", pipe, str(tmp_path), "-o", str(tmp_path)]) == 2
    assert "is a folder; expected the CSV file to write" in one_error_line(capsys)
    assert not Path(out).exists()


def test_every_image_failing_exits_1(saved, tmp_path, capsys):
    (tmp_path / "x.png").write_bytes(b"nothing")
    out = tmp_path / "o.csv"
    pipe = str(saved / "pipeline.joblib")
    assert main(["predict", pipe, str(tmp_path / "x.png"), "-o", str(out), "--no-progress"]) == 1
    line = one_error_line(capsys)
    assert "the image could not be read" in line
    assert read_rows(out)[0]["error"]  # the errors are still written


def test_a_size_the_pipeline_refuses_names_the_file(saved, faces, tmp_path, capsys):
    folder = image_folder(tmp_path, faces, n=3, corrupt=False)
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(folder / "zz_big.png")
    out = tmp_path / "o.csv"
    args = ["predict", str(saved / "pipeline.joblib"), str(folder), "-o", str(out)]
    assert main([*args, "--faces", "none"]) == 2
    line = one_error_line(capsys)
    assert "zz_big.png' is 40x40 but the pipeline expects 32x32" in line
    assert not out.exists()  # nothing half-written
    # by default the faces of other sizes are searched for: a blank 40x40 has none
    assert main([*args, "--no-progress"]) == 0
    assert "1 image/frame without a face found" in capsys.readouterr().out
    big = [r for r in read_rows(out) if r["path"].endswith("zz_big.png")]
    assert big[0]["error"].startswith("no face of at least 20x20 pixels found")


def test_a_resizing_pipeline_takes_any_size(faces, tmp_path):
    model = Pipeline([("features", ResizeFlatten(12)), ("clf", LinearSVC(max_iter=20000))])
    model.fit(faces.images, faces.y)
    info = pipeline_info(model)
    assert info["image"]["resizes"] and info["image"]["input_size"] == [12, 12]
    assert not info["probabilities"]
    folder = image_folder(tmp_path, faces, n=3)
    Image.fromarray(np.zeros((50, 40), np.uint8)).save(folder / "other_size.png")
    report = predict_to_csv(model, [folder], tmp_path / "o.csv")
    assert (report.n_predicted, report.n_failed) == (4, 1)
    rows = read_rows(tmp_path / "o.csv")
    assert list(rows[0]) == ["path", "label", "error"]


def test_no_predict_proba_says_so_once(faces, tmp_path, capsys):
    model = Pipeline([("features", HOGFeatures()), ("clf", LinearSVC(max_iter=20000))]).fit(
        faces.X, faces.y
    )
    joblib.dump(model, tmp_path / "svc.joblib")
    folder = image_folder(tmp_path, faces, n=3, corrupt=False)
    out = tmp_path / "o.csv"
    assert main(["predict", str(tmp_path / "svc.joblib"), str(folder), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("no predict_proba") == 1
    assert list(read_rows(out)[0]) == [*FACE_LAYOUT, "label", "error"]
    assert (
        main(
            [
                "predict",
                str(tmp_path / "svc.joblib"),
                str(folder),
                "-o",
                str(out),
                "--faces",
                "none",
            ]
        )
        == 0
    )
    assert list(read_rows(out)[0]) == ["path", "label", "error"]


def write_fer_csv(path: Path, n: int = 10) -> list[str]:
    ds = make_faces(n_samples=n, image_size=48, random_state=3)
    usages = ["Training" if i < n // 2 else "PrivateTest" for i in range(n)]
    with open(path, "w") as f:
        f.write("emotion,pixels,Usage\n")
        for img, label, usage in zip(ds.images, ds.labels, usages, strict=True):
            code = FER2013_CLASSES.index(label)
            f.write(f"{code},{' '.join(map(str, img.ravel()))},{usage}\n")
    return list(ds.labels)


def test_fer2013_csv_input(tmp_path, capsys):
    train = make_faces(n_samples=70, image_size=48, random_state=0)
    model = Pipeline([("features", HOGFeatures()), ("clf", LogisticRegression(max_iter=300))])
    model.fit(train.X, train.y)
    save_pipeline(model, tmp_path / "p48.joblib", pipeline_metadata(model, train.X, train.y))
    labels = write_fer_csv(tmp_path / "fer.csv", n=10)
    out = tmp_path / "o.csv"
    args = ["predict", str(tmp_path / "p48.joblib"), str(tmp_path / "fer.csv"), "-o", str(out)]
    assert main([*args, "--usage", "PrivateTest", "--no-progress"]) == 0
    assert "accuracy against the CSV's own labels" in capsys.readouterr().out
    rows = read_rows(out)
    assert [int(r["row"]) for r in rows] == list(range(5, 10))
    assert {r["usage"] for r in rows} == {"PrivateTest"}
    assert [r["true_label"] for r in rows] == labels[5:]
    assert list(rows[0])[:4] == ["row", "usage", "true_label", "label"]
    assert main([*args, "--no-progress"]) == 0
    assert len(read_rows(out)) == 10
    # a CSV goes alone
    assert main([*args[:3], str(tmp_path), *args[3:]]) == 2
    assert "must be the only input" in one_error_line(capsys)


def test_tune_and_evaluate_save_metadata_that_info_prints(tmp_path, capsys, faces):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(CONFIG)
    assert main(["tune", str(cfg), "--no-progress"]) == 0
    saved_file = tmp_path / "work" / "best_pipeline.joblib"
    model, meta = load_pipeline(saved_file)
    assert hasattr(model, "predict")  # still a plain pipeline: joblib.load(...).predict works
    assert meta["classes"] == sorted(set(faces.y))
    assert meta["image"] == {
        "shape": [32, 32],
        "color": "gray",
        "resizes": False,
        "input_size": None,
    }
    assert meta["training_data"]["n_images"] == sum(meta["training_data"]["class_counts"].values())
    assert "cv f1_macro" in meta["scores"] and meta["pipeline"] == "hog/logreg"
    capsys.readouterr()
    assert main(["predict", "--info", str(saved_file)]) == 0
    out = capsys.readouterr().out
    assert "pipeline: hog/logreg" in out
    assert "images: 32x32 gray" in out
    assert "classes (7): angry, disgust" in out
    assert "scores: cv f1_macro 0." in out
    assert "training data: " in out and "hybridfer version: " in out
    # evaluate saves the pipeline it fitted, with its test scores
    assert main(["evaluate", str(cfg), "--no-audit"]) == 0
    _, meta = load_pipeline(tmp_path / "work" / "evaluate" / "pipeline.joblib")
    assert any(k.endswith("accuracy") for k in meta["scores"])
    assert "best trial #" in meta["evaluated"]


def test_bare_and_dict_pipelines(saved, faces, tmp_path, capsys):
    assert main(["predict", "--info", str(saved / "bare.joblib")]) == 0
    out = capsys.readouterr().out
    assert "metadata: none saved with this pipeline" in out
    assert "images: 32x32 gray" in out
    model, meta = load_pipeline(saved / "bare.joblib")
    assert meta is None and not hasattr(model, METADATA_ATTR)
    joblib.dump({"pipeline": model, "metadata": {"classes": ["x"], "note": 1}}, tmp_path / "d.jl")
    model2, meta2 = load_pipeline(tmp_path / "d.jl")
    assert meta2["note"] == 1 and type(model2) is type(model)
    with pytest.raises(PipelineFileError, match="no such file"):
        load_pipeline(tmp_path / "none.joblib")


def test_a_real_process_reports_a_corrupt_image_and_exits_0(saved, faces, tmp_path):
    import subprocess
    import sys

    folder = image_folder(tmp_path, faces, n=3)
    out = tmp_path / "p.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "hybridfer", "predict", str(saved / "pipeline.joblib")]
        + [str(folder), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal, no traceback
    assert "predicted 3 of 4 images" in proc.stdout and "1 image could not be read" in proc.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "hybridfer", "predict", str(tmp_path / "none.joblib"), str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"hybridfer predict: error: pipeline file '{tmp_path / 'none.joblib'}': no such file"
    ]
