"""CK+: the full extended Cohn-Kanade release, 593 sequences of 123 subjects, 327 labelled.

The release (Lucey et al., "The Extended Cohn-Kanade Dataset (CK+)", CVPR workshops 2010;
Pittsburgh/CMU) unpacks into folders side by side, e.g. under ``CK+/``::

    cohn-kanade-images/S005/001/S005_001_00000001.png ... S005_001_00000011.png
    Emotion/S005/001/S005_001_00000011_emotion.txt        "   3.0000000e+00"

Each sequence runs from a neutral onset (its first frame) to the peak expression (its last
frame). The 327 sequences with an ``Emotion`` file carry one code (:data:`CKPLUS_FULL_CLASSES`:
0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy, 6 sadness, 7 surprise; 0 is never
used in the files); the others are unlabelled and skipped. The common protocol keeps the last
3 frames of each labelled sequence (``frames=3``), often with its first frame as neutral, and
groups folds by subject. Frames differ in size across subjects (640x490, 640x480 and
others; some in colour): decoding them into one array needs ``size`` (or ``lazy=True``). ``FACS/`` and ``Landmarks/``
are not read.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from hybridfer._messages import plain_repr
from hybridfer.data.boxes import _check_color, _check_size
from hybridfer.data.dataset import FERDataset
from hybridfer.data.folders import dataset_from_files
from hybridfer.data.sequences import FrameWindows, clips_from_paths, frames_from_dataset
from hybridfer.images import check_path

__all__ = [
    "CKPLUS_EMOTION_DIR",
    "CKPLUS_FULL_CLASSES",
    "CKPLUS_IMAGES_DIR",
    "load_ckplus",
    "load_ckplus_sequences",
]

_log = logging.getLogger("hybridfer.data")

#: CK+'s emotion codes 0-7, in code order.
CKPLUS_FULL_CLASSES: tuple[str, ...] = (
    "neutral",
    "anger",
    "contempt",
    "disgust",
    "fear",
    "happy",
    "sadness",
    "surprise",
)
#: The release's folders of frames and of emotion labels.
CKPLUS_IMAGES_DIR = "cohn-kanade-images"
CKPLUS_EMOTION_DIR = "Emotion"
_LAYOUT = (
    f"expected the CK+ release root holding {CKPLUS_IMAGES_DIR}/ "
    f"({CKPLUS_IMAGES_DIR}/S005/001/S005_001_00000001.png ...) and {CKPLUS_EMOTION_DIR}/ "
    f"({CKPLUS_EMOTION_DIR}/S005/001/S005_001_00000011_emotion.txt), side by side or each "
    "one folder down (extended-cohn-kanade-images/, Emotion_labels/)"
)


@dataclass(frozen=True)
class _Sequence:
    """One labelled CK+ sequence: its frames in frame order."""

    clip: str
    subject: str
    label: str
    paths: tuple[str, ...]
    frames: tuple[int, ...]


def _find(root: Path, name: str) -> Path | None:
    """``root/name``, or ``root/<child>/name`` for the first child holding it."""
    if (root / name).is_dir():
        return root / name
    for child in sorted(d for d in root.iterdir() if d.is_dir()):
        if (child / name).is_dir():
            return child / name
    return None


def _ckplus_folders(path: Path) -> tuple[Path, Path]:
    if not path.is_dir():
        raise NotADirectoryError(f"CK+ folder {os.fspath(path)!r} is not a directory; {_LAYOUT}")
    images = _find(path, CKPLUS_IMAGES_DIR)
    emotion = _find(path, CKPLUS_EMOTION_DIR)
    if images is None or emotion is None:
        found = ((CKPLUS_IMAGES_DIR, images), (CKPLUS_EMOTION_DIR, emotion))
        missing = " and no ".join(f"{name}/" for name, where in found if where is None)
        raise ValueError(f"CK+ folder {os.fspath(path)!r} has no {missing}; {_LAYOUT}")
    return images, emotion


def _subdirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def _read_emotion(file: Path) -> str:
    """The class name in one ``*_emotion.txt`` file, or a ValueError naming it."""
    text = file.read_text(encoding="utf-8", errors="replace")
    tokens = text.split()
    try:
        value = float(tokens[0]) if len(tokens) == 1 else float("nan")
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and value.is_integer() and 0 <= value < len(CKPLUS_FULL_CLASSES)):
        raise ValueError(
            f"CK+ emotion file {os.fspath(file)!r} holds {plain_repr(text.strip())}; expected one "
            f"code 0-{len(CKPLUS_FULL_CLASSES) - 1} such as '   3.0000000e+00' "
            f"({', '.join(f'{i} {c}' for i, c in enumerate(CKPLUS_FULL_CLASSES))})"
        )
    return CKPLUS_FULL_CLASSES[int(value)]


def _emotion_labels(emotion: Path) -> dict[str, tuple[str, Path]]:
    """Sequence id ``S005_001`` -> (class name, its file), for every Emotion file."""
    labels: dict[str, tuple[str, Path]] = {}
    for subject in _subdirs(emotion):
        for seq in _subdirs(subject):
            files = sorted(seq.glob("*_emotion.txt"))
            if len(files) > 1:
                raise ValueError(
                    f"CK+ sequence folder {os.fspath(seq)!r} holds {len(files)} emotion files "
                    f"{[f.name for f in files]}; expected at most one"
                )
            if files:
                labels[f"{subject.name}_{seq.name}"] = (_read_emotion(files[0]), files[0])
    return labels


def _labelled_sequences(path: Path) -> tuple[list[_Sequence], int]:
    """The labelled sequences of the release at ``path``, sorted, and the unlabelled count."""
    images, emotion = _ckplus_folders(path)
    labels = _emotion_labels(emotion)
    sequences: list[_Sequence] = []
    unlabelled = 0
    seen: set[str] = set()
    for subject in _subdirs(images):
        for seq in _subdirs(subject):
            clip = f"{subject.name}_{seq.name}"
            with os.scandir(seq) as it:
                files = sorted(
                    e.path
                    for e in it
                    if e.is_file() and e.name.lower().endswith(".png") and e.name[0] != "."
                )
            if not files:
                continue
            seen.add(clip)
            if clip not in labels:
                unlabelled += 1
                continue
            try:
                clips, frames = clips_from_paths(files)
            except ValueError as exc:
                raise ValueError(
                    f"CK+ sequence folder {os.fspath(seq)!r}: {exc}; expected frames named "
                    f"{clip}_00000001.png ..."
                ) from None
            wrong = [Path(f).name for f, c in zip(files, clips, strict=True) if c != clip]
            if wrong:
                raise ValueError(
                    f"CK+ sequence folder {os.fspath(seq)!r} holds frames of another sequence "
                    f"{wrong[:3]}; expected names starting with {clip}_"
                )
            order = np.argsort(frames, kind="stable")
            sequences.append(
                _Sequence(
                    clip=clip,
                    subject=subject.name,
                    label=labels[clip][0],
                    paths=tuple(files[i] for i in order),
                    frames=tuple(int(frames[i]) for i in order),
                )
            )
    orphans = sorted(set(labels) - seen)
    if orphans:
        raise ValueError(
            f"CK+ emotion files name sequences with no frames in {os.fspath(images)!r}: "
            f"{[os.fspath(labels[c][1]) for c in orphans[:3]]}; the two folders do not match"
        )
    if not sequences:
        raise ValueError(
            f"CK+ folder {os.fspath(path)!r} has no labelled sequence (no frames of a sequence "
            f"with an emotion file in {os.fspath(emotion)!r}); {_LAYOUT}"
        )
    _log.info(
        "CK+: %d labelled sequences read, %d unlabelled sequences skipped",
        len(sequences),
        unlabelled,
    )
    return sequences, unlabelled


def _check_frames(frames: object) -> int | None:
    """``frames`` as the number of last frames kept (None: all)."""
    if frames == "peak":
        return 1
    if frames == "all":
        return None
    if isinstance(frames, (int, np.integer)) and not isinstance(frames, bool) and frames >= 1:
        return int(frames)
    raise ValueError(
        f"frames must be 'peak', 'all' or a positive int (the last k frames of each "
        f"sequence), got {plain_repr(frames)}"
    )


def _decode(
    paths: list[str],
    labels: list[str],
    groups: list[str],
    *,
    size: object,
    lazy: bool,
    color: str,
    n_jobs: int | None,
) -> FERDataset:
    _check_color(color, allow_none=False)
    out_size = _check_size(size)
    if lazy and out_size is not None:
        raise ValueError("size resizes the decoded frames; it does not apply with lazy=True")
    return dataset_from_files(
        paths,
        labels,
        CKPLUS_FULL_CLASSES,
        groups=groups,
        name="ckplus",
        color=color,
        lazy=lazy,
        n_jobs=n_jobs,
        size=out_size,
    )


def load_ckplus(
    path: str | os.PathLike,
    *,
    frames: str | int = "peak",
    neutral: str | None = "first",
    size: int | tuple[int, int] | None = None,
    lazy: bool = False,
    color: str = "gray",
    n_jobs: int | None = None,
) -> FERDataset:
    """Load frames of CK+'s labelled sequences, the subject of each frame as its group.

    Parameters
    ----------
    path : path
        The release root holding ``cohn-kanade-images/`` and ``Emotion/`` (each may sit one
        folder down, e.g. ``extended-cohn-kanade-images/cohn-kanade-images/``).
    frames : "peak", "all" or int, default="peak"
        Which frames of each labelled sequence carry its emotion: the last one (the peak),
        the last ``k`` (3 is the common protocol), or all. With ``neutral="first"`` the
        first frame is never among them.
    neutral : {"first", None}, default="first"
        Add the first (onset) frame of each labelled sequence of two or more frames as
        ``"neutral"``; None adds no neutral frame.
    size : int or (int, int), optional
        Resize every decoded frame (bilinear) to ``size x size`` or ``(height, width)``:
        needed to decode frames of the release's several sizes into one array.
    lazy : bool
        Keep only the file paths (``images=None``); transformers then decode per batch.
    color : {"gray", "rgb"}
        Decode images as grayscale ``(H, W)`` or RGB ``(H, W, 3)``.
    n_jobs : int, optional
        Decoding threads.

    Returns
    -------
    FERDataset
        Named ``"ckplus"``, classes :data:`CKPLUS_FULL_CLASSES`; rows by sequence (sorted),
        within one its neutral frame then its emotion frames in frame order; groups the
        subjects (``"S005"``), columns ``"sequence"`` (``"S005_001"``) and ``"frame"`` (int).
        The number of unlabelled sequences skipped is logged (``hybridfer.data``, INFO).

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        If ``path`` is missing or not a folder.
    ValueError
        If ``cohn-kanade-images/`` or ``Emotion/`` is not found, an emotion file does not
        hold one code 0-7 (the file is named), a frame is misnamed, or no sequence is
        labelled; on a bad ``frames`` or ``neutral``.
    """
    last = _check_frames(frames)
    if neutral not in ("first", None):
        raise ValueError(f"neutral must be 'first' or None, got {plain_repr(neutral)}")
    sequences, _ = _labelled_sequences(check_path(path, "CK+ folder"))
    paths: list[str] = []
    labels: list[str] = []
    groups: list[str] = []
    for s in sequences:
        with_neutral = neutral == "first" and len(s.paths) > 1
        pool = s.paths[1:] if with_neutral else s.paths
        chosen = pool if last is None else pool[-last:]
        if with_neutral:
            paths.append(s.paths[0])
            labels.append("neutral")
        paths.extend(chosen)
        labels.extend([s.label] * len(chosen))
        groups.extend([s.subject] * (len(chosen) + with_neutral))
    ds = _decode(paths, labels, groups, size=size, lazy=lazy, color=color, n_jobs=n_jobs)
    clips, frame_no = clips_from_paths(paths)
    return replace(ds, columns={"sequence": clips, "frame": frame_no})


def load_ckplus_sequences(
    path: str | os.PathLike,
    *,
    window: int = 3,
    stride: int = 1,
    frames: str | int | None = None,
    pad: str | None = "first",
    size: int | tuple[int, int] | None = None,
    lazy: bool = False,
    color: str = "gray",
    n_jobs: int | None = None,
) -> FrameWindows:
    """CK+'s labelled sequences as windows of consecutive frames, for the LSTM head.

    The frames of each labelled sequence (:func:`load_ckplus` with ``neutral=None``) are
    cut by :func:`~hybridfer.data.frames_from_dataset` into windows of ``window`` frames,
    each labelled with its sequence's emotion and grouped by subject.

    Parameters
    ----------
    path : path
        As in :func:`load_ckplus`.
    window : int, default=3
        Frames per window (T).
    stride : int, default=1
        Frames between the starts of consecutive windows of a sequence.
    frames : "peak", "all", int or None, default=None
        Which frames of each sequence are cut, as in :func:`load_ckplus`; None takes the
        last ``window`` frames: one window per sequence, ending at its peak.
    pad : {"first", "last", None}, default="first"
        A sequence shorter than ``window`` is padded by repeating its first frame ("first")
        or its last ("last"), or dropped (None).
    size, lazy, color, n_jobs
        As in :func:`load_ckplus`; with ``lazy`` the windows hold paths ``(m, T)``, else
        images ``(m, T, H, W[, 3])``.

    Returns
    -------
    FrameWindows
        ``X`` the windows, ``y`` their sequences' emotions (class names of
        :data:`CKPLUS_FULL_CLASSES`), ``groups`` the subjects, ``clips`` the sequence ids.
    """
    if not isinstance(window, (int, np.integer)) or isinstance(window, bool) or window < 1:
        raise ValueError(f"window must be a positive int, got {plain_repr(window)}")
    ds = load_ckplus(
        path,
        frames=window if frames is None else frames,
        neutral=None,
        size=size,
        lazy=lazy,
        color=color,
        n_jobs=n_jobs,
    )
    return frames_from_dataset(ds, window=window, stride=stride, label="last", pad=pad)
