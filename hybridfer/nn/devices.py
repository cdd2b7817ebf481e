"""Where torch code runs and in which precision: device resolution, autocast, host transfers.

``device="auto"`` picks CUDA, then Apple's MPS, then the CPU. ``precision="auto"`` picks
bfloat16 autocast on GPUs that support it (float16 otherwise), bfloat16 on CPUs that compute it
natively (AVX512-BF16 or AMX, where oneDNN runs bf16 convolutions and matrix products 2-5x
faster than float32) and float32 on other CPUs, where emulated bf16 is slower.
``channels_last="auto"`` uses the channels-last memory format for convolutional networks on
CUDA and on the CPU in float32 and native bf16 (oneDNN's fastest kernels are NHWC), not for
emulated bf16.

Precision names: :data:`PRECISIONS` and the spellings of :data:`PRECISION_ALIASES`
(:data:`PRECISION_NAMES` lists them all); every estimator accepts the same ones.
:func:`model_channels_last` applies the ``channels_last`` rule to a network.

Determinism (seeds, thread counts, :func:`deterministic_mode`) is in
:mod:`hybridfer.nn.seeding`; ``deterministic_mode`` and ``DETERMINISTIC_DOC`` are importable
from here too.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator

import torch
from torch import nn

from hybridfer._messages import plain_repr
from hybridfer.nn.seeding import DETERMINISTIC_DOC, deterministic_mode

__all__ = [
    "DETERMINISTIC_DOC",
    "PRECISIONS",
    "PRECISION_ALIASES",
    "PRECISION_NAMES",
    "autocast",
    "cpu_capability",
    "cpu_has_native_bf16",
    "kernel_isa",
    "onednn_max_isa",
    "ONEDNN_BF16_ISAS",
    "deterministic_mode",
    "model_channels_last",
    "resolve_device",
    "resolve_precision",
    "to_device",
    "use_channels_last",
]

#: Accepted values of ``precision``; "auto" resolves with :func:`resolve_precision`.
PRECISIONS = ("auto", "float32", "bfloat16", "float16")

#: Other spellings of the precisions, and the precision each one means.
PRECISION_ALIASES = {
    "fp32": "float32",
    "32": "float32",
    "bf16": "bfloat16",
    "fp16": "float16",
    "16": "float16",
    "half": "float16",
}

#: Every accepted ``precision`` string: :data:`PRECISIONS` and :data:`PRECISION_ALIASES`.
PRECISION_NAMES = (*PRECISIONS, *PRECISION_ALIASES)


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


#: oneDNN's ISA caps (``ONEDNN_MAX_CPU_ISA``) from which it runs bfloat16 convolutions and
#: matrix products natively. Below them it emulates bf16: measured with torch 2.14 on an
#: AVX-512 BF16 CPU (2 threads, a 96-channel 3x3 convolution on 64x24x24), bf16 autocast ran
#: at 235-263 GFLOP/s unrestricted and with ``ATEN_CPU_CAPABILITY=avx2`` alone, but at 4.3
#: GFLOP/s under ``ONEDNN_MAX_CPU_ISA=AVX2`` (float32: 105-138 GFLOP/s in every case).
ONEDNN_BF16_ISAS = frozenset(
    {
        "ALL",
        "DEFAULT",
        "AVX512_CORE_BF16",
        "AVX512_CORE_FP16",
        "AVX10_1_512",
        "AVX512_CORE_AMX",
        "AVX10_1_512_AMX",
        "AVX512_CORE_AMX_FP16",
        "AVX10_1_512_AMX_FP16",
        "AVX10_2_512",
        "AVX10_2_512_AMX_2",
    }
)


@functools.cache
def _hardware_bf16() -> bool:
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    found = [getattr(torch.cpu, name, None) for name in checks]
    if all(f is not None for f in found):
        return bool(any(f() for f in found))
    return bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})  # pragma: no cover


def onednn_max_isa() -> str | None:
    """The cap on oneDNN's instruction set (``ONEDNN_MAX_CPU_ISA``, or the older
    ``DNNL_MAX_CPU_ISA``), upper-cased; None when no cap is set."""
    value = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    return value.strip().upper() if value and value.strip() else None


def cpu_has_native_bf16() -> bool:
    """Whether this CPU's kernels compute bfloat16 natively: the CPU has AVX512-BF16 or
    AMX-BF16 (torch's CPU feature detection, with the kernel's CPU flags as a fallback) and
    oneDNN is not capped below them (:func:`onednn_max_isa`, :data:`ONEDNN_BF16_ISAS`).

    With ``ONEDNN_MAX_CPU_ISA=AVX2`` a bf16 CPU behaves as an AVX2 one and this is False, so
    ``precision="auto"`` chooses float32 there.
    """
    isa = onednn_max_isa()
    return _hardware_bf16() and (isa is None or isa in ONEDNN_BF16_ISAS)


def kernel_isa() -> str:
    """The instruction sets the kernels may use, for benchmark headers: ATen's
    (``ATEN_CPU_CAPABILITY`` caps it) and oneDNN's cap (``ONEDNN_MAX_CPU_ISA``)."""
    isa = onednn_max_isa()
    return f"ATen {torch.backends.cpu.get_cpu_capability()}, oneDNN {isa or 'uncapped'}"


