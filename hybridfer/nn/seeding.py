"""Repeatable torch code: the one seed rule, seeded blocks, and the deterministic mode.

With a fixed seed, torch code gives the same numbers on the same machine with the same number
of intra-op threads (``torch.get_num_threads()``). Another thread count splits the reductions
of convolutions and matrix products differently (embeddings off by about 1e-3 on a 2-core CPU
with AMX, enough to flip a downstream classifier's decisions). :func:`deterministic_mode`,
which the estimators' ``deterministic=True`` switches on, removes the thread count from that
promise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state

__all__ = ["DETERMINISTIC_DOC", "deterministic_mode", "seed_from", "seeded"]


def seed_from(random_state: Any) -> int:
    """The integer seed of a scikit-learn ``random_state``: an int is used as it is; a
    ``RandomState`` (or None, fresh entropy) draws one. Every estimator uses this rule."""
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextlib.contextmanager
def seeded(seed: int | None, device: torch.device | None = None) -> Iterator[None]:
    """Seed torch's generators for the block, restoring the caller's state afterwards.

    ``seed=None`` leaves torch's global state alone (runs are not repeatable).
    """
    if seed is None:
        yield
        return
    devices = []
    if device is not None and device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        if device is not None and device.type == "mps":
            torch.mps.manual_seed(int(seed))
        yield


#: Docstring of the ``deterministic`` parameter, shared by the torch estimators.
DETERMINISTIC_DOC = """
    deterministic : bool, default=False
        Give the same numbers whatever torch's thread count: ``fit`` and the forward passes
        run under :func:`hybridfer.nn.seeding.deterministic_mode` (one CPU thread,
        deterministic algorithms, fixed cuDNN kernels). Without it, a seed gives the same
        result on the same machine with the same ``torch.get_num_threads()``, and another
        thread count can change the last digits (bf16 on CPUs especially). Slower on machines
        with many cores.
"""


@contextlib.contextmanager
def deterministic_mode(enabled: bool = True) -> Iterator[None]:
    """Run torch code so its numbers do not depend on the thread count or kernel choice.

    Inside: one intra-op CPU thread (a multi-threaded reduction sums in an order that depends
    on the number of threads), ``torch.use_deterministic_algorithms(True, warn_only=True)``
    (an op without a deterministic kernel warns) and cuDNN's deterministic, non-benchmarked
    kernels. Every setting is restored on exit. They are process-wide: torch work in other
    Python threads meanwhile runs under them too. On CUDA, deterministic cuBLAS also needs
    ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` in the environment before the process starts (torch
    warns otherwise).

    Parameters
    ----------
    enabled : bool, default=True
        False makes this a no-op, so callers can pass their ``deterministic`` parameter.
    """
    if not enabled:
        yield
        return
    threads = torch.get_num_threads()
    algorithms = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = torch.backends.cudnn
    cudnn_deterministic, cudnn_benchmark = cudnn.deterministic, cudnn.benchmark
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True, warn_only=True)
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(algorithms, warn_only=warn_only)
        cudnn.deterministic, cudnn.benchmark = cudnn_deterministic, cudnn_benchmark
