"""Where the benchmarks find the real FER data (shared by every script in this folder)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def data_root(arg: str | None = None) -> Path:
    """The folder holding ``fer2013/`` and ``ckplus48/``: ``arg``, else $HYBRIDFER_DATA,
    else ``../shared/data`` beside the checkout."""
    if arg:
        return Path(arg)
    env = os.environ.get("HYBRIDFER_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def fer2013_training_subsample(n_images: int, data: str | None = None):
    """A stratified subsample (seed 0) of FER2013 Training: gray ``(n, 48, 48)`` uint8 images
    and their labels. Exits with a message where FER2013 is not found."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from hybridfer.data import load_fer2013
    from hybridfer.images import read_images

    root = data_root(data) / "fer2013"
    if not root.exists():
        raise SystemExit(f"FER2013 not found at {root}: pass --data or set HYBRIDFER_DATA")
    ds = load_fer2013(root, usages="Training", lazy=True)
    idx, _ = train_test_split(
        np.arange(len(ds)), train_size=n_images, stratify=ds.labels, random_state=0
    )
    sub = ds.subset(np.sort(idx))
    return np.stack(read_images(list(sub.paths), "gray")), np.asarray(sub.labels)
