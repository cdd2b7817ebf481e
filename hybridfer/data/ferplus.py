"""FERPlus: Microsoft's ten-annotator relabelling of FER2013 (Barsoum et al., 2016).

The release is one CSV, ``fer2013new.csv``, with the header
``Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF``
(:data:`FERPLUS_HEADER`) and ten votes per row; it holds no pixels. Its rows are the rows of
the original ``fer2013.csv`` (``emotion,pixels,Usage``) in the same order, 35,887 each, and
that is how the two are joined: by row, as Microsoft's ``generate_training_data.py`` does. The
number in ``Image name`` (``fer0000000.png``) is the name Microsoft gave the PNG it writes, not
the row index (it is not, for most rows); rows with an empty ``Image name`` (173 in the
release) are images FERPlus dropped, and are skipped. ``Usage`` is FER2013's and must agree
row by row.

From the votes, :func:`ferplus_targets` makes labels the ways Microsoft's reader
(``src/ferplus.py``, ``FERPlusReader._process_data`` and ``load_folders``) does. First every
column with a single vote is set to 0 (outlier removal, all ten columns). Then, with ``S``
the sum of what is left (unknown and NF included) and "a class" one of
:data:`FERPLUS_CLASSES` (without contempt when ``contempt=False``: its votes then count like
unknown's):

``"majority"``
    The column with more than ``S / 2`` votes, kept when it is a class. Rows with no such
    column (``"no majority"``) or whose majority is unknown, NF or (``contempt=False``)
    contempt are dropped. Microsoft trains and always *evaluates* in this mode (its test and
    validation readers use it whatever the training mode), so report test accuracy on it.
``"plurality"``
    The most-voted column, kept when it is a class and the maximum is not shared (ties are
    dropped: ``"tie"``). Not one of the paper's modes; the common "argmax of the votes".
``"probability"``
    Microsoft's target for its ``probability`` and ``crossentropy`` modes (the paper's PLD
    and CEL): the most-voted columns are taken in turn, ties together, until they hold 75%
    of ``S`` or three have been taken, stopping at unknown or NF (which is left out when a
    class was taken before it); the row is dropped (``"spread"``) when the columns taken hold
    at most half of ``S`` or more than three were taken. The kept votes, normalised, are
    ``soft_labels``; ``labels`` are their argmax (the first class in
    :data:`FERPLUS_CLASSES` order on a tie). Microsoft's ``probability`` mode then draws one
    label per image and epoch from ``soft_labels``; its ``crossentropy`` mode trains on them
    as they are (``FERNetClassifier.fit(..., soft_targets=...)``).
``"votes"``
    All the class votes left after outlier removal, normalised (``soft_labels``), labels their
    argmax (first on a tie); only rows with no class vote left are dropped. The plain vote
    distribution, for those who do not want Microsoft's trimming of the tail.

Every mode drops rows whose votes are all single votes (``"no votes left"``; none in the
release, whose rows hold ten votes, one nine) and names the winner that made it drop a row
(``"unknown"``, ``"not a face"``, ``"contempt"``). :func:`ferplus_drop_counts` counts the
dropped rows of a ``fer2013new.csv`` by reason. On Microsoft's release (35,887 rows, 173 of
them without an image, dropped in every mode) the modes keep:

===========  ========  ======  ===========================  ==================================
mode         contempt  kept    Training/Public/PrivateTest  dropped images, by reason
===========  ========  ======  ===========================  ==================================
majority     True      31,412  25,060 / 3,199 / 3,153       no majority 4,200, unknown 99,
                                                            not a face 3
majority     False     31,264                               the same, and contempt 148
plurality    True      33,712  26,940 / 3,396 / 3,376       tie 1,776, unknown 222, not a
                                                            face 4
plurality    False     33,500                               the same, and contempt 212
probability  True      34,966  27,956 / 3,505 / 3,505       spread 646, unknown 99, not a
                                                            face 3
probability  False     34,680                               spread 784, contempt 148, unknown
                                                            99, not a face 3
votes        True      35,708  28,558 / 3,577 / 3,573       unknown 3, not a face 3
votes        False     35,656                               contempt 50, unknown 5, not a
                                                            face 3
===========  ========  ======  ===========================  ==================================

(:func:`ferplus_drop_counts` recomputes the table. The majority and probability rules were
checked against Microsoft's own ``_process_data`` on every row of the release: same rows
kept, same targets.)
"""

