"""predict_faces: one row per face in photos and videos (a real photograph, a video written
here, folders mixing photos, videos and other files, the bad inputs of issue 17), and the
pictures drawn from the rows (annotate_image, plot_timeline)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from hybridfer.data import make_faces
from hybridfer.handcrafted import HOGFeatures
from hybridfer.predict import (
    FACE_COLUMNS,
    PredictInputError,
    annotate_image,
    face_columns,
    plot_timeline,
    predict_faces,
)
from hybridfer.video import VideoWriter, read_video

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: The astronaut's face in skimage.data.astronaut() (x0, y0, x1, y1), read off the picture.
FACE = (175, 60, 275, 175)


@pytest.fixture(scope="module")
def model():
    """HOG + logistic regression on synthetic 48x48 gray faces: expects 48x48 gray images."""
    faces = make_faces(n_samples=70, image_size=48, random_state=0)
    return Pipeline(
        [("features", HOGFeatures()), ("classifier", LogisticRegression(max_iter=300))]
    ).fit(faces.X, faces.y)


def face_patch(astronaut, scale=1.0):
    """The astronaut's head and shoulders, ``scale``d."""
    patch = Image.fromarray(astronaut[20:230, 130:320])
    if scale != 1.0:
        patch = patch.resize((round(patch.width * scale), round(patch.height * scale)))
    return np.asarray(patch)


def scene(astronaut, size=(240, 320), at=(40, 60), scale=1.0, background=120):
    """A gray ``size`` picture with the astronaut's face pasted at ``at`` (x, y)."""
    image = np.full((*size, 3), background, np.uint8)
    patch = face_patch(astronaut, scale)
    x, y = at
    h, w = min(patch.shape[0], size[0] - y), min(patch.shape[1], size[1] - x)
    image[y : y + h, x : x + w] = patch[:h, :w]
    return image


def write_clip(path, astronaut, n=12, fps=10, step=2):
    """An MP4 of ``n`` frames with the face moving ``step`` pixels right per frame."""
    with VideoWriter(path, fps=fps) as writer:
        for k in range(n):
            writer.write(scene(astronaut, at=(40 + step * k, 20)))
    return path


def probabilities(df):
    return df[[c for c in df.columns if c.startswith("proba_")]].to_numpy(float)


def centre(row):
    return row.box_x + row.box_w / 2, row.box_y + row.box_h / 2


def test_a_real_photograph_gives_one_row_with_the_box_on_the_face(model, astronaut):
    df = predict_faces(model, astronaut)
    assert list(df.columns) == face_columns(model.classes_)
    assert list(df.columns)[:11] == list(FACE_COLUMNS[:11]) and df.columns[-1] == "error"
    assert len(df) == 1
    row = df.iloc[0]
    cx, cy = centre(row)
    assert FACE[0] < cx < FACE[2] and FACE[1] < cy < FACE[3]
    assert 60 < row.box_w < 140 and row.score > 0.9
    assert row.face == 0 and row.error == ""
    assert df["frame"].isna().all() and df["track"].isna().all() and df["time_s"].isna().all()
    p = probabilities(df)[0]
    assert p.sum() == pytest.approx(1.0)
    assert row.label == model.classes_[p.argmax()]
    # the crop is what the pipeline would predict on the aligned face
    from hybridfer.faces import align_face, make_detector

    face = make_detector("mtcnn").detect([astronaut])[0][0]
    crop = align_face(astronaut, face, size=(48, 48), color="gray")
    assert np.allclose(model.predict_proba(crop[None])[0], p)


def test_images_of_the_pipelines_size_are_taken_whole(model):
    crops = make_faces(n_samples=5, image_size=48, random_state=1).images
    df = predict_faces(model, crops)
    assert list(df["path"]) == [f"<image {i}>" for i in range(5)]
    assert (df[["box_x", "box_y"]] == 0).all().all() and (df[["box_w", "box_h"]] == 48).all().all()
    assert df["score"].isna().all()
    assert list(df["label"]) == list(model.predict(crops))
    # faces="none": whole images; a pipeline that does not resize refuses other sizes
    assert list(predict_faces(model, crops, faces="none")["label"]) == list(df["label"])
    with pytest.raises(PredictInputError, match=r"'<image 0>' is 60x60 but the pipeline expects"):
        predict_faces(model, np.zeros((60, 60), np.uint8), faces="none")


