"""load_rafdb: a tiny replica of RAF-DB's basic/ release (label file, aligned and original
images, box files, manual attribute files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hybridfer.data.rafdb import RAFDB_CLASSES, load_rafdb
from hybridfer.images import read_images

#: name, label code 1-7, grey value of its pixels
ROWS = [
    ("train_00001.jpg", 5, 40),
    ("train_00002.jpg", 1, 80),
    ("train_00003.jpg", 4, 120),
    ("test_0001.jpg", 7, 160),
    ("test_0002.jpg", 2, 200),
]
#: corners x1 y1 x2 y2 written in each box file, and the x, y, w, h they mean
BOXES = {
    "train_00001": ("2.4 3.0 12.6 15.2", (2, 3, 11, 12)),
    "train_00002": ("0 0 20 18", (0, 0, 20, 18)),
    "train_00003": ("5.0 1.0 9.0 7.0", (5, 1, 4, 6)),
    "test_0001": ("1 2 3 4", (1, 2, 2, 2)),
    "test_0002": ("10.5 4.5 23.5 19.5", (10, 4, 14, 16)),
}
#: gender, race, age codes of each manual attribute file
ATTRIBUTES = {
    "train_00001": (1, 0, 2),
    "train_00002": (0, 2, 1),
    "train_00003": (2, 1, 4),
    "test_0001": (1, 1, 0),
    "test_0002": (0, 0, 3),
}


def _jpeg(path: Path, value: int, size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.zeros((size[1], size[0], 3), np.uint8)
    img[..., 0] = value
    img[..., 1] = 255 - value
    img[..., 2] = 30
    Image.fromarray(img).save(path, quality=95)


def _manual(path: Path, stem: str, index: int) -> None:
    gender, race, age = ATTRIBUTES[stem]
    points = [(10.5 + index, 12.25), (20.0, 12.0), (15.0, 18.5), (11.0, 24.0), (19.0, 24.5)]
    lines = [f"{x:.2f}\t{y:.2f}" for x, y in points] + [str(gender), str(race), str(age)]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """``tmp_path/basic/`` laid out as the RAF-DB basic release, with 3 train, 2 test images."""
    basic = tmp_path / "basic"
    (basic / "EmoLabel").mkdir(parents=True)
    (basic / "EmoLabel" / "list_patition_label.txt").write_text(
        "".join(f"{name} {code}\n" for name, code, _ in ROWS)
    )
    (basic / "Annotation" / "boundingbox").mkdir(parents=True)
    (basic / "Annotation" / "manual").mkdir(parents=True)
    for i, (name, _, value) in enumerate(ROWS):
        stem = name[:-4]
        _jpeg(basic / "Image" / "aligned" / f"{stem}_aligned.jpg", value, (10, 10))
        _jpeg(basic / "Image" / "original" / name, value, (24, 20))
        (basic / "Annotation" / "boundingbox" / f"{stem}_boundingbox.txt").write_text(
            BOXES[stem][0] + " \n"
        )
        _manual(basic / "Annotation" / "manual" / f"{stem}_manu_attri.txt", stem, i)
    return basic


def test_aligned_labels_usage_attributes_and_pixels(release: Path) -> None:
    ds = load_rafdb(release.parent)  # the folder holding basic/
    assert ds.name == "rafdb"
    assert (
        ds.classes
        == RAFDB_CLASSES
        == (
            "surprise",
            "fear",
            "disgust",
            "happiness",
            "sadness",
            "anger",
            "neutral",
        )
    )
    assert ds.labels.tolist() == ["sadness", "surprise", "happiness", "neutral", "fear"]
    assert ds.usage.tolist() == ["train", "train", "train", "test", "test"]
    assert [Path(p).name for p in ds.paths] == [f"{n[:-4]}_aligned.jpg" for n, _, _ in ROWS]
    assert all(Path(p).parent.name == "aligned" for p in ds.paths)
    assert ds.images.shape == (5, 10, 10, 3) and ds.images.dtype == np.uint8
    red = ds.images[:, 5, 5, 0].astype(int)
    assert np.abs(red - [v for _, _, v in ROWS]).max() <= 3
    assert ds.boxes is None  # aligned faces fill their image
    assert ds.columns["gender"].tolist() == ["female", "male", "unsure", "female", "male"]
    assert ds.columns["race"].tolist() == [
        "caucasian",
        "asian",
        "african-american",
        "african-american",
        "caucasian",
    ]
    assert ds.columns["age"].tolist() == ["20-39", "4-19", "70+", "0-3", "40-69"]
    assert "landmarks" not in ds.columns  # they are in the original images' pixels
    assert ds.class_counts() == {
        "surprise": 1,
        "fear": 1,
        "disgust": 0,
        "happiness": 1,
        "sadness": 1,
        "anger": 0,
        "neutral": 1,
    }
    assert ds.split("test").labels.tolist() == ["neutral", "fear"]
    same = load_rafdb(release)  # basic/ itself
    assert same.paths.tolist() == ds.paths.tolist()


def test_original_images_with_boxes_and_landmarks(release: Path) -> None:
    ds = load_rafdb(release, images="original")
    assert [Path(p).name for p in ds.paths] == [n for n, _, _ in ROWS]
    assert ds.images.shape == (5, 20, 24, 3)
    assert ds.boxes.dtype == np.int64
    assert ds.boxes.tolist() == [list(BOXES[n[:-4]][1]) for n, _, _ in ROWS]
    points = ds.columns["landmarks"]
    assert points.shape == (5, 5, 2) and points.dtype == np.float32
    assert points[:, 0, 0].tolist() == pytest.approx([10.5, 11.5, 12.5, 13.5, 14.5])
    assert points[0, 4].tolist() == pytest.approx([19.0, 24.5])
    test = ds.split("test")
    assert test.boxes.tolist() == [[1, 2, 2, 2], [10, 4, 14, 16]]
    assert test.columns["age"].tolist() == ["0-3", "40-69"]


@pytest.mark.parametrize("images", ["aligned", "original"])
def test_lazy_and_eager_agree(release: Path, images: str) -> None:
    eager = load_rafdb(release, images=images, n_jobs=1)
    lazy = load_rafdb(release, images=images, lazy=True)
    assert lazy.images is None
    assert lazy.paths.tolist() == eager.paths.tolist()
    assert lazy.labels.tolist() == eager.labels.tolist()
    assert lazy.usage.tolist() == eager.usage.tolist()
    assert np.array_equal(np.stack(read_images(lazy.paths, color="rgb")), eager.images)
    assert sorted(lazy.columns) == sorted(eager.columns)
    for key, value in eager.columns.items():
        assert np.array_equal(lazy.columns[key], value)
    if images == "original":
        assert np.array_equal(lazy.boxes, eager.boxes)
    gray = load_rafdb(release, images=images, color="gray")
    assert gray.images.shape == eager.images.shape[:3]


def test_annotations_switch(release: Path) -> None:
    bare = load_rafdb(release, images="original", annotations=False)
    assert bare.boxes is None and bare.columns == {}
    shutil.rmtree(release / "Annotation")
    plain = load_rafdb(release, images="original")  # None: what is there, here nothing
    assert plain.boxes is None and plain.columns == {}
    with pytest.raises(FileNotFoundError, match="no Annotation/boundingbox/ folder"):
        load_rafdb(release, images="original", annotations=True)
    with pytest.raises(FileNotFoundError, match="no Annotation/manual/ folder"):
        load_rafdb(release, annotations=True)


def test_other_spellings_of_label_file_and_box_folder(release: Path) -> None:
    (release / "EmoLabel" / "list_patition_label.txt").rename(
        release / "EmoLabel" / "list_partition_label.txt"
    )
    boxes = release / "Annotation" / "boundingbox"
    alt = release / "Annotation" / "boxes"
    alt.mkdir()
    for f in boxes.iterdir():
        f.rename(alt / f.name.replace("_boundingbox.txt", "_boxes.txt"))
    boxes.rmdir()
    ds = load_rafdb(release, images="original")
    assert ds.boxes.tolist() == [list(BOXES[n[:-4]][1]) for n, _, _ in ROWS]


def test_wrong_layout_is_refused_with_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="RAF-DB folder .*nope"):
        load_rafdb(tmp_path / "nope")
    (tmp_path / "aligned").mkdir()
    _jpeg(tmp_path / "aligned" / "train_00001_aligned.jpg", 9, (10, 10))
    with pytest.raises(FileNotFoundError) as err:
        load_rafdb(tmp_path)
    message = str(err.value)
    assert repr(str(tmp_path)) in message
    assert "EmoLabel/list_patition_label.txt" in message and "Image/aligned/" in message
    assert "holds ['aligned']" in message
    with pytest.raises(ValueError, match="images must be 'aligned' or 'original'"):
        load_rafdb(tmp_path, images="cropped")
    with pytest.raises(ValueError, match="color"):
        load_rafdb(tmp_path, color="bgr")


def test_missing_images_name_the_first_and_count(release: Path) -> None:
    (release / "Image" / "aligned" / "train_00002_aligned.jpg").unlink()
    (release / "Image" / "aligned" / "test_0002_aligned.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"2 of 5 images .*'train_00002_aligned.jpg'"):
        load_rafdb(release)
    shutil.rmtree(release / "Image" / "original")
    with pytest.raises(FileNotFoundError, match="no Image/original/ folder"):
        load_rafdb(release, images="original")


def test_missing_box_and_attribute_files_are_named(release: Path) -> None:
    (release / "Annotation" / "boundingbox" / "test_0001_boundingbox.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 of 5 box files .*'test_0001_boundingbox"):
        load_rafdb(release, images="original")
    (release / "Annotation" / "manual" / "train_00003_manu_attri.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 of 5 attribute files .*'train_00003_manu"):
        load_rafdb(release)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("train_00004.jpg 8", r"line 6 .*'train_00004.jpg' the label code '8'; expected 1-7"),
        ("train_00004.jpg happy", r"line 6 .*label code 'happy'"),
        ("train_00004.jpg", r"line 6 .*expected '<image name> <label code>'"),
        ("val_0001.jpg 3", r"line 6 .*'val_0001.jpg'; expected train_<number>.jpg"),
        ("train_00001.jpg 3", r"line 6 .*lists 'train_00001.jpg' a second time"),
    ],
)
def test_bad_label_lines_are_named(release: Path, line: str, match: str) -> None:
    labels = release / "EmoLabel" / "list_patition_label.txt"
    labels.write_text(labels.read_text() + line + "\n")
    with pytest.raises(ValueError, match=match):
        load_rafdb(release)


def test_bad_box_and_attribute_values_are_named(release: Path) -> None:
    box = release / "Annotation" / "boundingbox" / "train_00002_boundingbox.txt"
    box.write_text("1 2 3\n")
    with pytest.raises(ValueError, match=r"train_00002_boundingbox.txt.*four numbers"):
        load_rafdb(release, images="original")
    box.write_text("10 2 3 40\n")  # x2 < x1: not corners
    with pytest.raises(ValueError, match=r"train_00002_boundingbox.txt.*x2 > x1"):
        load_rafdb(release, images="original")
    attr = release / "Annotation" / "manual" / "test_0002_manu_attri.txt"
    attr.write_text(attr.read_text().replace("\n0\n3\n", "\n5\n3\n"))
    with pytest.raises(ValueError, match=r"test_0002_manu_attri.txt.*race code '5'"):
        load_rafdb(release)
    attr.write_text("1 2\n3 4\n")
    with pytest.raises(ValueError, match=r"test_0002_manu_attri.txt.*malformed"):
        load_rafdb(release)
