"""Choosing which parameters are frozen: by module name or up to a named layer."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

__all__ = ["frozen_module_names", "select_frozen", "set_frozen"]


def _matches(name: str, prefix: str) -> bool:
    return prefix == "" or name == prefix or name.startswith(prefix + ".")


def select_frozen(
    model: nn.Module,
    freeze: str | Sequence[str] | None = None,
    freeze_up_to: str | None = None,
) -> list[str]:
    """Names of the parameters to freeze.

    Parameters
    ----------
    model : nn.Module
    freeze : str or sequence of str, optional
        Module names (as in ``model.named_modules()``) whose parameters are frozen, e.g.
        ``"backbone"`` or ``["features.0", "features.1"]``; ``""`` freezes everything.
    freeze_up_to : str, optional
        A module name: its parameters and those of every parameter registered before it (in
        ``model.named_parameters()`` order, which is the forward order for sequential
        backbones) are frozen, e.g. ``"backbone.features.1"`` freezes MobileNetV2's stem and
        first bottleneck.

    Raises
    ------
    ValueError
        If a name matches no module.
    """
    names = [n for n, _ in model.named_parameters()]
    modules = {n for n, _ in model.named_modules()}
    chosen: set[str] = set()
    prefixes = [freeze] if isinstance(freeze, str) else list(freeze or [])
    for prefix in prefixes:
        if prefix not in modules and prefix not in names:
            raise ValueError(
                f"freeze={prefix!r} names no module of {type(model).__name__}; top-level "
                f"modules are {[n for n, _ in model.named_children()]}"
            )
        chosen.update(n for n in names if _matches(n, prefix))
    if freeze_up_to is not None:
        inside = [i for i, n in enumerate(names) if _matches(n, freeze_up_to)]
        if not inside:
            raise ValueError(
                f"freeze_up_to={freeze_up_to!r} names no module with parameters in "
                f"{type(model).__name__}; top-level modules are "
                f"{[n for n, _ in model.named_children()]}"
            )
        chosen.update(names[: max(inside) + 1])
    return [n for n in names if n in chosen]


def set_frozen(model: nn.Module, frozen: Sequence[str]) -> None:
    """Set ``requires_grad=False`` on the parameters named in ``frozen``, True on the rest."""
    frozen = set(frozen)
    for name, p in model.named_parameters():
        p.requires_grad_(name not in frozen)


def frozen_module_names(model: nn.Module, frozen: Sequence[str]) -> list[str]:
    """Modules whose parameters are all frozen (kept in eval mode, so BatchNorm statistics
    and dropout stay fixed while their weights are frozen). Parameter-free modules inside a
    frozen parent are included with it."""
    frozen = set(frozen)
    out = []
    for name, module in model.named_modules():
        own = [f"{name}.{n}" if name else n for n, _ in module.named_parameters()]
        if own and all(n in frozen for n in own):
            out.append(name)
    # keep only the outermost ones
    out.sort(key=len)
    kept: list[str] = []
    for name in out:
        if not any(_matches(name, k) for k in kept):
            kept.append(name)
    return kept
