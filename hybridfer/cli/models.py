"""``hybridfer models``: the FER models shipped with hybridfer, and one model's card
(:mod:`hybridfer.models`)."""

from __future__ import annotations

from typing import Any

from hybridfer.cli.base import Command, echo

__all__ = ["Models"]


class Models(Command):
    name = "models"
    help = "list the FER models shipped with hybridfer, or print one's card"
    description = (
        "hybridfer models: one line per shipped model (its PublicTest accuracy, single view "
        "and with flip TTA). hybridfer models show NAME: the model's card: architecture, "
        "classes, input geometry, weights and sha256, training data and command, scores, "
        "licence. Use one with hybridfer predict --model NAME, CNNFeatures(weights=NAME) or "
        "FERNetClassifier(weights=NAME)."
    )
    interrupted = "interrupted"

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", nargs="?", choices=("list", "show"), default="list")
        parser.add_argument("model", nargs="?", help="show: the model's name or card file")

    def run(self, action: str = "list", model: str | None = None, **_: Any) -> None:
        from hybridfer.cli.base import InputError
        from hybridfer.models import format_card, format_models

        if action == "list":
            if model is not None:
                raise InputError(f"hybridfer models list takes no model; got {model!r}")
            echo(format_models())
            return
        if model is None:
            raise InputError(
                "hybridfer models show needs a model name (hybridfer models lists them)"
            )
        echo(format_card(model))
