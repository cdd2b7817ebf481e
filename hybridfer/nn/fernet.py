"""The base of hybridfer's FER networks: :class:`FERNet`, the probes of its trunk, and counting.

Every FER network (:mod:`hybridfer.nn.architectures`, :mod:`hybridfer.nn.ctan`) is a
:class:`FERNet`: a convolutional ``trunk`` giving a feature map, and a head on top. Besides
``forward`` (logits) each one offers ``embed`` (the penultimate activations, the features a
classical classifier can take) and ``tokens`` (the trunk's feature map as a sequence of
spatial cells ``(b, h*w, C)`` in row-major, channels-last order). :func:`probe_map` checks at
construction that an input size leaves the trunk a feature map.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["FERNet", "count_parameters", "probe_map"]


def _channels_last_tokens(fmap: torch.Tensor) -> torch.Tensor:
    return fmap.permute(0, 2, 3, 1).flatten(1, 2)


class FERNet(nn.Module):
    """Base of the FER networks: ``trunk`` -> feature map, ``embed`` -> penultimate features.

    Subclasses set ``trunk``, ``embedding_dim``, ``token_dim`` and implement ``_embed_from_map``
    and ``classifier``.
    """

    trunk: nn.Module
    classifier: nn.Module
    embedding_dim: int
    token_dim: int

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk's output ``(b, C, h, w)``."""
        return self.trunk(x)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk's output as spatial tokens ``(b, h*w, C)`` (row-major, channels last)."""
        return _channels_last_tokens(self.trunk(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations ``(b, embedding_dim)``."""
        return self._embed_from_map(self.trunk(x))

    def embed_pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations beside the average and the maximum of the trunk's output
        over its positions: ``(b, embedding_dim + 2 * token_dim)`` from one trunk pass."""
        fmap = self.trunk(x)
        return torch.cat([self._embed_from_map(fmap), fmap.mean((2, 3)), fmap.amax((2, 3))], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))

    def _embed_from_map(self, fmap: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


def _trunk_shape(trunk: nn.Module, in_channels: int, size: Sequence[int]) -> torch.Size | None:
    """The trunk's output shape for one blank image of ``size``; None if it has no cell."""
    try:
        shape = trunk(torch.zeros(1, in_channels, *size)).shape
    except RuntimeError:  # a kernel larger than its (padded) input
        return None
    return shape if min(shape[2:]) >= 1 else None


def _smallest_side(trunk: nn.Module, in_channels: int, start: int, limit: int = 1024) -> int | None:
    """The smallest square input side >= ``start`` the trunk takes (None above ``limit``)."""
    high = max(start, 1)
    while _trunk_shape(trunk, in_channels, (high, high)) is None:
        if high >= limit:
            return None
        high *= 2
    low = high // 2  # refused (or below start)
    while high - low > 1:
        mid = (low + high) // 2
        if _trunk_shape(trunk, in_channels, (mid, mid)) is None:
            low = mid
        else:
            high = mid
    return high


def probe_map(trunk: nn.Module, in_channels: int, image_size: Sequence[int]) -> torch.Size:
    """The trunk's output shape for an image of ``image_size`` (in eval mode, no gradients).

    Raises
    ------
    ValueError
        If the image is too small to leave a feature map, naming the smallest side that does.
    """
    was_training = trunk.training
    trunk.eval()
    with torch.no_grad():
        shape = _trunk_shape(trunk, in_channels, image_size)
        if shape is None:
            h, w = (int(s) for s in image_size)
            side = _smallest_side(trunk, in_channels, min(h, w))
            need = f"at least {side}x{side} pixels" if side else "larger images"
            trunk.train(was_training)
            raise ValueError(
                f"input size {h}x{w} is too small for this network: its trunk needs {need} to "
                "leave a feature map (use larger images, or set input_size to resize them)"
            )
    trunk.train(was_training)
    return shape


def count_parameters(model: nn.Module, keras: bool = False) -> int:
    """Number of trainable parameters; with ``keras=True`` BatchNorm moving means and
    variances are added, as in Keras' "Total params"."""
    total = sum(p.numel() for p in model.parameters())
    if keras:
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                total += m.running_mean.numel() + m.running_var.numel()
    return total
