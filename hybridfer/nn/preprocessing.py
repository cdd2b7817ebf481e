"""Batched image preprocessing on the extractor's device: equalise, resize, gray→RGB, normalise.

:class:`Preprocessor` turns a batch of raw images, exactly as they come out of
:mod:`hybridfer.images` (uint8 on [0, 255] or float on [0, 1], ``(b, H, W)`` or
``(b, H, W, 3)``), into the ``(b, 3, S, S)`` float tensor a torchvision backbone expects.
Every step runs on the batch's device, so on a GPU the host only ships small uint8 images.
Benchmarks reuse it to feed a bare model the very same batches.

Steps, in order:

1. optional histogram equalisation, per image and channel, on uint8 pixels
   (:func:`torchvision.transforms.v2.functional.equalize`; float images are rounded to uint8
   first). It runs before resizing, on the original pixels, which is what the histogram of a
   face image means and is cheaper than equalising the upsampled image;
2. resize to ``input_size`` (bilinear, antialiased when shrinking, as torchvision's
   ``Resize``); ``None`` keeps the native size (48 for FER2013);
3. scale to [0, 1] and normalise per channel; a gray image becomes 3 identical channels by
   broadcasting in this step (no copy before it).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.transforms.v2 import functional as TF

from hybridfer._messages import plain_repr

__all__ = [
    "NORMALIZATIONS",
    "Preprocessor",
    "normalization_stats",
    "resize_batch",
    "resolve_input_size",
]

_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
_HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))

#: Normalisations by name, as ``(mean, std)`` per RGB channel on [0, 1] pixels.
#: ``"minus_one_one"`` (scale to [-1, 1], the MobileNet papers' wording) and ``"half"``
#: (mean = std = 0.5, the ConvNeXt paper's wording) are the same map under two names.
#: ``"none"`` keeps pixels on [0, 1].
NORMALIZATIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "imagenet": _IMAGENET,
    "minus_one_one": _HALF,
    "half": _HALF,
    "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
}


def normalization_stats(normalize: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(mean, std)`` of a named normalisation; ValueError listing the names otherwise."""
    try:
        return NORMALIZATIONS[normalize]
    except (KeyError, TypeError):
        raise ValueError(
            f"normalize={normalize!r} is not supported; expected one of {sorted(NORMALIZATIONS)}"
        ) from None


def resize_batch(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A float batch ``(b, C, H, W)`` resized to ``size`` by bilinear interpolation,
    antialiased when shrinking (as torchvision's ``Resize`` on tensors); unchanged at its
    own size."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    # antialiasing only changes downsampling; upsampling takes the faster plain kernel
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(
        x.contiguous(), size=tuple(size), mode="bilinear", align_corners=False, antialias=shrink
    )


def resolve_input_size(input_size: int | Sequence[int] | None) -> tuple[int, int] | None:
    """``(H, W)`` from an int or a pair; None means the images' native size."""
    if input_size is None:
        return None
    if isinstance(input_size, (int,)) and not isinstance(input_size, bool):
        size = (input_size, input_size)
    else:
        try:
            size = tuple(int(s) for s in input_size)  # type: ignore[union-attr]
        except TypeError:
            size = ()
    if len(size) != 2 or min(size) < 1:
        raise ValueError(
            f"input_size={input_size!r} must be a positive int, a pair (H, W) of positive "
            "ints, or None for the native image size"
        )
    return size


class Preprocessor(nn.Module):
    """Raw image batch → normalised ``(b, C, H, W)`` float tensor, on the batch's device.

    Parameters
    ----------
    input_size : int, (H, W) or None, default=224
        Output spatial size; None keeps each batch's own size.
    normalize : {"imagenet", "minus_one_one", "half", "none"}, default="imagenet"
        Per-channel normalisation (see :data:`NORMALIZATIONS`).
    equalize : bool, default=False
        Histogram-equalise each image (per channel) before resizing.
    out_channels : {1, 3}, default=3
        Channels the model expects. Gray input is broadcast to 3 channels; RGB input is
        converted to gray (ITU-R 601 luma) when 1 channel is asked for.
    channels_last : bool, default=False
        Return a ``channels_last`` tensor (faster convolutions on recent GPUs).
    """

    def __init__(
        self,
        input_size: int | Sequence[int] | None = 224,
        normalize: str = "imagenet",
        equalize: bool = False,
        out_channels: int = 3,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        if out_channels not in (1, 3):
            raise ValueError(f"out_channels must be 1 or 3, got {plain_repr(out_channels)}")
        self.size = resolve_input_size(input_size)
        self.normalize = normalize
        self.equalize = bool(equalize)
        self.out_channels = out_channels
        self.channels_last = bool(channels_last)
        mean, std = normalization_stats(normalize)
        mean_t = torch.tensor(mean[:out_channels], dtype=torch.float32)
        std_t = torch.tensor(std[:out_channels], dtype=torch.float32)
        # x_norm = (x * scale - mean) / std = x * (scale / std) + (-mean / std)
        self.register_buffer("_inv_std", (1.0 / std_t).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("_shift", (-mean_t / std_t).view(1, -1, 1, 1), persistent=False)
        self.register_buffer(
            "_luma", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1), persistent=False
        )

    def extra_repr(self) -> str:
        return (
            f"input_size={self.size}, normalize={self.normalize!r}, equalize={self.equalize}, "
            f"out_channels={self.out_channels}, channels_last={self.channels_last}"
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Preprocess ``images`` ``(b, H, W)`` or ``(b, H, W, C)`` (uint8 or float on [0, 1])."""
        if images.ndim == 3:
            x = images.unsqueeze(1)
        elif images.ndim == 4 and images.shape[-1] in (1, 3):
            x = images.permute(0, 3, 1, 2)
        else:
            raise ValueError(
                f"expected a batch (b, H, W) or (b, H, W, C) with C in (1, 3), got shape "
                f"{tuple(images.shape)}"
            )
        if self.equalize:
            if x.dtype != torch.uint8:
                x = (x.float() * 255.0).round_().clamp_(0, 255).to(torch.uint8)
            x = TF.equalize(x.contiguous())
        if x.dtype == torch.uint8:
            x, scale = x.float(), 1.0 / 255.0
        else:
            x, scale = x.float(), 1.0
        if self.out_channels == 1 and x.shape[1] == 3:
            x = (x * self._luma).sum(dim=1, keepdim=True)
        if self.size is not None:
            x = resize_batch(x, self.size)
        # one fused multiply-add; broadcasting turns 1 gray channel into 3 here
        x = torch.addcmul(self._shift, x, self._inv_std * scale)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x
