"""CK+48: the common 48x48 cut of the extended Cohn-Kanade frames, grouped by subject."""

from __future__ import annotations

import os

from hybridfer.data.dataset import FERDataset
from hybridfer.data.folders import load_image_folder

__all__ = ["CKPLUS_CLASSES", "SEQUENCE_PATTERN", "SUBJECT_PATTERN", "load_ckplus48"]

#: The seven CK+48 class folders, in alphabetical order.
CKPLUS_CLASSES: tuple[str, ...] = (
    "anger",
    "contempt",
    "disgust",
    "fear",
    "happy",
    "sadness",
    "surprise",
)
#: ``S<subject>_<sequence>_<frame>``: the subject is the group, the sequence the clip.
SUBJECT_PATTERN = r"^(S\d+)_"
SEQUENCE_PATTERN = r"^(S\d+_\d+)_"


def load_ckplus48(
    path: str | os.PathLike,
    classes: tuple[str, ...] | None = None,
    lazy: bool = False,
    n_jobs: int | None = None,
) -> FERDataset:
    """Load CK+48 with the subject of each frame as its group.

    Frames of one subject must never sit on both sides of a split: use
    :func:`hybridfer.data.make_cv` with ``groups=ds.groups``. The sequence id
    (``S005_001``) of each frame is ``parse_groups(ds.paths, SEQUENCE_PATTERN)``.

    Parameters
    ----------
    path : path
        The CK+48 folder (one subfolder per class).
    classes : tuple of str, optional
        Subset of :data:`CKPLUS_CLASSES` (default: the folders present, sorted).
    lazy, n_jobs
        As in :func:`hybridfer.data.load_image_folder`.
    """
    return load_image_folder(
        path,
        classes=classes,
        group_pattern=SUBJECT_PATTERN,
        lazy=lazy,
        n_jobs=n_jobs,
        name="ckplus48",
    )
