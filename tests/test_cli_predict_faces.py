"""hybridfer predict on photos and videos: the face layout, --annotate and --timeline round
trip, and the bad inputs of issue 17 (a row naming the file and the problem, or one line on
stderr with exit status 2, and nothing half-written)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from _helpers import one_error_line
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from hybridfer.cli import main
from hybridfer.data import make_faces
from hybridfer.handcrafted import HOGFeatures
from hybridfer.predict import face_columns, pipeline_metadata, save_pipeline
from hybridfer.video import VideoWriter, read_video, video_info

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def train():
    return make_faces(n_samples=70, image_size=48, random_state=0)


@pytest.fixture(scope="module")
def pipe(train, tmp_path_factory):
    """A saved HOG + logistic regression pipeline for 48x48 gray faces."""
    model = Pipeline([("features", HOGFeatures()), ("clf", LogisticRegression(max_iter=300))])
    model.fit(train.X, train.y)
    path = tmp_path_factory.mktemp("pipe") / "pipeline.joblib"
    save_pipeline(model, path, pipeline_metadata(model, train.X, train.y, label="hog/logreg"))
    return str(path)


def write_clip(path: Path, astronaut: np.ndarray, n: int = 10, fps: float = 10) -> Path:
    """An MP4 of ``n`` 240x320 frames, the astronaut's face moving 3 px right per frame."""
    patch = astronaut[20:230, 130:320]
    with VideoWriter(path, fps=fps) as writer:
        for k in range(n):
            frame = np.full((240, 320, 3), 120, np.uint8)
            frame[15:225, 30 + 3 * k : 220 + 3 * k] = patch
            writer.write(frame)
    return path


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_photos_and_a_video_with_annotate_and_timeline(pipe, train, astronaut, tmp_path, capsys):
    data = tmp_path / "data"
    (data / "clips").mkdir(parents=True)
    Image.fromarray(astronaut).save(data / "astronaut.jpg")
    Image.fromarray(astronaut[:, ::-1]).save(data / "clips" / "astronaut.png")  # same stem
    write_clip(data / "clips" / "walk.mp4", astronaut, n=10, fps=10)
    (data / "README.txt").write_text("ignored")
    out, ann, tl = tmp_path / "out" / "p.csv", tmp_path / "ann", tmp_path / "tl"
    code = main(
        ["predict", pipe, str(data), "-o", str(out), "--fps", "5", "--smooth", "2"]
        + ["--annotate", str(ann), "--timeline", str(tl), "--no-progress"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "2 images and 1 video to predict (faces: auto)" in printed
    assert "predicted 2 of 2 images and 5 of 5 frames of 1 video (7 faces)" in printed
    assert "annotated copies: 3 files in" in printed and "timelines: 1 file in" in printed
    rows = read_rows(out)
    assert list(rows[0]) == face_columns(sorted(set(train.y)))
    video = [r for r in rows if r["path"].endswith("walk.mp4")]
    assert [r["frame"] for r in video] == ["0", "2", "4", "6", "8"]
    assert [float(r["time_s"]) for r in video] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8], abs=0.02)
    assert {r["track"] for r in video} == {"0"} and all(r["error"] == "" for r in rows)
    photos = [r for r in rows if not r["path"].endswith(".mp4")]
    assert all(r["frame"] == r["track"] == r["time_s"] == "" for r in photos)
    for r in rows:
        assert sum(float(v) for k, v in r.items() if k.startswith("proba_")) == pytest.approx(
            1, abs=1e-4
        )
    # the annotated copies: a PNG per photo (names kept apart), an MP4 of the sampled frames
    assert sorted(p.name for p in ann.iterdir()) == ["astronaut-2.png", "astronaut.png", "walk.mp4"]
    with Image.open(ann / "astronaut.png") as im:
        assert im.format == "PNG" and im.size == (512, 512)
        assert not np.array_equal(np.asarray(im.convert("RGB")), astronaut)
    info = video_info(ann / "walk.mp4")
    assert (info.width, info.height) == (320, 240) and info.fps == pytest.approx(5)
    assert len(list(read_video(ann / "walk.mp4"))) == 5
    assert [p.name for p in tl.iterdir()] == ["walk.png"]
    with Image.open(tl / "walk.png") as im:
        assert im.format == "PNG"
    assert [p.name for p in out.parent.iterdir()] == ["p.csv"]  # no temporary file left
    # the Python API from the pipeline file gives the same row
    import hybridfer

    df = hybridfer.predict_faces(pipe, data / "astronaut.jpg")
    row = next(r for r in rows if r["path"].endswith("astronaut.jpg"))
    assert df.loc[0, "label"] == row["label"]
    assert df.loc[0, "box_x"] == pytest.approx(float(row["box_x"]), abs=0.01)


