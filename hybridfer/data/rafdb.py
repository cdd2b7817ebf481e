"""RAF-DB: the Real-world Affective Faces Database, basic-emotion release (``basic/``).

The release (http://www.whdeng.cn/RAF/model1.html, version 1.1) unpacks into::

    basic/
      EmoLabel/list_patition_label.txt      one line per image: "train_00001.jpg 5"
      Image/aligned/train_00001_aligned.jpg 100x100 RGB faces, aligned on eyes and mouth
      Image/original/train_00001.jpg        the full web images, of any size
      Annotation/boundingbox/train_00001_boundingbox.txt   the target face's box
      Annotation/manual/train_00001_manu_attri.txt         5 landmarks, gender, race, age

By the RAF-DB paper's counts, 12,271 images are named ``train_*`` and 3,068 ``test_*`` (not
checked here: the release is not available to this project): the official split, kept as
``usage`` ``"train"``/``"test"``. The label codes 1-7 are :data:`RAFDB_CLASSES` in order.
The label file's name is misspelt in the release (``patition``); ``list_partition_label.txt``
is read as well.

Box files hold one line of four numbers, read as the corners ``x1 y1 x2 y2`` in the original
image's pixels (how the public RAF-DB tools read them; the release's README does not spell
the format out) and kept as ``x, y, w, h``. Files named ``<stem>_boxes.txt`` in
``Annotation/boxes/`` are read the same way.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from hybridfer._messages import plain_repr
from hybridfer.data.dataset import FERDataset
from hybridfer.data.folders import dataset_from_files
from hybridfer.images import check_path

__all__ = [
    "RAFDB_AGES",
    "RAFDB_CLASSES",
    "RAFDB_GENDERS",
    "RAFDB_LABEL_FILES",
    "RAFDB_RACES",
    "RAFDB_USAGES",
    "load_rafdb",
]

#: RAF-DB's basic expressions in the order of their label codes 1..7.
RAFDB_CLASSES: tuple[str, ...] = (
    "surprise",
    "fear",
    "disgust",
    "happiness",
    "sadness",
    "anger",
    "neutral",
)
#: The official split, from each file name's prefix (the paper counts 12,271 train, 3,068 test).
RAFDB_USAGES: tuple[str, ...] = ("train", "test")
#: Label file names tried in ``EmoLabel/``: the release's own (misspelt) one first.
RAFDB_LABEL_FILES: tuple[str, ...] = ("list_patition_label.txt", "list_partition_label.txt")
#: Manual attribute codes 0, 1, 2, ... of ``Annotation/manual/*_manu_attri.txt``.
RAFDB_GENDERS: tuple[str, ...] = ("male", "female", "unsure")
RAFDB_RACES: tuple[str, ...] = ("caucasian", "african-american", "asian")
RAFDB_AGES: tuple[str, ...] = ("0-3", "4-19", "20-39", "40-69", "70+")

_NAME = re.compile(r"^(train|test)_(\d+)\.jpg$")
_LAYOUT = (
    "expected the RAF-DB basic/ release (or the folder holding basic/): "
    "EmoLabel/list_patition_label.txt, Image/aligned/<name>_aligned.jpg and/or "
    "Image/original/<name>.jpg"
)
#: Box folders tried in ``Annotation/``, with each file's suffix after the image's stem.
_BOX_DIRS: tuple[tuple[str, str], ...] = (
    ("boundingbox", "_boundingbox.txt"),
    ("boxes", "_boxes.txt"),
)


def _release_root(path: Path) -> tuple[Path, Path]:
    """The ``basic/`` folder at or under ``path``, and its label file."""
    for root in (path, path / "basic"):
        for name in RAFDB_LABEL_FILES:
            labels = root / "EmoLabel" / name
            if labels.is_file():
                return root, labels
    found = sorted(p.name for p in path.iterdir() if not p.name.startswith("."))
    holds = f"; it holds {found[:8]}" if found else "; it is empty"
    raise FileNotFoundError(
        f"RAF-DB folder {os.fspath(path)!r} has no EmoLabel/list_patition_label.txt "
        f"(nor basic/EmoLabel/list_patition_label.txt){holds}; {_LAYOUT}"
    )


def _read_labels(label_file: Path) -> tuple[list[str], list[str], list[str]]:
    """File names, class names and usages of ``list_patition_label.txt``, in its order."""
    names: list[str] = []
    labels: list[str] = []
    usages: list[str] = []
    seen: set[str] = set()
    text = label_file.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"line {number} of {os.fspath(label_file)!r}"
        if len(fields) != 2:
            raise ValueError(
                f"{where} is {line.strip()!r}; expected '<image name> <label code>', "
                "e.g. 'train_00001.jpg 5'"
            )
        name, code = fields
        m = _NAME.match(name)
        if m is None:
            raise ValueError(
                f"{where} names the image {name!r}; expected train_<number>.jpg or "
                "test_<number>.jpg"
            )
        if not code.isdigit() or not 1 <= int(code) <= len(RAFDB_CLASSES):
            raise ValueError(
                f"{where} gives {name!r} the label code {code!r}; expected 1-7 "
                f"({', '.join(f'{i} {c}' for i, c in enumerate(RAFDB_CLASSES, start=1))})"
            )
        if name in seen:
            raise ValueError(f"{where} lists {name!r} a second time")
        seen.add(name)
        names.append(name)
        labels.append(RAFDB_CLASSES[int(code) - 1])
        usages.append(m.group(1))
    if not names:
        raise ValueError(f"RAF-DB label file {os.fspath(label_file)!r} lists no image")
    return names, labels, usages


def _require_files(files: list[Path], what: str, where: Path, root: Path) -> None:
    """Raise FileNotFoundError naming the first of ``files`` that is missing and how many are."""
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(
            f"RAF-DB folder {os.fspath(root)!r}: {len(missing)} of {len(files)} {what} are "
            f"missing from {os.fspath(where)!r}, the first {missing[0].name!r}"
        )


def _box_folder(root: Path) -> tuple[Path, str] | None:
    """The box folder of the release and its files' suffix, or None."""
    for folder, suffix in _BOX_DIRS:
        if (root / "Annotation" / folder).is_dir():
            return root / "Annotation" / folder, suffix
    return None


