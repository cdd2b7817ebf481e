"""load_kdef: the KDEF release's poser folders of ``AF01AFS.JPG``-style photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.model_selection import GroupKFold

from hybridfer.data.kdef import KDEF_ANGLES, KDEF_CLASSES, KDEF_CODES, load_kdef

#: folder -> files; subject F01 is photographed in both sessions
TINY = {
    "AF01": ["AF01AFS.JPG", "AF01HAFL.JPG", "AF01NEHR.JPG"],
    "BF01": ["BF01SUS.JPG", "BF01DIFR.JPG"],
    "AM12": ["AM12ANHL.JPG", "AM12SAS.JPG"],
}


def _write(path: Path, value: int, size: tuple[int, int] = (12, 9)) -> None:
    img = np.full((*size, 3), value, np.uint8)
    img[..., 1] = 255 - value  # colour, as the release's photos
    Image.fromarray(img).save(path, quality=100)


def _value(name: str) -> int:
    return 20 * (list(KDEF_CODES).index(name[4:6]) + 1)


def _write_release(kdef: Path) -> Path:
    for folder, files in TINY.items():
        (kdef / folder).mkdir(parents=True)
        for name in files:
            _write(kdef / folder / name, _value(name))
    return kdef


@pytest.fixture
def tiny_kdef(tmp_path: Path) -> Path:
    kdef = _write_release(tmp_path / "KDEF_and_AKDEF" / "KDEF")
    (tmp_path / "KDEF_and_AKDEF" / "AKDEF").mkdir()
    (kdef / "README.txt").write_text("KDEF")  # a stray file and folder are ignored
    (kdef / "extra").mkdir()
    return kdef


def test_labels_groups_angles_sessions_and_pixels(tiny_kdef: Path) -> None:
    ds = load_kdef(tiny_kdef)
    assert ds.name == "kdef" and ds.classes == KDEF_CLASSES
    assert KDEF_CLASSES == (
        "afraid",
        "angry",
        "disgusted",
        "happy",
        "neutral",
        "sad",
        "surprised",
    )
    names = [Path(p).name for p in ds.paths]
    assert names == [
        "AF01AFS.JPG",
        "AF01HAFL.JPG",
        "AF01NEHR.JPG",
        "AM12ANHL.JPG",
        "AM12SAS.JPG",
        "BF01DIFR.JPG",
        "BF01SUS.JPG",
    ]
    assert ds.labels.tolist() == [
        "afraid",
        "happy",
        "neutral",
        "angry",
        "sad",
        "disgusted",
        "surprised",
    ]
    assert ds.groups.tolist() == ["F01", "F01", "F01", "M12", "M12", "F01", "F01"]
    assert ds.columns["angle"].tolist() == ["S", "FL", "HR", "HL", "S", "FR", "S"]
    assert ds.columns["session"].tolist() == ["A", "A", "A", "A", "A", "B", "B"]
    assert ds.usage is None
    assert ds.images.shape == (7, 12, 9) and ds.images.dtype == np.uint8
    rgb = load_kdef(tiny_kdef, color="rgb", n_jobs=1)
    assert rgb.images.shape == (7, 12, 9, 3)
    np.testing.assert_allclose(rgb.images[:, 5, 5, 0], [_value(n) for n in names], atol=3)


def test_both_sessions_of_a_subject_stay_in_one_fold(tiny_kdef: Path) -> None:
    ds = load_kdef(tiny_kdef)
    for train, test in GroupKFold(2).split(ds.images, ds.y, ds.groups):
        assert not set(ds.groups[train]) & set(ds.groups[test])
        if "F01" in ds.groups[test]:  # both sessions of F01 are tested together
            f01 = test[ds.groups[test] == "F01"]
            assert sorted(ds.columns["session"][f01].tolist()) == ["A", "A", "A", "B", "B"]


def test_lazy_and_eager_agree_and_size_resizes(tiny_kdef: Path) -> None:
    eager = load_kdef(tiny_kdef)
    lazy = load_kdef(tiny_kdef, lazy=True)
    assert lazy.images is None
    np.testing.assert_array_equal(lazy.paths, eager.paths)
    np.testing.assert_array_equal(lazy.labels, eager.labels)
    np.testing.assert_array_equal(lazy.groups, eager.groups)
    assert lazy.columns["angle"].tolist() == eager.columns["angle"].tolist()
    small = load_kdef(tiny_kdef, size=(6, 4))
    assert small.images.shape == (7, 6, 4)
    np.testing.assert_allclose(small.images[:, 3, 2], eager.images[:, 5, 5], atol=2)
    with pytest.raises(ValueError, match="lazy=True"):
        load_kdef(tiny_kdef, size=6, lazy=True)


def test_angles_filter_and_unknown_angles(tiny_kdef: Path) -> None:
    straight = load_kdef(tiny_kdef, angles=("S",))
    assert [Path(p).name for p in straight.paths] == ["AF01AFS.JPG", "AM12SAS.JPG", "BF01SUS.JPG"]
    assert set(straight.columns["angle"].tolist()) == {"S"}
    assert len(load_kdef(tiny_kdef, angles="S")) == 3
    assert len(load_kdef(tiny_kdef, angles=["HL", "HR"])) == 2
    assert list(KDEF_ANGLES) == ["FL", "HL", "S", "HR", "FR"]
    with pytest.raises(ValueError, match=r"angles \['XX'\] are not KDEF angle codes.*'FL'"):
        load_kdef(tiny_kdef, angles=("S", "XX"))
    only_profiles = tiny_kdef.parent.parent / "profiles"
    (only_profiles / "AM13").mkdir(parents=True)
    _write(only_profiles / "AM13" / "AM13HAFR.JPG", 5)
    with pytest.raises(ValueError, match=r"no KDEF photos at the angles \['S'\]"):
        load_kdef(only_profiles, angles=("S",))


def test_release_root_and_its_parents(tiny_kdef: Path) -> None:
    top = tiny_kdef.parent.parent
    assert len(load_kdef(top)) == 7  # holds KDEF_and_AKDEF/KDEF
    assert len(load_kdef(tiny_kdef.parent)) == 7  # holds KDEF
    assert len(load_kdef(tiny_kdef)) == 7


def test_wrong_layout_is_refused_with_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="KDEF folder .*does not exist"):
        load_kdef(tmp_path / "nope")
    (tmp_path / "photos").mkdir()
    with pytest.raises(ValueError, match=rf"'{tmp_path}' has no poser folders.*AF01/AF01AFS.JPG"):
        load_kdef(tmp_path)


def test_misnamed_files_are_named_or_skipped(tiny_kdef: Path) -> None:
    _write(tiny_kdef / "AF01" / "AF01XXS.JPG", 3)  # unknown expression code
    _write(tiny_kdef / "AF01" / "AF01HAS2.JPG", 3)  # stray suffix
    _write(tiny_kdef / "AM12" / "AM21HAS.JPG", 3)  # not its folder's code
    (tiny_kdef / "AM12" / "Thumbs.db").write_bytes(b"\x00")  # not an image: ignored
    with pytest.raises(ValueError, match=r"3 image files whose names cannot be parsed.*AF01XXS"):
        load_kdef(tiny_kdef)
    with pytest.warns(UserWarning, match=r"skipped 3 image files.*AM21HAS.JPG"):
        ds = load_kdef(tiny_kdef, strict=False)
    assert len(ds) == 7


def test_bad_color_and_size(tiny_kdef: Path) -> None:
    with pytest.raises(ValueError, match="color"):
        load_kdef(tiny_kdef, color="cmyk")
    with pytest.raises(ValueError, match="size must be"):
        load_kdef(tiny_kdef, size=-1)
