"""KDEF: the Karolinska Directed Emotional Faces, 70 posers x 7 expressions x 5 angles x 2.

The release (Lundqvist, Flykt & Öhman, Karolinska Institutet, 1998; ``KDEF_and_AKDEF.zip``
from kdef.se) holds one folder per poser and session::

    KDEF/AF01/AF01AFS.JPG     session A, female 01, afraid, straight
    KDEF/AM12/AM12HAFL.JPG    session A, male 12, happy, full left
    KDEF/BF01/...             session B: the same person as AF01, photographed again

A folder is ``<session><gender><id>`` (session A or B, gender F or M, id 01-35); a file is
the folder code, an expression code (:data:`KDEF_CODES`) and an angle code
(:data:`KDEF_ANGLES`), then ``.JPG``. The subject - gender and id, ``"F01"`` - is the group:
both sessions of one person stay on one side of a split. The photos are 562x762 colour, the
whole head on a grey background.

A few files in the release are missing or misnamed (a wrong code in the name, a name that
does not repeat its folder's code): the loader names every image file whose name it cannot
parse and refuses them, or skips them with ``strict=False`` and warns with their count.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hybridfer._messages import plain_repr
from hybridfer.data.boxes import _check_color, _check_size
from hybridfer.data.dataset import FERDataset
from hybridfer.data.folders import dataset_from_files
from hybridfer.images import IMAGE_SUFFIXES, check_path

__all__ = ["KDEF_ANGLES", "KDEF_CLASSES", "KDEF_CODES", "load_kdef"]

#: Expression code in a KDEF file name -> class name.
KDEF_CODES: dict[str, str] = {
    "AF": "afraid",
    "AN": "angry",
    "DI": "disgusted",
    "HA": "happy",
    "NE": "neutral",
    "SA": "sad",
    "SU": "surprised",
}
#: KDEF's seven classes, in the order of their codes (alphabetical).
KDEF_CLASSES: tuple[str, ...] = tuple(KDEF_CODES.values())
#: Angle code -> meaning, from the poser's left profile to the right one.
KDEF_ANGLES: dict[str, str] = {
    "FL": "full left",
    "HL": "half left",
    "S": "straight",
    "HR": "half right",
    "FR": "full right",
}
_FOLDER = re.compile(r"^([AB])([FM])(\d{2})$", re.IGNORECASE)
_FILE = re.compile(
    rf"^([AB][FM]\d{{2}})({'|'.join(KDEF_CODES)})({'|'.join(KDEF_ANGLES)})\.jpe?g$",
    re.IGNORECASE,
)
_LAYOUT = (
    "expected the KDEF release: KDEF/<session><gender><id>/ folders (AF01 ... BM35) of "
    "files <folder><expression><angle>.JPG such as AF01/AF01AFS.JPG"
)


def _poser_folders(path: Path) -> tuple[Path, list[Path]]:
    """The KDEF folder (``path``, its ``KDEF/`` or ``KDEF_and_AKDEF/KDEF/``) and its poser
    folders, sorted."""
    for candidate in (path, path / "KDEF", path / "KDEF_and_AKDEF" / "KDEF"):
        if candidate.is_dir():
            folders = sorted(
                (d for d in candidate.iterdir() if d.is_dir() and _FOLDER.match(d.name)),
                key=lambda d: d.name.upper(),
            )
            if folders:
                return candidate, folders
    raise ValueError(f"KDEF folder {os.fspath(path)!r} has no poser folders; {_LAYOUT}")


def _check_angles(angles: str | Sequence[str] | None) -> set[str] | None:
    if angles is None:
        return None
    wanted = [angles] if isinstance(angles, str) else list(angles)
    unknown = [a for a in wanted if a not in KDEF_ANGLES]
    if unknown or not wanted:
        raise ValueError(
            f"angles {plain_repr(unknown or wanted)} are not KDEF angle codes; expected some "
            f"of {list(KDEF_ANGLES)} ({', '.join(f'{k} {v}' for k, v in KDEF_ANGLES.items())})"
        )
    return set(wanted)


def load_kdef(
    path: str | os.PathLike,
    *,
    angles: str | Sequence[str] | None = None,
    strict: bool = True,
    size: int | tuple[int, int] | None = None,
    lazy: bool = False,
    color: str = "gray",
    n_jobs: int | None = None,
) -> FERDataset:
    """Load KDEF from its poser folders, the subject (both sessions) as each image's group.

    Parameters
    ----------
    path : path
        The ``KDEF/`` folder of the release, or a parent holding ``KDEF/`` or
        ``KDEF_and_AKDEF/KDEF/``.
    angles : str or sequence of str, optional
        Keep only these angle codes (:data:`KDEF_ANGLES`), e.g. ``("S",)`` for the frontal
        photos; default all five.
    strict : bool, default=True
        Refuse image files whose names cannot be parsed (naming them); False skips them
        with a warning giving their count.
    size : int or (int, int), optional
        Resize every decoded photo (bilinear) to ``size x size`` or ``(height, width)``.
    lazy : bool
        Keep only the file paths (``images=None``); transformers then decode per batch.
    color : {"gray", "rgb"}
        Decode images as grayscale ``(H, W)`` or RGB ``(H, W, 3)``.
    n_jobs : int, optional
        Decoding threads.

    Returns
    -------
    FERDataset
        Named ``"kdef"``, classes :data:`KDEF_CLASSES`, rows sorted by folder and file name;
        groups the subjects (``"F01"``), columns ``"angle"`` (``"S"``, ``"HL"``, ...) and
        ``"session"`` (``"A"``, ``"B"``); no ``usage`` (KDEF has no official split).

    Raises
    ------
    FileNotFoundError
        If ``path`` is missing.
    ValueError
        If no poser folder is found, if an angle code is unknown, if ``size`` is given with
        ``lazy=True``, or (``strict``) if an image file's name cannot be parsed.
    """
    _check_color(color, allow_none=False)
    out_size = _check_size(size)
    if lazy and out_size is not None:
        raise ValueError("size resizes the decoded photos; it does not apply with lazy=True")
    wanted = _check_angles(angles)
    root, folders = _poser_folders(check_path(path, "KDEF folder"))
    paths: list[str] = []
    labels: list[str] = []
    subjects: list[str] = []
    angle_col: list[str] = []
    sessions: list[str] = []
    bad: list[str] = []
    for folder in folders:
        code = folder.name.upper()
        with os.scandir(folder) as it:
            files = sorted(
                (e for e in it if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES)),
                key=lambda e: e.name,
            )
        for entry in files:
            m = _FILE.match(entry.name)
            if m is None or m.group(1).upper() != code:
                bad.append(os.fspath(Path(folder.name) / entry.name))
                continue
            angle = m.group(3).upper()
            if wanted is not None and angle not in wanted:
                continue
            paths.append(entry.path)
            labels.append(KDEF_CODES[m.group(2).upper()])
            subjects.append(code[1:])
            angle_col.append(angle)
            sessions.append(code[0])
    if bad and strict:
        raise ValueError(
            f"KDEF folder {os.fspath(root)!r} holds {len(bad)} image files whose names cannot "
            f"be parsed: {bad[:10]}{' ...' if len(bad) > 10 else ''}. Expected "
            "<folder><expression><angle>.JPG, such as AF01/AF01AFS.JPG, with expression in "
            f"{list(KDEF_CODES)} and angle in {list(KDEF_ANGLES)}; pass strict=False to skip them"
        )
    if bad:
        warnings.warn(
            f"load_kdef skipped {len(bad)} image files of {os.fspath(root)!r} whose names "
            f"cannot be parsed: {bad[:5]}{' ...' if len(bad) > 5 else ''}",
            UserWarning,
            stacklevel=2,
        )
    if not paths:
        which = "" if wanted is None else f" at the angles {sorted(wanted)}"
        raise ValueError(f"KDEF folder {os.fspath(root)!r} has no KDEF photos{which}; {_LAYOUT}")
    return dataset_from_files(
        paths,
        labels,
        KDEF_CLASSES,
        groups=subjects,
        name="kdef",
        color=color,
        lazy=lazy,
        n_jobs=n_jobs,
        size=out_size,
        columns={"angle": np.asarray(angle_col), "session": np.asarray(sessions)},
    )
