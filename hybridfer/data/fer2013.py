"""FER2013: the original CSV release and the image-folder release, with official usages."""

from __future__ import annotations

import csv
import os
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from hybridfer.data.dataset import FERDataset
from hybridfer.data.folders import list_image_folder
from hybridfer.images import IMAGE_SUFFIXES, check_path, read_images, stack_images

__all__ = ["FER2013_CLASSES", "FER2013_USAGES", "load_fer2013"]

#: Canonical FER2013 label order: the integer codes of the CSV's ``emotion`` column.
FER2013_CLASSES: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "sad",
    "surprise",
    "neutral",
)
#: Official usages: Training (28,709), PublicTest (3,589), PrivateTest (3,589).
FER2013_USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")

_ALIASES = {
    "anger": "angry",
    "sadness": "sad",
    "surprised": "surprise",
    "happiness": "happy",
    "fearful": "fear",
    "disgusted": "disgust",
}
_PREFIX = re.compile(r"^(Training|PublicTest|PrivateTest)_", re.IGNORECASE)
_SPLIT_DIRS = {
    "train": "Training",
    "training": "Training",
    "test": None,
    "val": None,
    "validation": None,
    "publictest": "PublicTest",
    "privatetest": "PrivateTest",
}


def load_fer2013(
    path: str | os.PathLike,
    usages: str | list[str] | None = None,
    lazy: bool = False,
    n_jobs: int | None = None,
) -> FERDataset:
    """Load FER2013 from its CSV or its image-folder release.

    Parameters
    ----------
    path : path
        Either the CSV (``emotion,pixels,Usage``, or the ICML variant ``emotion, Usage,
        pixels`` with spaces in the header), or a folder holding ``train/`` and ``test/``
        (class subfolders, file names prefixed ``Training_``/``PublicTest_``/
        ``PrivateTest_``), or one such split folder.
    usages : str or list of str, optional
        Keep only these official usages (default: all present).
    lazy : bool
        For folders: keep file paths only and decode per batch later.
    n_jobs : int, optional
        Decoding threads for folders.

    Returns
    -------
    FERDataset
        48x48 uint8 grayscale images, class names in :data:`FER2013_CLASSES` order, and
        ``usage`` set for every image (split with ``ds.split("PublicTest")``).
    """
    path = check_path(path, "FER2013 path")
    if path.is_file():
        _check_file_kind(path)
        ds = _load_csv(path)
        return ds if usages is None else ds.split(usages)
    ds = _list_folders(path)
    if usages is not None:  # before decoding: PublicTest alone is 1/9 of the work
        ds = ds.split(usages)
    if not lazy:
        paths = ds.paths.tolist()
        ds = replace(ds, images=stack_images(read_images(paths, "gray", n_jobs), paths))
    return ds


_SIDE = 48
_N_PIXELS = _SIDE * _SIDE
#: Suffixes of compressed archives, which must be extracted before loading.
_ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar")


def _codes_text() -> str:
    return ", ".join(f"{i}={c}" for i, c in enumerate(FER2013_CLASSES))


def _check_file_kind(path: Path) -> None:
    """Refuse archives and single images, which a new user may pass for the data set."""
    suffixes = "".join(path.suffixes).lower()
    if any(suffixes.endswith(s) for s in _ARCHIVE_SUFFIXES):
        raise ValueError(
            f"FER2013 path {os.fspath(path)!r} is a compressed archive; extract it and pass "
            "the CSV (fer2013.csv) or the folder holding train/ and test/"
        )
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise ValueError(
            f"FER2013 path {os.fspath(path)!r} is an image file; expected the FER2013 CSV or "
            "the folder holding train/ and test/ (class subfolders of images)"
        )


def _token(text: str, limit: int = 20) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _pixel_error(where: str, line: int, column: str, pixels: str) -> ValueError | None:
    """The error of the first bad pixel field (count, non-integer, or outside 0..255)."""
    tokens = pixels.split()
    if len(tokens) != _N_PIXELS:
        return ValueError(
            f"{where} line {line}, column {column!r}: {len(tokens)} pixels; expected "
            f"{_N_PIXELS} ({_SIDE}x{_SIDE}) integers 0..255 separated by spaces"
        )
    for k, tok in enumerate(tokens):
        position = f"pixel {k + 1} of {_N_PIXELS} (y={k // _SIDE}, x={k % _SIDE})"
        try:
            value = int(tok)
        except ValueError:
            return ValueError(
                f"{where} line {line}, column {column!r}: {position} is {_token(tok)}, not an "
                "integer; expected integers 0..255 separated by spaces"
            )
        if not 0 <= value <= 255:
            return ValueError(
                f"{where} line {line}, column {column!r}: {position} is {value}; expected "
                "integers 0..255"
            )
    return None


