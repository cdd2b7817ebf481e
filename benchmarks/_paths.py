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
