"""The FER models shipped inside hybridfer: their cards, their weights and their networks.

A shipped model is two files in ``hybridfer/models/shipped/``: a *card* ``NAME.json`` and the
weights file it names (a state dict saved with :func:`torch.save`, floating tensors in the
card's ``weights.dtype``, read back with ``torch.load(weights_only=True)``, which never runs
code from the file). The card tells everything a user needs to run the network right and to
judge it: the architecture and its options, the classes in order, the input geometry (size,
colour, normalisation and the :mod:`hybridfer.faces` alignment template its training crops
follow), the weights' sha256, how the network was trained (data, recipe, command, machine)
and its measured scores.

A card file elsewhere (``path/to/NAME.json``, its weights beside it) is read the same way, so
a model made by ``tools/publish_model.py`` can be used before it replaces a shipped one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CARD_SUFFIX",
    "SHIPPED_DIR",
    "ModelCard",
    "ModelError",
    "WeightsHashError",
    "available_models",
    "get_model",
    "is_model_spec",
    "load_network",
    "model_cards",
    "sha256_file",
    "write_model",
]

#: The folder of the shipped models (package data).
SHIPPED_DIR = Path(__file__).with_name("shipped")
#: The suffix of a card file.
CARD_SUFFIX = ".json"
#: The card entries every card must have.
_REQUIRED = ("name", "architecture", "classes", "input", "weights")
_INPUT_DEFAULTS = {"color": "gray", "normalize": "none", "equalize": False}


class ModelError(ValueError):
    """An unknown model name, or a card that cannot be read; the message names it."""


class WeightsHashError(ModelError):
    """A weights file whose sha256 is not the one its card states (both are named)."""


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """The sha256 hex digest of a file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class ModelCard:
    """A model's card (the JSON file) and where it lies.

    Attributes
    ----------
    path : pathlib.Path
        The card file; the weights file is beside it.
    data : dict
        The card's content (``name``, ``architecture``, ``architecture_params``, ``classes``,
        ``input``, ``weights``, ``training``, ``scores``, ``licence``...).
    """

    path: Path
    data: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.data["classes"]]

    @property
    def architecture(self) -> str:
        return str(self.data["architecture"])

    @property
    def architecture_params(self) -> dict[str, Any]:
        return dict(self.data.get("architecture_params") or {})

    @property
    def input_size(self) -> tuple[int, int]:
        h, w = self.data["input"]["size"]
        return int(h), int(w)

    def input(self, key: str) -> Any:
        """An entry of the card's ``input`` (``color``, ``normalize``, ``equalize``...)."""
        return self.data["input"].get(key, _INPUT_DEFAULTS.get(key))

    @property
    def in_channels(self) -> int:
        return 1 if self.input("color") == "gray" else 3

    @property
    def sha256(self) -> str:
        return str(self.data["weights"]["sha256"])

    @property
    def weights_path(self) -> Path:
        return self.path.with_name(str(self.data["weights"]["file"]))

    @property
    def identity(self) -> str:
        """The weights' identity in cache keys and metadata: ``NAME@sha256:<hex>``."""
        return f"{self.name}@sha256:{self.sha256}"


def _read_card(path: Path) -> ModelCard:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"model card {os.fspath(path)!r} cannot be read: {exc}") from None
    missing = [k for k in _REQUIRED if not isinstance(data, dict) or k not in data]
    if missing:
        raise ModelError(f"model card {os.fspath(path)!r} lacks {', '.join(missing)}")
    return ModelCard(path=path, data=data)


def model_cards(folder: str | os.PathLike | None = None) -> list[ModelCard]:
    """The cards of the models in ``folder`` (default: the shipped ones), by name."""
    root = Path(folder) if folder is not None else SHIPPED_DIR
    if not root.is_dir():
        return []
    paths = [p for p in root.glob("*" + CARD_SUFFIX) if not p.name.startswith(".")]
    return sorted((_read_card(p) for p in paths), key=lambda card: card.name)


def available_models() -> list[str]:
    """The names of the shipped models."""
    return [card.name for card in model_cards()]


def is_model_spec(value: object) -> bool:
    """Whether ``value`` names a model: a shipped model's name, or a path to a card file."""
    if isinstance(value, ModelCard):
        return True
    if not isinstance(value, (str, os.PathLike)):
        return False
    text = os.fspath(value)
    if text.endswith(CARD_SUFFIX):
        return True
    return text in available_models()


