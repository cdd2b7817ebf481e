"""Feature taps described by data: which module of a backbone to read, and how to pool it.

A :class:`Tap` names one intermediate output of a network (``layer3`` of a ResNet50: module
``layer3``, 1024 channels, 1/16 of the input resolution). Each backbone family publishes a
table of taps (in the spirit of timm's ``feature_info``); an extractor picks taps by name and
torchvision's :func:`~torchvision.models.feature_extraction.create_feature_extractor` reads
them all in a single truncated forward pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from hybridfer._messages import plain_repr

__all__ = [
    "POOLINGS",
    "Tap",
    "check_output",
    "pool",
    "pool_in_graph",
    "resolve_pooling",
    "resolve_taps",
    "table",
    "tap_channels",
    "tokens",
]

#: The global poolings a tap can be reduced with.
POOLINGS = ("avg", "max")


@dataclass(frozen=True)
class Tap:
    """One tapped intermediate output.

    Attributes
    ----------
    name : str
        Short name used in ``layers=`` and in feature names (``layer3``, ``stage2``).
    module : str
        Qualified torchvision module (graph node) name whose output is read (``features.6``).
    channels : int or None
        Channels of that output (None when only known after a probe forward).
    reduction : int or None
        Input-to-output downsampling factor (4 means 1/4 of the input resolution).
    layout : {"nchw", "nhwc", "ntc"}
        How the output is laid out: a CNN feature map ``(b, C, H, W)`` (most torchvision
        models), a channels-last map ``(b, H, W, C)`` (Swin) or a token sequence ``(b, T, C)``
        (ViT encoder).
    """

    name: str
    module: str
    channels: int | None = None
    reduction: int | None = None
    layout: str = "nchw"


def table(*rows: tuple, layout: str = "nchw") -> dict[str, Tap]:
    """Build a tap table ``{name: Tap}`` from ``(name, module, channels, reduction)`` rows."""
    return {r[0]: Tap(*r, layout=layout) for r in rows}


def _describe(taps: Mapping[str, Tap]) -> str:
    return ", ".join(
        f"{t.name!r} ({t.module}, {t.channels} ch)" if t.channels else repr(t.name)
        for t in taps.values()
    )


def resolve_taps(
    layers: str | Sequence[str] | None,
    taps: Mapping[str, Tap],
    default: Sequence[str],
    *,
    owner: str,
    module_names: Sequence[str] | None = None,
) -> list[Tap]:
    """The taps selected by ``layers``.

    Parameters
    ----------
    layers : str, sequence of str or None
        Tap names (None: ``default``). A single string selects one tap.
    taps : mapping of str to Tap
        The family's tap table.
    default : sequence of str
        Tap names used when ``layers`` is None.
    owner : str
        The estimator's name, for error messages.
    module_names : sequence of str, optional
        When given, any of these module names is accepted too (a tap with unknown channels).

    Raises
    ------
    ValueError
        On an unknown or repeated name, or an empty selection; the message lists the valid
        names.
    """
    names = list(default) if layers is None else [layers] if isinstance(layers, str) else layers
    try:
        names = list(names)
    except TypeError:
        raise ValueError(
            f"{owner}: layers must be a tap name or a list of tap names, got {plain_repr(layers)}"
        ) from None
    if not names:
        raise ValueError(f"{owner}: layers is empty; valid taps are {_describe(taps)}")
    modules = set(module_names or ())
    out: list[Tap] = []
    for name in names:
        if not isinstance(name, str):
            raise ValueError(f"{owner}: layer names must be strings, got {plain_repr(name)}")
        if name in taps:
            out.append(taps[name])
        elif name in modules:
            out.append(Tap(name, name))
        else:
            extra = (
                " or any module name of the model (see model.named_modules())"
                if module_names is not None
                else ""
            )
            raise ValueError(
                f"{owner}: unknown layer {name!r}; valid taps are {_describe(taps)}{extra}"
            )
    seen = [t.name for t in out]
    if len(set(seen)) != len(seen):
        raise ValueError(f"{owner}: layers names a tap twice: {seen}")
    return out


def resolve_pooling(pooling: str | Sequence[str], *, owner: str) -> tuple[str, ...]:
    """Poolings from ``"avg"``, ``"max"``, ``"both"`` (= avg then max) or a list of them."""
    if isinstance(pooling, str):
        names = POOLINGS if pooling == "both" else (pooling,)
    else:
        try:
            names = tuple(pooling)
        except TypeError:
            names = (pooling,)  # type: ignore[assignment]
    if not names or any(p not in POOLINGS for p in names) or len(set(names)) != len(names):
        raise ValueError(
            f"{owner}: pooling={pooling!r} is not supported; expected 'avg', 'max', 'both' or a "
            "list of distinct names from ('avg', 'max')"
        )
    return tuple(names)


_SPATIAL_DIMS = {"nchw": (2, 3), "nhwc": (1, 2), "ntc": (1,)}
_NDIM = {"nchw": 4, "nhwc": 4, "ntc": 3}


def check_output(x: torch.Tensor, tap: Tap, *, owner: str) -> None:
    """Raise ValueError when a tap's output does not have the rank its layout says."""
    if x.ndim != _NDIM[tap.layout]:
        raise ValueError(
            f"{owner}: tap {tap.name!r} (module {tap.module!r}) outputs shape "
            f"{tuple(x.shape)}; only feature maps (b, C, H, W) (or token sequences (b, T, C) "
            "for layout 'ntc') can be tapped. Pick an earlier module."
        )


