"""Where torch code runs and in which precision: device resolution, autocast, host transfers.

``device="auto"`` picks CUDA, then Apple's MPS, then the CPU. ``precision="auto"`` picks
bfloat16 autocast on GPUs that support it (float16 otherwise) and full float32 on the CPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = [
    "PRECISIONS",
    "autocast",
    "resolve_device",
    "resolve_precision",
    "to_device",
]

#: Accepted values of ``precision``; "auto" resolves with :func:`resolve_precision`.
PRECISIONS = ("auto", "float32", "bfloat16", "float16")

_PRECISION_ALIASES = {
    "fp32": "float32",
    "32": "float32",
    "bf16": "bfloat16",
    "fp16": "float16",
    "16": "float16",
    "half": "float16",
}


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn a device request into a :class:`torch.device`.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` (or None): ``cuda`` if available, else ``mps``, else ``cpu``. Anything else
        is passed to :class:`torch.device` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``).

    Raises
    ------
    ValueError
        If the string is not a device torch knows.
    RuntimeError
        If the requested device is not available on this machine.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; expected 'auto', 'cpu', 'cuda', "
            "'cuda:<index>' or 'mps'"
        ) from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"device={device!r} was requested but CUDA is not available")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"device={device!r} was requested but only {torch.cuda.device_count()} CUDA "
                "device(s) exist"
            )
    if dev.type == "mps" and not _mps_available():
        raise RuntimeError(f"device={device!r} was requested but MPS is not available")
    return dev


def resolve_precision(precision: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """The compute dtype for ``precision`` on ``device``.

    Parameters
    ----------
    precision : {"auto", "float32", "bfloat16", "float16"} or torch.dtype
        ``"auto"``: bfloat16 on CUDA devices that support it, float16 on other CUDA devices
        and on MPS, float32 on the CPU. Aliases ``"fp32"``, ``"bf16"``, ``"fp16"`` work too.
    device : torch.device
        The device the model runs on.

    Returns
    -------
    torch.dtype
        ``torch.float32`` means no autocast.
    """
    if isinstance(precision, torch.dtype):
        dtype = precision
    else:
        name = "auto" if precision is None else str(precision).lower()
        name = _PRECISION_ALIASES.get(name, name)
        if name not in PRECISIONS:
            raise ValueError(
                f"precision={precision!r} is not supported; expected one of {PRECISIONS} "
                "(or 'fp32', 'bf16', 'fp16')"
            )
        if name == "auto":
            if device.type == "cuda":
                return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            if device.type == "mps":
                return torch.float16
            return torch.float32
        dtype = getattr(torch, name)
    if dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"precision dtype {dtype} is not one of float32, bfloat16, float16")
    return dtype


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype) -> Iterator[None]:
    """Mixed precision on ``device`` in ``dtype``; a no-op for float32."""
    if dtype == torch.float32:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy a host tensor to ``device``: pinned memory and a non-blocking copy on CUDA."""
    if device.type == "cuda":
        if not tensor.is_pinned():
            tensor = tensor.pin_memory()
        return tensor.to(device, non_blocking=True)
    return tensor.to(device)
