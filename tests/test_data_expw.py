"""load_expw: label/label.lst and image/origin/ of the ExpW release, one row per face."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hybridfer.data.boxes import crop_boxes
from hybridfer.data.expw import EXPW_CLASSES, load_expw

#: image_name face_id_in_image face_box_top face_box_left face_box_right face_box_bottom
#: face_box_cofidence expression_label
LINES = [
    "angry_actor_104.jpg 0 2 3 11 9 62.85 0",
    "angry_actor_104.jpg 1 10 14 22 18 35.5 3",
    "happy_party_7.jpg 0 4 6 16 20 91.07 3",
    "happy_party_7.jpg 0 4 6 16 20 91.07 3",  # the release repeats some lines
    "sad_man_55.jpg 0 1 1 7 7 80.0 6",
]
#: photo name -> (height, width); each face box is filled with 30 * (its label + 1)
SIZES = {"angry_actor_104.jpg": (24, 30), "happy_party_7.jpg": (26, 20), "sad_man_55.jpg": (8, 8)}


def _write_release(root: Path, lines: list[str] = LINES) -> Path:
    (root / "label").mkdir(parents=True)
    (root / "image" / "origin").mkdir(parents=True)
    (root / "label" / "label.lst").write_text("\n".join(lines) + "\n")
    photos = {name: np.full((*hw, 3), 5, np.uint8) for name, hw in SIZES.items()}
    for line in lines:
        name, _, top, left, right, bottom, _, code = line.split()
        photos[name][int(top) : int(bottom), int(left) : int(right)] = 30 * (int(code) + 1)
    for name, img in photos.items():
        Image.fromarray(img).save(root / "image" / "origin" / name, quality=100)
    return root


@pytest.fixture
def tiny_expw(tmp_path: Path) -> Path:
    return _write_release(tmp_path / "ExpW")


def test_faces_boxes_labels_and_columns(tiny_expw: Path) -> None:
    ds = load_expw(tiny_expw)
    assert ds.name == "expw" and ds.classes == EXPW_CLASSES
    assert EXPW_CLASSES == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert len(ds) == 4  # the repeated line is dropped
    assert ds.images is None and ds.usage is None and ds.groups is None
    assert [Path(p).name for p in ds.paths] == [
        "angry_actor_104.jpg",
        "angry_actor_104.jpg",
        "happy_party_7.jpg",
        "sad_man_55.jpg",
    ]
    assert all(Path(p).parent == tiny_expw / "image" / "origin" for p in ds.paths)
    assert ds.labels.tolist() == ["angry", "happy", "happy", "neutral"]
    # x, y, w, h = left, top, right - left, bottom - top
    assert ds.boxes.tolist() == [[3, 2, 8, 7], [14, 10, 8, 8], [6, 4, 10, 16], [1, 1, 6, 6]]
    assert ds.columns["face_id"].tolist() == [0, 1, 0, 0]
    np.testing.assert_allclose(ds.columns["confidence"], [62.85, 35.5, 91.07, 80.0])


def test_crops_hold_each_face(tiny_expw: Path) -> None:
    crops = load_expw(tiny_expw, crop=True, size=6)
    assert crops.images.shape == (4, 6, 6) and crops.boxes is None
    # each face box was filled with 30 * (label code + 1): JPEG keeps it within a few levels
    centre = crops.images[:, 3, 3].astype(int)
    np.testing.assert_allclose(centre, [30, 120, 120, 210], atol=4)
    via = crop_boxes(load_expw(tiny_expw), size=6)
    np.testing.assert_array_equal(via.images, crops.images)
    rgb = load_expw(tiny_expw, crop=True, size=(5, 7), color="rgb", margin=0.25)
    assert rgb.images.shape == (4, 5, 7, 3)
    assert rgb.columns["face_id"].tolist() == [0, 1, 0, 0]


def test_eager_full_photos_must_share_a_size(tiny_expw: Path) -> None:
    with pytest.raises(ValueError, match="happy_party_7.jpg.*share a size"):
        load_expw(tiny_expw, lazy=False)
    one = tiny_expw.parent / "one"
    _write_release(one, [LINES[0], LINES[1]])
    eager = load_expw(one, lazy=False)
    lazy = load_expw(one)
    assert eager.images.shape == (2, 24, 30)
    np.testing.assert_array_equal(eager.paths, lazy.paths)
    np.testing.assert_array_equal(eager.boxes, lazy.boxes)
    np.testing.assert_array_equal(crop_boxes(eager, size=6).images, crop_boxes(lazy, size=6).images)


def test_min_confidence_keeps_the_confident_faces(tiny_expw: Path) -> None:
    ds = load_expw(tiny_expw, min_confidence=60)
    assert ds.columns["confidence"].min() >= 60 and len(ds) == 3
    assert ds.columns["face_id"].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="at least 99.*highest is 91.07"):
        load_expw(tiny_expw, min_confidence=99)


def test_release_parents_are_accepted(tmp_path: Path) -> None:
    _write_release(tmp_path / "ExpW" / "data")
    assert len(load_expw(tmp_path)) == 4
    assert len(load_expw(tmp_path / "ExpW")) == 4


def test_wrong_layouts_are_refused_with_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="ExpW folder .*does not exist"):
        load_expw(tmp_path / "nope")
    with pytest.raises(ValueError, match=rf"'{tmp_path}' has no label/label.lst.*image/origin"):
        load_expw(tmp_path)
    (tmp_path / "label").mkdir()
    (tmp_path / "label" / "label.lst").write_text(LINES[0] + "\n")
    with pytest.raises(FileNotFoundError, match="no image/origin/ folder"):
        load_expw(tmp_path)
    (tmp_path / "image" / "origin").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"1 photographs .*\['angry_actor_104.jpg'\]"):
        load_expw(tmp_path)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("a.jpg 0 2 3 11 9 62.85", r"line 2 has 7 fields.*expected 8"),
        ("a.jpg 0 2 3 11 9 62.85 7", r"line 2 has the expression label '7'; expected 0-6"),
        ("a.jpg 0 2 3 11 9 62.85 happy", r"line 2 has the expression label 'happy'"),
        ("a.jpg 0 2.5 3 11 9 62.85 1", r"line 2 .*not an integer"),
        ("a.jpg 0 2 3 11 9 high 1", r"line 2 has the confidence 'high'"),
        ("a.jpg 0 9 3 11 9 50 1", r"line 2 has the empty box top=9"),
    ],
)
def test_bad_label_lines_are_named(tmp_path: Path, line: str, match: str) -> None:
    _write_release(tmp_path, [LINES[0]])
    (tmp_path / "label" / "label.lst").write_text(f"{LINES[0]}\n{line}\n")
    with pytest.raises(ValueError, match=match):
        load_expw(tmp_path)


def test_bad_options_are_refused(tiny_expw: Path) -> None:
    with pytest.raises(ValueError, match="pass crop=True"):
        load_expw(tiny_expw, size=48)
    with pytest.raises(ValueError, match="color"):
        load_expw(tiny_expw, color="bgr")
    with pytest.raises(ValueError, match="min_confidence must be a number"):
        load_expw(tiny_expw, min_confidence="high")
