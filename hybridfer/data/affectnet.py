"""AffectNet: web faces with manually annotated expressions, valence and arousal.

Two layouts are read, told apart by what the folder holds:

``"npy"``, the widely distributed cut of the manually annotated images (8 classes, faces
already cropped to 224x224)::

    train_set/images/<id>.jpg
    train_set/annotations/<id>_exp.npy   expression code, a 0-d array: np.array('3')
    train_set/annotations/<id>_val.npy   valence, e.g. np.array('0.785714')
    train_set/annotations/<id>_aro.npy   arousal
    train_set/annotations/<id>_lnd.npy   68 landmarks x, y (136 numbers), optional
    val_set/...                          likewise

``"csv"``, the original release (http://mohammadmahoor.com/affectnet/)::

    training.csv, validation.csv         (also read from Manually_Annotated_file_lists/)
        subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,
        expression,valence,arousal
    Manually_Annotated_Images/<subDirectory_filePath>
        (or Manually_Annotated_compressed/Manually_Annotated_Images/...): full web images

Expression codes (:data:`AFFECTNET_CODES`): 0 neutral, 1 happy, 2 sad, 3 surprise, 4 fear,
5 disgust, 6 anger, 7 contempt, 8 none, 9 uncertain, 10 no-face. Codes 8-10 are not
expressions and their images are always dropped. By the counts the AffectNet paper publishes
(not checked here: the release is not available to this project), that keeps about 287,651
training rows with codes 0-7, and 4,000 of the 5,500 validation rows (500 a code); the npy cut
holds codes 0-7 only. The training set is the usage ``"train"``, the validation set
(AffectNet's de facto test set; its test set was never released) ``"val"``.

Valence and arousal are on [-1, 1]; AffectNet writes -2 where an image has none (no-face
images). Any value outside [-1, 1] (or not finite) is kept as NaN.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hybridfer._messages import plain_repr
from hybridfer.data.dataset import FERDataset
from hybridfer.data.folders import dataset_from_files
from hybridfer.images import IMAGE_SUFFIXES, check_path

__all__ = [
    "AFFECTNET_CLASSES",
    "AFFECTNET_CODES",
    "AFFECTNET_CSV_COLUMNS",
    "AFFECTNET_LAYOUTS",
    "AFFECTNET_USAGES",
    "load_affectnet",
]

#: AffectNet's eight expressions in the order of their codes 0..7.
AFFECTNET_CLASSES: tuple[str, ...] = (
    "neutral",
    "happy",
    "sad",
    "surprise",
    "fear",
    "disgust",
    "anger",
    "contempt",
)
#: Every expression code of the release; 8, 9 and 10 are not expressions (always dropped).
AFFECTNET_CODES: dict[int, str] = {
    **dict(enumerate(AFFECTNET_CLASSES)),
    8: "none",
    9: "uncertain",
    10: "no-face",
}
#: Official splits: the training set and the validation set.
AFFECTNET_USAGES: tuple[str, ...] = ("train", "val")
#: The layouts read: the 8-class npy cut and the original CSV release.
AFFECTNET_LAYOUTS: tuple[str, ...] = ("npy", "csv")
#: Header of the original release's ``training.csv`` and ``validation.csv``.
AFFECTNET_CSV_COLUMNS: tuple[str, ...] = (
    "subDirectory_filePath",
    "face_x",
    "face_y",
    "face_width",
    "face_height",
    "facial_landmarks",
    "expression",
    "valence",
    "arousal",
)

_NPY_DIRS = {"train": "train_set", "val": "val_set"}
_CSV_FILES = {"train": "training.csv", "val": "validation.csv"}
_CSV_HOMES = ("", "Manually_Annotated_file_lists")
_IMAGE_HOMES = (
    "Manually_Annotated_Images",
    os.path.join("Manually_Annotated_compressed", "Manually_Annotated_Images"),
)
_LAYOUTS_TEXT = (
    "expected either the npy cut (train_set/ and/or val_set/, each with images/<id>.jpg and "
    "annotations/<id>_exp.npy, <id>_val.npy, <id>_aro.npy) or the original CSV release "
    "(training.csv and/or validation.csv, at the top or in Manually_Annotated_file_lists/, "
    "with the images in Manually_Annotated_Images/)"
)


# --- values ------------------------------------------------------------------------------


def _scalar(value: object) -> object:
    """The one value of a 0-d or 1-element array (or ``value`` itself)."""
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"holds {value.size} values, not one")
        return value.reshape(-1)[0].item()
    return value


def _code(value: object, where: str) -> int:
    """An expression code 0..10 from an int or a string such as ``'3'``."""
    try:
        raw = _scalar(value)
    except ValueError as exc:
        raise ValueError(f"{where} {exc}; expected one expression code 0-10") from None
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    code: int | None = None
    if isinstance(raw, (bool, np.bool_)):
        code = None
    elif isinstance(raw, (int, np.integer)):
        code = int(raw)
    elif isinstance(raw, (float, np.floating)) and float(raw).is_integer():
        code = int(raw)
    elif isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        code = int(raw.strip())
    if code is None or code not in AFFECTNET_CODES:
        raise ValueError(
            f"{where} has the expression code {plain_repr(raw)}; expected 0-10 "
            f"({', '.join(f'{k} {v}' for k, v in AFFECTNET_CODES.items())})"
        )
    return code


def _affect(value: object, where: str, what: str) -> float:
    """A valence or arousal value; NaN when outside [-1, 1] (AffectNet's -2: none)."""
    try:
        raw = _scalar(value)
        if isinstance(raw, bytes):
            raw = raw.decode("ascii", "replace")
        number = float(raw)
    except (TypeError, ValueError):
        raise ValueError(
            f"{where} has the {what} {plain_repr(value)}; expected a number on [-1, 1] "
            "(-2 where there is none)"
        ) from None
    return number if np.isfinite(number) and -1.0 <= number <= 1.0 else float("nan")


def _landmarks(value: object, where: str) -> np.ndarray:
    """68 landmarks ``(68, 2)`` from 136 numbers ``x0, y0, x1, y1, ...``."""
    try:
        points = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        points = None
    if points is None or points.size != 136:
        size = "values that are not numbers" if points is None else f"{points.size} values"
        raise ValueError(f"{where} has {size} as landmarks; expected 136 numbers (68 points x, y)")
    return points.reshape(68, 2).astype(np.float32)


# --- layouts -----------------------------------------------------------------------------


def _npy_splits(root: Path) -> dict[str, Path]:
    return {
        usage: root / folder
        for usage, folder in _NPY_DIRS.items()
        if (root / folder / "images").is_dir() and (root / folder / "annotations").is_dir()
    }


def _csv_splits(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for usage, name in _CSV_FILES.items():
        for home in _CSV_HOMES:
            if (root / home / name).is_file():
                found[usage] = root / home / name
                break
    return found


def _natural(name: str) -> tuple[int, int, str]:
    stem = Path(name).stem
    return (0, int(stem), name) if stem.isdigit() else (1, 0, name)


def _missing(root: Path, what: str, missing: list[str], total: int, where: Path) -> None:
    if missing:
        raise FileNotFoundError(
            f"AffectNet folder {os.fspath(root)!r}: {len(missing)} of {total} {what} are "
            f"missing from {os.fspath(where)!r}, the first {missing[0]!r}"
        )


def _load_npy(
    root: Path, split: Path, usage: str, keep: int, landmarks: bool
) -> tuple[list[str], list[str], list[float], list[float], list[np.ndarray]]:
    """Paths, labels, valence, arousal (and landmarks) of one npy split's kept images."""
    image_dir, ann_dir = split / "images", split / "annotations"
    with os.scandir(image_dir) as it:
        names = sorted(
            (e.name for e in it if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES)),
            key=_natural,
        )
    if not names:
        raise ValueError(
            f"AffectNet folder {os.fspath(root)!r}: {os.fspath(image_dir)!r} has no images; "
            "expected <id>.jpg files"
        )
    with os.scandir(ann_dir) as it:
        present = {e.name for e in it}
    ids = [Path(n).stem for n in names]
    kinds = ["exp", "val", "aro"] + (["lnd"] if landmarks else [])
    for kind in kinds:
        missing = [f"{i}_{kind}.npy" for i in ids if f"{i}_{kind}.npy" not in present]
        _missing(root, f"{usage} annotation files <id>_{kind}.npy", missing, len(ids), ann_dir)

    def load(i: str, kind: str) -> np.ndarray:
        file = ann_dir / f"{i}_{kind}.npy"
        try:
            return np.load(file, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"AffectNet annotation file {os.fspath(file)!r} is not a readable .npy array: {exc}"
            ) from None

    paths: list[str] = []
    labels: list[str] = []
    valence: list[float] = []
    arousal: list[float] = []
    points: list[np.ndarray] = []
    for name, i in zip(names, ids, strict=True):
        exp_file = os.fspath(ann_dir / f"{i}_exp.npy")
        code = _code(load(i, "exp"), f"AffectNet annotation file {exp_file!r}")
        if code >= keep:
            continue
        paths.append(os.fspath(image_dir / name))
        labels.append(AFFECTNET_CLASSES[code])
        for kind, out, what in (("val", valence, "valence"), ("aro", arousal, "arousal")):
            where = f"AffectNet annotation file {os.fspath(ann_dir / f'{i}_{kind}.npy')!r}"
            out.append(_affect(load(i, kind), where, what))
        if landmarks:
            where = f"AffectNet annotation file {os.fspath(ann_dir / f'{i}_lnd.npy')!r}"
            points.append(_landmarks(load(i, "lnd"), where))
    return paths, labels, valence, arousal, points


def _image_home(root: Path, csv_file: Path) -> Path:
    for base in dict.fromkeys((root, csv_file.parent, csv_file.parent.parent)):
        for home in _IMAGE_HOMES:
            if (base / home).is_dir():
                return base / home
    raise FileNotFoundError(
        f"AffectNet folder {os.fspath(root)!r} has {csv_file.name} but no "
        "Manually_Annotated_Images/ folder (nor Manually_Annotated_compressed/"
        "Manually_Annotated_Images/); the CSV's subDirectory_filePath is read under it"
    )


def _load_csv(
    root: Path, csv_file: Path, usage: str, keep: int, landmarks: bool
) -> tuple[list[str], list[str], list[float], list[float], list[np.ndarray], list[tuple]]:
    """Paths, labels, valence, arousal, landmarks and boxes of one CSV's kept rows."""
    images = _image_home(root, csv_file)
    paths: list[str] = []
    labels: list[str] = []
    valence: list[float] = []
    arousal: list[float] = []
    points: list[np.ndarray] = []
    boxes: list[tuple[int, int, int, int]] = []
    with open(csv_file, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        absent = [c for c in AFFECTNET_CSV_COLUMNS if c not in header]
        if absent:
            raise ValueError(
                f"AffectNet CSV {os.fspath(csv_file)!r} has no column(s) {absent}; its "
                f"header is {header[:12]}, expected {','.join(AFFECTNET_CSV_COLUMNS)}"
            )
        for row in reader:
            where = f"line {reader.line_num} of {os.fspath(csv_file)!r}"
            code = _code(row["expression"], where)
            if code >= keep:
                continue
            try:
                box = tuple(
                    int(float(row[c])) for c in ("face_x", "face_y", "face_width", "face_height")
                )
            except (TypeError, ValueError):
                raise ValueError(
                    f"{where} has the face box {[row[c] for c in AFFECTNET_CSV_COLUMNS[1:5]]}; "
                    "expected four integers face_x, face_y, face_width, face_height"
                ) from None
            paths.append(os.fspath(images / row["subDirectory_filePath"]))
            labels.append(AFFECTNET_CLASSES[code])
            valence.append(_affect(row["valence"], where, "valence"))
            arousal.append(_affect(row["arousal"], where, "arousal"))
            boxes.append(box)
            if landmarks:
                text = (row["facial_landmarks"] or "").strip().strip(";")
                fields = [v for v in text.split(";") if v.strip()]
                try:
                    values = [float(v) for v in fields]
                except ValueError:
                    values = fields
                points.append(_landmarks(values, where))
    missing = [p for p in paths if not os.path.isfile(p)]
    _missing(root, f"images listed in {csv_file.name}", missing, len(paths), images)
    return paths, labels, valence, arousal, points, boxes


# --- loader ------------------------------------------------------------------------------


def load_affectnet(
    path: str | os.PathLike,
    *,
    subset: str | Sequence[str] | None = None,
    classes: int = 8,
    layout: str | None = None,
    landmarks: bool = False,
    lazy: bool = False,
    color: str = "rgb",
    n_jobs: int | None = None,
) -> FERDataset:
    """Load AffectNet's manually annotated images, from the npy cut or the CSV release.

    Codes 8-10 (none, uncertain, no-face) are always dropped (by the paper's published counts,
    4,000 of the 5,500 validation rows are kept); the npy cut has no such code.

    Parameters
    ----------
    path : path
        The folder holding ``train_set/``/``val_set/`` (npy cut) or ``training.csv``/
        ``validation.csv`` and ``Manually_Annotated_Images/`` (CSV release).
    subset : {"train", "val"} or list of them, optional
        Which official splits to load (default: every one present).
    classes : {8, 7}
        8 keeps all of :data:`AFFECTNET_CLASSES`; 7 drops contempt (code 7) as well, for
        the 7-class protocol, and the classes are then the first seven.
    layout : {"npy", "csv"}, optional
        Which layout to read; None detects it (and refuses a folder holding both).
    landmarks : bool
        Also read the 68 landmarks (``_lnd.npy`` files, or the CSV's ``facial_landmarks``)
        into ``columns["landmarks"]``, float32 ``(n, 68, 2)`` ``x, y`` in the image's pixels.
    lazy : bool
        Keep only the file paths (``images=None``); transformers then decode per batch. The
        CSV release's full images have many sizes: load them lazily.
    color : {"rgb", "gray"}
        Decode images as RGB ``(H, W, 3)`` or grayscale ``(H, W)``.
    n_jobs : int, optional
        Decoding threads.

    Returns
    -------
    FERDataset
        Named ``"affectnet"``, usage ``"train"``/``"val"`` (train first), classes
        :data:`AFFECTNET_CLASSES` (or its first seven), ``columns["valence"]`` and
        ``columns["arousal"]`` float32, NaN where a value is outside [-1, 1] (AffectNet's -2:
        not annotated). The npy cut's rows follow the numeric image ids; the CSV's its row
        order, with ``boxes`` the CSV's face boxes ``x, y, w, h``.

    Raises
    ------
    FileNotFoundError
        If ``path``, a requested split, the image folder, listed images or annotation files
        are missing (the first missing file and how many are missing are named).
    ValueError
        If the folder holds neither layout (both are described), if an expression code,
        valence, arousal, box or landmark value is malformed (the file and line are named),
        or if no image is left.
    """
    if classes not in (7, 8):
        raise ValueError(f"classes must be 8 or 7 (7 drops contempt), got {plain_repr(classes)}")
    if layout is not None and layout not in AFFECTNET_LAYOUTS:
        raise ValueError(f"layout must be 'npy', 'csv' or None, got {plain_repr(layout)}")
    if color not in ("gray", "rgb"):
        raise ValueError(f"color must be 'gray' or 'rgb', got {plain_repr(color)}")
    wanted: list[str] | None = None
    if subset is not None:
        wanted = [subset] if isinstance(subset, str) else list(subset)
        unknown = [s for s in wanted if s not in AFFECTNET_USAGES]
        if unknown or not wanted:
            raise ValueError(
                f"subset must be 'train', 'val' or a list of them, got {plain_repr(subset)}"
            )
    root = check_path(path, "AffectNet folder")
    if not root.is_dir():
        raise NotADirectoryError(f"AffectNet folder {os.fspath(root)!r} is not a directory")

    found = {"npy": _npy_splits(root), "csv": _csv_splits(root)}
    if layout is None:
        present = [name for name in AFFECTNET_LAYOUTS if found[name]]
        if not present:
            held = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
            holds = f"it holds {held[:8]}" if held else "it is empty"
            raise ValueError(
                f"AffectNet folder {os.fspath(root)!r} holds neither AffectNet layout ({holds}); "
                f"{_LAYOUTS_TEXT}"
            )
        if len(present) > 1:
            raise ValueError(
                f"AffectNet folder {os.fspath(root)!r} holds both the npy cut and the CSV "
                "release; pass layout='npy' or layout='csv'"
            )
        layout = present[0]
    splits = found[layout]
    usages = [u for u in AFFECTNET_USAGES if u in splits] if wanted is None else wanted
    absent = [u for u in usages if u not in splits]
    if not splits or absent:
        what = {
            "npy": {u: f"{d}/images/ and {d}/annotations/" for u, d in _NPY_DIRS.items()},
            "csv": _CSV_FILES,
        }[layout]
        raise FileNotFoundError(
            f"AffectNet folder {os.fspath(root)!r} ({layout} layout) has no "
            f"{' or '.join(what[u] for u in (absent or AFFECTNET_USAGES))}; {_LAYOUTS_TEXT}"
        )

    keep = classes  # codes below it are kept: 8 keeps 0-7, 7 drops contempt too
    paths: list[str] = []
    labels: list[str] = []
    usage: list[str] = []
    valence: list[float] = []
    arousal: list[float] = []
    points: list[np.ndarray] = []
    boxes: list[tuple] | None = [] if layout == "csv" else None
    for u in usages:
        if layout == "npy":
            p, lab, va, ar, pts = _load_npy(root, splits[u], u, keep, landmarks)
        else:
            p, lab, va, ar, pts, bx = _load_csv(root, splits[u], u, keep, landmarks)
            boxes.extend(bx)
        paths += p
        labels += lab
        usage += [u] * len(p)
        valence += va
        arousal += ar
        points += pts
    if not paths:
        raise ValueError(
            f"AffectNet folder {os.fspath(root)!r} has no image with an expression code "
            f"0-{keep - 1} in {usages}"
        )
    columns = {
        "valence": np.asarray(valence, dtype=np.float32),
        "arousal": np.asarray(arousal, dtype=np.float32),
    }
    if landmarks:
        columns["landmarks"] = np.stack(points)
    return dataset_from_files(
        paths,
        labels,
        AFFECTNET_CLASSES[:keep],
        groups=None,
        name="affectnet",
        color=color,
        lazy=lazy,
        n_jobs=n_jobs,
        usage=usage,
        boxes=None if boxes is None else np.asarray(boxes, dtype=np.int64).reshape(-1, 4),
        columns=columns,
    )