def tap_channels(shape: Sequence[int], tap: Tap) -> int:
    """Channels of one tap output, from its per-image shape (batch axis removed)."""
    return int(shape[0] if tap.layout == "nchw" else shape[-1])


def pool(x: torch.Tensor, poolings: Sequence[str], layout: str = "nchw") -> torch.Tensor:
    """Global-pool a tap output to ``(b, C * len(poolings))`` float32.

    The average accumulates in float32 even when ``x`` is a reduced-precision autocast output.
    """
    dims = _SPATIAL_DIMS[layout]
    parts = []
    for p in poolings:
        if p == "avg":
            parts.append(torch.mean(x, dim=dims, dtype=torch.float32))
        else:
            parts.append(torch.amax(x, dim=dims).float())
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def pool_in_graph(module: torch.fx.GraphModule, taps: Sequence[Tap], poolings: Sequence[str]):
    """Pool every tap inside the traced graph, right after the tap is computed.

    The graph then returns ``(b, C * len(poolings))`` vectors instead of whole feature maps,
    and FX's generated code frees each map after its last use instead of holding all of them
    until the end of the forward pass (at 224 px and batch 64, ResNet50's four maps hold
    ~380 MB). Both graphs of a torchvision ``DualGraphModule`` (train and eval) are rewritten.
    """
    candidates = (
        getattr(module, "train_graph", None),
        getattr(module, "eval_graph", None),
        module.graph,
    )
    graphs = {id(g): g for g in candidates if g is not None}
    for graph in graphs.values():
        out = next(n for n in graph.nodes if n.op == "output")
        results = dict(out.args[0])
        for tap in taps:
            node = results[tap.name]
            with graph.inserting_after(node):
                results[tap.name] = graph.call_function(
                    pool, args=(node, tuple(poolings), tap.layout)
                )
        out.args = (results,)
        graph.lint()
    module.recompile()
    return module


def tokens(x: torch.Tensor, layout: str = "nchw") -> torch.Tensor:
    """A tap output as a token sequence ``(b, T, C)`` float32, tokens in row-major order."""
    if layout == "nchw":
        x = x.permute(0, 2, 3, 1)
    if layout != "ntc":
        x = x.flatten(1, 2)
    return x.float()