def _read_box(path: Path) -> tuple[int, int, int, int]:
    """``x, y, w, h`` of a box file holding ``x1 y1 x2 y2``."""
    fields = path.read_text(encoding="utf-8", errors="replace").split()
    try:
        x1, y1, x2, y2 = (float(v) for v in fields)
    except ValueError:
        raise ValueError(
            f"RAF-DB box file {os.fspath(path)!r} holds {fields[:8]}; expected four numbers "
            "'x1 y1 x2 y2' (the face's corners)"
        ) from None
    if not (np.isfinite([x1, y1, x2, y2]).all() and x2 > x1 and y2 > y1):
        raise ValueError(
            f"RAF-DB box file {os.fspath(path)!r} holds {fields}, not corners "
            "'x1 y1 x2 y2' with x2 > x1 and y2 > y1"
        )
    x, y = round(x1), round(y1)
    return x, y, max(1, round(x2) - x), max(1, round(y2) - y)


def _read_attributes(path: Path) -> tuple[np.ndarray, str, str, str]:
    """Landmarks (5, 2), gender, race and age range of a ``*_manu_attri.txt`` file."""
    lines = [ln.split() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    lines = [ln for ln in lines if ln]
    expected = (
        "expected 5 lines 'x y' (eye centres, nose tip, mouth corners) then gender, race "
        "and age codes, one a line"
    )
    if len(lines) < 8 or any(len(ln) != 2 for ln in lines[:5]):
        raise ValueError(f"RAF-DB attribute file {os.fspath(path)!r} is malformed; {expected}")
    try:
        points = np.array([[float(v) for v in ln] for ln in lines[:5]], dtype=np.float32)
    except ValueError:
        raise ValueError(
            f"RAF-DB attribute file {os.fspath(path)!r} has a landmark that is not a number; "
            f"{expected}"
        ) from None
    values = []
    for line, what, names in (
        (lines[5], "gender", RAFDB_GENDERS),
        (lines[6], "race", RAFDB_RACES),
        (lines[7], "age", RAFDB_AGES),
    ):
        code = line[0]
        if len(line) != 1 or not code.isdigit() or int(code) >= len(names):
            raise ValueError(
                f"RAF-DB attribute file {os.fspath(path)!r} has the {what} code "
                f"{' '.join(line)!r}; expected one of 0-{len(names) - 1} "
                f"({', '.join(f'{i} {n}' for i, n in enumerate(names))})"
            )
        values.append(names[int(code)])
    return points, values[0], values[1], values[2]


def load_rafdb(
    path: str | os.PathLike,
    *,
    images: str = "aligned",
    annotations: bool | None = None,
    lazy: bool = False,
    color: str = "rgb",
    n_jobs: int | None = None,
) -> FERDataset:
    """Load RAF-DB's basic release: web faces, 7 classes, official train/test usage.

    Parameters
    ----------
    path : path
        The release's ``basic/`` folder, or the folder holding it.
    images : {"aligned", "original"}
        ``"aligned"``: the release's 100x100 aligned faces (``Image/aligned/``).
        ``"original"``: the full web images (``Image/original/``), of many sizes (load them
        with ``lazy=True``), with the face boxes of ``Annotation/boundingbox/`` as ``boxes``.
    annotations : bool, optional
        Whether to read the box files (``images="original"`` only) and the manual attributes
        (``Annotation/manual/``). None (default) reads those whose folder is there; True
        requires them; False reads none.
    lazy : bool
        Keep only the file paths (``images=None``); transformers then decode per batch.
    color : {"rgb", "gray"}
        Decode images as RGB ``(H, W, 3)`` or grayscale ``(H, W)``.
    n_jobs : int, optional
        Decoding threads.

    Returns
    -------
    FERDataset
        Named ``"rafdb"``, rows in the label file's order, classes :data:`RAFDB_CLASSES`,
        usage ``"train"``/``"test"``. With the manual attributes, ``columns`` holds
        ``"gender"`` (:data:`RAFDB_GENDERS`), ``"race"`` (:data:`RAFDB_RACES`) and ``"age"``
        (:data:`RAFDB_AGES`) as strings, and with ``images="original"`` also
        ``"landmarks"``, float32 ``(n, 5, 2)`` ``x, y`` in the original image's pixels (eye
        centres, nose tip, mouth corners). With boxes, ``boxes`` holds each face's
        ``x, y, w, h`` in the original image.

    Raises
    ------
    FileNotFoundError
        If ``path`` or its label file is missing, or some listed images (or, when read,
        annotation files) are: the first missing file and how many are missing are named.
    ValueError
        If a line of the label file, a box file or an attribute file is malformed (the file
        and line are named).
    """
    if images not in ("aligned", "original"):
        raise ValueError(f"images must be 'aligned' or 'original', got {plain_repr(images)}")
    if color not in ("gray", "rgb"):
        raise ValueError(f"color must be 'gray' or 'rgb', got {plain_repr(color)}")
    given = check_path(path, "RAF-DB folder")
    if not given.is_dir():
        raise NotADirectoryError(f"RAF-DB folder {os.fspath(given)!r} is not a directory")
    root, label_file = _release_root(given)
    names, labels, usages = _read_labels(label_file)
    stems = [name[: -len(".jpg")] for name in names]

    image_dir = root / "Image" / images
    if not image_dir.is_dir():
        raise FileNotFoundError(
            f"RAF-DB folder {os.fspath(root)!r} has no Image/{images}/ folder "
            f"(images={images!r}); {_LAYOUT}"
        )
    if images == "aligned":
        files = [image_dir / f"{stem}_aligned.jpg" for stem in stems]
    else:
        files = [image_dir / name for name in names]
    _require_files(files, "images", image_dir, root)

    boxes = None
    columns: dict[str, np.ndarray] = {}
    if annotations is not False and images == "original":
        found = _box_folder(root)
        if found is None and annotations:
            raise FileNotFoundError(
                f"RAF-DB folder {os.fspath(root)!r} has no Annotation/boundingbox/ folder "
                "(unzip Annotation/boundingbox.zip there, or pass annotations=False)"
            )
        if found is not None:
            folder, suffix = found
            box_files = [folder / f"{stem}{suffix}" for stem in stems]
            _require_files(box_files, "box files", folder, root)
            boxes = np.array([_read_box(f) for f in box_files], dtype=np.int64)
    manual = root / "Annotation" / "manual"
    if annotations is not False:
        if not manual.is_dir() and annotations:
            raise FileNotFoundError(
                f"RAF-DB folder {os.fspath(root)!r} has no Annotation/manual/ folder "
                "(unzip Annotation/manual.zip there, or pass annotations=False)"
            )
        if manual.is_dir():
            attr_files = [manual / f"{stem}_manu_attri.txt" for stem in stems]
            _require_files(attr_files, "attribute files", manual, root)
            read = [_read_attributes(f) for f in attr_files]
            columns["gender"] = np.array([r[1] for r in read])
            columns["race"] = np.array([r[2] for r in read])
            columns["age"] = np.array([r[3] for r in read])
            if images == "original":
                columns["landmarks"] = np.stack([r[0] for r in read])

    return dataset_from_files(
        [os.fspath(f) for f in files],
        labels,
        RAFDB_CLASSES,
        groups=None,
        name="rafdb",
        color=color,
        lazy=lazy,
        n_jobs=n_jobs,
        usage=usages,
        boxes=boxes,
        columns=columns,
    )
