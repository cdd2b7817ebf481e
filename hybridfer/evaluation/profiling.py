"""Model cost: parameter counts, FLOPs and inference latency of torch models.

The papers we reproduce report parameters (e.g. CLCM: 2,393,191), GFLOPs and mean inference
time over 50 samples; these functions measure the same quantities for any ``torch.nn.Module``.
FLOPs are counted by :class:`torch.utils.flop_counter.FlopCounterMode`, which counts a
multiply-add as 2 FLOPs; many papers (and tools such as thop or ptflops) report
multiply-accumulates (MACs) under the name "FLOPs", so divide by 2 to compare with them.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from hybridfer._messages import plain_repr

from ..nn.architectures import count_parameters
from ..nn.devices import resolve_device

__all__ = ["count_flops", "count_parameters", "measure_latency", "parameter_counts"]


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
    """Total, trainable (``requires_grad``) and frozen parameter counts of ``model``."""
    _check_model(model)
    total = sum(p.numel() for p in model.parameters())
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
    model: nn.Module,
    input_shape: Sequence[int],
    n_runs: int = 50,
    device: str | torch.device | None = "auto",
    warmup: int = 5,
    random_state: int = 0,
) -> dict[str, float | int | str]:
    """Wall-clock time of a forward pass, in eval mode under ``torch.inference_mode``.

    The model is moved to ``device`` for the measurement and moved back afterwards; its
    training flag is restored. On CUDA and MPS each run is synchronised before the clock stops.

    Parameters
    ----------
    model : torch.nn.Module
    input_shape : sequence of int
        Including the batch dimension, e.g. ``(1, 3, 224, 224)`` for one image at a time.
    n_runs : int, default=50
        Timed forward passes.
    device : str or torch.device, default="auto"
        Where to run (see :func:`hybridfer.nn.devices.resolve_device`).
    warmup : int, default=5
        Untimed passes first (allocator, cuDNN autotuning, lazy initialisation).
    random_state : int, default=0
        Seed of the random input.

    Returns
    -------
    dict
        ``mean_ms``, ``std_ms`` (sample standard deviation), ``median_ms``, ``min_ms``,
        ``n_runs``, ``batch_size``, ``per_sample_ms`` (mean divided by the batch size) and
        ``device``.
    """
    _check_model(model)
    shape = _check_shape(input_shape)
    if not isinstance(n_runs, int) or n_runs < 2:
        raise ValueError(f"n_runs must be an int >= 2, got {plain_repr(n_runs)}")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {plain_repr(warmup)}")
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

    times_ms = []
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model(x)
            sync()
            for _ in range(n_runs):
                start = time.perf_counter()
                model(x)
                sync()
                times_ms.append(1000.0 * (time.perf_counter() - start))
    finally:
        model.to(original_device).train(was_training)
    mean = statistics.fmean(times_ms)
    return {
        "mean_ms": mean,
        "std_ms": statistics.stdev(times_ms),
        "median_ms": statistics.median(times_ms),
        "min_ms": min(times_ms),
        "n_runs": n_runs,
        "batch_size": shape[0],
        "per_sample_ms": mean / shape[0],
        "device": str(dev),
    }