from __future__ import annotations

import csv
import os
import sys
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hybridfer._messages import plain_repr
from hybridfer.data.dataset import FERDataset
from hybridfer.data.fer2013 import FER2013_USAGES, load_fer2013
from hybridfer.images import check_path

__all__ = [
    "FER2013_CSV_NAME",
    "FERPLUS_CLASSES",
    "FERPLUS_CSV_NAME",
    "FERPLUS_HEADER",
    "FERPLUS_MODES",
    "FERPLUS_VOTE_COLUMNS",
    "FERPlusTargets",
    "ferplus_drop_counts",
    "ferplus_targets",
    "load_ferplus",
]

#: FERPlus's eight emotions, in the order of the release's vote columns (its label codes).
FERPLUS_CLASSES: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
)
#: The ten vote columns of ``fer2013new.csv``: the eight emotions, ``unknown`` and ``NF``
#: (not a face). The loader keeps each as the column ``votes_<name>``.
FERPLUS_VOTE_COLUMNS: tuple[str, ...] = FERPLUS_CLASSES + ("unknown", "NF")
#: The header of ``fer2013new.csv``.
FERPLUS_HEADER: tuple[str, ...] = ("Usage", "Image name") + FERPLUS_VOTE_COLUMNS
#: Label modes of :func:`load_ferplus` and :func:`ferplus_targets` (see the module docstring).
FERPLUS_MODES: tuple[str, ...] = ("majority", "plurality", "probability", "votes")
#: File names of the release's labels and of the original FER2013 CSV.
FERPLUS_CSV_NAME = "fer2013new.csv"
FER2013_CSV_NAME = "fer2013.csv"

#: Reason of a row of ``fer2013new.csv`` with an empty ``Image name``.
NO_IMAGE = "no image"
_WINNER_REASON = {"unknown": "unknown", "NF": "not a face", "contempt": "contempt"}


class FERPlusTargets(NamedTuple):
    """Labels made from FERPlus votes by :func:`ferplus_targets` (``n`` rows each).

    Attributes
    ----------
    keep : ndarray of bool
        Whether the row is kept.
    codes : ndarray of int64
        Class code (index into the classes) of each row; -1 where dropped.
    soft : ndarray of float32, shape (n, n_classes)
        The target distribution (one-hot in the modes ``"majority"`` and ``"plurality"``);
        zeros where dropped.
    reason : ndarray of str
        ``""`` where kept, else why the row was dropped (``"no majority"``, ``"tie"``,
        ``"spread"``, ``"no votes left"``, ``"unknown"``, ``"not a face"``, ``"contempt"``).
    """

    keep: np.ndarray
    codes: np.ndarray
    soft: np.ndarray
    reason: np.ndarray


def _check_mode(mode: str) -> None:
    if mode not in FERPLUS_MODES:
        raise ValueError(
            f"mode must be one of {list(FERPLUS_MODES)} (see hybridfer.data.ferplus), got "
            f"{plain_repr(mode)}"
        )