def test_a_picture_without_a_face_gets_one_row_naming_the_minimum_size(model):
    flat = np.full((120, 160, 3), 90, np.uint8)
    df = predict_faces(model, flat)
    assert len(df) == 1 and df["face"].isna().all() and df["label"].isna().all()
    assert df.loc[0, "error"].startswith("no face of at least 20x20 pixels found (mtcnn")
    assert np.isnan(probabilities(df)).all()
    df = predict_faces(model, flat, min_face_size=32, faces="haar")
    assert df.loc[0, "error"].startswith("no face of at least 32x32 pixels found (haar")


def test_a_large_photo_is_detected_downscaled_and_cropped_from_the_original(
    model, astronaut, tmp_path
):
    big = np.full((6000, 8000, 3), 110, np.uint8)
    patch = face_patch(astronaut, 5.0)  # the face about 500 px wide
    big[2000 : 2000 + patch.shape[0], 3000 : 3000 + patch.shape[1]] = patch
    path = tmp_path / "big.jpg"
    Image.fromarray(big).save(path, quality=80)
    df = predict_faces(model, path)
    assert len(df) == 1 and df.loc[0, "error"] == ""
    cx, cy = centre(df.iloc[0])
    assert 3000 + 5 * (FACE[0] - 130) < cx < 3000 + 5 * (FACE[2] - 130)
    assert 2000 + 5 * (FACE[1] - 20) < cy < 2000 + 5 * (FACE[3] - 20)
    # without a face: the error names the least size found at that scale
    df = predict_faces(model, np.full((6000, 8000), 50, np.uint8))
    assert df.loc[0, "error"] == (
        "no face of at least 75x75 pixels found (mtcnn detector; the 8000x6000 image was "
        "downscaled to 1280 pixels for detection)"
    )


def test_16bit_and_rgba_pngs_and_an_exif_rotated_jpeg(model, astronaut, tmp_path):
    gray16 = (np.asarray(Image.fromarray(astronaut).convert("L"), np.uint16) * 257).astype(
        np.uint16
    )
    Image.fromarray(gray16).save(tmp_path / "gray16.png")
    assert Image.open(tmp_path / "gray16.png").mode.startswith("I")
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    rgba[:, :40, 3] = 0  # a transparent strip
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    upright = np.ascontiguousarray(astronaut[:, 56:456])  # 512 x 400: the shape tells
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1)))  # lying on its side
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90 degrees clockwise to display
    stored.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    df = predict_faces(model, tmp_path)
    assert sorted(p.rsplit("/", 1)[-1] for p in df["path"]) == [
        "gray16.png",
        "rgba.png",
        "rotated.jpg",
    ]
    assert (df["error"] == "").all(), df["error"].tolist()
    for row in df.itertuples():
        cx, cy = centre(row)
        x0 = FACE[0] - (56 if row.path.endswith("rotated.jpg") else 0)
        assert x0 < cx < x0 + FACE[2] - FACE[0] and FACE[1] < cy < FACE[3], row.path


