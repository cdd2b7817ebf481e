"""load_jaffe: the original release's flat folder of ``KA.AN1.39.tiff`` frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hybridfer.data import FER2013_CLASSES, JAFFE_CODES, load_jaffe, make_cv

JAFFE_COUNTS = {
    "angry": 30,
    "disgust": 29,
    "fear": 32,
    "happy": 31,
    "sad": 31,
    "surprise": 30,
    "neutral": 30,
}
TINY = {
    "KA.AN1.39.tiff": 10,
    "KA.HA2.30.tiff": 20,
    "KL.SU1.163.tif": 30,
    "KL.NE3.158.tiff": 40,
    "YM.DI1.64.png": 50,
    "YM.FE2.68.bmp": 60,
}


def _write(folder: Path, name: str, value: int, size: int = 16) -> None:
    img = np.full((size, size), value, np.uint8)
    img[0, 0] = 255 - value
    Image.fromarray(img).save(folder / name)


@pytest.fixture
def tiny_jaffe(tmp_path: Path) -> Path:
    for name, value in TINY.items():
        _write(tmp_path, name, value)
    (tmp_path / "README.txt").write_text("JAFFE: see the licence")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")
    (tmp_path / "thumbs").mkdir()
    return tmp_path


def test_tiff_folder_labels_groups_and_pixels(tiny_jaffe: Path) -> None:
    with Image.open(tiny_jaffe / "KA.AN1.39.tiff") as im:
        assert im.format == "TIFF"
    ds = load_jaffe(tiny_jaffe)
    names = sorted(TINY)
    assert [Path(p).name for p in ds.paths] == names
    assert ds.classes == FER2013_CLASSES
    assert ds.labels.tolist() == [JAFFE_CODES[n.split(".")[1][:2]] for n in names]
    assert ds.groups.tolist() == [n.split(".")[0] for n in names]
    assert ds.images.shape == (6, 16, 16) and ds.images.dtype == np.uint8
    assert [int(img[5, 5]) for img in ds.images] == [TINY[n] for n in names]
    assert ds.name == "jaffe"
    assert ds.class_counts() == {
        "angry": 1,
        "disgust": 1,
        "fear": 1,
        "happy": 1,
        "sad": 0,
        "surprise": 1,
        "neutral": 1,
    }


def test_lazy_and_rgb(tiny_jaffe: Path) -> None:
    lazy = load_jaffe(tiny_jaffe, lazy=True)
    assert lazy.images is None and len(lazy.X) == 6 and all(Path(p).is_file() for p in lazy.X)
    rgb = load_jaffe(tiny_jaffe, color="rgb", n_jobs=1)
    assert rgb.images.shape == (6, 16, 16, 3)
    with pytest.raises(ValueError, match="color"):
        load_jaffe(tiny_jaffe, color="cmyk")


def test_missing_folder_and_file_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="JAFFE folder"):
        load_jaffe(tmp_path / "nope")
    _write(tmp_path, "KA.AN1.39.tiff", 3)
    with pytest.raises(NotADirectoryError, match="not a directory"):
        load_jaffe(tmp_path / "KA.AN1.39.tiff")


def test_no_jaffe_file_says_what_names_are_expected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="it is empty.*KA.AN1.39.tiff"):
        load_jaffe(tmp_path)
    _write(tmp_path, "face.png", 3)
    _write(tmp_path, "KA.AN1.39.jpg", 3)
    with pytest.raises(ValueError, match=r"no JAFFE image files; it holds \['KA.AN1.39.jpg'"):
        load_jaffe(tmp_path)


def test_unknown_expression_code_names_the_file(tiny_jaffe: Path) -> None:
    _write(tiny_jaffe, "KA.XX1.99.tiff", 3)
    with pytest.raises(ValueError, match=r"'KA.XX1.99.tiff'.*'XX'.*\['AN', 'DI'"):
        load_jaffe(tiny_jaffe)


def test_one_image_under_two_suffixes_is_refused(tiny_jaffe: Path) -> None:
    _write(tiny_jaffe, "KA.AN1.39.png", 3)
    with pytest.raises(ValueError, match="'KA.AN1.39' is in .* twice"):
        load_jaffe(tiny_jaffe)


def test_mixed_sizes_are_named_unless_lazy(tiny_jaffe: Path) -> None:
    _write(tiny_jaffe, "NA.SA1.200.tiff", 3, size=20)
    with pytest.raises(ValueError, match="NA.SA1.200.tiff"):
        load_jaffe(tiny_jaffe)
    assert len(load_jaffe(tiny_jaffe, lazy=True)) == 7


@pytest.mark.realdata
def test_real_jaffe_213_frames_10_posers(jaffe_root: Path) -> None:
    ds = load_jaffe(jaffe_root)
    assert len(ds) == 213 and ds.images.shape == (213, 128, 128)
    assert ds.class_counts() == JAFFE_COUNTS
    posers = sorted(set(ds.groups.tolist()))
    assert len(posers) == 10 and posers[:3] == ["KA", "KL", "KM"]
    assert all(Path(p).name.startswith(g + ".") for p, g in zip(ds.paths, ds.groups, strict=True))
    for train, test in make_cv(5, groups=ds.groups).split(ds.images, ds.y, ds.groups):
        assert not set(ds.groups[train]) & set(ds.groups[test])