def _microsoft_probability(raw: list[float], n_classes: int) -> tuple[list[float], bool]:
    """Microsoft's ``_process_data(mode="probability")`` on one row of outlier-free votes:
    the kept votes, and whether the row is discarded as too spread. Ported statement by
    statement (``i >= 8`` there is ``i >= n_classes`` here, so that contempt ends the search
    like unknown when it is not a class)."""
    raw = list(raw)
    size = len(raw)
    sum_list = sum(raw)
    emotion = [0.0] * size
    sum_part = 0.0
    count = 0
    valid_emotion = True
    while sum_part < 0.75 * sum_list and count < 3 and valid_emotion:
        maxval = max(raw)
        for i in range(size):
            if raw[i] == maxval:
                emotion[i] = maxval
                raw[i] = 0
                sum_part += emotion[i]
                count += 1
                if i >= n_classes:  # unknown or not a face shares the most votes
                    valid_emotion = False
                    if sum(emotion) > maxval:  # classes were taken before it
                        emotion[i] = 0
                        count -= 1
                    break
    spread = sum(emotion) <= 0.5 * sum_list or count > 3
    return emotion, spread


def ferplus_targets(
    votes: np.ndarray, mode: str = "majority", *, contempt: bool = True
) -> FERPlusTargets:
    """Labels of FERPlus vote rows, as Microsoft's reader makes them (module docstring).

    Parameters
    ----------
    votes : array-like of shape (n, 10)
        Vote counts in :data:`FERPLUS_VOTE_COLUMNS` order.
    mode : {"majority", "plurality", "probability", "votes"}
    contempt : bool
        Keep contempt as a class (eight classes); False gives seven, and contempt's votes count
        like unknown's.

    Returns
    -------
    FERPlusTargets
        Codes index :data:`FERPLUS_CLASSES` (its first seven when ``contempt=False``).
    """
    _check_mode(mode)
    votes = np.asarray(votes, dtype=np.float64)
    if votes.ndim != 2 or votes.shape[1] != len(FERPLUS_VOTE_COLUMNS):
        raise ValueError(
            f"votes has shape {votes.shape}; expected (n, {len(FERPLUS_VOTE_COLUMNS)}): one "
            f"count per column of {list(FERPLUS_VOTE_COLUMNS)}"
        )
    if votes.size and (not np.isfinite(votes).all() or votes.min() < 0):
        raise ValueError("votes must be finite counts >= 0")
    k = len(FERPLUS_CLASSES) if contempt else len(FERPLUS_CLASSES) - 1
    n = len(votes)
    # outlier removal: a column with a single vote counts 0 (Microsoft: <= 1 + epsilon)
    clean = np.where(votes < 1.0 + sys.float_info.epsilon, 0.0, votes)
    total = clean.sum(axis=1)
    codes = np.full(n, -1, dtype=np.int64)
    soft = np.zeros((n, k), dtype=np.float64)
    reason = np.full(n, "", dtype=object)
    for r in range(n):
        row = clean[r]
        if total[r] <= 0:
            reason[r] = "no votes left"
            continue
        if mode in ("majority", "plurality"):
            top = int(np.argmax(row))  # first of the maxima, as np.argmax in Microsoft's code
            if mode == "majority" and not row[top] > 0.5 * total[r]:
                reason[r] = "no majority"
            elif mode == "plurality" and np.count_nonzero(row == row[top]) > 1:
                reason[r] = "tie"
            elif top >= k:
                reason[r] = _WINNER_REASON[FERPLUS_VOTE_COLUMNS[top]]
            else:
                codes[r] = top
                soft[r, top] = 1.0
            continue
        if mode == "probability":
            kept, spread = _microsoft_probability(row.tolist(), k)
            kept = np.asarray(kept)
            top = int(np.argmax(kept))
            if spread:
                reason[r] = "spread"
                continue
            if top >= k:
                reason[r] = _WINNER_REASON[FERPLUS_VOTE_COLUMNS[top]]
                continue
        else:  # "votes"
            kept = row
            if kept[:k].sum() <= 0:  # only unknown, NF (or contempt) votes are left
                reason[r] = _WINNER_REASON[FERPLUS_VOTE_COLUMNS[int(np.argmax(row))]]
                continue
        dist = kept[:k] / kept[:k].sum()
        soft[r] = dist
        codes[r] = int(np.argmax(dist))
    keep = codes >= 0
    return FERPlusTargets(keep, codes, soft.astype(np.float32), reason.astype(str))


