"""load_ckplus / load_ckplus_sequences: the full CK+ release (cohn-kanade-images/, Emotion/)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hybridfer.data import FrameWindows
from hybridfer.data.ckplus_full import CKPLUS_FULL_CLASSES, load_ckplus, load_ckplus_sequences

#: sequence -> (frames, emotion code or None when unlabelled)
SEQUENCES = {
    "S005/001": (5, 3),
    "S005/002": (4, None),  # unlabelled, with an empty Emotion folder
    "S010/001": (6, 7),
    "S010/003": (3, 5),
    "S011/001": (4, None),  # unlabelled, no Emotion folder at all
}


def _pixel(seq: str, frame: int) -> int:
    """A pixel value naming the sequence and frame."""
    index = list(SEQUENCES).index(seq) if seq in SEQUENCES else 0
    return 40 * index + 5 * frame


def _write_frame(path: Path, value: int, size: tuple[int, int] = (10, 8), rgb: bool = False):
    img = np.full(size, value, np.uint8)
    Image.fromarray(np.stack([img] * 3, axis=-1) if rgb else img).save(path)


def _write_release(root: Path, sequences: dict = SEQUENCES, images: str = "cohn-kanade-images"):
    for seq, (n, code) in sequences.items():
        subject, number = seq.split("/")
        folder = root / images / subject / number
        folder.mkdir(parents=True)
        for f in range(1, n + 1):
            name = f"{subject}_{number}_{f:08d}.png"
            _write_frame(folder / name, _pixel(seq, f), rgb=seq == "S010/003")
        (folder / ".DS_Store").write_bytes(b"\x00")
        if seq == "S011/001":
            continue
        emotion = root / "Emotion" / subject / number
        emotion.mkdir(parents=True)
        if code is not None:
            (emotion / f"{subject}_{number}_{n:08d}_emotion.txt").write_text(f"   {code:.7e}\n")
    return root


@pytest.fixture
def tiny_ckplus_full(tmp_path: Path) -> Path:
    root = _write_release(tmp_path / "CK+")
    (root / "Landmarks").mkdir()  # FACS/ and Landmarks/ are not read
    return root


def test_peak_and_first_frames(tiny_ckplus_full: Path, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="hybridfer.data"):
        ds = load_ckplus(tiny_ckplus_full)
    assert "3 labelled sequences read, 2 unlabelled sequences skipped" in caplog.text
    assert ds.name == "ckplus" and ds.classes == CKPLUS_FULL_CLASSES
    assert CKPLUS_FULL_CLASSES[3] == "disgust" and CKPLUS_FULL_CLASSES[7] == "surprise"
    assert ds.labels.tolist() == ["neutral", "disgust", "neutral", "surprise", "neutral", "happy"]
    assert ds.columns["sequence"].tolist() == ["S005_001"] * 2 + ["S010_001"] * 2 + ["S010_003"] * 2
    assert ds.columns["frame"].tolist() == [1, 5, 1, 6, 1, 3]
    assert ds.columns["frame"].dtype == np.int64
    assert ds.groups.tolist() == ["S005", "S005", "S010", "S010", "S010", "S010"]
    assert [Path(p).name for p in ds.paths][:2] == [
        "S005_001_00000001.png",
        "S005_001_00000005.png",
    ]
    assert ds.images.shape == (6, 10, 8)
    seqs = ["S005/001", "S005/001", "S010/001", "S010/001", "S010/003", "S010/003"]
    assert ds.images[:, 2, 2].tolist() == [
        _pixel(s, f) for s, f in zip(seqs, ds.columns["frame"], strict=True)
    ]


def test_last_k_frames_without_neutral(tiny_ckplus_full: Path) -> None:
    ds = load_ckplus(tiny_ckplus_full, frames=3, neutral=None)
    assert ds.columns["frame"].tolist() == [3, 4, 5, 4, 5, 6, 1, 2, 3]
    assert ds.labels.tolist() == ["disgust"] * 3 + ["surprise"] * 3 + ["happy"] * 3
    assert "neutral" not in ds.labels.tolist()
    # with neutral="first", the first frame is never also an emotion frame
    both = load_ckplus(tiny_ckplus_full, frames=3)
    s3 = both.columns["sequence"] == "S010_003"
    assert both.columns["frame"][s3].tolist() == [1, 2, 3]
    assert both.labels[s3].tolist() == ["neutral", "happy", "happy"]
    every = load_ckplus(tiny_ckplus_full, frames="all", neutral=None)
    assert len(every) == 5 + 6 + 3


def test_lazy_and_eager_agree_and_size(tiny_ckplus_full: Path) -> None:
    eager = load_ckplus(tiny_ckplus_full, frames=2)
    lazy = load_ckplus(tiny_ckplus_full, frames=2, lazy=True)
    assert lazy.images is None
    for attr in ("paths", "labels", "groups"):
        np.testing.assert_array_equal(getattr(lazy, attr), getattr(eager, attr))
    np.testing.assert_array_equal(lazy.columns["frame"], eager.columns["frame"])
    rgb = load_ckplus(tiny_ckplus_full, color="rgb", size=(5, 4))
    assert rgb.images.shape == (6, 5, 4, 3)
    np.testing.assert_array_equal(rgb.images[:, 2, 2, 0], eager.images[[0, 2, 3, 5, 6, 8], 2, 2])


def test_frames_of_several_sizes_need_size(tmp_path: Path) -> None:
    root = _write_release(tmp_path, {"S005/001": (3, 1), "S006/001": (3, 2)})
    big = root / "cohn-kanade-images" / "S006" / "001" / "S006_001_00000003.png"
    _write_frame(big, 9, size=(12, 8))
    with pytest.raises(ValueError, match="S006_001_00000003.png"):
        load_ckplus(root)
    ds = load_ckplus(root, size=6)
    assert ds.images.shape == (4, 6, 6)
    assert ds.labels.tolist() == ["neutral", "anger", "neutral", "contempt"]


def test_sequences_for_the_lstm_head(tiny_ckplus_full: Path) -> None:
    w = load_ckplus_sequences(tiny_ckplus_full)
    assert isinstance(w, FrameWindows) and len(w) == 3
    assert w.X.shape == (3, 3, 10, 8)
    assert w.y.tolist() == ["disgust", "surprise", "happy"]
    assert w.groups.tolist() == ["S005", "S010", "S010"]
    assert w.clips.tolist() == ["S005_001", "S010_001", "S010_003"]
    # one window per sequence: its last 3 frames, ending at the peak
    assert w.X[0, :, 2, 2].tolist() == [_pixel("S005/001", f) for f in (3, 4, 5)]
    assert w.X[1, :, 2, 2].tolist() == [_pixel("S010/001", f) for f in (4, 5, 6)]
    lazy = load_ckplus_sequences(tiny_ckplus_full, window=2, frames="all", stride=2, lazy=True)
    assert lazy.X.shape[1] == 2 and lazy.X.dtype.kind == "U"
    names = [[Path(p).name[-6:-4] for p in row] for row in lazy.X.tolist()]
    # S005_001 (5 frames): starts 0, 2, then one ending at the peak; S010_001 (6): 0, 2, 4
    assert names[:3] == [["01", "02"], ["03", "04"], ["04", "05"]]
    assert names[3:6] == [["01", "02"], ["03", "04"], ["05", "06"]]
    assert set(lazy.y.tolist()) == {"disgust", "surprise", "happy"}
    padded = load_ckplus_sequences(tiny_ckplus_full, window=4, frames="all")
    assert padded.clips.tolist().count("S010_003") == 1  # 3 frames padded to 4
    assert padded.X[padded.clips == "S010_003"][0, :, 2, 2].tolist() == [
        _pixel("S010/003", f) for f in (1, 1, 2, 3)
    ]
    dropped = load_ckplus_sequences(tiny_ckplus_full, window=4, frames="all", pad=None)
    assert "S010_003" not in dropped.clips.tolist()
    with pytest.raises(ValueError, match="window must be a positive int"):
        load_ckplus_sequences(tiny_ckplus_full, window=0)


def test_parents_holding_the_two_folders(tmp_path: Path) -> None:
    root = tmp_path / "CK+"
    _write_release(root, {"S005/001": (3, 1)}, images="extended-cohn-kanade-images")
    (root / "extended-cohn-kanade-images").rename(root / "tmp")
    (root / "extended-cohn-kanade-images").mkdir()
    (root / "tmp").rename(root / "extended-cohn-kanade-images" / "cohn-kanade-images")
    (root / "Emotion_labels").mkdir()
    (root / "Emotion").rename(root / "Emotion_labels" / "Emotion")
    ds = load_ckplus(root)
    assert ds.labels.tolist() == ["neutral", "anger"]


def test_wrong_layout_is_refused_with_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"CK\+ folder .*does not exist"):
        load_ckplus(tmp_path / "nope")
    with pytest.raises(
        ValueError, match=rf"'{tmp_path}' has no cohn-kanade-images/ and no Emotion/; expected"
    ):
        load_ckplus(tmp_path)
    (tmp_path / "cohn-kanade-images").mkdir()
    with pytest.raises(ValueError, match=r"has no Emotion/; expected.*S005_001_00000011_emotion"):
        load_ckplus(tmp_path)
    (tmp_path / "Emotion").mkdir()
    with pytest.raises(ValueError, match="has no labelled sequence"):
        load_ckplus(tmp_path)
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        load_ckplus(tmp_path / "f.txt")


@pytest.mark.parametrize(
    ("text", "shown"),
    [("   8.0000000e+00\n", "8.0000000e+00"), ("2.5\n", "2.5"), ("", ""), ("3 4", "3 4")],
)
def test_bad_emotion_files_are_named(tmp_path: Path, text: str, shown: str) -> None:
    root = _write_release(tmp_path, {"S005/001": (3, 1)})
    file = root / "Emotion" / "S005" / "001" / "S005_001_00000003_emotion.txt"
    file.write_text(text)
    with pytest.raises(
        ValueError,
        match=rf"S005_001_00000003_emotion.txt' holds '{re.escape(shown)}'; expected one code 0-7",
    ):
        load_ckplus(root)


def test_mismatched_folders_and_frames_are_named(tmp_path: Path) -> None:
    root = _write_release(tmp_path / "a", {"S005/001": (3, 1)})
    orphan = root / "Emotion" / "S009" / "001"
    orphan.mkdir(parents=True)
    (orphan / "S009_001_00000004_emotion.txt").write_text("   1.0000000e+00\n")
    with pytest.raises(ValueError, match=r"no frames in .*S009_001_00000004_emotion.txt"):
        load_ckplus(root)
    root = _write_release(tmp_path / "b", {"S005/001": (3, 1)})
    seq = root / "cohn-kanade-images" / "S005" / "001"
    _write_frame(seq / "S006_001_00000004.png", 3)
    with pytest.raises(ValueError, match=r"frames of another sequence \['S006_001_00000004.png'\]"):
        load_ckplus(root)
    (seq / "S006_001_00000004.png").rename(seq / "frame4.png")
    with pytest.raises(ValueError, match=r"'frame4.png' does not match"):
        load_ckplus(root)
    extra = root / "Emotion" / "S005" / "001" / "S005_001_00000002_emotion.txt"
    extra.write_text("   2.0000000e+00\n")
    with pytest.raises(ValueError, match="holds 2 emotion files"):
        load_ckplus(root)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"frames": 0}, "frames must be"),
        ({"frames": "apex"}, "frames must be"),
        ({"neutral": "last"}, "neutral must be"),
        ({"color": "cmyk"}, "color must be"),
        ({"size": 4, "lazy": True}, "lazy=True"),
    ],
)
def test_bad_options_are_named(tiny_ckplus_full: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_ckplus(tiny_ckplus_full, **kwargs)
