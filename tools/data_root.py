"""Where the tests and the benchmarks find the real FER data: one rule for both.

``$HYBRIDFER_DATA`` when it is set and not empty, else ``../shared/data`` beside the
checkout. The folder holds ``fer2013/``, ``ckplus48/`` and ``jaffe/``. The ``hybridfer`` package itself
knows no default data folder.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_ENV", "REPO", "data_root"]

#: The environment variable naming the data folder.
DATA_ENV = "HYBRIDFER_DATA"
#: The root of the checkout.
REPO = Path(__file__).resolve().parents[1]


def data_root(arg: str | os.PathLike | None = None) -> Path:
    """The folder holding ``fer2013/``, ``ckplus48/`` and ``jaffe/``: ``arg`` when given, else
    ``$HYBRIDFER_DATA``, else ``../shared/data`` beside the checkout (it may not exist)."""
    if arg:
        return Path(arg)
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else REPO.parent / "shared" / "data"