def test_a_video_gives_one_row_per_sampled_frame_on_one_track(model, astronaut, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", astronaut, n=12, fps=10)
    df = predict_faces(model, clip, fps=5)
    assert len(df) == 6 and (df["error"] == "").all()
    assert list(df["frame"]) == [0, 2, 4, 6, 8, 10]
    assert np.allclose(df["time_s"], [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], atol=0.02)
    assert set(df["track"]) == {0} and set(df["face"]) == {0}
    assert np.all(np.diff(df["box_x"]) > 0)  # the face moves right, 4 px per sampled frame
    raw = probabilities(df)
    every = predict_faces(model, clip)
    assert list(every["frame"]) == list(range(12))
    # smoothing over 3 frames: rows still sum to 1, labels follow, a steady track stays put
    smooth = predict_faces(model, clip, fps=5, smooth=3)
    p = probabilities(smooth)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert list(smooth["label"]) == list(model.classes_[p.argmax(axis=1)])
    assert np.abs(p - raw).max() < 0.1
    assert (p.std(axis=0) <= raw.std(axis=0) + 1e-9).all()
    assert list(smooth["box_x"]) == list(df["box_x"])


def test_a_folder_of_photos_videos_and_other_files(model, astronaut, tmp_path):
    (tmp_path / "sub").mkdir()
    Image.fromarray(astronaut).save(tmp_path / "astronaut.png")
    Image.fromarray(make_faces(n_samples=1, image_size=48).images[0]).save(tmp_path / "crop.png")
    write_clip(tmp_path / "sub" / "clip.mp4", astronaut, n=4, fps=10)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (tmp_path / "sub" / "empty.mp4").write_bytes(b"")
    (tmp_path / "sub" / "junk.avi").write_bytes(b"RIFF" + bytes(range(256)) * 4)
    Image.fromarray(np.full((100, 100, 3), 70, np.uint8)).save(tmp_path / "wall.png")
    df = predict_faces(model, tmp_path, fps=20)
    names = {p.rsplit("/", 1)[-1]: g for p, g in df.groupby("path", sort=False)}
    assert set(names) == {
        "astronaut.png",
        "crop.png",
        "broken.jpg",
        "clip.mp4",
        "empty.mp4",
        "junk.avi",
        "wall.png",
    }
    assert names["astronaut.png"]["error"].tolist() == [""]
    assert names["crop.png"]["box_w"].tolist() == [48.0]  # whole: the pipeline's size
    assert "cannot decode image file" in names["broken.jpg"]["error"].item()
    assert "the file is empty (0 bytes)" in names["empty.mp4"]["error"].item()
    assert "empty.mp4" in names["empty.mp4"]["error"].item()
    assert "cannot read video file" in names["junk.avi"]["error"].item()
    assert names["wall.png"]["error"].item().startswith("no face of at least 20x20")
    clip = names["clip.mp4"]
    assert list(clip["frame"]) == [0, 1, 2, 3] and (clip["error"] == "").all()
    # a folder with neither photos nor videos is an error naming it
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.txt").write_text("x")
    with pytest.raises(PredictInputError, match=r"no input images found in '.*text'.*videos"):
        predict_faces(model, tmp_path / "text")


def test_select_keeps_one_face_per_image(model, astronaut):
    two = np.full((300, 620, 3), 100, np.uint8)
    two[:210, :190] = face_patch(astronaut)
    small = face_patch(astronaut, 0.6)
    two[150 : 150 + small.shape[0], 450 : 450 + small.shape[1]] = small
    every = predict_faces(model, two)
    assert list(every["face"]) == [0, 1]
    largest = predict_faces(model, two, select="largest")
    assert len(largest) == 1 and largest["box_w"].item() == every["box_w"].max()
    central = predict_faces(model, two, select="center")
    assert len(central) == 1


class RecordingResize(TransformerMixin, BaseEstimator):
    """A stand-in for a deep extractor that resizes (``input_size``); records what it reads."""

    seen: list = []

    def __init__(self, input_size=16):
        self.input_size = input_size

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = np.asarray(X)
        type(self).seen.append(X.shape[1:])
        side = self.input_size
        return np.stack(
            [np.asarray(Image.fromarray(x).convert("L").resize((side, side))) for x in X]
        ).reshape(len(X), -1)


def test_crops_take_the_training_size_of_a_pipeline_that_resizes(astronaut):
    faces = make_faces(n_samples=40, image_size=48, random_state=0)
    model = Pipeline([("f", RecordingResize(16)), ("c", LogisticRegression(max_iter=2000))])
    model.fit(np.stack([np.dstack([x] * 3) for x in faces.images]), faces.y)
    RecordingResize.seen = []
    predict_faces(model, astronaut)
    assert RecordingResize.seen == [(48, 48)]  # training size unknown: 48x48
    RecordingResize.seen = []
    meta = {"image": {"shape": [40, 40], "color": "rgb"}}
    predict_faces(model, astronaut, metadata=meta)
    assert RecordingResize.seen == [(40, 40, 3)]


def test_bad_arguments_are_named(model, astronaut, tmp_path):
    with pytest.raises(ValueError, match="faces must be one of 'auto', 'none'"):
        predict_faces(model, astronaut, faces="yes")
    with pytest.raises(ValueError, match="fps must be a number > 0 or None"):
        predict_faces(model, astronaut, fps=0)
    with pytest.raises(ValueError, match="smooth must be an integer >= 1"):
        predict_faces(model, astronaut, smooth=0)
    with pytest.raises(ValueError, match="select must be None"):
        predict_faces(model, astronaut, select="first")
    with pytest.raises(ValueError, match=r"image 0 of source has dtype float64"):
        predict_faces(model, np.zeros((50, 50)))
    with pytest.raises(PredictInputError, match="no such file or folder"):
        predict_faces(model, tmp_path / "missing.jpg")
    (tmp_path / "fer.csv").write_text("emotion,pixels,Usage\n")
    with pytest.raises(PredictInputError, match="is a CSV: predict_faces takes photos"):
        predict_faces(model, tmp_path / "fer.csv")


def test_annotate_image_draws_boxes_and_labels(model, astronaut):
    df = predict_faces(model, astronaut)
    out = annotate_image(astronaut, df)
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    assert not np.array_equal(out, astronaut)
    x0, y0 = int(df.box_x[0]), int(df.box_y[0])
    assert np.abs(out[y0 + 20 : y0 + 40, x0].astype(int) - astronaut[y0 + 20 : y0 + 40, x0]).max()
    small = annotate_image(np.asarray(Image.fromarray(astronaut).convert("L")), df, max_side=256)
    assert small.shape == (256, 256, 3)
    no_face = predict_faces(model, np.full((80, 80, 3), 50, np.uint8))
    assert annotate_image(np.full((80, 80, 3), 50, np.uint8), no_face)[:30].max() > 50


def test_plot_timeline_writes_a_png(model, astronaut, tmp_path):
    df = predict_faces(model, write_clip(tmp_path / "c.mp4", astronaut, n=5), fps=10)
    out = plot_timeline(df, tmp_path / "plots" / "c.png")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width > 300
    assert [p.name for p in (tmp_path / "plots").iterdir()] == ["c.png"]  # no temporary left
    with pytest.raises(ValueError, match="no proba_<class> columns"):
        plot_timeline(
            df.drop(columns=[c for c in df if c.startswith("proba_")]), tmp_path / "x.png"
        )


def test_read_video_frames_match_the_rows(model, astronaut, tmp_path):
    clip = write_clip(tmp_path / "c.mp4", astronaut, n=6, fps=10)
    df = predict_faces(model, clip, fps=5)
    frames = [(f.index, f.time_s) for f in read_video(clip, fps=5)]
    assert list(zip(df["frame"], df["time_s"], strict=True)) == frames


def test_a_video_of_the_pipelines_size_is_classified_whole_frame_by_frame(model, tmp_path):
    crops = make_faces(n_samples=4, image_size=48, random_state=2).images
    with VideoWriter(tmp_path / "crops.mp4", fps=4) as writer:
        for crop in crops:
            writer.write(crop)
    df = predict_faces(model, tmp_path / "crops.mp4")
    assert list(df["frame"]) == [0, 1, 2, 3] and set(df["track"]) == {0}
    assert (df["box_w"] == 48).all() and df["score"].isna().all() and (df["error"] == "").all()
    frames = read_video(tmp_path / "crops.mp4")  # RGB, seen in gray as PIL converts it
    decoded = np.stack([np.asarray(Image.fromarray(f.image).convert("L")) for f in frames])
    assert list(df["label"]) == list(model.predict(decoded))
