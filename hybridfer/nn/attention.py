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

__all__ = [
    "EFFICIENT_ATTENTION_BRANCHES",
    "EfficientAttention",
    "ShuffleAttention",
    "channel_shuffle",
]


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle: ``(N, g*k, H, W)`` -> channels interleaved across groups."""
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


#: The readings of the Efficient Attention's two branches (``branches=``).
EFFICIENT_ATTENTION_BRANCHES = ("full", "split")


class EfficientAttention(nn.Module):
    """CTAN's Efficient Attention: a global channel-attention branch and a local depthwise
    branch, concatenated back to ``channels``, under one of two readings (``branches=``).

    - Global branch (Eq. 1): ``F_G = X_G * sigmoid(W2 swish(W1 GAP(X_G) + b1) + b2)``: global
      average pooling gives one value per channel, a bottleneck MLP (1x1 convolutions
      ``c -> c_r -> c`` with ``c_r = max(c // reduction, min_hidden)``) turns it into channel
      weights, which multiply the branch's input element-wise.
    - Local branch (Eq. 2): ``F_L = swish(DW_n(... DW_1(X_L)))``: ``n_local`` depthwise
      ``kernel_size`` x ``kernel_size`` convolutions (with bias, "same" padding) then Swish
      (SiLU).
    - ``branches="full"`` (default): both branches read the whole input
      (``X_G = X_L = X``, ``c = C``); their concatenation (``2C`` channels) is projected back
      to ``C`` by a 1x1 convolution with bias: ``Y = P([F_G, F_L])``.
    - ``branches="split"``: the input's channels are split in two halves, the first read by
      the global branch, the second by the local one (``X = [X_G, X_L]``, ``c = C / 2``); their
      concatenation already has ``C`` channels and no projection follows:
      ``Y = [F_G, F_L]``.
    - With ``residual=True`` (either reading) the input is added: ``Y = X + ...``.

    Parameters
    ----------
    channels : int
        ``C``, the input (and output) channels; even for ``branches="split"``.
    reduction : int, default=16
        Bottleneck ratio of the global branch's MLP.
    min_hidden : int, default=8
        Smallest bottleneck width.
    n_local : int, default=2
        Depthwise convolutions in the local branch ("multiple depth convolutional layers").
    kernel_size : int, default=3
        Their kernel size (odd).
    residual : bool, default=True
        Add the input to the block's output.
    branches : {"full", "split"}, default="full"
        Whether each branch reads all ``C`` channels (then a ``2C -> C`` projection) or half
        of them (no projection); see above and "Decisions".

    Parameter count
    ---------------
    With ``c`` the channels a branch reads (``C`` for ``"full"``, ``C / 2`` for ``"split"``),
    ``c_r = max(c // reduction, min_hidden)`` and ``k = kernel_size``::

        global:     2 * c * c_r + c_r + c      (two 1x1 convolutions with bias)
        local:      n_local * c * (k*k + 1)    (depthwise convolutions with bias)
        projection: 2 * C * C + C              (1x1 convolution 2C -> C with bias; "full" only)

    For ``C=768`` with the defaults: ``"full"`` 1,270,320 (global 74,544 with ``c_r=48``,
    local 15,360, projection 1,180,416); ``"split"`` 26,520 (global 18,840 with ``c_r=24``,
    local 7,680). See :meth:`expected_parameters`.

    Decisions (the paper is vague)
    ------------------------------
    - How "the computed global features are used to generate attention weights" is not said:
      we use a squeeze-and-excitation MLP (reduction 16, Swish inside, sigmoid gate), the
      common form of GAP-based channel attention.
    - "Multiple depth convolutional layers" is read as two depthwise 3x3 convolutions, with
      one Swish after them (Eq. 2 applies one activation to the convolution's output).
    - The branches' inputs and the fusion (Section III-C, Fig. 3): the block is "splitting the
      input features into two branches", "the input features are divided into two branches",
      "the global and local features are concatenated", and Table I gives 768 -> 768. Read as a
      channel split (``"split"``), each branch gets 384 channels and the concatenation is 768
      with nothing else; read as two views of the whole input (``"full"``), the concatenation
      has 1,536 channels and needs a projection the paper never names, which holds 1,180,416 of
      the block's 1,270,320 parameters. The wording reads more naturally as the split. The
      paper states no parameter count anywhere (Table I lists channels; Table 7 gives loss,
      accuracy, FPS and latency), so no count supports either reading: the whole CTAN
      (:class:`hybridfer.nn.ctan.CTAN`, 7 classes, RGB, no Basic RFB) has 29,095,867
      parameters with ``"full"`` and 27,852,067 with ``"split"``, and the projection's 57.8 M
      multiply-adds at a 224x224 input (a 7x7 map) are about 1.3% of ConvNeXt-Tiny's 4.5 G, too
      little for Table 7's FPS to tell them apart. ``"full"`` stays the default (the
      recipes' rows so far were made with it) until a comparison at equal budget decides.
    - A residual connection (not mentioned) is on by default under both readings so the block
      starts close to an identity-plus-perturbation of the ConvNeXt features and the two
      readings differ only in their branches; ``residual=False`` gives the bare block.
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        min_hidden: int = 8,
        n_local: int = 2,
        kernel_size: int = 3,
        residual: bool = True,
        branches: str = "full",
    ) -> None:
        super().__init__()
        if channels < 1 or reduction < 1 or min_hidden < 1 or n_local < 1:
            raise ValueError("channels, reduction, min_hidden and n_local must be positive")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size}")
        if branches not in EFFICIENT_ATTENTION_BRANCHES:
            raise ValueError(
                f"branches must be one of {list(EFFICIENT_ATTENTION_BRANCHES)}, got {branches!r}"
            )
        if branches == "split" and channels % 2:
            raise ValueError(f"branches='split' needs an even number of channels, got {channels}")
        width = channels // 2 if branches == "split" else channels
        hidden = max(width // reduction, min_hidden)
        self.channels = channels
        self.hidden = hidden
        self.residual = residual
        self.branches = branches
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.global_mlp = nn.Sequential(
            nn.Conv2d(width, hidden, 1),
            nn.SiLU(),
            nn.Conv2d(hidden, width, 1),
            nn.Sigmoid(),
        )
        self.local = nn.Sequential(
            *[
                nn.Conv2d(width, width, kernel_size, padding=kernel_size // 2, groups=width)
                for _ in range(n_local)
            ],
            nn.SiLU(),
        )
        self.project = nn.Conv2d(2 * channels, channels, 1) if branches == "full" else None

    @staticmethod
    def expected_parameters(
        channels: int,
        reduction: int = 16,
        min_hidden: int = 8,
        n_local: int = 2,
        kernel_size: int = 3,
        branches: str = "full",
    ) -> int:
        """The parameter count given by the formula in the class docstring."""
        c, k = (channels // 2 if branches == "split" else channels), kernel_size
        cr = max(c // reduction, min_hidden)
        projection = 2 * channels * channels + channels if branches == "full" else 0
        return (2 * c * cr + cr + c) + n_local * c * (k * k + 1) + projection

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.project is None:  # "split": half the channels each, concatenated
            x_global, x_local = x.chunk(2, dim=1)
            out = torch.cat(
                [x_global * self.global_mlp(self.pool(x_global)), self.local(x_local)], dim=1
            )
        else:
            f_global = x * self.global_mlp(self.pool(x))
            out = self.project(torch.cat([f_global, self.local(x)], dim=1))
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
