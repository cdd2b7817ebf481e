"""JAFFE: the Japanese Female Facial Expression frames, in the original release's flat folder.

Each file is named ``<poser>.<code><repeat>.<id>.<suffix>``, e.g. ``KA.AN1.39.tiff``: poser
``KA``, expression ``AN`` (angry), first take, image 39. The seven expression codes are
FER2013's seven classes (:data:`JAFFE_CODES`), so a FER2013-trained model scores JAFFE as it
is. The frames show the whole head, hair and background: crop the face first
(:class:`hybridfer.faces.FaceCropper`). Group by poser when anything is fitted on JAFFE.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from hybridfer._messages import plain_repr
from hybridfer.data.dataset import FERDataset
from hybridfer.data.fer2013 import FER2013_CLASSES
from hybridfer.data.folders import dataset_from_files
from hybridfer.images import check_path

__all__ = ["JAFFE_CODES", "JAFFE_PATTERN", "JAFFE_SUFFIXES", "load_jaffe"]

#: Expression code in a JAFFE file name -> FER2013 class name.
JAFFE_CODES: dict[str, str] = {
    "AN": "angry",
    "DI": "disgust",
    "FE": "fear",
    "HA": "happy",
    "NE": "neutral",
    "SA": "sad",
    "SU": "surprise",
}
#: File suffixes read (the original release is TIFF; PNG and BMP conversions are common).
JAFFE_SUFFIXES: tuple[str, ...] = (".tiff", ".tif", ".png", ".bmp")
#: ``<poser>.<code><repeat>.<id>.<suffix>``: groups poser, code, repeat, id, suffix.
JAFFE_PATTERN = r"^([A-Za-z]+)\.([A-Za-z]+)(\d+)\.(\d+)(\.[A-Za-z]+)$"
_NAME = re.compile(JAFFE_PATTERN)


def _jaffe_files(root: Path) -> tuple[list[str], list[str], list[str]]:
    """Paths, class names and posers of the JAFFE files in ``root``, sorted by name."""
    paths: list[str] = []
    labels: list[str] = []
    posers: list[str] = []
    seen: dict[str, str] = {}
    others: list[str] = []
    with os.scandir(root) as it:
        entries = sorted((e for e in it if e.is_file()), key=lambda e: e.name)
    for entry in entries:
        m = _NAME.match(entry.name)
        if m is None or m.group(5).lower() not in JAFFE_SUFFIXES:
            if not entry.name.startswith("."):
                others.append(entry.name)
            continue
        poser, code, _, _, suffix = m.groups()
        label = JAFFE_CODES.get(code.upper())
        if label is None:
            raise ValueError(
                f"JAFFE file {entry.name!r} in {os.fspath(root)!r} has the expression code "
                f"{plain_repr(code)}; expected one of {list(JAFFE_CODES)} "
                f"({', '.join(f'{k} {v}' for k, v in JAFFE_CODES.items())})"
            )
        stem = entry.name[: -len(suffix)]
        if stem in seen:
            raise ValueError(
                f"JAFFE image {stem!r} is in {os.fspath(root)!r} twice ({seen[stem]!r} and "
                f"{entry.name!r}); keep one file per image"
            )
        seen[stem] = entry.name
        paths.append(entry.path)
        labels.append(label)
        posers.append(poser)
    if not paths:
        found = f"; it holds {others[:5]}" if others else "; it is empty"
        raise ValueError(
            f"JAFFE folder {os.fspath(root)!r} has no JAFFE image files{found}. Expected a "
            "flat folder of files named <poser>.<code><repeat>.<id>.<suffix>, such as "
            f"'KA.AN1.39.tiff', with code in {list(JAFFE_CODES)} and suffix in "
            f"{list(JAFFE_SUFFIXES)}"
        )
    return paths, labels, posers


def load_jaffe(
    path: str | os.PathLike,
    *,
    lazy: bool = False,
    color: str = "gray",
    n_jobs: int | None = None,
) -> FERDataset:
    """Load JAFFE from a flat folder of ``KA.AN1.39.tiff``-style files, posers as groups.

    Files whose names do not follow the pattern (a README, ``.DS_Store``) are skipped.

    Parameters
    ----------
    path : path
        The folder holding the image files (``.tiff``, ``.tif``, ``.png`` or ``.bmp``).
    lazy : bool
        Keep only the file paths (``images=None``); transformers then decode per batch.
    color : {"gray", "rgb"}
        Decode images as grayscale ``(H, W)`` or RGB ``(H, W, 3)``.
    n_jobs : int, optional
        Decoding threads.

    Returns
    -------
    FERDataset
        Labels are FER2013 class names (:data:`JAFFE_CODES`), classes
        :data:`~hybridfer.data.FER2013_CLASSES` in their order, groups the posers
        (``"KA"``), paths sorted by file name.

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        If ``path`` is missing or not a folder.
    ValueError
        If no file has a JAFFE name, if one has an unknown expression code (the file is
        named), or if an image is there twice under two suffixes.
    """
    if color not in ("gray", "rgb"):
        raise ValueError(f"color must be 'gray' or 'rgb', got {plain_repr(color)}")
    root = check_path(path, "JAFFE folder")
    if not root.is_dir():
        raise NotADirectoryError(f"JAFFE folder {os.fspath(root)!r} is not a directory")
    paths, labels, posers = _jaffe_files(root)
    return dataset_from_files(
        paths,
        labels,
        FER2013_CLASSES,
        groups=posers,
        name="jaffe",
        color=color,
        lazy=lazy,
        n_jobs=n_jobs,
    )
