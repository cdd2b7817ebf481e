"""load_ferplus: Microsoft's fer2013new.csv votes joined row by row to FER2013's fer2013.csv."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hybridfer.data.fer2013 import FER2013_CLASSES
from hybridfer.data.ferplus import (
    FERPLUS_CLASSES,
    FERPLUS_HEADER,
    FERPLUS_VOTE_COLUMNS,
    ferplus_drop_counts,
    ferplus_targets,
    load_ferplus,
)

# usage, Image name (not the row index; "" = dropped by FERPlus), votes in
# neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF order
ROWS = [
    ("Training", "fer0000000.png", [6, 0, 1, 1, 0, 0, 0, 0, 2, 0]),  # 0 neutral 6 of 8
    ("Training", "fer0000002.png", [0, 4, 3, 0, 0, 0, 0, 0, 3, 0]),  # 1 no majority
    ("PublicTest", "", [0, 0, 0, 0, 0, 0, 0, 0, 0, 10]),  # 2 no image
    ("Training", "fer0000001.png", [4, 0, 0, 3, 0, 0, 2, 0, 1, 0]),  # 3 no majority
    ("PublicTest", "fer0000003.png", [0, 0, 0, 0, 2, 2, 0, 0, 6, 0]),  # 4 unknown wins
    ("PublicTest", "fer0000005.png", [0, 0, 0, 0, 0, 0, 0, 8, 2, 0]),  # 5 contempt
    ("PrivateTest", "fer0000004.png", [2, 0, 0, 0, 0, 0, 0, 0, 0, 8]),  # 6 not a face
    ("PrivateTest", "fer0000007.png", [0, 0, 5, 0, 5, 0, 0, 0, 0, 0]),  # 7 tie
    ("Training", "fer0000006.png", [0, 0, 0, 0, 0, 7, 1, 0, 2, 0]),  # 8 disgust 7 of 9
]
FER_CODES = [6, 3, 6, 4, 0, 6, 2, 5, 1]  # FER2013's own labels of the rows


def _pixels(row: int) -> str:
    img = np.full(48 * 48, 10 * row + 5, dtype=np.int64)
    img[0] = row
    return " ".join(map(str, img.tolist()))


def _write(folder: Path, rows=ROWS, header=FERPLUS_HEADER, fer_usage=None) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    fer = folder / "fer2013.csv"
    usages = fer_usage or [u for u, _, _ in ROWS]
    lines = ["emotion,pixels,Usage"]
    lines += [
        f"{c},{_pixels(r)},{u}" for r, (c, u) in enumerate(zip(FER_CODES, usages, strict=True))
    ]
    fer.write_text("\n".join(lines) + "\n")
    plus = folder / "fer2013new.csv"
    body = [",".join(header)]
    body += [",".join([u, name, *map(str, votes)]) for u, name, votes in rows]
    plus.write_text("\n".join(body) + "\n")
    return fer, plus


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return _write(tmp_path / "ferplus")


def test_majority_joins_by_row_not_by_image_name(files) -> None:
    fer, plus = files
    ds = load_ferplus(fer, plus)
    assert ds.name == "ferplus" and ds.classes == FERPLUS_CLASSES
    rows = [0, 5, 8]
    assert ds.columns["fer2013_row"].tolist() == rows
    assert ds.labels.tolist() == ["neutral", "contempt", "disgust"]
    assert ds.usage.tolist() == ["Training", "PublicTest", "Training"]
    # the pixels are those of the same row of fer2013.csv, whatever the Image name says
    assert ds.images.shape == (3, 48, 48) and ds.images.dtype == np.uint8
    assert ds.images[:, 0, 0].tolist() == rows
    assert ds.images[:, 5, 5].tolist() == [10 * r + 5 for r in rows]
    assert ds.columns["image_name"].tolist() == [ROWS[r][1] for r in rows]
    assert ds.columns["fer2013_label"].tolist() == [FER2013_CLASSES[FER_CODES[r]] for r in rows]
    for j, name in enumerate(FERPLUS_VOTE_COLUMNS):
        assert ds.columns[f"votes_{name}"].tolist() == [ROWS[r][2][j] for r in rows]
    assert ds.soft_labels is None
    assert ds.class_counts()["happiness"] == 0


def test_probability_is_microsofts_target(files) -> None:
    ds = load_ferplus(*files, mode="probability")
    assert ds.columns["fer2013_row"].tolist() == [0, 1, 3, 5, 7, 8]
    assert ds.labels.tolist() == [
        "neutral",
        "happiness",
        "neutral",
        "contempt",
        "surprise",  # 5 surprise, 5 anger: the first in FERPLUS_CLASSES order
        "disgust",
    ]
    expected = np.zeros((6, 8))
    # row 0: the single votes (surprise, sadness) are outliers, 6 of the 6 + 2 unknown left
    expected[0, 0] = 1
    # row 1: happiness 4 and surprise 3 (the unknown 3 tied with surprise is left out)
    expected[1, [1, 2]] = [4 / 7, 3 / 7]
    # row 3: neutral 4 + sadness 3 reach 75% of the 9 votes left: fear's 2 are cut
    expected[2, [0, 3]] = [4 / 7, 3 / 7]
    expected[3, 7] = 1
    expected[4, [2, 4]] = [0.5, 0.5]
    expected[5, 5] = 1
    np.testing.assert_allclose(ds.soft_labels, expected, atol=1e-6)
    np.testing.assert_allclose(ds.soft_labels.sum(axis=1), 1.0, atol=1e-6)
    assert ds.soft_labels.dtype == np.float32
    assert ds.usage.tolist() == [ROWS[r][0] for r in ds.columns["fer2013_row"]]


def test_votes_and_plurality_modes(files) -> None:
    votes = load_ferplus(*files, mode="votes")
    assert votes.columns["fer2013_row"].tolist() == [0, 1, 3, 4, 5, 6, 7, 8]
    np.testing.assert_allclose(votes.soft_labels[2, [0, 3, 6]], [4 / 9, 3 / 9, 2 / 9], atol=1e-6)
    np.testing.assert_allclose(votes.soft_labels[3, [4, 5]], [0.5, 0.5], atol=1e-6)
    assert votes.labels[3] == "anger" and votes.labels[5] == "neutral"
    np.testing.assert_allclose(votes.soft_labels.sum(axis=1), 1.0, atol=1e-6)
    plurality = load_ferplus(*files, mode="plurality")
    assert plurality.columns["fer2013_row"].tolist() == [0, 1, 3, 5, 8]
    assert plurality.labels.tolist() == ["neutral", "happiness", "neutral", "contempt", "disgust"]
    assert plurality.soft_labels is None


def test_without_contempt_its_votes_count_like_unknown(files) -> None:
    ds = load_ferplus(*files, mode="probability", contempt=False)
    assert ds.classes == FERPLUS_CLASSES[:7]
    assert 5 not in ds.columns["fer2013_row"].tolist()
    assert ds.soft_labels.shape == (len(ds), 7)
    counts = ferplus_drop_counts(files[1], "votes", contempt=False)
    assert counts == {"kept": 7, "no image": 1, "contempt": 1}


def test_drop_counts_by_reason(files) -> None:
    plus = files[1]
    assert ferplus_drop_counts(plus) == {
        "kept": 3,
        "no image": 1,
        "no majority": 3,
        "unknown": 1,
        "not a face": 1,
    }
    assert ferplus_drop_counts(plus.parent, "plurality") == {
        "kept": 5,
        "no image": 1,
        "unknown": 1,
        "not a face": 1,
        "tie": 1,
    }
    assert ferplus_drop_counts(plus, "probability")["unknown"] == 1


def test_targets_directly() -> None:
    t = ferplus_targets([[1] * 10, [0, 0, 0, 0, 0, 0, 0, 0, 10, 0]], "majority")
    assert t.keep.tolist() == [False, False]
    assert t.reason.tolist() == ["no votes left", "unknown"]
    assert t.codes.tolist() == [-1, -1] and not t.soft.any()
    with pytest.raises(ValueError, match=r"shape \(1, 8\); expected \(n, 10\)"):
        ferplus_targets(np.ones((1, 8)))
    with pytest.raises(ValueError, match="mode must be one of"):
        ferplus_targets(np.ones((1, 10)), "crossentropy")


def test_folder_rgb_and_lazy(tmp_path: Path, files) -> None:
    fer, plus = files
    eager = load_ferplus(fer, plus)
    from_folder = load_ferplus(fer.parent)
    np.testing.assert_array_equal(from_folder.images, eager.images)
    lazy = load_ferplus(fer, plus, lazy=True, n_jobs=2)
    np.testing.assert_array_equal(lazy.images, eager.images)
    rgb = load_ferplus(fer, plus, color="rgb")
    assert rgb.images.shape == (3, 48, 48, 3)
    np.testing.assert_array_equal(rgb.images[..., 2], eager.images)
    # the Kaggle archive extracts fer2013/fer2013.csv
    nested = tmp_path / "nested"
    (nested / "fer2013").mkdir(parents=True)
    fer.rename(nested / "fer2013" / "fer2013.csv")
    plus.rename(nested / "fer2013new.csv")
    assert load_ferplus(nested).columns["fer2013_row"].tolist() == [0, 5, 8]
    with pytest.raises(ValueError, match="color"):
        load_ferplus(nested, color="cmyk")
    with pytest.raises(ValueError, match="mode must be one of"):
        load_ferplus(nested, mode="multi_target")


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="FER2013 CSV"):
        load_ferplus(tmp_path / "nope.csv", tmp_path / "fer2013new.csv")
    fer, plus = _write(tmp_path)
    plus.unlink()
    with pytest.raises(FileNotFoundError, match=r"has no fer2013new\.csv"):
        load_ferplus(tmp_path)
    with pytest.raises(ValueError, match="pass Microsoft's fer2013new.csv as ferplus_csv"):
        load_ferplus(fer)
    _write(tmp_path)
    fer.unlink()
    with pytest.raises(FileNotFoundError, match="has no fer2013.csv"):
        load_ferplus(tmp_path)


def test_wrong_header_is_refused_with_path_and_line(tmp_path: Path) -> None:
    header = FERPLUS_HEADER[:-1] + ("not a face",)
    fer, plus = _write(tmp_path, header=header)
    with pytest.raises(ValueError, match=r"fer2013new\.csv' line 1: the header .*expected"):
        load_ferplus(fer, plus)
    with pytest.raises(ValueError, match="that is FER2013's own fer2013.csv"):
        load_ferplus(fer, fer)


def test_wrong_row_count_is_refused_with_path_and_line(tmp_path: Path) -> None:
    fer, plus = _write(tmp_path / "short", rows=ROWS[:-1])
    with pytest.raises(ValueError, match=r"fer2013new\.csv' ends at line 9 after 8 rows"):
        load_ferplus(fer, plus)
    extra = ROWS + [("Training", "fer0000008.png", [10, 0, 0, 0, 0, 0, 0, 0, 0, 0])]
    fer, plus = _write(tmp_path / "long", rows=extra)
    with pytest.raises(
        ValueError, match=r"line 11 is row 9, past the last row.*has 10 rows, .*fer2013.csv' 9\)"
    ):
        load_ferplus(fer, plus)


def test_usage_mismatch_names_the_first_disagreeing_line(tmp_path: Path) -> None:
    usages = [u for u, _, _ in ROWS]
    usages[3] = "PrivateTest"
    fer, plus = _write(tmp_path, fer_usage=usages)
    with pytest.raises(ValueError, match=r"line 5 \(row 3\) has Usage 'Training'.*'PrivateTest'"):
        load_ferplus(fer, plus)


def test_bad_vote_and_usage_values_are_named(tmp_path: Path) -> None:
    rows = list(ROWS)
    rows[1] = ("Training", "fer0000002.png", [0, 4, 3, 0, "x", 0, 0, 0, 3, 0])
    fer, plus = _write(tmp_path / "a", rows=rows)
    with pytest.raises(ValueError, match=r"line 3, column 'anger': 'x' is not a vote count"):
        load_ferplus(fer, plus)
    rows[1] = ("Train", "fer0000002.png", [0, 4, 3, 0, 0, 0, 0, 0, 3, 0])
    fer, plus = _write(tmp_path / "b", rows=rows)
    with pytest.raises(ValueError, match=r"line 3, column 'Usage': 'Train' is not a FER2013"):
        load_ferplus(fer, plus)
    rows[1] = ("Training", "fer0000002.png", [0, 4, 3, 0, 0, 0, 0, 0, 3])
    fer, plus = _write(tmp_path / "c", rows=rows)
    with pytest.raises(ValueError, match=r"line 3: 11 fields; expected 12"):
        load_ferplus(fer, plus)
    rows[1] = ("Training", "fer0000002.png", [0, 4, 3, 0, -1, 0, 0, 0, 3, 0])
    fer, plus = _write(tmp_path / "d", rows=rows)
    with pytest.raises(ValueError, match=r"'-1' is not a vote count; expected a whole number"):
        load_ferplus(fer, plus)


def test_probability_targets_train_a_network_through_the_dataset(files) -> None:
    """The loader's soft labels reach the training engine as they are (ds.soft_targets())."""
    from hybridfer.classifiers import FERNetClassifier

    ds = load_ferplus(*files, mode="probability")
    # the network has one output per label of y: keep rows whose mass lies on those classes
    while True:
        absent = [j for j, c in enumerate(ds.classes) if c not in set(ds.labels.tolist())]
        keep = ds.soft_labels[:, absent].sum(axis=1) == 0
        if keep.all():
            break
        ds = ds.subset(keep)
    assert len(set(ds.labels.tolist())) >= 2
    frame = ds.soft_targets()
    assert list(frame.columns) == list(FERPLUS_CLASSES)
    np.testing.assert_allclose(frame.to_numpy(), ds.soft_labels)
    clf = FERNetClassifier(
        "fer_vgg",
        architecture_params={"widths": (4, 8), "embedding_dim": 8},
        epochs=1,
        batch_size=4,
        precision="float32",
        random_state=0,
    )
    clf.fit(ds.X, ds.y, soft_targets=frame)
    proba = clf.predict_proba(ds.X)
    assert proba.shape == (len(ds), len(clf.classes_))
    assert set(clf.classes_) == set(ds.labels.tolist())