# -- reading the files -------------------------------------------------------------------------
class _Votes(NamedTuple):
    usage: list[str]
    names: list[str]
    votes: np.ndarray  # (n, 10) int64
    lines: list[int]  # line of each row in the file


def _read_votes(path: Path) -> _Votes:
    """The rows of ``fer2013new.csv``; refuses a wrong header or a bad field, naming the line."""
    where = f"FERPlus CSV {os.fspath(path)!r}"
    expected = ",".join(FERPLUS_HEADER)
    usage: list[str] = []
    names: list[str] = []
    votes: list[list[int]] = []
    lines: list[int] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            raw = next((r for r in reader if any(x.strip() for x in r)), None)
            if raw is None:
                raise ValueError(f"{where} is empty; expected the header {expected}")
            if tuple(h.strip() for h in raw) != FERPLUS_HEADER:
                hint = ""
                if [h.strip().lower() for h in raw[:3]] == ["emotion", "pixels", "usage"]:
                    hint = "; that is FER2013's own fer2013.csv, pass it as fer2013_csv"
                raise ValueError(
                    f"{where} line {reader.line_num}: the header is "
                    f"{','.join(h.strip() for h in raw)!r}; expected Microsoft's FERPlus "
                    f"header {expected!r}{hint}"
                )
            for row in reader:
                if not any(x.strip() for x in row):
                    continue
                line = reader.line_num
                if len(row) != len(FERPLUS_HEADER):
                    raise ValueError(
                        f"{where} line {line}: {len(row)} fields; expected "
                        f"{len(FERPLUS_HEADER)} ({expected})"
                    )
                u = row[0].strip()
                if u not in FER2013_USAGES:
                    raise ValueError(
                        f"{where} line {line}, column 'Usage': {plain_repr(u)} is not a "
                        f"FER2013 usage; expected one of {list(FER2013_USAGES)}"
                    )
                counts = []
                for name, text in zip(FERPLUS_VOTE_COLUMNS, row[2:], strict=True):
                    try:
                        value = float(text)
                    except ValueError:
                        value = -1.0
                    if not (value >= 0 and value == int(value)):
                        raise ValueError(
                            f"{where} line {line}, column {name!r}: {plain_repr(text.strip())} "
                            "is not a vote count; expected a whole number >= 0"
                        )
                    counts.append(int(value))
                usage.append(u)
                names.append(row[1].strip())
                votes.append(counts)
                lines.append(line)
    except UnicodeDecodeError:
        raise ValueError(
            f"{where} is not a UTF-8 text file; expected Microsoft's fer2013new.csv"
        ) from None
    except csv.Error as exc:
        raise ValueError(f"{where} line {reader.line_num}: not a valid CSV row ({exc})") from None
    if not votes:
        raise ValueError(f"{where} has a header but no rows; expected one row per FER2013 image")
    array = np.asarray(votes, dtype=np.int64).reshape(-1, len(FERPLUS_VOTE_COLUMNS))
    return _Votes(usage, names, array, lines)


