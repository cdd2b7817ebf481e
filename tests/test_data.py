"""Data loading: image folders, FER2013 (CSV and folders), CK+48, synthetic faces, splits."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hybridfer.data import (
    FER2013_CLASSES,
    check_disjoint_groups,
    load_ckplus48,
    load_fer2013,
    load_image_folder,
    make_cv,
    make_faces,
    usage_split,
)
from hybridfer.images import ImageReadError

FER_TRAIN_COUNTS = {
    "angry": 3995,
    "disgust": 436,
    "fear": 4097,
    "happy": 7215,
    "sad": 4830,
    "surprise": 3171,
    "neutral": 4965,
}
FER_TEST_COUNTS = {
    "angry": 467,
    "disgust": 56,
    "fear": 496,
    "happy": 895,
    "sad": 653,
    "surprise": 415,
    "neutral": 607,
}
CK_COUNTS = {
    "anger": 135,
    "contempt": 54,
    "disgust": 177,
    "fear": 75,
    "happy": 207,
    "sadness": 84,
    "surprise": 249,
}


def _write(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


@pytest.fixture
def folder(tmp_path: Path, rng: np.random.Generator) -> Path:
    for cls in ("happy", "sad"):
        for i in range(3):
            _write(
                tmp_path / cls / f"S{i:03d}_001_{i:08d}.png",
                rng.integers(0, 256, (12, 10), dtype=np.uint8),
            )
    return tmp_path


def test_load_image_folder_reads_pixels_labels_groups(folder: Path) -> None:
    ds = load_image_folder(folder, group_pattern=r"^(S\d+)_")
    assert ds.images.shape == (6, 12, 10) and ds.images.dtype == np.uint8
    assert ds.classes == ("happy", "sad")
    assert ds.labels.tolist() == ["happy"] * 3 + ["sad"] * 3
    assert ds.groups.tolist() == ["S000", "S001", "S002"] * 2
    first = np.asarray(Image.open(ds.paths[0]))
    np.testing.assert_array_equal(ds.images[0], first)


def test_load_image_folder_rgb_and_lazy(folder: Path) -> None:
    rgb = load_image_folder(folder, color="rgb")
    assert rgb.images.shape == (6, 12, 10, 3)
    lazy = load_image_folder(folder, lazy=True)
    assert lazy.images is None and len(lazy.X) == 6 and isinstance(lazy.X[0], str)


def test_load_image_folder_class_order_and_unknown_class(folder: Path) -> None:
    ds = load_image_folder(folder, classes=["sad", "happy"])
    assert ds.labels[0] == "sad"
    with pytest.raises(ValueError, match=r"classes \['angry'\] have no subfolder.*available"):
        load_image_folder(folder, classes=["angry"])


def test_load_image_folder_errors(tmp_path: Path, folder: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class subfolders"):
        load_image_folder(tmp_path / "empty")
    (tmp_path / "empty" / "happy").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        load_image_folder(tmp_path / "empty")
    (folder / "sad" / "S009_001_00000001.png").write_bytes(b"not an image at all")
    with pytest.raises(ImageReadError, match="S009_001_00000001.png"):
        load_image_folder(folder)


def test_mixed_sizes_and_group_pattern_errors(folder: Path) -> None:
    _write(folder / "sad" / "S100_001_00000001.png", np.zeros((20, 20), np.uint8))
    with pytest.raises(ValueError, match=r"S100_001_00000001.png.*shape \(20, 20\)"):
        load_image_folder(folder)
    _write(folder / "sad" / "noid.png", np.zeros((12, 10), np.uint8))
    with pytest.raises(ValueError, match="noid.png.*does not match group_pattern"):
        load_image_folder(folder, group_pattern=r"^(S\d+)_", lazy=True)


def _fer_csv(path: Path, header: list[str], rows: list[tuple[int, str, str]]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for emotion, usage, pixels in rows:
            values = {"emotion": emotion, "usage": usage, "pixels": pixels}
            w.writerow([values[h.strip().lower()] for h in header])
    return path


@pytest.mark.parametrize(
    "header", [["emotion", "pixels", "Usage"], ["emotion", " Usage", " pixels"]]
)
def test_load_fer2013_csv_both_headers(tmp_path: Path, header: list[str]) -> None:
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (4, 48, 48))
    rows = [
        (e, u, " ".join(map(str, im.ravel())))
        for e, u, im in zip(
            [0, 3, 6, 1], ["Training", "Training", "PublicTest", "PrivateTest"], imgs, strict=True
        )
    ]
    ds = load_fer2013(_fer_csv(tmp_path / "fer.csv", header, rows))
    np.testing.assert_array_equal(ds.images, imgs.astype(np.uint8))
    assert ds.labels.tolist() == ["angry", "happy", "neutral", "disgust"]
    assert ds.classes == FER2013_CLASSES
    train, test = usage_split(ds)
    assert len(train) == 2 and test.labels.tolist() == ["neutral"]
    assert load_fer2013(tmp_path / "fer.csv", usages="PrivateTest").labels.tolist() == ["disgust"]


def test_load_fer2013_csv_errors(tmp_path: Path) -> None:
    bad = _fer_csv(
        tmp_path / "short.csv", ["emotion", "pixels", "Usage"], [(0, "Training", "1 2 3")]
    )
    with pytest.raises(
        ValueError, match="short.csv' line 2, column 'pixels': 3 pixels; expected 2304"
    ):
        load_fer2013(bad)
    code = _fer_csv(
        tmp_path / "code.csv",
        ["emotion", "pixels", "Usage"],
        [(9, "Training", " ".join(["0"] * 2304))],
    )
    with pytest.raises(
        ValueError, match=r"line 2, column 'emotion': emotion code 9 is outside 0..6"
    ):
        load_fer2013(code)
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"lacks columns \['emotion', 'pixels', 'usage'\]"):
        load_fer2013(nohead)
    with pytest.raises(ValueError, match="usage \\['Nope'\\] not found"):
        load_fer2013(
            _fer_csv(
                tmp_path / "ok.csv",
                ["emotion", "pixels", "Usage"],
                [(0, "Training", " ".join(["0"] * 2304))],
            ),
            usages="Nope",
        )


def test_load_fer2013_folder_release(tmp_path: Path) -> None:
    img = np.full((48, 48), 7, np.uint8)
    _write(tmp_path / "train" / "happy" / "Training_1.jpg", img)
    _write(tmp_path / "test" / "sad" / "PublicTest_2.jpg", img)
    _write(tmp_path / "test" / "sad" / "PrivateTest_3.jpg", img)
    ds = load_fer2013(tmp_path)
    assert sorted(ds.usage.tolist()) == ["PrivateTest", "PublicTest", "Training"]
    assert ds.split("Training").labels.tolist() == ["happy"]
    (tmp_path / "test" / "unknown").mkdir()
    with pytest.raises(ValueError, match="'unknown' that is not a FER2013 class"):
        load_fer2013(tmp_path)


def test_load_fer2013_folders_decode_only_the_usages_asked_for(tmp_path, monkeypatch) -> None:
    import hybridfer.data.fer2013 as fer

    for i, (usage, cls) in enumerate([("Training", "happy"), ("PublicTest", "sad")] * 2):
        folder = "train" if usage == "Training" else "test"
        _write(tmp_path / folder / cls / f"{usage}_{i}.png", np.full((48, 48), i, np.uint8))
    decoded: list[str] = []
    real = fer.read_images

    def counting(paths, *args, **kwargs):
        decoded.extend(paths)
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(fer, "read_images", counting)
    ds = load_fer2013(tmp_path, usages="PublicTest")
    assert ds.usage.tolist() == ["PublicTest"] * 2 and ds.images.shape == (2, 48, 48)
    assert sorted(Path(p).name for p in decoded) == ["PublicTest_1.png", "PublicTest_3.png"]
    assert sorted(ds.images[:, 0, 0].tolist()) == [1, 3]
    with pytest.raises(ValueError, match=r"usage \['PrivateTest'\] not found"):
        load_fer2013(tmp_path, usages="PrivateTest")
    assert load_fer2013(tmp_path, usages=["Training"], lazy=True).images is None


def test_make_faces_is_deterministic_balanced_and_grouped() -> None:
    a = make_faces(140, image_size=32, random_state=3)
    b = make_faces(140, image_size=32, random_state=3)
    c = make_faces(140, image_size=32, random_state=4)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    assert a.images.shape == (140, 32, 32) and a.images.dtype == np.uint8
    assert set(a.class_counts().values()) == {20}
    assert a.groups is not None and len(np.unique(a.groups)) > 5
    rare = make_faces(200, class_weights={"disgust": 0.1}, random_state=0).class_counts()
    assert rare["disgust"] < rare["happy"] / 5
    with pytest.raises(ValueError, match="unknown classes"):
        make_faces(10, class_weights={"smug": 1.0})


def test_make_faces_is_learnable_but_not_trivial() -> None:
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import cross_val_score

    ds = make_faces(700, image_size=24, random_state=0)
    X = ds.images.reshape(len(ds), -1) / 255.0
    acc = cross_val_score(RidgeClassifier(alpha=10.0), X, ds.y, cv=3).mean()
    assert 0.3 < acc < 0.9, acc  # raw pixels: well above chance (1/7), far from perfect


def test_make_cv_grouped_never_shares_groups() -> None:
    ds = make_faces(210, image_size=16, n_subjects=12, random_state=0)
    cv = make_cv(4, groups=ds.groups)
    for train, test in cv.split(ds.images, ds.y, ds.groups):
        check_disjoint_groups(ds.groups, train, test)
    with pytest.raises(ValueError, match="appear in both train and test"):
        check_disjoint_groups(ds.groups, np.arange(100), np.arange(50, 150))
    with pytest.raises(ValueError, match="needs at least as many groups"):
        make_cv(20, groups=ds.groups)


def test_subset_and_split_keep_columns_aligned() -> None:
    ds = make_faces(30, image_size=16)
    sub = ds.subset(np.array([3, 1]))
    np.testing.assert_array_equal(sub.images[0], ds.images[3])
    assert sub.groups.tolist() == [ds.groups[3], ds.groups[1]]
    with pytest.raises(ValueError, match="no usage"):
        ds.split("Training")


@pytest.mark.realdata
def test_fer2013_real_counts(fer2013_root: Path) -> None:
    ds = load_fer2013(fer2013_root, lazy=True)
    train, test = usage_split(ds)
    assert len(train) == 28709 and len(test) == 3589
    assert train.class_counts() == FER_TRAIN_COUNTS
    assert test.class_counts() == FER_TEST_COUNTS
    assert all(Path(p).name.startswith("Training_") for p in train.paths)


@pytest.mark.realdata
def test_fer2013_real_decode_is_fast(fer2013_root: Path) -> None:
    import time

    t = time.perf_counter()
    ds = load_fer2013(fer2013_root, usages="PublicTest")
    elapsed = time.perf_counter() - t
    assert ds.images.shape == (3589, 48, 48)
    assert elapsed < 20, f"decoding 3,589 images took {elapsed:.1f} s"


@pytest.mark.realdata
def test_ckplus48_real_subjects_and_grouped_folds(ckplus_root: Path) -> None:
    ds = load_ckplus48(ckplus_root)
    assert len(ds) == 981 and ds.images.shape[1:] == (48, 48)
    assert len(np.unique(ds.groups)) == 118
    assert ds.class_counts() == CK_COUNTS
    for train, test in make_cv(10, groups=ds.groups).split(ds.images, ds.y, ds.groups):
        assert not set(ds.groups[train]) & set(ds.groups[test])


def test_holdout_split_and_stratified_subsample():
    from hybridfer.data import holdout_split, is_dataset, make_faces, stratified_subsample

    ds = make_faces(n_samples=140, image_size=24, random_state=0)
    assert is_dataset(ds) and not is_dataset(ds.X)
    train, test = holdout_split(ds, 0.25, random_state=0)
    assert len(train) + len(test) == len(ds)
    if ds.groups is not None:  # subject-grouped: no subject on both sides
        assert not set(train.groups) & set(test.groups)
    assert holdout_split(ds, 0.0) == (ds, None)
    sub = stratified_subsample(train, 35, random_state=0)
    assert len(sub) == 35 and set(sub.labels) == set(train.labels)
    assert "subsample 35" in sub.name and stratified_subsample(train, 0) is train


def test_load_fer2013_csv_with_byte_order_mark_and_blank_lines(tmp_path: Path) -> None:
    """Spreadsheet exports start with a BOM (or blank lines): the header is still found, and
    positions count the physical lines."""
    pixels = " ".join(["5"] * 2304)
    path = tmp_path / "exported.csv"
    path.write_text(f"\n\ufeffemotion,pixels,Usage\n3,{pixels},Training\n\n4,{pixels},PublicTest\n")
    path.write_bytes(path.read_text().replace("\n\ufeff", "\n").encode("utf-8-sig"))
    ds = load_fer2013(path)
    assert ds.labels.tolist() == ["happy", "sad"] and ds.images.shape == (2, 48, 48)
    path.write_text(f"emotion,pixels,Usage\n\n3,{pixels},Training\n7,{pixels},Training\n")
    with pytest.raises(ValueError, match="line 4, column 'emotion': emotion code 7"):
        load_fer2013(path)
