"""Small CNNs for 48x48 face images: the CNN-LSTM paper's three models and deeper FER nets.

Every network here is a :class:`~hybridfer.nn.fernet.FERNet` (the base, in
:mod:`hybridfer.nn.fernet`): a convolutional ``trunk`` giving a feature map, and a head on top,
with ``forward`` (logits), ``embed`` (penultimate activations) and ``tokens`` (the feature map
as spatial cells). :data:`ARCHITECTURES` and :func:`build_fer_net` are the registry of every FER
net, CTAN's (:mod:`hybridfer.nn.ctan`) included; ``FERNet`` and ``count_parameters`` are
importable from here too.

The CNN-LSTM paper's models (Bagga & Makwana, 2026; tables 2-4) are reproduced layer by layer
with Keras' conventions, so their parameter counts match the paper's exactly for a 48x48x1
input when BatchNorm's moving statistics are counted as Keras does
(``count_parameters(model, keras=True)``):

====================  ===========  =====================================================
name                  parameters   layout
====================  ===========  =====================================================
``cnnlstm_model1``    117,031      C16v-C32s-P-C32v-P-Flatten(3200)-D32-Drop-D7
``cnnlstm_model2``    303,495      trunk-(64, 32)-LSTM32-(1, 32)-LSTM32-D200-Drop.6-D7
``cnnlstm_model3``    457,863      trunk-(16, 128)-LSTM128-(2, 64)-LSTM64-D200-Drop.6-D7
====================  ===========  =====================================================

with trunk = C32v-C64s-P-C64v-C128s-P-C128v-P (4x4x128 at 48x48). Each ``C`` is a 3x3
convolution with bias, followed by BatchNorm and ReLU (the tables list a BatchNormalization and
an Activation after every convolution; the prose omits some). Keras' LSTM has one bias vector
per gate where torch's has two (``b_ih`` and ``b_hh``); :class:`SingleBiasLSTM` keeps ``b_hh``
as a fixed zero buffer so the layers have Keras' parameters and still run on torch's fused
(cuDNN) kernels. Reshapes read the feature map in channels-last order, as Keras does.

``fer_resnet`` (residual, default widths 32-64-128-256) and ``fer_vgg`` (VGG-style double
convolutions) are deeper nets of similar cost for better accuracy.

``ctan_convnext`` is the CTAN paper's ConvNeXt-Tiny with Efficient and Shuffle Attention
(:mod:`hybridfer.nn.ctan`; 29,095,867 parameters for 7 classes on RGB input).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from hybridfer.nn.ctan import CTAN
from hybridfer.nn.fernet import FERNet, count_parameters, probe_map

__all__ = [
    "ARCHITECTURES",
    "CNNLSTMPaperNet",
    "FERNet",
    "FERResNet",
    "FERVGG",
    "PaperCNN",
    "SingleBiasLSTM",
    "build_fer_net",
    "count_parameters",
    "separable_conv_bn_relu",
]


class SingleBiasLSTM(nn.LSTM):
    """:class:`torch.nn.LSTM` with Keras' single bias per gate (``batch_first=True``).

    ``bias_hh_*`` are zero buffers instead of parameters: the computation is torch's own LSTM
    (fused kernels included) and the parameter count is Keras' ``4 * (d*h + h*h + h)``.
    """

    def __init__(self, input_size: int, hidden_size: int, **kwargs) -> None:
        kwargs.setdefault("batch_first", True)
        super().__init__(input_size, hidden_size, **kwargs)
        if self.bias:
            for name in [n for n in self._flat_weights_names if n.startswith("bias_hh")]:
                zeros = torch.zeros_like(getattr(self, name)).detach()
                delattr(self, name)
                self.register_buffer(name, zeros)
            self._init_flat_weights()

    def last_output(self, x: torch.Tensor) -> torch.Tensor:
        """The output at the last timestep ``(b, hidden)`` (Keras ``return_sequences=False``)."""
        out, _ = self(x)
        return out[:, -1]


def _keras_bn(channels: int) -> nn.BatchNorm2d:
    # Keras defaults: momentum 0.99 (torch's 0.01) and epsilon 1e-3
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


def conv_bn_relu(c_in: int, c_out: int, padding: str) -> nn.Sequential:
    """3x3 convolution (with bias, ``"valid"`` or ``"same"``) - BatchNorm - ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=0 if padding == "valid" else 1),
        _keras_bn(c_out),
        nn.ReLU(inplace=True),
    )


def _paper_trunk(in_channels: int) -> nn.Sequential:
    return nn.Sequential(
        conv_bn_relu(in_channels, 32, "valid"),
        conv_bn_relu(32, 64, "same"),
        nn.MaxPool2d(2),
        conv_bn_relu(64, 64, "valid"),
        conv_bn_relu(64, 128, "same"),
        nn.MaxPool2d(2),
        conv_bn_relu(128, 128, "valid"),
        nn.MaxPool2d(2),
    )