def get_model(spec: str | os.PathLike | ModelCard) -> ModelCard:
    """A model's card, by shipped name or by the path of a card file.

    Raises
    ------
    ModelError
        For an unknown name (the message lists the shipped ones) or an unreadable card.
    """
    if isinstance(spec, ModelCard):
        return spec
    text = os.fspath(spec)
    if text.endswith(CARD_SUFFIX):
        path = Path(text)
        if not path.is_file():
            raise ModelError(f"model card {text!r}: no such file")
        return _read_card(path)
    for card in model_cards():
        if card.name == text:
            return card
    known = ", ".join(available_models()) or "none"
    raise ModelError(
        f"unknown model {text!r}; the shipped models are: {known} (hybridfer models lists "
        "them; a path to a card file NAME.json also works)"
    )


def load_network(spec: str | os.PathLike | ModelCard, n_classes: int | None = None):
    """The model's network in float32, on the CPU, in eval mode, its weights checked.

    Parameters
    ----------
    spec : str, path or ModelCard
        A shipped model's name or a card file (:func:`get_model`).
    n_classes : int or None, default=None
        None keeps the card's classes; another count replaces the last linear layer of the
        classifier by a freshly initialised one of that many outputs (for fine-tuning on
        other classes).

    Raises
    ------
    ModelError
        When the weights file is missing or does not fit the architecture.
    WeightsHashError
        When the weights file's sha256 is not the card's (both are named).
    """
    import torch

    from hybridfer.nn.architectures import build_fer_net

    card = get_model(spec)
    path = card.weights_path
    if not path.is_file():
        raise ModelError(f"model {card.name!r}: its weights file {os.fspath(path)!r} is missing")
    digest = sha256_file(path)
    if digest != card.sha256:
        raise WeightsHashError(
            f"model {card.name!r}: weights file {os.fspath(path)!r} has sha256 {digest}, but "
            f"its card {os.fspath(card.path)!r} states {card.sha256}; the file is damaged or "
            "belongs to another card (reinstall hybridfer, or republish the model)"
        )
    net = build_fer_net(
        card.architecture,
        n_classes=len(card.classes),
        in_channels=card.in_channels,
        image_size=card.input_size,
        **card.architecture_params,
    )
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        net.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        )
    except RuntimeError as exc:
        raise ModelError(
            f"model {card.name!r}: its weights do not fit {card.architecture}: {exc}"
        ) from None
    if n_classes is not None and n_classes != len(card.classes):
        _replace_output_layer(net, n_classes)
    return net.eval()


def _replace_output_layer(net, n_classes: int) -> None:
    """Replace the classifier's last linear layer by a fresh one with ``n_classes`` outputs."""
    from torch import nn

    owner, attr = net, "classifier"
    if not isinstance(net.classifier, nn.Linear):
        linears = [
            (m, n)
            for m in net.classifier.modules()
            for n, c in m.named_children()
            if isinstance(c, nn.Linear)
        ]
        if not linears:
            raise ModelError(f"{type(net).__name__}'s classifier has no linear layer to replace")
        owner, attr = linears[-1]
    old = getattr(owner, attr)
    setattr(owner, attr, nn.Linear(old.in_features, n_classes))


def write_model(
    network,
    folder: str | os.PathLike,
    card: Mapping[str, Any],
    dtype: str = "float16",
) -> ModelCard:
    """Write ``network``'s weights and its card into ``folder`` (each file atomically).

    Parameters
    ----------
    network : torch.nn.Module
        The trained network (its floating tensors are stored in ``dtype``).
    folder : path
        Where ``NAME.pt`` and ``NAME.json`` go.
    card : mapping
        The card without its ``weights`` entry (``name``, ``architecture``, ``classes``,
        ``input``, ...); ``weights`` (file, dtype, bytes, sha256, parameters) is added.
    dtype : {"float16", "bfloat16", "float32"}, default="float16"

    Returns
    -------
    ModelCard
    """
    import torch

    from hybridfer._io import atomic_path

    name = str(card["name"])
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = getattr(torch, dtype)
    state = {
        k: (v.detach().cpu().to(target) if v.is_floating_point() else v.detach().cpu()).contiguous()
        for k, v in network.state_dict().items()
    }
    weights = folder / f"{name}.pt"
    with atomic_path(weights) as tmp:
        torch.save(state, tmp)
    data = dict(card)
    data["weights"] = {
        "file": weights.name,
        "dtype": dtype,
        "bytes": weights.stat().st_size,
        "sha256": sha256_file(weights),
        "parameters": int(sum(p.numel() for p in network.parameters())),
    }
    path = folder / f"{name}{CARD_SUFFIX}"
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return _read_card(path)
