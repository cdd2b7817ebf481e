"""Shared fixtures: tiny synthetic data for speed, and the real FER data where present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def real_data_root() -> Path | None:
    """The folder with fer2013/ and ckplus48/: $HYBRIDFER_DATA, else ../shared/data."""
    env = os.environ.get("HYBRIDFER_DATA")
    root = Path(env) if env else REPO.parent / "shared" / "data"
    return root if (root / "fer2013").is_dir() or (root / "ckplus48").is_dir() else None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = real_data_root()
    if root is None:
        pytest.skip(
            "real FER data not found: set HYBRIDFER_DATA to the folder holding fer2013/ and "
            "ckplus48/ (default ../shared/data)"
        )
    return root


@pytest.fixture(scope="session")
def fer2013_root(data_root: Path) -> Path:
    root = data_root / "fer2013"
    if not root.is_dir():
        pytest.skip(f"FER2013 image folders not found under {data_root}")
    return root


@pytest.fixture(scope="session")
def ckplus_root(data_root: Path) -> Path:
    root = data_root / "ckplus48"
    if not root.is_dir():
        pytest.skip(f"CK+48 folder not found under {data_root}")
    return root


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
