"""CTAN: ConvNeXt-Tiny followed by Efficient Attention, Shuffle Attention, LayerNorm and FC.

From "Research on Face Expression Recognition Model Based on Improved CTAN" (the CTAN paper;
its Table I and Figs. 1-2):

==============  ========  ========  ======================================================
module          in        out       here
==============  ========  ========  ======================================================
Stem            3         96        torchvision ConvNeXt-Tiny ``features[0]`` (4x4, stride 4)
Basic RFB       96        96        :class:`BasicRFB`, optional (``rfb=True``); see below
ConvBlock1-4    96        768       ConvNeXt-Tiny stages (depths 3, 3, 9, 3), drop path
Efficient Att   768       768       :class:`hybridfer.nn.attention.EfficientAttention`
                                    (``attention_branches="full"`` or ``"split"``)
Shuffle Att     768       768       :class:`hybridfer.nn.attention.ShuffleAttention`
EMA             768       768       not a layer: an average of the weights during training
                                    (``ema_decay=0.999`` of the training loop)
Layer Norm      768       768       global average pooling, then ``nn.LayerNorm(768)``
FC Layer        768       classes   ``nn.Linear(768, n_classes)``
==============  ========  ========  ======================================================

Use it as ``FERNetClassifier(backbone="ctan_convnext", color="rgb", normalize="half",
equalize=True, input_size=224, ema_decay=0.999, class_weight="normalized",
learning_rate=5e-5, lr_schedule="cosine", min_lr=1e-9, batch_size=4)`` (the paper's
preprocessing and training), or build it with :func:`build_ctan`.

Decisions (the paper is vague)
------------------------------
- Table I's "Basic RFB" after the stem is never described in the text. We read it as the
  BasicRFB block of RFBNet (Liu et al., "Receptive Field Block Net for Accurate and Fast
  Object Detection", 2018): three branches of 1x1 / 3x3 convolutions ending in 3x3
  convolutions dilated 1, 2 and 3, concatenated, projected by a 1x1 convolution, scaled by 0.1
  and added to a 1x1 shortcut, then ReLU; every convolution is bias-free with BatchNorm. It is
  off by default (the architecture figure and the text omit it); ``rfb=True`` inserts it.
- Table I gives ConvBlock4 as 768 -> 768 and no downsampling layers; we keep ConvNeXt-Tiny's
  stages and its three downsampling layers unchanged (96-192-384-768).
- Table I's Efficient Attention (768 -> 768, two branches "concatenated") has two readings,
  both offered (``attention_branches=``, :class:`hybridfer.nn.attention.EfficientAttention`):
  ``"full"`` (default), both branches read all 768 channels and a 1x1 projection maps the
  1,536 concatenated channels back to 768 (1,270,320 parameters); ``"split"``, each branch
  reads 384 of the channels and their concatenation is the output (26,520 parameters). The
  paper states no parameter count, so none supports either: the whole network has 29,095,867
  parameters under ``"full"`` and 27,852,067 under ``"split"`` (7 classes, RGB, no RFB).
- "Layer Norm" then "FC" on a 768-vector: the attention output is global-average-pooled,
  layer-normalised and classified, as ConvNeXt's own head does.
- ``weights=None`` (random initialisation) by default; the paper fine-tunes from an
  unspecified initialisation (ImageNet weights are the usual choice: ``weights="DEFAULT"``).
- Grayscale inputs (``in_channels=1``) sum the stem's kernel over its three input channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hybridfer.nn.attention import (
    EFFICIENT_ATTENTION_BRANCHES,
    EfficientAttention,
    ShuffleAttention,
)
from hybridfer.nn.fernet import FERNet, probe_map

__all__ = ["CTAN", "CONVNEXT_TINY_FEATURE_PARAMETERS", "BasicRFB", "build_ctan"]

#: Parameters of torchvision's ConvNeXt-Tiny ``features`` (stem + stages, 3 input channels).
CONVNEXT_TINY_FEATURE_PARAMETERS = 27_818_592


def _conv_bn(c_in: int, c_out: int, k: int, dilation: int = 1, relu: bool = True) -> nn.Module:
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, k, padding=dilation * (k // 2), dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicRFB(nn.Module):
    """RFBNet's BasicRFB block (receptive-field block), shape-preserving.

    With ``i = channels // 8``: branch 1 is 1x1 (2i) -> 3x3 dilation 1 (2i); branch 2 is
    1x1 (i) -> 3x3 (2i) -> 3x3 dilation 2 (2i); branch 3 is 1x1 (i) -> 3x3 (3i/2) -> 3x3 (2i)
    -> 3x3 dilation 3 (2i). Their concatenation (6i) goes through a 1x1 convolution back to
    ``channels``, is scaled by ``scale`` and added to a 1x1 shortcut, then ReLU. Each
    convolution is bias-free and followed by BatchNorm (and ReLU except the last of a branch).
    """

    def __init__(self, channels: int, scale: float = 0.1) -> None:
        super().__init__()
        i = max(channels // 8, 2)
        self.scale = scale
        self.branch1 = nn.Sequential(
            _conv_bn(channels, 2 * i, 1), _conv_bn(2 * i, 2 * i, 3, 1, relu=False)
        )
        self.branch2 = nn.Sequential(
            _conv_bn(channels, i, 1),
            _conv_bn(i, 2 * i, 3),
            _conv_bn(2 * i, 2 * i, 3, 2, relu=False),
        )
        self.branch3 = nn.Sequential(
            _conv_bn(channels, i, 1),
            _conv_bn(i, (i // 2) * 3, 3),
            _conv_bn((i // 2) * 3, 2 * i, 3),
            _conv_bn(2 * i, 2 * i, 3, 3, relu=False),
        )
        self.project = _conv_bn(6 * i, channels, 1, relu=False)
        self.shortcut = _conv_bn(channels, channels, 1, relu=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.cat([self.branch1(x), self.branch2(x), self.branch3(x)], dim=1)
        return self.relu(self.project(out) * self.scale + self.shortcut(x))


def _convnext_features(weights, seed: int, drop_path: float) -> nn.Sequential:
    from torchvision.models.convnext import CNBlock

    from hybridfer.nn.weights import build_torchvision_model

    features = build_torchvision_model("convnext_tiny", weights, seed).model.features
    blocks = [m for m in features.modules() if isinstance(m, CNBlock)]
    for k, block in enumerate(blocks):  # torchvision's linear drop-path rule
        block.stochastic_depth.p = drop_path * k / (len(blocks) - 1.0)
    return features


class CTAN(FERNet):
    """ConvNeXt-Tiny + Efficient Attention + Shuffle Attention + LayerNorm + FC (see the module
    docstring for the layout and the decisions).

    Parameters
    ----------
    n_classes : int, default=7
    in_channels : {1, 3}, default=3
    image_size : (int, int), default=(224, 224)
        Checked once (the input must leave at least a 1x1 map after the stride-32 trunk).
    drop_path : float, default=0.3
        Stochastic-depth rate of the last ConvNeXt block (linearly less for earlier ones).
    rfb : bool, default=False
        Insert :class:`BasicRFB` after the stem (Table I's "Basic RFB").
    weights : str, path or None, default=None
        ConvNeXt-Tiny weights: None (random), ``"DEFAULT"`` or a torchvision weights name, or a
        local state dict (see :func:`hybridfer.nn.weights.build_torchvision_model`).
    shuffle_groups : int, default=64
        Groups of the Shuffle Attention (768 / 64 / 2 = 6 channels per half).
    reduction : int, default=16
        Bottleneck ratio of the Efficient Attention's global branch.
    attention_branches : {"full", "split"}, default="full"
        The Efficient Attention's reading: both branches on all 768 channels then a
        ``1536 -> 768`` projection (``"full"``), or a 384/384 channel split and no projection
        (``"split"``); see :class:`hybridfer.nn.attention.EfficientAttention`.
    random_state : int or None, default=None
        Seed of the random initialisation; None draws from torch's global generator (so a
        caller's ``torch.manual_seed`` or :func:`hybridfer.nn.training.seeded` decides).

    Parameter count
    ---------------
    ``27,818,592 - 96 * 16 * (3 - in_channels)`` for ConvNeXt-Tiny's features (the 4x4 stem
    kernel has ``in_channels`` input channels),
    ``+ EfficientAttention.expected_parameters(768, reduction, branches=attention_branches)``
    (1,270,320 for ``"full"``, 26,520 for ``"split"``),
    ``+ ShuffleAttention.expected_parameters(768, shuffle_groups)`` (36),
    ``+ 2 * 768`` (LayerNorm) ``+ 768 * n_classes + n_classes`` (FC), plus the BasicRFB's when
    ``rfb=True`` (45,468 for 96 channels). 29,095,867 for 7 classes, 3 channels, no RFB
    (``"full"``); 27,852,067 with ``attention_branches="split"``.
    """

    def __init__(
        self,
        n_classes: int = 7,
        in_channels: int = 3,
        image_size: Sequence[int] = (224, 224),
        drop_path: float = 0.3,
        rfb: bool = False,
        weights=None,
        shuffle_groups: int = 64,
        reduction: int = 16,
        attention_branches: str = "full",
        random_state: int | None = None,
    ) -> None:
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
        if not 0.0 <= drop_path < 1.0:
            raise ValueError(f"drop_path must be in [0, 1), got {drop_path}")
        if attention_branches not in EFFICIENT_ATTENTION_BRANCHES:
            raise ValueError(
                f"attention_branches must be one of {list(EFFICIENT_ATTENTION_BRANCHES)}, got "
                f"{attention_branches!r}"
            )
        if random_state is None:
            random_state = int(torch.randint(0, 2**31 - 1, (1,)).item())
        features = _convnext_features(weights, random_state, drop_path)
        if in_channels == 1:
            stem = features[0][0]
            gray = nn.Conv2d(1, stem.out_channels, stem.kernel_size, stem.stride)
            with torch.no_grad():
                gray.weight.copy_(stem.weight.sum(dim=1, keepdim=True))
                gray.bias.copy_(stem.bias)
            features[0][0] = gray
        layers = [features[0]]
        if rfb:
            with torch.random.fork_rng():
                torch.manual_seed(int(random_state))
                layers.append(BasicRFB(96))
        layers += list(features[1:])
        with torch.random.fork_rng():
            torch.manual_seed(int(random_state) + 1)
            self.trunk = nn.Sequential(
                nn.Sequential(*layers),
                EfficientAttention(768, reduction=reduction, branches=attention_branches),
                ShuffleAttention(768, groups=shuffle_groups),
            )
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.norm = nn.LayerNorm(768, eps=1e-6)
            self.classifier = nn.Linear(768, n_classes)
        self.embedding_dim = 768
        self.token_dim = 768
        probe_map(self.trunk, in_channels, image_size)

    def _embed_from_map(self, fmap: torch.Tensor) -> torch.Tensor:
        return self.norm(self.pool(fmap).flatten(1))


def build_ctan(n_classes: int = 7, **kwargs) -> CTAN:
    """A :class:`CTAN` network (keyword arguments as its constructor's)."""
    return CTAN(n_classes=n_classes, **kwargs)