def test_bad_inputs_become_rows_naming_the_file_and_the_problem(pipe, astronaut, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(astronaut).save(data / "face.png")
    (data / "empty.mp4").write_bytes(b"")
    (data / "noise.mov").write_bytes(np.random.default_rng(0).bytes(5000))
    Image.fromarray(np.full((200, 300, 3), 80, np.uint8)).save(data / "wall.jpg")
    tiny = np.full((200, 300, 3), 80, np.uint8)
    tiny[50:64, 50:64] = np.asarray(Image.fromarray(astronaut[60:175, 175:275]).resize((14, 14)))
    Image.fromarray(tiny).save(data / "tiny_face.png")
    out = tmp_path / "p.csv"
    assert main(["predict", pipe, str(data), "-o", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "predicted 1 of 3 images" in printed
    assert "2 images/frames without a face found" in printed
    assert "2 videos could not be read (see the error column), first: " in printed
    by_name = {Path(r["path"]).name: r for r in read_rows(out)}
    assert by_name["face.png"]["error"] == "" and by_name["face.png"]["label"]
    assert by_name["empty.mp4"]["error"] == (
        f"cannot read video file '{data / 'empty.mp4'}': the file is empty (0 bytes)"
    )
    assert f"cannot read video file '{data / 'noise.mov'}'" in by_name["noise.mov"]["error"]
    for name in ("wall.jpg", "tiny_face.png"):
        assert by_name[name]["error"] == "no face of at least 20x20 pixels found (mtcnn detector)"
        assert by_name[name]["label"] == "" and by_name[name]["box_w"] == ""
    # no file at all can be read: exit status 1, the errors still written
    assert main(["predict", pipe, str(data / "empty.mp4"), "-o", str(out)]) == 1
    assert "the video could not be read" in one_error_line(capsys)
    assert "the file is empty" in read_rows(out)[0]["error"]


def test_usage_errors_are_one_line_exit_2_and_write_nothing(
    pipe, train, astronaut, tmp_path, capsys
):
    clip = write_clip(tmp_path / "clip.mp4", astronaut, n=3)
    photo = tmp_path / "big.png"
    Image.fromarray(astronaut).save(photo)
    out = tmp_path / "o.csv"
    cases = [
        ([str(clip), "--faces", "none"], "is a video: --faces none predicts photos"),
        ([str(photo), "--faces", "none"], "is 512x512 but the pipeline expects 48x48"),
        ([str(photo), "--faces", "none", "--annotate", str(tmp_path / "a")], "--annotate draws"),
        ([str(tmp_path / "nothing")], "no such file or folder"),
    ]
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.txt").write_text("x")
    cases.append(([str(tmp_path / "text")], "no input images found in"))
    fer = tmp_path / "fer.csv"
    pixels = " ".join(map(str, train.images[0].ravel()))
    fer.write_text(f"emotion,pixels,Usage\n3,{pixels},PrivateTest\n")
    cases.append(([str(fer), "--faces", "mtcnn"], "a FER2013 CSV holds 48x48 face crops"))
    cases.append(([str(fer), "--timeline", str(tmp_path / "t")], "--timeline draws"))
    for args, message in cases:
        assert main(["predict", pipe, *args, "-o", str(out), "--no-progress"]) == 2, args
        line = one_error_line(capsys)
        assert line.startswith("hybridfer predict: error: ") and message in line, (args, line)
        assert not out.exists()
    assert not (tmp_path / "a").exists() and not (tmp_path / "t").exists()
    # a FER2013 CSV keeps its per-image layout
    assert main(["predict", pipe, str(fer), "-o", str(out), "--no-progress"]) == 0
    assert list(read_rows(out)[0])[:4] == ["row", "usage", "true_label", "label"]
    # flags argparse refuses
    for flag in (["--fps", "0"], ["--smooth", "0"], ["--faces", "dlib"]):
        assert main(["predict", pipe, str(photo), *flag]) == 2
        assert "hybridfer predict: error: argument" in one_error_line(capsys)


def test_timeline_and_smooth_need_probabilities(train, astronaut, tmp_path, capsys):
    model = Pipeline([("features", HOGFeatures()), ("clf", LinearSVC(max_iter=20000))])
    model.fit(train.X, train.y)
    path = tmp_path / "svc.joblib"
    save_pipeline(model, path, pipeline_metadata(model, train.X, train.y))
    clip = write_clip(tmp_path / "clip.mp4", astronaut, n=3)
    out = tmp_path / "o.csv"
    for flag, what in (("--timeline", str(tmp_path / "t")), ("--smooth", "3")):
        assert main(["predict", str(path), str(clip), "-o", str(out), flag, what]) == 2
        assert "but the pipeline has no predict_proba" in one_error_line(capsys)
    assert not out.exists()
    assert main(["predict", str(path), str(clip), "-o", str(out), "--no-progress"]) == 0
    rows = read_rows(out)
    assert list(rows[0]) == face_columns(None) and len(rows) == 3
