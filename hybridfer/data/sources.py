"""Every data set hybridfer reads, by name: its loader, the layout it reads, where it comes from.

:data:`DATASETS` is the registry (``hybridfer datasets`` prints it); :func:`load_dataset`
loads one by name, or by looking at the folder (:func:`detect_dataset`), which is what
``--data``/``--cross-data`` options and the ``[data]`` section's ``source = "auto"`` do.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybridfer._messages import plain_repr
from hybridfer.data.dataset import FERDataset
from hybridfer.images import IMAGE_SUFFIXES, check_path

__all__ = ["DATASETS", "DatasetSource", "detect_dataset", "load_dataset", "parse_dataset_spec"]


@dataclass(frozen=True)
class DatasetSource:
    """One registered data set.

    Attributes
    ----------
    name : str
        The registry key, also the ``name`` of the loaded :class:`FERDataset`.
    loader : str
        ``"module:function"`` of its loader.
    layout : str
        The files the loader reads, as the release lays them out.
    origin : str
        Where the data comes from (and under which terms).
    full_frames : bool
        Whether the images are whole pictures that need a face detector first
        (:class:`hybridfer.faces.FaceCropper`), rather than face crops.
    """

    name: str
    loader: str
    layout: str
    origin: str
    full_frames: bool = False

    def load(self, path: str | os.PathLike, **kwargs: Any) -> FERDataset:
        """Call the loader on ``path``."""
        module, function = self.loader.split(":")
        fn: Callable[..., FERDataset] = getattr(importlib.import_module(module), function)
        return fn(path, **kwargs)


def _entry(name, loader, layout, origin, full_frames=False):
    return name, DatasetSource(name, f"hybridfer.data.{loader}", layout, origin, full_frames)


#: The registered data sets, by name.
DATASETS: dict[str, DatasetSource] = dict(
    [
        _entry(
            "fer2013",
            "fer2013:load_fer2013",
            "fer2013.csv (emotion,pixels,Usage), or train/ and test/ class folders of 48x48 "
            "images named Training_*/PublicTest_*/PrivateTest_*",
            "Goodfellow et al. 2013, ICML challenge on Kaggle (research use)",
        ),
        _entry(
            "ferplus",
            "ferplus:load_ferplus",
            "fer2013.csv and Microsoft's fer2013new.csv (ten votes per row) side by side",
            "Barsoum et al. 2016, github.com/microsoft/FERPlus (labels MIT; images FER2013's)",
        ),
        _entry(
            "rafdb",
            "rafdb:load_rafdb",
            "basic/EmoLabel/list_patition_label.txt, basic/Image/aligned/ (100x100) and "
            "basic/Image/original/",
            "Li et al. 2017, whdeng.cn/RAF (academic licence on request)",
        ),
        _entry(
            "affectnet",
            "affectnet:load_affectnet",
            "train_set/ and val_set/ with images/ and annotations/<id>_exp.npy, or "
            "training.csv/validation.csv beside Manually_Annotated_Images/",
            "Mollahosseini et al. 2017, mohammadmahoor.com/affectnet (academic licence)",
        ),
        _entry(
            "expw",
            "expw:load_expw",
            "label/label.lst (one face box per line) and image/origin/ full photos",
            "Zhang et al. 2018, mmlab.ie.cuhk.edu.hk/projects/socialrelation (research use)",
            full_frames=True,
        ),
        _entry(
            "kdef",
            "kdef:load_kdef",
            "KDEF/<AF01>/<AF01AFS>.JPG: session, gender, subject, expression, angle",
            "Lundqvist et al. 1998, kdef.se (non-commercial research)",
            full_frames=True,
        ),
        _entry(
            "ckplus",
            "ckplus_full:load_ckplus",
            "cohn-kanade-images/S005/001/*.png sequences and Emotion/S005/001/*_emotion.txt",
            "Lucey et al. 2010, the extended Cohn-Kanade release (research agreement)",
            full_frames=True,
        ),
        _entry(
            "ckplus48",
            "ckplus:load_ckplus48",
            "one folder per class of 48x48 frames named S<subject>_<sequence>_<frame>.png",
            "the common 48x48 cut of CK+ (Kaggle); the CK+ agreement applies",
        ),
        _entry(
            "jaffe",
            "jaffe:load_jaffe",
            "one flat folder of <poser>.<code><n>.<id>.tiff full frames",
            "Lyons et al. 1998, zenodo.org/record/3451524 (non-commercial research)",
            full_frames=True,
        ),
        _entry(
            "folder",
            "folders:load_image_folder",
            "one subfolder of images per class",
            "any collection",
        ),
    ]
)

_JAFFE_NAME = re.compile(r"^[A-Za-z]+\.[A-Za-z]+\d+\.\d+\.[A-Za-z]+$")
_CK_NAME = re.compile(r"^S\d+_\d+_\d+")


def _sample_names(folder: Path, limit: int = 20) -> list[str]:
    names = []
    with os.scandir(folder) as it:
        for entry in it:
            if entry.is_file() and not entry.name.startswith("."):
                names.append(entry.name)
                if len(names) >= limit:
                    break
    return names


def _has_ckplus_folders(root: Path) -> bool:
    """A folder holding CK+'s image sequences and emotion labels (or holding them one level
    down, as in ``extended-cohn-kanade-images/cohn-kanade-images``)."""
    from hybridfer.data.ckplus_full import CKPLUS_EMOTION_DIR, CKPLUS_IMAGES_DIR

    def holds(folder: Path, name: str) -> bool:
        if (folder / name).is_dir():
            return True
        return any((p / name).is_dir() for p in folder.iterdir() if p.is_dir())

    try:
        return holds(root, CKPLUS_IMAGES_DIR) and holds(root, CKPLUS_EMOTION_DIR)
    except OSError:
        return False


def _detect(root: Path) -> str | None:
    if root.is_file():
        if root.suffix.lower() == ".csv":
            return "ferplus" if (root.parent / "fer2013new.csv").is_file() else "fer2013"
        return None
    children = {p.name.lower(): p for p in root.iterdir()}
    if "fer2013new.csv" in children:
        return "ferplus"
    if "fer2013.csv" in children:
        return "fer2013"
    base = children.get("basic", root)
    if (base / "EmoLabel" / "list_patition_label.txt").is_file():
        return "rafdb"
    if {"train_set", "val_set"} & set(children) or {"training.csv", "validation.csv"} & set(
        children
    ):
        return "affectnet"
    for base in (root, root / "data", root / "ExpW", root / "ExpW" / "data"):
        if (base / "label" / "label.lst").is_file():
            return "expw"
    if _has_ckplus_folders(root) or any(
        _has_ckplus_folders(p) for p in children.values() if p.is_dir()
    ):
        return "ckplus"
    if "kdef" in children or re.fullmatch(r"[AB][FM]\d\d", root.name):
        return "kdef"
    subdirs = [p for p in children.values() if p.is_dir()]
    if any(re.fullmatch(r"[AB][FM]\d\d", p.name) for p in subdirs):
        return "kdef"
    if {"train", "test"} <= set(children) or root.name.lower() in ("train", "test"):
        return "fer2013"
    files = [n for n in _sample_names(root) if n.lower().endswith((*IMAGE_SUFFIXES, ".tiff"))]
    if files and all(_JAFFE_NAME.match(n) for n in files):
        return "jaffe"
    if subdirs:
        inner = _sample_names(subdirs[0])
        if inner and all(_CK_NAME.match(n) for n in inner):
            return "ckplus48"
        return "folder"
    return None


def detect_dataset(path: str | os.PathLike) -> str:
    """The registered data set whose release layout ``path`` has (see :data:`DATASETS`).

    Raises
    ------
    ValueError
        If no registered layout matches; the message lists them.
    """
    root = check_path(path, "data set path")
    name = _detect(root)
    if name is None:
        layouts = "; ".join(f"{k}: {v.layout}" for k, v in DATASETS.items())
        raise ValueError(
            f"cannot tell which data set {os.fspath(root)!r} holds; expected one of these "
            f"layouts ({layouts}), or name it (e.g. 'jaffe:{os.fspath(root)}')"
        )
    return name


def parse_dataset_spec(spec: str | os.PathLike) -> tuple[str, str | os.PathLike]:
    """``"NAME:PATH"`` -> ``(NAME, PATH)`` for a registered NAME; a bare path ->
    ``(detect_dataset(path), path)``."""
    name, sep, rest = str(spec).partition(":")
    if sep and name.lower() in DATASETS:
        return name.lower(), rest
    return detect_dataset(spec), spec


def load_dataset(source: str, path: str | os.PathLike | None = None, **kwargs: Any) -> FERDataset:
    """Load a registered data set.

    Parameters
    ----------
    source : str
        A name in :data:`DATASETS`, ``"auto"`` (detect it from ``path``), or
        ``"NAME:PATH"`` / a bare path when ``path`` is None.
    path : path, optional
        The release's folder or file.
    **kwargs
        Passed to the loader (e.g. ``lazy=True``, ``mode="probability"``).
    """
    if path is None:
        source, path = parse_dataset_spec(source)
    name = str(source).lower()
    if name == "auto":
        name = detect_dataset(path)
    if name not in DATASETS:
        raise ValueError(
            f"unknown data set {plain_repr(source)}; expected one of {sorted(DATASETS)} or 'auto'"
        )
    return DATASETS[name].load(path, **kwargs)
