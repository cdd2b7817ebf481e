"""Classification heads: pooled linear/MLP heads, an LSTM over sequences, and a backbone+head net.

* :class:`PooledHead` - global average pooling of a feature map (or a vector), then a linear
  layer or an MLP (``hidden_units=(128, 64)`` with dropout is the CLCM paper's head).
* :class:`SequenceClassifier` - an LSTM over a sequence ``(b, T, d)`` (spatial tokens, frames,
  or one projected timestep per feature tap), then a dense head.
* :class:`BackboneClassifier` - any backbone (a module returning a feature map, a vector or a
  dict of taps) followed by one of the heads; its modules are named ``backbone`` and ``head``,
  so ``freeze="backbone"`` trains the head alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from hybridfer._messages import plain_repr

__all__ = ["BackboneClassifier", "PooledHead", "SequenceClassifier", "TapProjection", "mlp"]


def mlp(in_features: int, hidden_units: Sequence[int], dropout: float, out_features: int):
    """``[Linear-ReLU-Dropout] * len(hidden_units)`` then ``Linear(out_features)``."""
    layers: list[nn.Module] = []
    d = in_features
    for units in hidden_units:
        layers += [nn.Linear(d, int(units)), nn.ReLU(inplace=True)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        d = int(units)
    if not hidden_units and dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(d, out_features))
    return nn.Sequential(*layers)


class PooledHead(nn.Module):
    """Global average pooling (for maps ``(b, C, h, w)`` or tokens ``(b, T, C)``) then an MLP.

    ``hidden_units=()`` gives a linear head (with dropout before it when ``dropout > 0``).
    """

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        hidden_units: Sequence[int] = (),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.net = mlp(in_features, hidden_units, dropout, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            x = x.mean(dim=(2, 3))
        elif x.ndim == 3:
            x = x.mean(dim=1)
        return self.net(x)


class TapProjection(nn.Module):
    """Split a flat vector of concatenated taps (widths ``sizes``) into one timestep per tap,
    each projected by its own Linear layer to ``dim``: ``(b, sum(sizes)) -> (b, len(sizes), dim)``."""

    def __init__(self, sizes: Sequence[int], dim: int) -> None:
        super().__init__()
        self.sizes = [int(s) for s in sizes]
        self.projections = nn.ModuleList(nn.Linear(s, dim) for s in self.sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(x, self.sizes, dim=-1)
        return torch.stack([p(t) for p, t in zip(self.projections, parts, strict=True)], dim=1)


class SequenceClassifier(nn.Module):
    """LSTM over ``(b, T, d)`` then a dense head.

    Parameters
    ----------
    input_size : int
        Features per timestep ``d`` (ignored when ``tap_sizes`` is given).
    n_classes : int
    hidden_size, num_layers, bidirectional : int, int, bool
        The LSTM (``torch.nn.LSTM``).
    dropout : float
        Between stacked LSTM layers and before every dense layer of the head.
    dense_units : sequence of int
        Hidden dense layers (ReLU) of the head.
    pooling : {"last", "mean", "max"}
        How the LSTM outputs become one vector: the final hidden state (both directions when
        bidirectional), or the mean/max over timesteps.
    tap_sizes : sequence of int, optional
        Input is a flat ``(b, sum(tap_sizes))`` vector of concatenated taps, turned into one
        timestep per tap by :class:`TapProjection`.
    projection_dim : int, optional
        Width each timestep is projected to before the LSTM (required with ``tap_sizes``).
    """

    def __init__(
        self,
        input_size: int,
        n_classes: int,
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        dense_units: Sequence[int] = (),
        pooling: str = "last",
        tap_sizes: Sequence[int] | None = None,
        projection_dim: int | None = None,
    ) -> None:
        super().__init__()
        if pooling not in ("last", "mean", "max"):
            raise ValueError(f"pooling must be 'last', 'mean' or 'max', got {plain_repr(pooling)}")
        self.pooling = pooling
        if tap_sizes is not None:
            if projection_dim is None:
                raise ValueError("projection_dim is required with tap_sizes")
            self.project: nn.Module = TapProjection(tap_sizes, projection_dim)
            d = projection_dim
        elif projection_dim is not None:
            self.project = nn.Linear(input_size, projection_dim)
            d = projection_dim
        else:
            self.project = nn.Identity()
            d = input_size
        self.lstm = nn.LSTM(
            d,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
        )
        self.directions = 2 if bidirectional else 1
        self.head = mlp(hidden_size * self.directions, dense_units, dropout, n_classes)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled LSTM representation ``(b, hidden_size * directions)``."""
        seq = self.project(x)
        out, (h_n, _) = self.lstm(seq)
        if self.pooling == "last":
            return torch.cat(list(h_n[-self.directions :]), dim=1)
        if self.pooling == "mean":
            return out.mean(dim=1)
        return out.amax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(x))


def _tokens(fmap: torch.Tensor) -> torch.Tensor:
    if fmap.ndim == 4:
        return fmap.permute(0, 2, 3, 1).flatten(1, 2)
    if fmap.ndim == 3:
        return fmap
    return fmap[:, None, :]


class BackboneClassifier(nn.Module):
    """``head(backbone(x))`` where the head reads the backbone's output as a map or tokens.

    The backbone may return a feature map ``(b, C, h, w)``, tokens ``(b, T, C)``, a vector
    ``(b, C)`` or a dict of taps (as torchvision's ``create_feature_extractor`` does): with a
    dict, a pooled head reads the global average of every tap, concatenated, and a sequence
    head reads the last tap's tokens.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module, head_input: str = "pooled") -> None:
        super().__init__()
        if head_input not in ("pooled", "tokens"):
            raise ValueError(
                f"head_input must be 'pooled' or 'tokens', got {plain_repr(head_input)}"
            )
        self.backbone = backbone
        self.head = head
        self.head_input = head_input

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """What the head reads: pooled ``(b, C)`` or tokens ``(b, T, C)``."""
        return self.read(self.backbone(x), self.head_input)

    @staticmethod
    def read(out: torch.Tensor | Mapping[str, torch.Tensor], head_input: str) -> torch.Tensor:
        """Turn a backbone output into the head's input."""
        if isinstance(out, Mapping):
            values = list(out.values())
            if head_input == "tokens":
                return _tokens(values[-1])
            return torch.cat([_pool(v) for v in values], dim=1)
        if head_input == "tokens":
            return _tokens(out)
        return _pool(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _pool(x: torch.Tensor) -> torch.Tensor:
    if x.ndim == 4:
        return x.mean(dim=(2, 3))
    if x.ndim == 3:
        return x.mean(dim=1)
    return x.flatten(1)


def probe_features(backbone: nn.Module, example: torch.Tensor, head_input: str) -> torch.Size:
    """Shape of what a head reads from ``backbone`` for one ``example`` batch."""
    was_training = backbone.training
    backbone.eval()
    with torch.no_grad():
        shape = BackboneClassifier.read(backbone(example), head_input).shape
    backbone.train(was_training)
    return shape
