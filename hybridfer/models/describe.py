"""What ``hybridfer models`` prints: the table of shipped models and one model's card."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from hybridfer.models.registry import ModelCard, get_model, model_cards

__all__ = ["format_card", "format_models"]


def _percent(value: Any) -> str:
    return f"{100 * float(value):.2f}%" if isinstance(value, (int, float)) else "-"


def format_models(cards: Iterable[ModelCard] | None = None) -> str:
    """One line per model: name, architecture, input, classes, PublicTest accuracy, size."""
    from tabulate import tabulate

    rows = []
    for card in model_cards() if cards is None else cards:
        scores = card.data.get("scores", {})
        h, w = card.input_size
        rows.append(
            [
                card.name,
                card.architecture,
                f"{h}x{w} {card.input('color')}",
                len(card.classes),
                _percent(scores.get("publictest_accuracy")),
                _percent(scores.get("publictest_accuracy_flip")),
                f"{card.data['weights'].get('bytes', 0) / 1e6:.1f} MB",
            ]
        )
    if not rows:
        return "no models are shipped with this installation"
    headers = ["model", "architecture", "input", "classes", "PublicTest", "+ flip TTA", "weights"]
    return tabulate(rows, headers=headers, tablefmt="github")


def _lines(value: Any, indent: str) -> list[str]:
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item and not _flat_list(item):
                out.append(f"{indent}{key}:")
                out += _lines(item, indent + "  ")
            else:
                out.append(f"{indent}{key}: {_scalar(item)}")
        return out
    if isinstance(value, list):
        return [f"{indent}- {_scalar(item)}" for item in value]
    return [f"{indent}{_scalar(value)}"]


def _flat_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value)


def _scalar(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_scalar(v) for v in value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def format_card(model: str | ModelCard) -> str:
    """A model's card as indented text (every entry of its JSON, in the card's order)."""
    card = get_model(model)
    head = f"{card.name}  ({card.path})"
    return "\n".join([head, "=" * len(head), *_lines(dict(card.data), "")])