def _resolve_paths(fer2013_csv: str | os.PathLike, ferplus_csv: str | os.PathLike | None):
    """``(fer2013.csv, fer2013new.csv)``; a folder may hold both (``fer2013.csv`` also in its
    ``fer2013/`` subfolder, as the Kaggle archive extracts)."""
    first = check_path(fer2013_csv, "FER2013 CSV")
    if ferplus_csv is not None:
        second = check_path(ferplus_csv, "FERPlus CSV")
        if second.is_dir():
            second = second / FERPLUS_CSV_NAME
            check_path(second, "FERPlus CSV")
    elif first.is_dir():
        second = first / FERPLUS_CSV_NAME
        if not second.is_file():
            raise FileNotFoundError(
                f"FERPlus folder {os.fspath(first)!r} has no {FERPLUS_CSV_NAME}; expected a "
                f"folder holding Microsoft's {FERPLUS_CSV_NAME} and FER2013's "
                f"{FER2013_CSV_NAME}, or pass both files"
            )
    else:
        raise ValueError(
            f"ferplus_csv is None but fer2013_csv {os.fspath(first)!r} is a file; pass "
            f"Microsoft's {FERPLUS_CSV_NAME} as ferplus_csv, or a folder holding both files"
        )
    if first.is_dir():
        candidates = [first / FER2013_CSV_NAME, first / "fer2013" / FER2013_CSV_NAME]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise FileNotFoundError(
                f"FERPlus folder {os.fspath(first)!r} has no {FER2013_CSV_NAME} (nor "
                f"fer2013/{FER2013_CSV_NAME}); FERPlus holds only votes, the pixels come from "
                "FER2013's original CSV (emotion,pixels,Usage), whose rows it follows"
            )
        first = found
    return first, second


def ferplus_drop_counts(
    ferplus_csv: str | os.PathLike, mode: str = "majority", *, contempt: bool = True
) -> dict[str, int]:
    """How many rows of a ``fer2013new.csv`` a mode keeps and drops, by reason.

    Reads only the votes (no FER2013 pixels needed). Returns ``{"kept": n, reason: n...}``
    with ``"no image"`` for the rows with an empty ``Image name`` and the reasons of
    :class:`FERPlusTargets` for the others; zero counts are left out.
    """
    _check_mode(mode)
    path = check_path(ferplus_csv, "FERPlus CSV")
    if path.is_dir():
        path = check_path(path / FERPLUS_CSV_NAME, "FERPlus CSV")
    rows = _read_votes(path)
    has_image = np.array([bool(n) for n in rows.names])
    targets = ferplus_targets(rows.votes[has_image], mode, contempt=contempt)
    counts = Counter(targets.reason.tolist())
    out = {"kept": int(counts.pop("", 0))}
    if (~has_image).any():
        out[NO_IMAGE] = int((~has_image).sum())
    out.update(sorted(counts.items(), key=lambda kv: -kv[1]))
    return out