def _load_csv(path: Path) -> FERDataset:
    where = f"FER2013 CSV {os.fspath(path)!r}"
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            raw = next((r for r in reader if any(field.strip() for field in r)), None)
            if raw is None:
                raise ValueError(
                    f"{where} is empty; expected a header emotion,pixels,Usage and one row per "
                    "image"
                )
            header = [h.strip().lower() for h in raw]
            needed = ("emotion", "pixels", "usage")
            missing = [c for c in needed if c not in header]
            if missing:
                hint = ""
                if len(raw) == 1 and any(sep in raw[0] for sep in ";\t|"):
                    hint = "; its fields do not seem separated by commas"
                elif missing == ["usage"]:
                    hint = (
                        "; the Kaggle challenge's train.csv/test.csv have no Usage column: "
                        "use fer2013.csv, which holds all three usages"
                    )
                raise ValueError(
                    f"{where} lacks columns {missing}; its header (line {reader.line_num}) is "
                    f"{[h.strip() for h in raw]}, expected emotion, pixels and Usage{hint}"
                )
            ie, ip, iu = (header.index(c) for c in needed)
            names = [raw[i].strip() for i in (ie, ip, iu)]
            emotions, pixels, usage, lines = [], [], [], []
            for row in reader:
                if not any(field.strip() for field in row):
                    continue
                line = reader.line_num
                if len(row) <= max(ie, ip, iu):
                    raise ValueError(
                        f"{where} line {line}: {len(row)} fields, but the header has "
                        f"{len(raw)} ({', '.join(h.strip() for h in raw)})"
                    )
                code = row[ie].strip()
                try:
                    emotion = int(code)
                except ValueError:
                    raise ValueError(
                        f"{where} line {line}, column {names[0]!r}: {_token(code)} is not an "
                        f"emotion code; expected an integer 0..6 ({_codes_text()})"
                    ) from None
                if not 0 <= emotion < len(FER2013_CLASSES):
                    raise ValueError(
                        f"{where} line {line}, column {names[0]!r}: emotion code {emotion} is "
                        f"outside 0..6 ({_codes_text()})"
                    )
                u = row[iu].strip()
                if u not in FER2013_USAGES:
                    raise ValueError(
                        f"{where} line {line}, column {names[2]!r}: {_token(u)} is not a "
                        f"FER2013 usage; expected one of {list(FER2013_USAGES)}"
                    )
                emotions.append(emotion)
                pixels.append(row[ip])
                usage.append(u)
                lines.append(line)
    except UnicodeDecodeError:
        raise ValueError(
            f"{where} is not a UTF-8 text file; expected the FER2013 CSV (emotion,pixels,Usage)"
            " - is it compressed? Extract it first"
        ) from None
    except csv.Error as exc:
        raise ValueError(f"{where} line {reader.line_num}: not a valid CSV row ({exc})") from None
    if not emotions:
        raise ValueError(f"{where} has a header but no rows; expected one row per image")
    try:
        flat = np.array(" ".join(pixels).split(), dtype=np.int16)
    except (ValueError, OverflowError):
        flat = None
    if flat is None or flat.size != len(pixels) * _N_PIXELS or flat.min() < 0 or flat.max() > 255:
        for line, text in zip(lines, pixels, strict=True):
            error = _pixel_error(where, line, names[1], text)
            if error is not None:
                raise error
        raise ValueError(f"{where}: cannot read column {names[1]!r} as pixels")  # pragma: no cover
    return FERDataset(
        images=flat.astype(np.uint8).reshape(-1, _SIDE, _SIDE),
        labels=np.asarray(FER2013_CLASSES)[np.asarray(emotions)],
        classes=FER2013_CLASSES,
        usage=np.asarray(usage),
        name="fer2013",
    )


def _canonical_class_folders(root: Path) -> dict[str, str]:
    """Map canonical class names to the subfolder names found under ``root``."""
    mapping = {}
    for d in sorted(p.name for p in root.iterdir() if p.is_dir()):
        canon = _ALIASES.get(d.lower(), d.lower())
        if canon not in FER2013_CLASSES:
            hint = ""
            splits = sorted(
                {x.name.lower() for x in (root / d).iterdir() if x.is_dir()} & set(_SPLIT_DIRS)
            )
            if splits:
                hint = f"; it holds the split folders {splits}: pass {os.fspath(root / d)!r}"
            elif d.isdigit():
                hint = (
                    f"; class folders named by emotion code must be renamed to the class "
                    f"names ({_codes_text()})"
                )
            raise ValueError(
                f"FER2013 folder {os.fspath(root)!r} has a subfolder {d!r} that is "
                f"not a FER2013 class; expected {list(FER2013_CLASSES)}{hint}"
            )
        mapping[canon] = d
    return mapping


def _list_folders(root: Path) -> FERDataset:
    """The images of a folder release as paths (``images=None``), with labels and usage."""
    subdirs = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    split_dirs = [(p, _SPLIT_DIRS[k]) for k, p in sorted(subdirs.items()) if k in _SPLIT_DIRS]
    if not split_dirs:  # a single split folder with class subfolders
        split_dirs = [(root, _SPLIT_DIRS.get(root.name.lower()))]
    paths, labels, usage = [], [], []
    for folder, default_usage in split_dirs:
        mapping = _canonical_class_folders(folder)
        present = [mapping[c] for c in FER2013_CLASSES if c in mapping]
        p, lab, _ = list_image_folder(folder, present)
        inverse = {v: k for k, v in mapping.items()}
        for fp, cls in zip(p, lab, strict=True):
            m = _PREFIX.match(Path(fp).name)
            if m:
                u = next(x for x in FER2013_USAGES if x.lower() == m.group(1).lower())
            elif default_usage is not None:
                u = default_usage
            else:
                raise ValueError(
                    f"cannot tell the FER2013 usage of {fp!r}: its name has no Training_/"
                    "PublicTest_/PrivateTest_ prefix and its folder is not train/"
                )
            paths.append(fp)
            labels.append(inverse[cls])
            usage.append(u)
    return FERDataset(
        images=None,
        labels=np.asarray(labels),
        classes=FER2013_CLASSES,
        paths=np.asarray(paths),
        usage=np.asarray(usage),
        name="fer2013",
    )