def cpu_capability() -> str:
    """A one-line description of the CPU for benchmark headers: model, cores, SIMD level,
    and whether bf16 is native."""
    import platform

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    amx = bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())
    if cpu_has_native_bf16():
        bf16 = "native bf16"
    elif _hardware_bf16():
        bf16 = "bf16 in the CPU but not in the capped kernels (float32 is faster)"
    else:
        bf16 = "no native bf16 (float32 is faster)"
    return (
        f"{model}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
        f"kernels: {kernel_isa()}{' + AMX' if amx else ''}, {bf16}"
    )


def use_channels_last(
    setting: bool | str, device: torch.device, dtype: torch.dtype = torch.float32
) -> bool:
    """Resolve a ``channels_last`` setting: ``"auto"`` is True on CUDA, and on CPUs for
    float32 and for natively run bf16 (False for emulated bf16 and on other devices); a bool
    is taken as is.

    In float32 on 2 cores of an AMD EPYC a bare training loop ran 1.13-1.44x faster
    channels-last for ``fer_vgg``, the CNN-LSTM models and MobileNetV3 (0.98x for the
    ResNets) with the kernels capped at AVX2, and 1.14-1.44x for all of them with AVX-512;
    the ``fer2013-cpu`` fit 1.09x (median of three interleaved runs, AVX2):
    ``benchmarks/README.md``, "float32 on AVX2".
    """
    if isinstance(setting, str):
        if setting != "auto":
            raise ValueError(
                f"channels_last must be True, False or 'auto', got {plain_repr(setting)}"
            )
        if device.type == "cuda":
            return True
        if device.type != "cpu":
            return False
        return dtype != torch.bfloat16 or cpu_has_native_bf16()
    return bool(setting)


def model_channels_last(
    model: nn.Module, setting: bool | str, device: torch.device, dtype: torch.dtype
) -> bool:
    """Whether ``model`` runs in the channels-last memory format: only a convolutional
    network does, under :func:`use_channels_last`'s rule for ``setting``."""
    return any(isinstance(m, nn.Conv2d) for m in model.modules()) and use_channels_last(
        setting, device, dtype
    )


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
        and on MPS, bfloat16 on CPUs with native bf16 (:func:`cpu_has_native_bf16`), float32
        on other CPUs. The spellings of :data:`PRECISION_ALIASES` (``"fp32"``, ``"bf16"``,
        ``"fp16"``, ``"half"``...) work too, in any case.
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
        name = PRECISION_ALIASES.get(name, name)
        if name not in PRECISIONS:
            raise ValueError(
                f"precision={precision!r} is not supported; expected one of {PRECISIONS} "
                f"(or {', '.join(repr(a) for a in PRECISION_ALIASES)})"
            )
        if name == "auto":
            if device.type == "cuda":
                return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            if device.type == "mps":
                return torch.float16
            return torch.bfloat16 if cpu_has_native_bf16() else torch.float32
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