class PaperCNN(FERNet):
    """The CNN-LSTM paper's Model 1 (117,031 Keras parameters at 48x48x1, 7 classes).

    Conv16(valid)-Conv32(same)-MaxPool-Conv32(valid)-MaxPool-Flatten-Dense32 ReLU-Dropout-Dense.
    """

    def __init__(
        self,
        n_classes: int = 7,
        in_channels: int = 1,
        image_size: Sequence[int] = (48, 48),
        dense_units: int = 32,
        dropout: float = 0.6,
    ) -> None:
        super().__init__()
        self.trunk = nn.Sequential(
            conv_bn_relu(in_channels, 16, "valid"),
            conv_bn_relu(16, 32, "same"),
            nn.MaxPool2d(2),
            conv_bn_relu(32, 32, "valid"),
            nn.MaxPool2d(2),
        )
        shape = probe_map(self.trunk, in_channels, image_size)
        self.token_dim = shape[1]
        self.dense = nn.Sequential(
            nn.Linear(shape[1] * shape[2] * shape[3], dense_units), nn.ReLU()
        )
        self.dropout = nn.Dropout(dropout)
        self.embedding_dim = dense_units
        self.classifier = nn.Sequential(self.dropout, nn.Linear(dense_units, n_classes))

    def _embed_from_map(self, fmap: torch.Tensor) -> torch.Tensor:
        # Keras flattens channels last
        return self.dense(fmap.permute(0, 2, 3, 1).flatten(1))


class CNNLSTMPaperNet(FERNet):
    """The CNN-LSTM paper's Models 2 and 3: conv trunk, two stacked LSTMs, dense head.

    The 4x4x128 feature map (channels last) is read as ``(-1, step_dim)`` timesteps, the first
    LSTM's last output is reshaped to ``(-1, reshape_dim)`` timesteps for the second LSTM, and
    its last output feeds Dense(200) ReLU - Dropout(0.6) - Dense(n_classes).

    Model 3: ``step_dim=128, lstm1=128, reshape_dim=64, lstm2=64`` (457,863 parameters).
    Model 2: ``step_dim=32, lstm1=32, reshape_dim=32, lstm2=32`` (303,495 parameters).
    """

    def __init__(
        self,
        n_classes: int = 7,
        in_channels: int = 1,
        image_size: Sequence[int] = (48, 48),
        step_dim: int = 128,
        lstm1: int = 128,
        reshape_dim: int = 64,
        lstm2: int = 64,
        dense_units: int = 200,
        dropout: float = 0.6,
    ) -> None:
        super().__init__()
        if lstm1 % reshape_dim:
            raise ValueError(f"lstm1={lstm1} is not a multiple of reshape_dim={reshape_dim}")
        self.trunk = _paper_trunk(in_channels)
        shape = probe_map(self.trunk, in_channels, image_size)
        if (shape[1] * shape[2] * shape[3]) % step_dim:
            raise ValueError(f"the feature map {tuple(shape[1:])} does not split into {step_dim}s")
        self.token_dim = shape[1]
        self.step_dim = step_dim
        self.reshape_dim = reshape_dim
        self.lstm1 = SingleBiasLSTM(step_dim, lstm1)
        self.lstm2 = SingleBiasLSTM(reshape_dim, lstm2)
        self.dense = nn.Sequential(nn.Linear(lstm2, dense_units), nn.ReLU())
        self.embedding_dim = dense_units
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(dense_units, n_classes))

    def _embed_from_map(self, fmap: torch.Tensor) -> torch.Tensor:
        b = fmap.shape[0]
        steps = fmap.permute(0, 2, 3, 1).reshape(b, -1, self.step_dim)
        h1 = self.lstm1.last_output(steps)
        h2 = self.lstm2.last_output(h1.reshape(b, -1, self.reshape_dim))
        return self.dense(h2)


def separable_conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    """A depthwise-separable 3x3 convolution (MobileNet v1): depthwise Conv3x3-BN-ReLU, then
    pointwise Conv1x1-BN-ReLU; 'same' padding."""
    return [
        nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False),
        nn.BatchNorm2d(c_in),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


class _BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class _PooledHead(FERNet):
    """Global average pooling - Dense(embedding_dim) ReLU - Dropout - Dense(n_classes)."""

    def _build_head(self, channels: int, embedding_dim: int, dropout: float, n_classes: int):
        self.token_dim = channels
        self.embedding_dim = embedding_dim
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dense = nn.Sequential(nn.Linear(channels, embedding_dim), nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(embedding_dim, n_classes))

    def _embed_from_map(self, fmap: torch.Tensor) -> torch.Tensor:
        return self.dense(self.pool(fmap).flatten(1))


