"""Class-per-folder image collections."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from hybridfer.data.dataset import FERDataset
from hybridfer.images import IMAGE_SUFFIXES, check_path, read_image, read_images, stack_images

__all__ = ["dataset_from_files", "list_image_folder", "load_image_folder", "parse_groups"]


def list_image_folder(
    root: str | os.PathLike, classes: Sequence[str] | None = None
) -> tuple[list[str], list[str], tuple[str, ...]]:
    """List the image files of a class-per-folder tree.

    Returns
    -------
    paths, labels, classes
        Sorted file paths, their class names, and the class order used.
    """
    root = check_path(root, "image folder")
    if not root.is_dir():
        raise NotADirectoryError(f"image folder {os.fspath(root)!r} is not a directory")
    found = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not found:
        raise ValueError(
            f"image folder {os.fspath(root)!r} has no class subfolders; expected one "
            "subfolder of images per class"
        )
    if classes is None:
        classes = tuple(found)
    else:
        classes = tuple(classes)
        unknown = [c for c in classes if c not in found]
        if unknown:
            raise ValueError(
                f"classes {unknown} have no subfolder in {os.fspath(root)!r}; available: {found}"
            )
    paths: list[str] = []
    labels: list[str] = []
    for cls in classes:
        with os.scandir(root / cls) as it:
            files = sorted(
                e.path for e in it if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES)
            )
        paths.extend(files)
        labels.extend([cls] * len(files))
    if not paths:
        hint = ""
        if len(classes) == 1:
            inner = sorted(d.name for d in (root / classes[0]).iterdir() if d.is_dir())
            if inner:
                hint = (
                    f"; its only subfolder {classes[0]!r} holds folders {inner[:8]}: if those "
                    f"are the classes, pass {os.fspath(root / classes[0])!r}"
                )
        raise ValueError(
            f"image folder {os.fspath(root)!r} has no image files ({', '.join(IMAGE_SUFFIXES)}) "
            f"in its class subfolders {list(classes)}{hint}"
        )
    return paths, labels, classes


def parse_groups(paths: Sequence[str], pattern: str) -> np.ndarray:
    """Extract a group id from each file name with a regular expression.

    The first capture group (or the whole match if there is none) is the group id.
    """
    regex = re.compile(pattern)
    groups = []
    for p in paths:
        m = regex.search(Path(p).name)
        if m is None:
            raise ValueError(
                f"file name {Path(p).name!r} does not match group_pattern {pattern!r}; "
                "every file needs a group id"
            )
        groups.append(m.group(1) if m.groups() else m.group(0))
    return np.asarray(groups, dtype=str)


def load_image_folder(
    root: str | os.PathLike,
    classes: Sequence[str] | None = None,
    color: str = "gray",
    group_pattern: str | None = None,
    lazy: bool = False,
    n_jobs: int | None = None,
    name: str | None = None,
) -> FERDataset:
    """Load a class-per-folder image tree (``root/<class>/<image>``).

    Parameters
    ----------
    root : path
        Folder with one subfolder per class.
    classes : sequence of str, optional
        Which class folders to load, in this order (default: all, sorted).
    color : {"gray", "rgb"}
        Decode images as grayscale ``(H, W)`` or RGB ``(H, W, 3)``.
    group_pattern : str, optional
        Regular expression whose first group, searched in each file name, is that image's
        group (e.g. ``r"^(S\\d+)_"`` for CK+ subjects).
    lazy : bool
        Keep only the file paths (``images=None``); transformers then decode per batch.
    n_jobs : int, optional
        Decoding threads.
    name : str, optional
        Dataset name (default: the folder name).
    """
    paths, labels, classes = list_image_folder(root, classes)
    groups = parse_groups(paths, group_pattern) if group_pattern else None
    return dataset_from_files(
        paths,
        labels,
        classes,
        groups=groups,
        name=name or Path(root).name,
        color=color,
        lazy=lazy,
        n_jobs=n_jobs,
    )


def _resized(image: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """``image`` resized (bilinear) to ``size`` ``(h, w)``, or as it is when None or equal."""
    if size is None or image.shape[:2] == size:
        return image
    pil = Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.asarray(pil, dtype=np.uint8)


def _read_resized(
    paths: Sequence[str],
    *,
    color: str,
    size: tuple[int, int] | None,
    n_jobs: int | None,
) -> np.ndarray:
    """Decode ``paths`` in ``color``, each resized to ``size`` when given, stacked (the first
    file of another size is named when ``size`` is None)."""
    paths = list(paths)
    if size is None:
        return stack_images(read_images(paths, color=color, n_jobs=n_jobs), paths)
    n_jobs = min(8, os.cpu_count() or 1) if n_jobs is None else n_jobs

    def one(p: str) -> np.ndarray:
        return _resized(read_image(p, color), size)

    if n_jobs <= 1 or len(paths) < 64:
        return np.stack([one(p) for p in paths])
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        return np.stack(list(pool.map(one, paths, chunksize=64)))


def dataset_from_files(
    paths: Sequence[str],
    labels: Sequence[str],
    classes: Sequence[str],
    *,
    groups: Sequence[str] | np.ndarray | None,
    name: str,
    color: str = "gray",
    lazy: bool = False,
    n_jobs: int | None = None,
    size: tuple[int, int] | None = None,
    usage: Sequence[str] | np.ndarray | None = None,
    boxes: np.ndarray | None = None,
    columns: dict[str, np.ndarray] | None = None,
) -> FERDataset:
    """A :class:`FERDataset` over image files: decoded now (one stacked array, each image
    resized to ``size`` ``(h, w)`` when given, else the first file of another size is named),
    or kept as paths when ``lazy``; ``usage``, ``boxes`` and ``columns`` as the data set
    has them."""
    if lazy and size is not None:
        raise ValueError("size resizes the decoded images; it does not apply with lazy=True")
    images = None
    if not lazy:
        images = _read_resized(paths, color=color, size=size, n_jobs=n_jobs)
    return FERDataset(
        images=images,
        labels=np.asarray(labels),
        classes=tuple(classes),
        paths=np.asarray(paths),
        groups=None if groups is None else np.asarray(groups),
        usage=None if usage is None else np.asarray(usage),
        name=name,
        boxes=boxes,
        columns=dict(columns or {}),
    )
