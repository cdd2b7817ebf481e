"""Inference: a trained network's outputs on many inputs, streamed in batches.

:func:`predict_module` runs a module in eval mode over arrays, tensors or image sources,
optionally averaging test-time augmented views (:func:`tta_views`). :func:`stream_features`
is the feature extractors' forward: images decoded batch by batch (files by DataLoader
workers), preprocessed on the device, and the outputs copied back asynchronously on CUDA while
the next batch is computed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from hybridfer.images import ImageSource
from hybridfer.nn.batches import iter_batches, take_batch
from hybridfer.nn.devices import (
    autocast,
    model_channels_last,
    resolve_device,
    resolve_precision,
    to_device,
)

__all__ = ["TTA_MODES", "predict_module", "stream_features", "tta_views"]

#: Test-time augmentation modes of :func:`predict_module`.
TTA_MODES = (None, "flip", "crops")


def _default_forward(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    return model(inputs)


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def tta_views(batch: torch.Tensor, mode: str | None, padding: int = 4) -> list[torch.Tensor]:
    """Test-time views of a prepared batch ``(b, C, H, W)``.

    ``None``: the batch. ``"flip"``: the batch and its mirror. ``"crops"``: the ten-crop
    scheme at the training size: the centre and the four corner crops of the batch padded by
    ``padding`` zero pixels (shifts of ``padding`` pixels), and the mirror of each.
    """
    if mode is None:
        return [batch]
    if mode == "flip":
        return [batch, batch.flip(-1)]
    if mode != "crops":
        raise ValueError(f"tta must be one of {TTA_MODES}, got {mode!r}")
    h, w = batch.shape[-2:]
    p = int(padding)
    padded = nn.functional.pad(batch, (p, p, p, p))
    views = [batch]
    for dy, dx in ((0, 0), (0, 2 * p), (2 * p, 0), (2 * p, 2 * p)):
        views.append(padded[..., dy : dy + h, dx : dx + w])
    return views + [v.flip(-1) for v in views]


def predict_module(
    model: nn.Module,
    X: Any,
    *,
    prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
    forward: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    precision: str = "auto",
    channels_last: bool | str = "auto",
    tta: str | None = None,
    tta_padding: int = 4,
    post: Callable[[torch.Tensor], torch.Tensor] | None = None,
    n: int | None = None,
) -> np.ndarray:
    """Run ``model`` in eval mode over ``X`` in batches and return the float32 outputs.

    ``forward(model, inputs)`` picks what is returned (default: ``model(inputs)``). With
    ``tta`` (see :func:`tta_views`) the outputs of the views are averaged, after ``post``
    (e.g. a softmax, to average probabilities rather than logits). The model goes back to
    the device and memory format it came from.
    """
    prepare = prepare or _identity
    forward = forward or _default_forward
    post = post or _identity
    if tta not in TTA_MODES:
        raise ValueError(f"tta must be one of {TTA_MODES}, got {tta!r}")
    dev = resolve_device(device)
    dtype = resolve_precision(precision, dev)
    cl = model_channels_last(model, channels_last, dev, dtype)
    home = next(iter(model.parameters()), torch.empty(0)).device
    model.to(dev)
    if cl:
        model.to(memory_format=torch.channels_last)
    model.eval()
    n = len(X) if n is None else n
    outputs = []
    try:
        with torch.inference_mode(), autocast(dev, dtype):
            for start in range(0, n, batch_size):
                rows = np.arange(start, min(start + batch_size, n))
                xb = prepare(to_device(take_batch(X, rows), dev))
                views = tta_views(xb, tta, tta_padding) if xb.ndim == 4 else [xb]
                total = None
                for view in views:
                    if cl and view.ndim == 4:
                        view = view.contiguous(memory_format=torch.channels_last)
                    out = post(forward(model, view).float())
                    total = out if total is None else total + out
                outputs.append((total / len(views)).cpu().numpy())
    finally:
        if cl:
            model.to(memory_format=torch.contiguous_format)
        model.to(home)
    if not outputs:
        raise ValueError("predict_module got 0 samples")
    return np.concatenate(outputs).astype(np.float32, copy=False)


def stream_features(
    model: Callable[[torch.Tensor], Any],
    source: ImageSource,
    indices: np.ndarray,
    *,
    prepare: Callable[[torch.Tensor], torch.Tensor],
    reduce: Callable[[Any], torch.Tensor],
    device: torch.device,
    dtype: torch.dtype,
    batch_size: int,
    n_features: int,
    num_workers: int | None = None,
    check_batch: Callable[[tuple[int, ...]], None] | None = None,
    desc: str | None = None,
    verbose: int = 0,
) -> np.ndarray:
    """Features ``(len(indices), d)`` float32 of the images at ``indices``, batch by batch.

    Parameters
    ----------
    model : callable
        Maps a prepared batch to its outputs; called under autocast in ``dtype``.
    source : ImageSource
    indices : ndarray of int
        Which images, in which order.
    prepare : callable
        Maps a raw batch on the device to the model's input.
    reduce : callable
        Maps the model's outputs to a ``(b, d)`` float32 tensor.
    device : torch.device
        Where ``model`` runs. On CUDA each batch's features are copied into pinned host
        memory asynchronously and waited for only after the next batch is queued.
    dtype : torch.dtype
        Compute precision (float32: no autocast).
    batch_size : int
    n_features : int
        ``d``, for an empty ``indices``.
    num_workers : int or None
        DataLoader workers decoding files (see :func:`~hybridfer.nn.batches.iter_batches`).
    check_batch : callable, optional
        Called with each raw batch's image shape (without the batch axis) before it runs.
    desc : str, optional
        Progress-bar label.
    verbose : int
        A progress bar (in images) when >= 1.

    Returns
    -------
    ndarray of float32, shape (len(indices), d)
    """
    n = len(indices)
    cuda = device.type == "cuda"
    out: np.ndarray | None = None
    host_buffers: list[torch.Tensor] = []
    pending: tuple[int, torch.Tensor, object] | None = None

    def drain() -> None:
        start, host, event = pending
        if event is not None:
            event.synchronize()
        out[start : start + len(host)] = host.numpy()

    bar = tqdm(total=n, unit="img", desc=desc, disable=not verbose, leave=False, dynamic_ncols=True)
    batches = iter_batches(source, indices, batch_size, num_workers=num_workers, pin_memory=cuda)
    with contextlib.closing(bar), torch.inference_mode():
        for i, (start, batch) in enumerate(batches):
            if check_batch is not None:  # e.g. each batch of files may have its own size
                check_batch(tuple(batch.shape[1:]))
            x = prepare(to_device(batch, device))
            with autocast(device, dtype):
                outs = model(x)
            feats = reduce(outs)
            if out is None:
                out = np.empty((n, feats.shape[1]), dtype=np.float32)
            if pending is not None:
                drain()
            if cuda:  # copy back asynchronously; wait for it only after queuing more work
                if not host_buffers:
                    host_buffers = [
                        torch.empty(feats.shape, dtype=torch.float32, pin_memory=True)
                        for _ in range(2)
                    ]
                host = host_buffers[i % 2][: len(feats)]
                host.copy_(feats, non_blocking=True)
                event = torch.cuda.Event()
                event.record()
                pending = (start, host, event)
            else:
                pending = (start, feats, None)
            bar.update(len(batch))
        if pending is not None:
            drain()
    if out is None:  # no images
        out = np.empty((0, n_features), dtype=np.float32)
    return out