class FERResNet(_PooledHead):
    """A small residual network for 48x48 faces.

    Stem Conv3x3-BN-ReLU, then one stage per width of ``depths`` basic blocks (two 3x3
    convolutions with a shortcut; every stage after the first halves the resolution), global
    average pooling, Dense(``embedding_dim``) ReLU, Dropout, Dense(``n_classes``).
    """

    def __init__(
        self,
        n_classes: int = 7,
        in_channels: int = 1,
        image_size: Sequence[int] = (48, 48),
        widths: Sequence[int] = (32, 64, 128, 256),
        depths: Sequence[int] = (1, 1, 1, 1),
        embedding_dim: int = 256,
        dropout: float = 0.4,
    ) -> None:
        super().__init__()
        if len(widths) != len(depths) or not widths:
            raise ValueError("widths and depths must be non-empty and of the same length")
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        ]
        c = widths[0]
        for i, (w, d) in enumerate(zip(widths, depths, strict=True)):
            for j in range(d):
                layers.append(_BasicBlock(c, w, stride=2 if (i > 0 and j == 0) else 1))
                c = w
        self.trunk = nn.Sequential(*layers)
        probe_map(self.trunk, in_channels, image_size)
        self._build_head(c, embedding_dim, dropout, n_classes)


class FERVGG(_PooledHead):
    """A VGG-style network: per width, ``convs`` Conv3x3-BN-ReLU then MaxPool2 (and dropout
    ``block_dropout``), then global average pooling, Dense(``embedding_dim``) ReLU, Dropout,
    Dense(``n_classes``).

    The ``fer2013-cpu`` recipe trains it from scratch with widths 48-96-192-384 (2.74 M
    parameters) and ``block_dropout=0``: AdamW 2e-3, one-cycle annealed over the time budget,
    the ``"fer_light"`` augmentation, label smoothing 0.1, EMA 0.999
    (``hybridfer reproduce fer2013-cpu --data data/fer2013``; its measured accuracy, time to
    accuracy and the variants tried are in ``benchmarks/README.md``). Training throughput,
    float32 against bf16 + channels-last: ``benchmarks/bench_training.py``.

    ``separable=True`` makes every convolution but the first a depthwise-separable one
    (MobileNet's depthwise Conv3x3-BN-ReLU then pointwise Conv1x1-BN-ReLU,
    :func:`separable_conv_bn_relu`): about an eighth of the FLOPs at the same widths.
    """

    def __init__(
        self,
        n_classes: int = 7,
        in_channels: int = 1,
        image_size: Sequence[int] = (48, 48),
        widths: Sequence[int] = (32, 64, 128, 256),
        convs: int = 2,
        embedding_dim: int = 256,
        dropout: float = 0.4,
        block_dropout: float = 0.1,
        separable: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for w in widths:
            for _ in range(convs):
                if separable and c != in_channels:
                    layers += separable_conv_bn_relu(c, w)
                else:
                    layers += [
                        nn.Conv2d(c, w, 3, padding=1, bias=False),
                        nn.BatchNorm2d(w),
                        nn.ReLU(inplace=True),
                    ]
                c = w
            layers.append(nn.MaxPool2d(2))
            if block_dropout:
                layers.append(nn.Dropout2d(block_dropout))
        self.trunk = nn.Sequential(*layers)
        probe_map(self.trunk, in_channels, image_size)
        self._build_head(c, embedding_dim, dropout, n_classes)


def _model2(**kw) -> CNNLSTMPaperNet:
    return CNNLSTMPaperNet(step_dim=32, lstm1=32, reshape_dim=32, lstm2=32, **kw)


def _model3(**kw) -> CNNLSTMPaperNet:
    return CNNLSTMPaperNet(step_dim=128, lstm1=128, reshape_dim=64, lstm2=64, **kw)


#: The FER networks by name.
ARCHITECTURES: dict[str, Callable[..., FERNet]] = {
    "cnnlstm_model1": PaperCNN,
    "cnnlstm_model2": _model2,
    "cnnlstm_model3": _model3,
    "fer_resnet": FERResNet,
    "fer_vgg": FERVGG,
    "ctan_convnext": CTAN,
}


def build_fer_net(
    name: str,
    n_classes: int = 7,
    in_channels: int = 1,
    image_size: Sequence[int] = (48, 48),
    **kwargs,
) -> FERNet:
    """Build a FER network of :data:`ARCHITECTURES` by name.

    Extra keyword arguments go to the network's constructor (e.g. ``widths`` of
    ``fer_resnet``, ``dropout``).
    """
    try:
        factory = ARCHITECTURES[name]
    except (KeyError, TypeError):
        raise ValueError(f"architecture={name!r} is not one of {sorted(ARCHITECTURES)}") from None
    try:
        return factory(
            n_classes=n_classes, in_channels=in_channels, image_size=tuple(image_size), **kwargs
        )
    except TypeError as exc:
        raise ValueError(f"architecture {name!r} does not take these options: {exc}") from None
