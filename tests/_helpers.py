"""Helpers shared by the test files: a tiny study configuration, synthetic images, the
one-line error check of the command line, and the recipe-resume check.

Fixtures live in ``conftest.py``; this module holds plain functions and constants.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: The tiny CK+48-like folder of the ``tiny_ckplus`` fixture: subjects, sequences per
#: subject and (near-copy) frames per sequence.
N_SUBJECTS, N_SEQ, N_FRAMES = 8, 3, 3


def tiny_config(
    *,
    n_samples: int = 90,
    test_size: float = 0.25,
    data: str | None = None,
    features: str = '["hog"]',
    classifiers: str = '["logreg"]',
    params: str = "[params.logreg]\nmax_iter = 300\n",
    extra: str = "",
    n_splits: int = 3,
    name: str | None = "tiny",
    n_trials: int = 2,
    study: str = "",
) -> str:
    """The TOML of a tiny study: ``n_samples`` synthetic 32x32 faces (or the ``[data]`` lines
    ``data``), ``features`` x ``classifiers`` with ``params``, then the tables ``extra``,
    ``n_splits``-fold CV, ``n_trials`` trials without pruning (plus the ``[study]`` lines
    ``study``), written under ``work``."""
    if data is None:
        data = (
            f'source = "synthetic"\nn_samples = {n_samples}\nimage_size = 32\n'
            f"test_size = {test_size}"
        )
    study_name = "" if name is None else f'name = "{name}"\n'
    return (
        f"[data]\n{data}\n\n"
        f"[pipeline]\nfeatures = {features}\nclassifiers = {classifiers}\n\n"
        f"{params}{extra}\n"
        f"[cv]\nn_splits = {n_splits}\n\n"
        f'[study]\n{study_name}n_trials = {n_trials}\npruner = "none"\n{study}\n'
        '[output]\nworkdir = "work"\n'
    )


def write_tiny_config(folder: Path, filename: str = "tiny.toml", **kw) -> Path:
    """:func:`tiny_config` (keywords ``kw``) written to ``folder / filename``."""
    path = Path(folder) / filename
    path.write_text(tiny_config(**kw))
    return path


def square_images(n: int = 60, size: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images of three classes told apart by where a bright square sits, and
    their labels ("angry", "happy", "sad")."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.integers(0, 60, size=(n, size, size), dtype=np.uint8)
    for i, c in enumerate(y):
        r = 2 + 7 * c
        X[i, r : r + 6, 4:16] = 230
    return X, np.array(["angry", "happy", "sad"])[y]


def one_error_line(capsys) -> str:
    """The command line's error output: one line, no traceback."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def assert_resumes_honest(recipe: str, data: Path, work: Path, honest: dict):
    """Rerun ``recipe`` with ``resume=True`` on its honest protocol in ``work``: the fitted
    models are reloaded, not trained again, so the honest row's accuracy is the same.
    Returns the resumed result."""
    from hybridfer.recipes import run_recipe

    again = run_recipe(
        recipe, data, scale="smoke", workdir=work, resume=True, protocol="honest", verbose=0
    )
    assert [r["protocol"] for r in again.rows] == ["honest"]
    assert again.rows[0]["acc"] == pytest.approx(honest["acc"])
    return again


def write_pngs(folder: Path, images, prefix: str = "img") -> list[str]:
    """Save each image as ``folder / f"{prefix}{i}.png"``; their paths, in order."""
    from PIL import Image

    paths = []
    for i, img in enumerate(images):
        path = Path(folder) / f"{prefix}{i}.png"
        Image.fromarray(img).save(path)
        paths.append(str(path))
    return paths
