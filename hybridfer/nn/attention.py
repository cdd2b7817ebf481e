"""The CTAN paper's attention blocks as torch modules: Efficient Attention and Shuffle Attention.

From "Research on Face Expression Recognition Model Based on Improved CTAN" (the CTAN paper;
its Sections III-C and III-D, Table I, Figs. 3 and 4). Both keep the shape
``(N, C, H, W)`` of their input; CTAN applies them, in this order, to ConvNeXt-Tiny's last
stage (768 channels) before the LayerNorm and the classifier.

The paper describes the blocks in prose and two equations only; the decisions taken where it
is vague are listed in each class's docstring ("Decisions").
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["EfficientAttention", "ShuffleAttention", "channel_shuffle"]


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle: ``(N, g*k, H, W)`` -> channels interleaved across groups."""
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class EfficientAttention(nn.Module):
    """CTAN's Efficient Attention: a global channel-attention branch and a local depthwise
    branch, concatenated and projected back to ``channels``.

    - Global branch (Eq. 1): ``F_G = X * sigmoid(W2 swish(W1 GAP(X) + b1) + b2)``: global
      average pooling gives one value per channel, a bottleneck MLP (1x1 convolutions
      ``C -> C_r -> C`` with ``C_r = max(channels // reduction, min_hidden)``) turns it into
      channel weights, which multiply the input element-wise.
    - Local branch (Eq. 2): ``F_L = swish(DW_n(... DW_1(X)))``: ``n_local`` depthwise
      ``kernel_size`` x ``kernel_size`` convolutions (with bias, "same" padding) then Swish
      (SiLU).
    - Fusion: ``Y = P([F_G, F_L])``, a 1x1 convolution ``2C -> C`` (with bias) of the
      concatenation; with ``residual=True`` the input is added: ``Y = X + P([F_G, F_L])``.

    Parameters
    ----------
    channels : int
        ``C``, the input (and output) channels.
    reduction : int, default=16
        Bottleneck ratio of the global branch's MLP.
    min_hidden : int, default=8
        Smallest bottleneck width.
    n_local : int, default=2
        Depthwise convolutions in the local branch ("multiple depth convolutional layers").
    kernel_size : int, default=3
        Their kernel size (odd).
    residual : bool, default=True
        Add the input to the projection's output.

    Parameter count
    ---------------
    With ``C_r = max(C // reduction, min_hidden)`` and ``k = kernel_size``::

        global:     2 * C * C_r + C_r + C      (two 1x1 convolutions with bias)
        local:      n_local * C * (k*k + 1)    (depthwise convolutions with bias)
        projection: 2 * C * C + C              (1x1 convolution 2C -> C with bias)

    e.g. 1,270,320 for ``C=768`` with the defaults (``C_r=48``); see
    :meth:`expected_parameters`.

    Decisions (the paper is vague)
    ------------------------------
    - How "the computed global features are used to generate attention weights" is not said:
      we use a squeeze-and-excitation MLP (reduction 16, Swish inside, sigmoid gate), the
      common form of GAP-based channel attention.
    - "Multiple depth convolutional layers" is read as two depthwise 3x3 convolutions, with
      one Swish after them (Eq. 2 applies one activation to the convolution's output).
    - The fusion "concatenates" the two branches, which doubles the channels while Table I
      gives 768 -> 768: a 1x1 projection brings them back to ``C``.
    - A residual connection (not mentioned) is on by default so the block starts close to an
      identity-plus-perturbation of the ConvNeXt features; ``residual=False`` gives the bare
      block.
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        min_hidden: int = 8,
        n_local: int = 2,
        kernel_size: int = 3,
        residual: bool = True,
    ) -> None:
        super().__init__()
        if channels < 1 or reduction < 1 or min_hidden < 1 or n_local < 1:
            raise ValueError("channels, reduction, min_hidden and n_local must be positive")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size}")
        hidden = max(channels // reduction, min_hidden)
        self.channels = channels
        self.hidden = hidden
        self.residual = residual
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.global_mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.SiLU(),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )
        self.local = nn.Sequential(
            *[
                nn.Conv2d(
                    channels, channels, kernel_size, padding=kernel_size // 2, groups=channels
                )
                for _ in range(n_local)
            ],
            nn.SiLU(),
        )
        self.project = nn.Conv2d(2 * channels, channels, 1)

    @staticmethod
    def expected_parameters(
        channels: int,
        reduction: int = 16,
        min_hidden: int = 8,
        n_local: int = 2,
        kernel_size: int = 3,
    ) -> int:
        """The parameter count given by the formula in the class docstring."""
        c, k = channels, kernel_size
        cr = max(c // reduction, min_hidden)
        return (2 * c * cr + cr + c) + n_local * c * (k * k + 1) + (2 * c * c + c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f_global = x * self.global_mlp(self.pool(x))
        f_local = self.local(x)
        out = self.project(torch.cat([f_global, f_local], dim=1))
        return x + out if self.residual else out


class ShuffleAttention(nn.Module):
    """Shuffle Attention (SA-Net, Zhang and Yang 2021) as CTAN uses it.

    The channels are split into ``groups`` sub-features; each is halved: one half gets
    channel attention (``x * sigmoid(w_c * GAP(x) + b_c)``), the other spatial attention
    (``x * sigmoid(w_s * GroupNorm(x) + b_s)``, GroupNorm with one channel per group); the
    halves are concatenated, the groups put back together, and a channel shuffle with 2
    groups mixes information across sub-features. The output has the input's shape.

    Parameters
    ----------
    channels : int
        ``C``; must be divisible by ``2 * groups``.
    groups : int, default=64
        Number of sub-features ``G`` (SA-Net's default; 768 / 128 = 6 channels per half).

    Parameter count
    ---------------
    ``3 * C / G``: with ``c = C / (2G)`` channels per half, ``w_c, b_c, w_s, b_s`` (``c``
    each) and the GroupNorm's affine weight and bias (``c`` each) give ``6c = 3C/G``; every
    group shares them. 36 for ``C=768, G=64``; see :meth:`expected_parameters`.

    Decisions (the paper is vague)
    ------------------------------
    - CTAN's Eq. (3) writes the channel weights as ``Softmax(GAP(X))``, but its Fig. 4 (and
      the SA-Net it cites) uses a sigmoid gate on a scaled and shifted GAP; a softmax over
      768 channels would shrink every feature by about 1/768. We follow SA-Net (sigmoid, with
      SA-Net's initialisation ``w = 0, b = 1``).
    - The text shuffles "before" the attention; SA-Net (and Fig. 4) shuffle after it, which
      we follow.
    """

    def __init__(self, channels: int, groups: int = 64) -> None:
        super().__init__()
        if groups < 1 or channels < 2 or channels % (2 * groups):
            raise ValueError(
                f"channels ({channels}) must be divisible by 2 * groups (groups={groups})"
            )
        half = channels // (2 * groups)
        self.channels = channels
        self.groups = groups
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.c_weight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.c_bias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.s_weight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.s_bias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.norm = nn.GroupNorm(half, half)

    @staticmethod
    def expected_parameters(channels: int, groups: int = 64) -> int:
        """The parameter count given by the formula in the class docstring."""
        return 3 * channels // groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x = x.reshape(n * self.groups, c // self.groups, h, w)
        x_channel, x_spatial = x.chunk(2, dim=1)
        a = torch.sigmoid(self.c_weight * self.pool(x_channel) + self.c_bias)
        s = torch.sigmoid(self.s_weight * self.norm(x_spatial) + self.s_bias)
        out = torch.cat([x_channel * a, x_spatial * s], dim=1).reshape(n, c, h, w)
        return channel_shuffle(out, 2)
