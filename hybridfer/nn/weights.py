"""Building torchvision backbones with pretrained, local or seeded random weights.

``weights`` follows torchvision: a weights name (``"DEFAULT"``, ``"IMAGENET1K_V2"``, or the
full ``"ResNet50_Weights.IMAGENET1K_V2"``) or a ``WeightsEnum`` member is loaded with
:func:`torchvision.models.get_model`, which downloads into ``$TORCH_HOME/hub/checkpoints``
(a file already there is used without a download). A path to a local file loads a state dict
(or a checkpoint dict holding one under ``"state_dict"``/``"model"``). ``None`` gives a random
initialisation seeded by ``random_state``, without touching torch's global random state.

Each built model comes with a *weights identity*, the string that names its weights in a
feature-cache key: the torchvision enum member, ``file:<content hash>``, or ``random:<seed>``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models import WeightsEnum

__all__ = [
    "BuiltModel",
    "WeightsUnavailableError",
    "build_torchvision_model",
    "classification_models",
    "file_digest",
    "load_state_dict_file",
    "seeded_build",
]

_STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be downloaded or read."""


@dataclass
class BuiltModel:
    """A freshly built network and what its weights are.

    Attributes
    ----------
    model : nn.Module
        The full classification network, on the CPU, in eval mode.
    weights_id : str
        Identity of the weights, for cache keys.
    unloaded : set of str
        State-dict keys a local weights file did not provide (they keep their random
        initialisation); the extractor refuses them if a tapped module needs them.
    """

    model: nn.Module
    weights_id: str
    unloaded: set[str] = field(default_factory=set)


def classification_models() -> list[str]:
    """Names of torchvision's image classification models (``resnet50``, ``convnext_tiny``...)."""
    return sorted(torchvision.models.list_models(module=torchvision.models))


