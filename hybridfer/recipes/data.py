"""The data a recipe reads: finding it, checking it holds what a protocol needs, subsets, and the
validation part a training picks its best epoch on.

- :func:`find_data`: ``--data`` itself, or the data set's folder inside it;
- :func:`require_usages`: the FER2013 usages a protocol needs, or a :class:`RecipeError` naming
  those found;
- :func:`open_fer2013` (lazily, paths only), :func:`load_fer2013_subset` and
  :func:`load_ckplus`: the two data sets, decoded, optionally reduced (a stratified subset of
  FER2013, some CK+48 subjects);
- :func:`carve_validation_part`: a validation part carved out of a training part
  (subject-grouped under an honest protocol, random under a paper's);
  :func:`train_validation_parts`: the (train, validation) pair of a protocol split, its own
  validation part when the protocol has one, else a carved one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hybridfer.recipes.base import RecipeError

__all__ = [
    "carve_validation_part",
    "find_data",
    "load_ckplus",
    "load_fer2013_subset",
    "open_fer2013",
    "require_usages",
    "train_validation_parts",
]


def find_data(data: str | os.PathLike, folder: str, what: str) -> Path:
    """``data`` itself, or ``data/folder`` when it exists (a folder holding several sets)."""
    path = Path(data)
    if not path.exists():
        raise RecipeError(f"--data {os.fspath(path)!r} does not exist; expected {what}")
    return path / folder if (path / folder).exists() else path


def require_usages(ds: Any, data: str | os.PathLike, need: Sequence[str]) -> list[str]:
    """The sorted usages of FER2013 ``ds`` (read from ``data``); a :class:`RecipeError`
    naming them when one of ``need`` is absent."""
    usages = sorted(set(ds.usage.tolist()))
    if any(u not in usages for u in need):
        raise RecipeError(
            f"FER2013 at {os.fspath(data)!r} holds the usages {usages}; this protocol needs "
            f"{list(need)}"
        )
    return usages


def open_fer2013(data: str | os.PathLike, need: Sequence[str] = ()) -> Any:
    """FER2013 (``data`` or ``data/fer2013``) read lazily (paths, not pixels), holding the
    usages ``need``; a loader's complaint becomes a :class:`RecipeError`."""
    from hybridfer.data import load_fer2013

    path = find_data(data, "fer2013", "FER2013")
    try:
        ds = load_fer2013(path, lazy=True)
    except (ValueError, OSError) as exc:  # the loader names the file and what it expected
        raise RecipeError(f"--data {os.fspath(path)!r}: {exc}") from None
    require_usages(ds, data, need)
    return ds


def load_fer2013_subset(
    data: str | os.PathLike,
    *,
    max_images: int | None = None,
    fraction: float | None = None,
    need: Sequence[str] = (),
    random_state: int = 0,
) -> Any:
    """FER2013 (``data`` or ``data/fer2013``), decoded, optionally a subset stratified by
    usage and class (``max_images`` images, or a ``fraction`` of them).

    ``need`` names the usages the caller's protocols need; their absence is a
    :class:`RecipeError` naming the usages found (:func:`require_usages`).
    """
    from hybridfer.data import stratified_holdout
    from hybridfer.images import read_images

    if fraction is not None and not 0.0 < float(fraction) <= 1.0:
        raise RecipeError(f"fraction must be in (0, 1], got {fraction!r}")
    ds = open_fer2013(data, need)
    n = len(ds)
    if max_images is not None:
        n = min(n, int(max_images))
    if fraction is not None:
        n = min(n, int(round(float(fraction) * len(ds))))
    if n < len(ds):  # stratified by usage and class; a stratum of one row cannot be split
        strata = np.char.add(np.char.add(ds.usage, "/"), ds.labels)
        rows, _ = stratified_holdout(
            strata, train_size=n, random_state=random_state, stratify="pool_rare"
        )
        ds = ds.subset(rows)
    else:
        ds = ds.subset(np.arange(len(ds)))
    if ds.images is None:
        ds.images = np.stack(read_images(list(ds.paths), "gray"))
    return ds


def load_ckplus(
    data: str | os.PathLike, *, max_subjects: int | None = None, random_state: int = 0
) -> Any:
    """CK+48 (``data`` or ``data/ckplus48``), decoded, with subjects as groups; optionally the
    frames of ``max_subjects`` randomly chosen subjects only (smoke scale)."""
    from hybridfer.data import load_ckplus48

    path = find_data(data, "ckplus48", "CK+48 (one folder per class)")
    try:
        ds = load_ckplus48(path)
    except (ValueError, OSError) as exc:  # the loader names the file and what it expected
        raise RecipeError(f"no CK+48 frames under {os.fspath(path)!r}: {exc}") from None
    if ds.groups is None or not len(ds):
        raise RecipeError(f"no CK+48 frames named S<subject>_... under {os.fspath(data)!r}")
    subjects = np.unique(ds.groups)
    if max_subjects is not None and len(subjects) > max_subjects:
        rng = np.random.default_rng(random_state)
        keep = rng.choice(subjects, size=int(max_subjects), replace=False)
        ds = ds.subset(np.isin(ds.groups, keep))
    return ds


def carve_validation_part(
    train: Any, fraction: float, *, grouped: bool, random_state: int = 0
) -> tuple[Any, Any]:
    """Carve a validation part (for picking the best epoch) out of a training part.

    ``grouped=True`` (honest protocols) keeps every subject on one side (when the part has
    groups); ``grouped=False`` (a paper's protocol) draws the validation images at random,
    stratified by class, as the paper's own splits do.

    Returns
    -------
    (train, validation) : tuple of FERDataset
    """
    from hybridfer.data import holdout_split, stratified_holdout

    if train.groups is None:
        return holdout_split(train, fraction, random_state)
    if grouped:
        n_groups = len(np.unique(train.groups))
        if n_groups < 2:
            raise RecipeError(
                f"{train.name} holds the images of {n_groups} subject; a subject-grouped "
                "validation part needs at least 2"
            )
        # few subjects (tiny data): one subject's share at least
        fraction = max(float(fraction), 1.0 / n_groups)
        try:
            return holdout_split(train, fraction, random_state)
        except ValueError:  # classes too small to stratify by subject: plain grouped split
            from sklearn.model_selection import GroupShuffleSplit

            splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=random_state)
            tr, va = next(splitter.split(train.labels, train.labels, train.groups))
            return train.subset(np.sort(tr)), train.subset(np.sort(va))
    # stratified by class; a plain random split where a class is too small (tiny data)
    tr, va = stratified_holdout(
        train.labels, fraction, random_state=random_state, stratify="if_possible"
    )
    return train.subset(tr), train.subset(va)


def train_validation_parts(
    split: Any, fraction: float, *, grouped: bool, random_state: int = 0
) -> tuple[Any, Any]:
    """(train, validation) of a protocol split: the protocol's own validation part when it
    has one, else one carved from training by :func:`carve_validation_part`. Validation
    images of a class the training part lacks (tiny data) are left out: no epoch can be
    scored on them."""
    train, val = split.train, split.val
    if val is None:
        train, val = carve_validation_part(
            train, fraction, grouped=grouped, random_state=random_state
        )
    known = np.isin(val.labels, np.unique(train.labels))
    if not known.all():
        val = val.subset(known)
    return train, val
