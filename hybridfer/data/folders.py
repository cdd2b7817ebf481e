"""Class-per-folder image collections."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hybridfer.data.dataset import FERDataset
from hybridfer.images import IMAGE_SUFFIXES, check_path, read_images, stack_images

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
) -> FERDataset:
    """A :class:`FERDataset` over image files: decoded now (one stacked array; the first
    file of another size is named), or kept as paths when ``lazy``."""
    images = None
    if not lazy:
        images = stack_images(read_images(paths, color=color, n_jobs=n_jobs), paths)
    return FERDataset(
        images=images,
        labels=np.asarray(labels),
        classes=tuple(classes),
        paths=np.asarray(paths),
        groups=None if groups is None else np.asarray(groups),
        name=name,
    )
