"""Shared fixtures: tiny synthetic data for speed, and the real FER data where present.

Plain helpers (the tiny study configuration, synthetic images, ...) are in ``_helpers.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # tools/ (the data-root rule, the layering check)
    sys.path.insert(0, str(REPO))

from _helpers import N_FRAMES, N_SEQ, N_SUBJECTS  # noqa: E402

from tools.data_root import data_root as _data_root_rule  # noqa: E402


def real_data_root() -> Path | None:
    """The folder with fer2013/, ckplus48/ and jaffe/ (tools/data_root.py: $HYBRIDFER_DATA,
    else ../shared/data), or None when it holds none of them."""
    root = _data_root_rule()
    found = any((root / name).is_dir() for name in ("fer2013", "ckplus48", "jaffe"))
    return root if found else None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = real_data_root()
    if root is None:
        pytest.skip(
            "real FER data not found: set HYBRIDFER_DATA to the folder holding fer2013/ and "
            "ckplus48/ (default ../shared/data)"
        )
    return root


def _real_folder(data_root: Path, name: str, what: str) -> Path:
    root = data_root / name
    if not root.is_dir():
        pytest.skip(f"{what} not found under {data_root}")
    return root


@pytest.fixture(scope="session")
def fer2013_root(data_root: Path) -> Path:
    return _real_folder(data_root, "fer2013", "FER2013 image folders")


@pytest.fixture(scope="session")
def ckplus_root(data_root: Path) -> Path:
    return _real_folder(data_root, "ckplus48", "CK+48 folder")


@pytest.fixture(scope="session")
def jaffe_root(data_root: Path) -> Path:
    return _real_folder(data_root, "jaffe", "JAFFE folder")


@pytest.fixture
def astronaut() -> np.ndarray:
    """``skimage.data.astronaut()``: a real 512x512 RGB photograph with one face."""
    import skimage.data

    return skimage.data.astronaut()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module (``pytestmark = pytest.mark.usefixtures(...)``): on a
    small, shared CPU, OpenMP thread teams mostly wait on each other (measured 50x slower
    forwards of tiny models with 2 threads under load)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_ckplus(tmp_path_factory) -> Path:
    """A tiny CK+48-like folder (one per test module): ``N_SUBJECTS`` subjects with ``N_SEQ``
    sequences of ``N_FRAMES`` near-copy frames each (``_helpers.py``)."""
    from hybridfer.data.synthetic_folders import write_ckplus48_folders

    return write_ckplus48_folders(
        tmp_path_factory.mktemp("ck") / "ckplus48",
        n_subjects=N_SUBJECTS,
        sequences_per_subject=N_SEQ,
        frames_per_sequence=N_FRAMES,
    )


@pytest.fixture(scope="session")
def tiny_model_folder(tmp_path_factory) -> Path:
    """A folder holding one tiny model, ``tiny-vgg``, as ``tools/publish_model.py`` writes it:
    a seeded random ``fer_vgg`` (widths 4-8, 16x16 gray, classes anger/happiness/neutral), its
    float16 weights and its card. Point ``hybridfer.models.registry.SHIPPED_DIR`` at it to
    make it a shipped model."""
    import torch

    from hybridfer.models import write_model
    from hybridfer.nn.architectures import build_fer_net

    torch.manual_seed(0)
    params = {"widths": [4, 8], "embedding_dim": 8}
    net = build_fer_net("fer_vgg", n_classes=3, in_channels=1, image_size=(16, 16), **params)
    card = {
        "name": "tiny-vgg",
        "version": "test",
        "architecture": "fer_vgg",
        "architecture_params": params,
        "classes": ["anger", "happiness", "neutral"],
        "input": {"size": [16, 16], "color": "gray", "normalize": "none", "equalize": False},
        "scores": {"publictest_accuracy": 0.5},
    }
    folder = tmp_path_factory.mktemp("models")
    write_model(net.eval(), folder, card)
    return folder


@pytest.fixture
def tiny_shipped(tiny_model_folder, monkeypatch) -> str:
    """``tiny-vgg`` as if shipped with hybridfer (the only shipped model); its name."""
    import hybridfer.models.registry as registry

    monkeypatch.setattr(registry, "SHIPPED_DIR", tiny_model_folder)
    return "tiny-vgg"