def load_ferplus(
    fer2013_csv: str | os.PathLike,
    ferplus_csv: str | os.PathLike | None = None,
    *,
    mode: str = "majority",
    contempt: bool = True,
    lazy: bool = False,
    color: str = "gray",
    n_jobs: int | None = None,
) -> FERDataset:
    """Load FERPlus: FER2013's pixels with Microsoft's ten-annotator labels.

    Parameters
    ----------
    fer2013_csv : path
        FER2013's original ``fer2013.csv`` (``emotion,pixels,Usage``; the image-folder release
        has no row order and cannot be joined), or, with ``ferplus_csv=None``, a folder
        holding ``fer2013.csv`` (or ``fer2013/fer2013.csv``) and ``fer2013new.csv``.
    ferplus_csv : path, optional
        Microsoft's ``fer2013new.csv`` (https://github.com/microsoft/FERPlus).
    mode : {"majority", "plurality", "probability", "votes"}, default="majority"
        How labels are made from the votes, and which rows are dropped (module docstring:
        Microsoft's rules, and how many rows each mode drops on the release).
        ``"probability"`` and ``"votes"`` also set ``soft_labels``.
    contempt : bool, default=True
        Eight classes; False gives seven (:data:`FERPLUS_CLASSES` without contempt) and
        contempt's votes count like unknown's.
    lazy : bool
        Ignored: the pixels are in the CSV (35,887 48x48 images, 83 MB) and decoded at once.
    color : {"gray", "rgb"}
        Grayscale ``(48, 48)`` images, or the gray channel repeated to ``(48, 48, 3)``.
    n_jobs : int, optional
        Ignored (the CSV is parsed in one pass).

    Returns
    -------
    FERDataset
        Named ``"ferplus"``; classes :data:`FERPLUS_CLASSES` (seven without contempt) in the
        release's order, usage FER2013's (``Training``, ``PublicTest``, ``PrivateTest``),
        ``soft_labels`` in the probability modes, and the columns ``votes_<name>`` (the raw
        counts of the ten :data:`FERPLUS_VOTE_COLUMNS`), ``fer2013_row`` (the image's row in
        ``fer2013.csv``, from 0), ``fer2013_label`` (FER2013's own label) and
        ``image_name`` (Microsoft's PNG name).

    Raises
    ------
    FileNotFoundError
        If a file is missing.
    ValueError
        If ``fer2013new.csv`` has not Microsoft's header or a bad field (the line is named),
        or if the two files have different numbers of rows or a row's ``Usage`` differs (the
        first such row and its line are named).
    """
    _check_mode(mode)
    if color not in ("gray", "rgb"):
        raise ValueError(f"color must be 'gray' or 'rgb', got {plain_repr(color)}")
    del lazy, n_jobs  # one CSV, decoded in memory
    fer_path, plus_path = _resolve_paths(fer2013_csv, ferplus_csv)
    if not fer_path.is_file():
        raise ValueError(
            f"FER2013 CSV {os.fspath(fer_path)!r} is not a file; FERPlus is joined to FER2013 "
            "row by row, so it needs the original fer2013.csv, not the image-folder release"
        )
    rows = _read_votes(plus_path)
    fer = load_fer2013(fer_path)
    where = f"FERPlus CSV {os.fspath(plus_path)!r}"
    n_plus, n_fer = len(rows.usage), len(fer)
    counts = f"{plus_path.name} has {n_plus} rows, {os.fspath(fer_path)!r} {n_fer}"
    for r, (u_plus, u_fer) in enumerate(zip(rows.usage, fer.usage.tolist(), strict=False)):
        if u_plus != u_fer:
            raise ValueError(
                f"{where} line {rows.lines[r]} (row {r}) has Usage {u_plus!r}, but row {r} of "
                f"FER2013 CSV {os.fspath(fer_path)!r} has {u_fer!r}; FERPlus follows "
                f"fer2013.csv row by row, so the files do not match ({counts})"
            )
    if n_plus != n_fer:
        if n_plus < n_fer:
            at = f"ends at line {rows.lines[-1]} after {n_plus} rows"
        else:
            at = f"line {rows.lines[n_fer]} is row {n_fer}, past the last row of fer2013.csv"
        raise ValueError(
            f"{where} {at} ({counts}); FERPlus has one row per row of the original "
            "fer2013.csv (35,887), in the same order"
        )
    names = np.asarray(rows.names, dtype=str)
    has_image = names != ""
    targets = ferplus_targets(rows.votes, mode, contempt=contempt)
    keep = has_image & targets.keep
    idx = np.flatnonzero(keep)
    classes = FERPLUS_CLASSES if contempt else FERPLUS_CLASSES[:-1]
    images = fer.images[idx]
    if color == "rgb":
        images = np.repeat(images[..., None], 3, axis=-1)
    columns: dict[str, np.ndarray] = {
        f"votes_{name}": rows.votes[idx, j] for j, name in enumerate(FERPLUS_VOTE_COLUMNS)
    }
    columns["fer2013_row"] = idx.astype(np.int64)
    columns["fer2013_label"] = fer.labels[idx]
    columns["image_name"] = names[idx]
    soft = targets.soft[idx] if mode in ("probability", "votes") else None
    return FERDataset(
        images=images,
        labels=np.asarray(classes)[targets.codes[idx]],
        classes=classes,
        usage=fer.usage[idx],
        name="ferplus",
        soft_labels=soft,
        columns=columns,
    )
