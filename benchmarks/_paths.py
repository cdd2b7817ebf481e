"""Where the benchmarks find the real FER data (shared by every script in this folder).

The rule itself, ``$HYBRIDFER_DATA`` else ``../shared/data``, is ``tools/data_root.py``'s,
which the tests use too.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the scripts run as ``python benchmarks/x.py``
    sys.path.insert(0, str(REPO))

from tools.data_root import data_root  # noqa: E402

__all__ = ["REPO", "data_root", "fer2013_training_subsample"]


def fer2013_training_subsample(n_images: int, data: str | None = None):
    """A stratified subsample (seed 0) of FER2013 Training: gray ``(n, 48, 48)`` uint8 images
    and their labels. Exits with a message where FER2013 is not found."""
    import numpy as np

    from hybridfer.data import load_fer2013, stratified_holdout
    from hybridfer.images import read_images

    root = data_root(data) / "fer2013"
    if not root.exists():
        raise SystemExit(f"FER2013 not found at {root}: pass --data or set HYBRIDFER_DATA")
    ds = load_fer2013(root, usages="Training", lazy=True)
    idx, _ = stratified_holdout(ds.labels, train_size=n_images, random_state=0)
    sub = ds.subset(idx)
    return np.stack(read_images(list(sub.paths), "gray")), np.asarray(sub.labels)