def file_digest(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """blake2b hex digest (16 bytes) of a file's content."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def seeded_build(build, seed: int):
    """Call ``build()`` with torch's CPU generator seeded by ``seed``; global state is restored."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build()


def _weights_enum(arch: str) -> type[WeightsEnum] | None:
    try:
        return torchvision.models.get_model_weights(arch)
    except (ValueError, KeyError):
        return None


def _resolve_enum_member(arch: str, weights: str | WeightsEnum) -> WeightsEnum | None:
    """The torchvision weights member named by ``weights``, or None if it is no such name."""
    enum = _weights_enum(arch)
    if isinstance(weights, WeightsEnum):
        if enum is not None and not isinstance(weights, enum):
            raise ValueError(
                f"weights={weights} belong to another model; {arch} takes {enum.__name__}"
            )
        return weights
    if enum is None:
        return None
    name = weights
    if "." in name and name.split(".", 1)[0] == enum.__name__:
        name = name.split(".", 1)[1]
    try:
        return enum[name]
    except KeyError:
        return None


def _valid_names(arch: str) -> list[str]:
    enum = _weights_enum(arch)
    return ["DEFAULT", *enum.__members__] if enum is not None else []


def _download_help(arch: str, member: WeightsEnum) -> str:
    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    return (
        f"To use these weights without internet, download {member.url} on a machine that has "
        f"it and either copy the file into {checkpoints}/ (torchvision then finds it), or pass "
        f"weights='path/to/{Path(member.url).name}' (any state_dict saved with torch.save). "
        f"weights=None gives a random initialisation of {arch}."
    )


def load_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a state dict from ``path`` safely (``weights_only=True``).

    Accepts a plain state dict or a checkpoint dict holding one under ``"state_dict"``,
    ``"model_state_dict"``, ``"model"``, ``"net"`` or ``"weights"``; strips a ``"module."``
    prefix left by ``DataParallel``.

    Raises
    ------
    FileNotFoundError, WeightsUnavailableError
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {os.fspath(path)!r} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files (pickle, zip, runtime)
        raise WeightsUnavailableError(
            f"cannot read weights file {os.fspath(path)!r}: {exc}. Expected a state_dict "
            "saved with torch.save(model.state_dict(), path) (a whole pickled model is not "
            "accepted: it is unsafe to load)"
        ) from exc
    if isinstance(obj, Mapping):
        for key in _STATE_DICT_KEYS:
            inner = obj.get(key)
            if (
                isinstance(inner, Mapping)
                and inner
                and all(isinstance(v, torch.Tensor) for v in inner.values())
            ):
                obj = inner
                break
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsUnavailableError(
            f"weights file {os.fspath(path)!r} does not hold a state_dict (a mapping of names "
            f"to tensors, possibly under one of the keys {_STATE_DICT_KEYS})"
        )
    prefix = "module."
    if obj and all(k.startswith(prefix) for k in obj):
        obj = {k[len(prefix) :]: v for k, v in obj.items()}
    return dict(obj)


def _load_matching(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> set[str]:
    """Load the entries of ``state`` whose name and shape fit ``model``; return the others'."""
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    if not usable:
        raise WeightsUnavailableError(
            f"weights file {source!r} shares no parameter (name and shape) with the model; "
            f"e.g. the model has {list(own)[:3]} and the file has {list(state)[:3]}"
        )
    model.load_state_dict(usable, strict=False)
    return set(own) - set(usable)


def build_torchvision_model(
    arch: str,
    weights: str | os.PathLike | WeightsEnum | None,
    seed: int,
) -> BuiltModel:
    """Build torchvision model ``arch`` with ``weights``.

    Parameters
    ----------
    arch : str
        A torchvision classification model name (see :func:`classification_models`).
    weights : str, path-like, WeightsEnum or None
        See the module docstring.
    seed : int
        Seeds the random initialisation (used for ``weights=None``, and for any parameter a
        local file does not provide).

    Raises
    ------
    ValueError
        Unknown model or weights name (the message lists the valid ones).
    FileNotFoundError
        ``weights`` looks like a path but no such file exists.
    WeightsUnavailableError
        Download failed (the message explains how to provide a local file) or the file
        cannot be read.
    """
    models = classification_models()
    if arch not in models:
        raise ValueError(
            f"{arch!r} is not a torchvision classification model; expected one of {models}"
        )

    def random_init() -> nn.Module:
        return seeded_build(lambda: torchvision.models.get_model(arch, weights=None), seed)

    if weights is None:
        return BuiltModel(random_init().eval(), f"random:{int(seed)}")

    member = None
    if isinstance(weights, (str, WeightsEnum)):
        member = _resolve_enum_member(arch, weights)
    if member is not None:
        try:
            model = torchvision.models.get_model(arch, weights=member)
        except Exception as exc:  # URLError, OSError, hash mismatch, HTTP errors...
            raise WeightsUnavailableError(
                f"could not load torchvision weights {member} for {arch}: "
                f"{type(exc).__name__}: {exc}. {_download_help(arch, member)}"
            ) from exc
        return BuiltModel(model.eval(), f"torchvision:{member}")

    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            f"weights must be a torchvision weights name, a WeightsEnum member, a path to a "
            f"state_dict file or None, got {type(weights).__name__}"
        )
    path = Path(weights)
    looks_like_path = (
        path.is_file()
        or isinstance(weights, os.PathLike)
        or os.sep in str(weights)
        or path.suffix in (".pt", ".pth", ".bin", ".ckpt", ".tar", ".safetensors")
    )
    if not looks_like_path:
        raise ValueError(
            f"weights={weights!r} is neither a weights name of {arch} ({_valid_names(arch)}) "
            "nor an existing file; pass a torchvision weights name, "
            "weights='path/to/state_dict.pt', or None for random initialisation"
        )
    state = load_state_dict_file(path)
    model = random_init()
    unloaded = _load_matching(model, state, os.fspath(path))
    return BuiltModel(model.eval(), f"file:{file_digest(path)}", unloaded)
