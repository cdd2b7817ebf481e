"""load_affectnet: tiny replicas of the 8-class npy cut (train_set/, val_set/) and of the
original CSV release (training.csv, validation.csv, Manually_Annotated_Images/)."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hybridfer.data.affectnet import (
    AFFECTNET_CLASSES,
    AFFECTNET_CODES,
    AFFECTNET_CSV_COLUMNS,
    load_affectnet,
)
from hybridfer.images import read_images

NAN = float("nan")


def _jpeg(path: Path, value: int, size: tuple[int, int] = (12, 12)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.zeros((size[1], size[0], 3), np.uint8)
    img[..., 0] = value
    img[..., 1] = 255 - value
    Image.fromarray(img).save(path, quality=95)


def _points(offset: float) -> np.ndarray:
    return np.arange(136, dtype=np.float64).reshape(68, 2) + offset


# --- the npy cut ---------------------------------------------------------------------------

#: split -> (id, expression as stored, valence, arousal, landmarks as stored)
#: The release stores strings (np.array('3')); ints and 1-element arrays are read as well.
NPY = {
    "train_set": [
        ("10", np.array("1"), np.array("0.5"), np.array("0.25"), _points(0.0).reshape(-1)),
        ("2", np.array("7"), np.array("-0.75"), np.array("0.1"), _points(1.0)),
        ("0", np.array(3), np.array(0.0), np.array("-2"), _points(2.0).astype(str)),
        ("1", np.array(["6"]), np.array("1.5"), np.array("1.0"), _points(3.0)),
    ],
    "val_set": [
        ("5", np.array("0"), np.array("-1.0"), np.array("0.3"), _points(4.0)),
        ("7", np.array("7"), np.array("0.2"), np.array("-0.2"), _points(5.0)),
    ],
}


@pytest.fixture
def npy_cut(tmp_path: Path) -> Path:
    root = tmp_path / "cut"
    for split, rows in NPY.items():
        for k, (i, exp, val, aro, lnd) in enumerate(rows):
            _jpeg(root / split / "images" / f"{i}.jpg", 30 * (k + 1))
            ann = root / split / "annotations"
            ann.mkdir(parents=True, exist_ok=True)
            np.save(ann / f"{i}_exp.npy", exp)
            np.save(ann / f"{i}_val.npy", val)
            np.save(ann / f"{i}_aro.npy", aro)
            np.save(ann / f"{i}_lnd.npy", lnd)
    return root


def _same(a: np.ndarray, b: list[float]) -> bool:
    return np.allclose(a, b, equal_nan=True)


def test_npy_cut_classes_labels_usage_and_affect(npy_cut: Path) -> None:
    ds = load_affectnet(npy_cut)
    assert ds.name == "affectnet"
    assert ds.classes == AFFECTNET_CLASSES
    assert len(ds.classes) == 8 and ds.classes[-1] == "contempt"
    # train first, ids in numeric order (0, 1, 2, 10), then val
    assert [Path(p).name for p in ds.paths] == [
        "0.jpg",
        "1.jpg",
        "2.jpg",
        "10.jpg",
        "5.jpg",
        "7.jpg",
    ]
    assert ds.labels.tolist() == ["surprise", "anger", "contempt", "happy", "neutral", "contempt"]
    assert ds.usage.tolist() == ["train"] * 4 + ["val"] * 2
    assert ds.columns["valence"].dtype == np.float32
    # 1.5 is outside [-1, 1] and -2 is AffectNet's "not annotated": both NaN
    assert _same(ds.columns["valence"], [0.0, NAN, -0.75, 0.5, -1.0, 0.2])
    assert _same(ds.columns["arousal"], [NAN, 1.0, 0.1, 0.25, 0.3, -0.2])
    assert "landmarks" not in ds.columns and ds.boxes is None
    assert ds.images.shape == (6, 12, 12, 3)
    assert np.abs(ds.images[:, 6, 6, 0].astype(int) - [90, 120, 60, 30, 30, 60]).max() <= 3


def test_npy_landmarks_subset_and_seven_classes(npy_cut: Path) -> None:
    ds = load_affectnet(npy_cut, landmarks=True, subset="train")
    assert ds.usage.tolist() == ["train"] * 4
    points = ds.columns["landmarks"]
    assert points.shape == (4, 68, 2) and points.dtype == np.float32
    assert points[:, 0, 0].tolist() == [2.0, 3.0, 1.0, 0.0]  # ids 0, 1, 2, 10
    assert points[0, 67].tolist() == [136.0, 137.0]
    seven = load_affectnet(npy_cut, classes=7)
    assert seven.classes == AFFECTNET_CLASSES[:7] and "contempt" not in seven.classes
    assert seven.labels.tolist() == ["surprise", "anger", "happy", "neutral"]
    assert seven.usage.tolist() == ["train", "train", "train", "val"]
    assert _same(seven.columns["valence"], [0.0, NAN, 0.5, -1.0])
    val = load_affectnet(npy_cut, subset=["val"], classes=7)
    assert val.labels.tolist() == ["neutral"]


def test_npy_lazy_and_eager_agree(npy_cut: Path) -> None:
    eager = load_affectnet(npy_cut, landmarks=True, n_jobs=1)
    lazy = load_affectnet(npy_cut, landmarks=True, lazy=True)
    assert lazy.images is None and lazy.paths.tolist() == eager.paths.tolist()
    assert lazy.labels.tolist() == eager.labels.tolist()
    assert lazy.usage.tolist() == eager.usage.tolist()
    for key in ("valence", "arousal", "landmarks"):
        assert np.array_equal(lazy.columns[key], eager.columns[key], equal_nan=True)
    assert np.array_equal(np.stack(read_images(lazy.paths, color="rgb")), eager.images)
    assert load_affectnet(npy_cut, color="gray").images.shape == (6, 12, 12)


def test_npy_bad_and_missing_annotations_are_named(npy_cut: Path) -> None:
    ann = npy_cut / "train_set" / "annotations"
    np.save(ann / "2_exp.npy", np.array("12"))
    with pytest.raises(ValueError, match=r"2_exp.npy.*expression code '12'; expected 0-10"):
        load_affectnet(npy_cut)
    np.save(ann / "2_exp.npy", np.array(["1", "2"]))
    with pytest.raises(ValueError, match=r"2_exp.npy.* holds 2 values, not one"):
        load_affectnet(npy_cut)
    np.save(ann / "2_exp.npy", np.array("1"))
    np.save(ann / "2_val.npy", np.array("high"))
    with pytest.raises(ValueError, match=r"2_val.npy.*valence 'high'"):
        load_affectnet(npy_cut)
    np.save(ann / "2_val.npy", np.array("0.1"))
    np.save(ann / "2_lnd.npy", np.zeros(10))
    with pytest.raises(ValueError, match=r"2_lnd.npy.*10 values as landmarks"):
        load_affectnet(npy_cut, landmarks=True)
    (ann / "1_aro.npy").unlink()
    (ann / "10_aro.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"2 of 4 train annotation files .*'1_aro.npy'"):
        load_affectnet(npy_cut)
    (npy_cut / "val_set" / "annotations" / "5_lnd.npy").unlink()
    assert len(load_affectnet(npy_cut, subset="val")) == 2  # landmarks are optional
    with pytest.raises(FileNotFoundError, match=r"1 of 2 .*<id>_lnd.npy.*'5_lnd.npy'"):
        load_affectnet(npy_cut, subset="val", landmarks=True)


# --- the CSV release -----------------------------------------------------------------------

#: subDirectory_filePath, box, expression, valence, arousal
TRAINING = [
    ("689/a1.jpg", (3, 4, 20, 21), "1", "0.6", "0.2"),
    ("689/a2.jpg", (0, 0, 30, 30), "8", "-0.1", "0.4"),  # none: dropped
    ("12/b1.jpg", (5, 6, 7, 8), "7", "-0.3", "0.5"),  # contempt
    ("12/b2.jpg", (1, 1, 9, 9), "10", "-2", "-2"),  # no-face: dropped
    ("12/b3.jpg", (2, 3, 4, 5), "6", "1.2", "-0.9"),
    ("3/c1.png", (9, 8, 7, 6), "9", "0", "0"),  # uncertain: dropped
    ("3/c2.jpg", (4, 4, 10, 12), "0", "-2", "0.05"),
]
VALIDATION = [
    ("40/v1.jpg", (1, 2, 3, 4), "5", "0.3", "-0.3"),
    ("40/v2.jpg", (2, 2, 6, 6), "9", "0", "0"),  # dropped
    ("41/v3.jpg", (0, 1, 8, 9), "7", "0.1", "0.1"),
]


def _landmark_text(offset: float) -> str:
    return ";".join(f"{v:.2f}" for v in _points(offset).reshape(-1))


def _write_csv(path: Path, rows: list[tuple]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(AFFECTNET_CSV_COLUMNS)
        for k, (name, box, code, val, aro) in enumerate(rows):
            writer.writerow([name, *box, _landmark_text(float(k)), code, val, aro])


@pytest.fixture
def csv_release(tmp_path: Path) -> Path:
    root = tmp_path / "release"
    _write_csv(root / "training.csv", TRAINING)
    _write_csv(root / "validation.csv", VALIDATION)
    for k, (name, *_rest) in enumerate(TRAINING + VALIDATION):
        _jpeg(root / "Manually_Annotated_Images" / name, 20 * (k + 1), (16, 14))
    return root


def test_csv_drops_codes_8_to_10_and_keeps_boxes_and_affect(csv_release: Path) -> None:
    ds = load_affectnet(csv_release)
    kept = [r for r in TRAINING + VALIDATION if int(r[2]) < 8]
    assert len(ds) == len(kept) == 6  # 4 of the 10 rows carry codes 8-10
    assert ds.classes == AFFECTNET_CLASSES
    assert [AFFECTNET_CODES[int(r[2])] for r in kept] == ds.labels.tolist()
    assert ds.labels.tolist() == ["happy", "contempt", "anger", "neutral", "disgust", "contempt"]
    assert ds.usage.tolist() == ["train"] * 4 + ["val"] * 2
    assert [p.split("Manually_Annotated_Images/")[1] for p in ds.paths] == [r[0] for r in kept]
    assert ds.boxes.dtype == np.int64
    assert ds.boxes.tolist() == [list(r[1]) for r in kept]
    assert _same(ds.columns["valence"], [0.6, -0.3, NAN, NAN, 0.3, 0.1])
    assert _same(ds.columns["arousal"], [0.2, 0.5, -0.9, 0.05, -0.3, 0.1])
    assert ds.images.shape == (6, 14, 16, 3)
    val = ds.split("val")
    assert val.boxes.tolist() == [[1, 2, 3, 4], [0, 1, 8, 9]]
    assert _same(val.columns["valence"], [0.3, 0.1])


def test_csv_seven_classes_landmarks_and_subset(csv_release: Path) -> None:
    seven = load_affectnet(csv_release, classes=7, landmarks=True)
    assert seven.classes == AFFECTNET_CLASSES[:7]
    assert seven.labels.tolist() == ["happy", "anger", "neutral", "disgust"]
    assert seven.boxes.tolist() == [[3, 4, 20, 21], [2, 3, 4, 5], [4, 4, 10, 12], [1, 2, 3, 4]]
    points = seven.columns["landmarks"]
    assert points.shape == (4, 68, 2)
    assert points[:, 0, 0].tolist() == [0.0, 4.0, 6.0, 0.0]  # row k's landmarks start at k
    val = load_affectnet(csv_release, subset="val")
    assert val.usage.tolist() == ["val", "val"]


def test_csv_lazy_and_eager_agree(csv_release: Path) -> None:
    eager = load_affectnet(csv_release, n_jobs=1)
    lazy = load_affectnet(csv_release, lazy=True)
    assert lazy.images is None and lazy.paths.tolist() == eager.paths.tolist()
    assert lazy.labels.tolist() == eager.labels.tolist()
    assert lazy.usage.tolist() == eager.usage.tolist()
    assert np.array_equal(lazy.boxes, eager.boxes)
    for key in ("valence", "arousal"):
        assert np.array_equal(lazy.columns[key], eager.columns[key], equal_nan=True)
    assert np.array_equal(np.stack(read_images(lazy.paths, color="rgb")), eager.images)


def test_csv_file_lists_and_compressed_image_folder(csv_release: Path) -> None:
    lists = csv_release / "Manually_Annotated_file_lists"
    lists.mkdir()
    (csv_release / "training.csv").rename(lists / "training.csv")
    (csv_release / "validation.csv").rename(lists / "validation.csv")
    packed = csv_release / "Manually_Annotated_compressed"
    packed.mkdir()
    (csv_release / "Manually_Annotated_Images").rename(packed / "Manually_Annotated_Images")
    ds = load_affectnet(csv_release, lazy=True)
    assert len(ds) == 6
    assert all("Manually_Annotated_compressed/Manually_Annotated_Images/" in p for p in ds.paths)


def test_csv_bad_values_and_missing_images_are_named(csv_release: Path) -> None:
    rows = list(TRAINING)
    rows[4] = ("12/b3.jpg", (2, 3, 4, 5), "11", "0", "0")
    _write_csv(csv_release / "training.csv", rows)
    with pytest.raises(ValueError, match=r"line 6 of .*training.csv.*expression code '11'"):
        load_affectnet(csv_release)
    rows[4] = ("12/b3.jpg", (2, 3, 4, 5), "6", "x", "0")
    _write_csv(csv_release / "training.csv", rows)
    with pytest.raises(ValueError, match=r"line 6 of .*training.csv.*valence 'x'"):
        load_affectnet(csv_release)
    rows[4] = ("12/b3.jpg", ("a", 3, 4, 5), "6", "0", "0")
    _write_csv(csv_release / "training.csv", rows)
    with pytest.raises(ValueError, match=r"line 6 of .*training.csv.*face box"):
        load_affectnet(csv_release)
    _write_csv(csv_release / "training.csv", TRAINING)
    (csv_release / "Manually_Annotated_Images" / "12" / "b1.jpg").unlink()
    (csv_release / "Manually_Annotated_Images" / "3" / "c2.jpg").unlink()
    (csv_release / "Manually_Annotated_Images" / "3" / "c1.png").unlink()  # a dropped row's
    with pytest.raises(FileNotFoundError, match=r"2 of 4 images listed in training.csv.*b1.jpg"):
        load_affectnet(csv_release)


def test_csv_header_is_checked(csv_release: Path) -> None:
    (csv_release / "validation.csv").write_text("file,label\n40/v1.jpg,5\n")
    with pytest.raises(ValueError, match=r"validation.csv.*no column\(s\) \['subDirectory_f"):
        load_affectnet(csv_release)
    assert len(load_affectnet(csv_release, subset="train", lazy=True)) == 4


# --- layouts -------------------------------------------------------------------------------


def test_wrong_layout_is_refused_naming_the_path_and_both_layouts(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="AffectNet folder .*nope"):
        load_affectnet(tmp_path / "nope")
    _jpeg(tmp_path / "images" / "0.jpg", 10)
    with pytest.raises(ValueError) as err:
        load_affectnet(tmp_path)
    message = str(err.value)
    assert repr(str(tmp_path)) in message and "holds ['images']" in message
    for part in ("train_set/", "annotations/<id>_exp.npy", "training.csv", "Manually_Annotated"):
        assert part in message
    (tmp_path / "train_set" / "images").mkdir(parents=True)  # no annotations/: not the cut
    with pytest.raises(ValueError, match="neither AffectNet layout"):
        load_affectnet(tmp_path)


def test_layout_choice_and_absent_splits(npy_cut: Path, csv_release: Path) -> None:
    shutil.rmtree(npy_cut / "val_set")
    with pytest.raises(FileNotFoundError, match=r"\(npy layout\) has no val_set/images/"):
        load_affectnet(npy_cut, subset="val")
    _write_csv(npy_cut / "training.csv", TRAINING)  # now it holds both layouts
    with pytest.raises(ValueError, match="holds both the npy cut and the CSV release"):
        load_affectnet(npy_cut)
    assert load_affectnet(npy_cut, layout="npy").usage.tolist() == ["train"] * 4
    with pytest.raises(FileNotFoundError, match="no Manually_Annotated_Images/ folder"):
        load_affectnet(npy_cut, layout="csv")
    with pytest.raises(FileNotFoundError, match=r"\(npy layout\) has no train_set"):
        load_affectnet(csv_release, layout="npy")


def test_parameters_are_checked(npy_cut: Path) -> None:
    with pytest.raises(ValueError, match="classes must be 8 or 7"):
        load_affectnet(npy_cut, classes=6)
    with pytest.raises(ValueError, match="subset must be 'train', 'val'"):
        load_affectnet(npy_cut, subset="test")
    with pytest.raises(ValueError, match="layout must be"):
        load_affectnet(npy_cut, layout="folders")
    with pytest.raises(ValueError, match="color"):
        load_affectnet(npy_cut, color="bgr")


def test_a_cut_holding_only_dropped_codes_is_refused(tmp_path: Path) -> None:
    _jpeg(tmp_path / "val_set" / "images" / "1.jpg", 10)
    ann = tmp_path / "val_set" / "annotations"
    ann.mkdir()
    np.save(ann / "1_exp.npy", np.array("7"))
    np.save(ann / "1_val.npy", np.array("0.1"))
    np.save(ann / "1_aro.npy", np.array("0.1"))
    assert load_affectnet(tmp_path).labels.tolist() == ["contempt"]
    with pytest.raises(ValueError, match=r"no image with an expression code 0-6 in \['val'\]"):
        load_affectnet(tmp_path, classes=7)
    assert math.isclose(float(load_affectnet(tmp_path).columns["valence"][0]), 0.1, rel_tol=1e-6)
