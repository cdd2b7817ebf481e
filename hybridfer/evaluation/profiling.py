"""Model cost: parameter counts, FLOPs and inference latency of torch models.

The papers we reproduce report parameters (e.g. CLCM: 2,393,191), GFLOPs and mean inference
time over 50 samples; these functions measure the same quantities for any ``torch.nn.Module``
(:func:`measure_latency` also times any callable, such as a fitted pipeline's ``predict``, on
a given batch), and :func:`network_profile` gathers all three as the recipes report them.
FLOPs are counted by :class:`torch.utils.flop_counter.FlopCounterMode`, which counts a
multiply-add as 2 FLOPs; many papers (and tools such as thop or ptflops) report
multiply-accumulates (MACs) under the name "FLOPs", so divide by 2 to compare with them.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from hybridfer._messages import plain_repr

from ..nn.architectures import count_parameters
from ..nn.devices import resolve_device

__all__ = [
    "count_flops",
    "count_parameters",
    "measure_latency",
    "network_profile",
    "parameter_counts",
]


def _check_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"input_shape must be a sequence of positive ints such as (1, 3, 224, 224), "
            f"got {plain_repr(input_shape)}"
        ) from None
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"input_shape must hold positive sizes, got {plain_repr(input_shape)}")
    return shape


def _check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Total (:func:`count_parameters`), trainable (``requires_grad``) and frozen parameter
    counts of ``model``."""
    _check_model(model)
    total = count_parameters(model)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable, "frozen": total - trainable}


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass on an input of ``input_shape`` (multiply-add = 2 FLOPs).

    Runs the model once in eval mode under ``torch.inference_mode`` on its own device, with
    :class:`torch.utils.flop_counter.FlopCounterMode` (matrix products and convolutions are
    counted; element-wise operations are not).

    Parameters
    ----------
    model : torch.nn.Module
    input_shape : sequence of int
        Including the batch dimension, e.g. ``(1, 3, 224, 224)``.
    """
    _check_model(model)
    shape = _check_shape(input_shape)
    x = torch.zeros(shape, device=_model_device(model))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def measure_latency(
    model: nn.Module | Callable[[Any], Any],
    input_shape: Sequence[int] | None = None,
    n_runs: int = 50,
    device: str | torch.device | None = "auto",
    warmup: int = 5,
    random_state: int = 0,
    *,
    inputs: Any = None,
) -> dict[str, float | int | str]:
    """Wall-clock time of a forward pass (or of any call on a given batch).

    A ``torch.nn.Module`` runs in eval mode under ``torch.inference_mode`` on a random input
    of ``input_shape``: it is moved to ``device`` for the measurement and moved back
    afterwards, and its training flag is restored; on CUDA and MPS each run is synchronised
    before the clock stops. Any other callable (a fitted pipeline's ``predict``, say) is
    called on ``inputs`` as it is, wherever it runs.

    Parameters
    ----------
    model : torch.nn.Module or callable
        A callable that is not a module needs ``inputs``.
    input_shape : sequence of int, optional
        Including the batch dimension, e.g. ``(1, 3, 224, 224)`` for one image at a time
        (a module's input; ignored when ``inputs`` is given to a callable).
    n_runs : int, default=50
        Timed calls.
    device : str or torch.device, default="auto"
        Where a module runs (see :func:`hybridfer.nn.devices.resolve_device`).
    warmup : int, default=5
        Untimed calls first (allocator, cuDNN autotuning, lazy initialisation).
    random_state : int, default=0
        Seed of a module's random input.
    inputs : array-like, optional
        The batch a callable that is not a module is timed on (its length is the batch size).

    Returns
    -------
    dict
        ``mean_ms``, ``std_ms`` (sample standard deviation), ``median_ms``, ``min_ms``,
        ``n_runs``, ``batch_size``, ``per_sample_ms`` (mean divided by the batch size) and
        ``device`` (``"callable"`` for a callable that is not a module).
    """
    is_module = isinstance(model, nn.Module)
    if not is_module and (inputs is None or not callable(model)):
        raise TypeError(
            f"model must be a torch.nn.Module (or a callable given inputs=), "
            f"got {type(model).__name__}"
        )
    shape = _check_shape(input_shape) if is_module else ()
    if not isinstance(n_runs, int) or n_runs < 2:
        raise ValueError(f"n_runs must be an int >= 2, got {plain_repr(n_runs)}")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {plain_repr(warmup)}")
    if not is_module:
        times_ms = _time_calls(lambda: model(inputs), n_runs, warmup, lambda: None)
        return _timings(times_ms, len(inputs), "callable")
    dev = resolve_device(device)
    generator = torch.Generator().manual_seed(random_state)
    x = torch.randn(shape, generator=generator).to(dev)
    original_device = _model_device(model)
    was_training = model.training
    model.to(dev).eval()

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        elif dev.type == "mps":
            torch.mps.synchronize()

    try:
        with torch.inference_mode():
            times_ms = _time_calls(lambda: model(x), n_runs, warmup, sync)
    finally:
        model.to(original_device).train(was_training)
    return _timings(times_ms, shape[0], str(dev))


def _time_calls(
    call: Callable[[], Any], n_runs: int, warmup: int, sync: Callable[[], None]
) -> list[float]:
    """Milliseconds of ``n_runs`` calls after ``warmup`` untimed ones (``sync`` before each
    clock stop)."""
    for _ in range(warmup):
        call()
    sync()
    times_ms = []
    for _ in range(n_runs):
        start = time.perf_counter()
        call()
        sync()
        times_ms.append(1000.0 * (time.perf_counter() - start))
    return times_ms


def _timings(times_ms: list[float], batch_size: int, device: str) -> dict[str, float | int | str]:
    mean = statistics.fmean(times_ms)
    return {
        "mean_ms": mean,
        "std_ms": statistics.stdev(times_ms),
        "median_ms": statistics.median(times_ms),
        "min_ms": min(times_ms),
        "n_runs": len(times_ms),
        "batch_size": batch_size,
        "per_sample_ms": mean / batch_size,
        "device": device,
    }


def network_profile(
    model: nn.Module, input_shape: Sequence[int], n_runs: int = 50
) -> dict[str, Any]:
    """Parameters, GFLOPs and mean latency per image of a torch network, as papers report them.

    Parameters
    ----------
    model : torch.nn.Module
    input_shape : sequence of int
        The input, batch of one included, e.g. ``(1, 3, 224, 224)``.
    n_runs : int, default=50
        Timed forward passes (on the device :func:`measure_latency` picks by default).

    Returns
    -------
    dict
        ``parameters`` (total), ``trainable``, ``gflops`` (a multiply-add counts 2),
        ``input_shape``, ``latency_ms`` (per image), ``latency_device`` and ``latency_runs``.
    """
    counts = parameter_counts(model)
    latency = measure_latency(model, tuple(input_shape), n_runs=n_runs)
    return {
        "parameters": counts["total"],
        "trainable": counts["trainable"],
        "gflops": count_flops(model, tuple(input_shape)) / 1e9,
        "input_shape": list(input_shape),
        "latency_ms": float(latency["per_sample_ms"]),
        "latency_device": str(latency["device"]),
        "latency_runs": int(latency["n_runs"]),
    }
