"""Building torchvision backbones with pretrained, local or seeded random weights.

``weights`` follows torchvision: a weights name (``"DEFAULT"``, ``"IMAGENET1K_V2"``, or the
full ``"ResNet50_Weights.IMAGENET1K_V2"``) or a ``WeightsEnum`` member is loaded with
:func:`torchvision.models.get_model`, which downloads into ``$TORCH_HOME/hub/checkpoints``
(a file already there is used without a download). A path to a local file loads a state dict
(or a checkpoint dict holding one under ``"state_dict"``/``"model"``) with
``torch.load(weights_only=True)``, which never runs code from the file. ``None`` gives a
random initialisation seeded by ``random_state``, without touching torch's global random state.

A local state dict is loaded strictly by default: it must hold every parameter and buffer of
the network, nothing else, and every tensor in the network's shape. A file of another
architecture (a ``resnet34`` file given to ``resnet18`` shares every ``resnet18`` key and adds
more) is a :class:`WeightsMismatchError` that lists a few keys of each kind and names the
torchvision model the file fits. ``strict=False`` loads what fits on purpose (a network
fine-tuned with another classifier head, say) and warns with what it skipped.

Each built model comes with a *weights identity*, the string that names its weights in a
feature-cache key: the torchvision enum member, ``file:<content hash>``, or ``random:<seed>``.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models import WeightsEnum

__all__ = [
    "BuiltModel",
    "WeightsMismatchError",
    "WeightsUnavailableError",
    "build_torchvision_model",
    "classification_models",
    "file_digest",
    "load_state_dict",
    "load_state_dict_file",
    "seeded_build",
]

_STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be downloaded or read."""


class WeightsMismatchError(ValueError):
    """A local state dict does not fit the network: keys missing, unexpected or reshaped."""


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
        State-dict keys a local weights file did not provide (only with ``strict=False``:
        they keep their random initialisation); the extractor refuses them if a tapped
        module needs them.
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


def _load_error_reason(exc: BaseException) -> str:
    """What is wrong with a file ``torch.load`` refused, without torch's advice to load it
    unsafely (``weights_only=False``), which must not be followed for an untrusted file."""
    text = str(exc)
    if isinstance(exc, EOFError) or not text.strip():
        return "the file is empty or ends too early"
    if "failed reading zip archive" in text or "central directory" in text:
        return "the file is truncated or corrupt (not a complete archive written by torch.save)"
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found:
        return (
            f"it holds a pickled Python object ({found.group(1)}), such as a whole model, which "
            "is not loaded because unpickling an object can run any code"
        )
    found = re.search(r"WeightsUnpickler error:\s*(.+?)\s*(?:\n|$)", text)
    if found:
        return f"it is not a state dict written by torch.save ({found.group(1)})"
    first = text.strip().splitlines()[0]
    if "weights_only" in first or len(first) > 200:
        return f"it is not a state dict written by torch.save ({type(exc).__name__})"
    return f"it is not a state dict written by torch.save ({type(exc).__name__}: {first})"


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
    if path.suffix == ".safetensors":
        raise WeightsUnavailableError(
            f"cannot read weights file {os.fspath(path)!r}: safetensors files are not read; "
            "convert it with torch.save(safetensors.torch.load_file(path), 'weights.pt') and "
            "pass that file"
        )
    try:
        with warnings.catch_warnings():  # torch's note on the pickle protocol is not for users
            warnings.simplefilter("ignore", UserWarning)
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files (pickle, zip, runtime)
        raise WeightsUnavailableError(
            f"cannot read weights file {os.fspath(path)!r}: {_load_error_reason(exc)}. "
            "Expected a state_dict saved with torch.save(model.state_dict(), path)"
        ) from None
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


@dataclass
class _Mismatch:
    """How a state dict differs from a network's."""

    missing: list[str]
    unexpected: list[str]
    reshaped: list[tuple[str, tuple[int, ...], tuple[int, ...]]]  # key, file, network

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.reshaped)

    def head_only(self, own: Mapping) -> bool:
        """Whether only the network's last layer (its classifier head) is reshaped."""
        if self.missing or self.unexpected or not self.reshaped or not own:
            return False
        head = list(own)[-1].rsplit(".", 1)[0] + "."
        return all(k.startswith(head) for k, _, _ in self.reshaped)

    def describe(self, n: int = 4) -> str:
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing (e.g. {self.missing[:n]})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected (e.g. {self.unexpected[:n]})")
        if self.reshaped:
            shown = ", ".join(
                f"{k}: file {list(a)}, network {list(b)}" for k, a, b in self.reshaped[:n]
            )
            parts.append(f"{len(self.reshaped)} of another shape ({shown})")
        return "; ".join(parts)


def _compare(
    own: Mapping[str, torch.Size | tuple], state: Mapping[str, torch.Tensor | torch.Size]
) -> _Mismatch:
    def shape(v) -> tuple[int, ...]:
        return tuple(v.shape) if hasattr(v, "shape") else tuple(v)

    return _Mismatch(
        missing=[k for k in own if k not in state],
        unexpected=[k for k in state if k not in own],
        reshaped=[
            (k, shape(state[k]), shape(own[k]))
            for k in own
            if k in state and shape(state[k]) != shape(own[k])
        ],
    )


def _family(arch: str) -> str:
    """``resnet`` for ``resnet18``, ``mobilenet`` for ``mobilenet_v3_small``..."""
    return re.match(r"[a-z]*", arch).group(0) or arch


def _meta_shapes(arch: str) -> dict[str, tuple[int, ...]] | None:
    """State-dict shapes of torchvision model ``arch``, built on the meta device (no memory,
    no initialisation cost); None when the model cannot be built there."""
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = torchvision.models.get_model(arch, weights=None)
    except Exception:  # some builders compute on tensors, which meta cannot
        return None
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _fitting_models(arch: str, state: Mapping[str, torch.Tensor]) -> str:
    """Which torchvision model of ``arch``'s family a state dict fits, in words ('' if none)."""
    head_only = None
    for name in classification_models():
        if name == arch or _family(name) != _family(arch):
            continue
        shapes = _meta_shapes(name)
        if shapes is None:
            continue
        diff = _compare(shapes, state)
        if not diff:
            return f"the file fits torchvision's {name}"
        if diff.head_only(shapes):
            head_only = head_only or f"the file fits torchvision's {name} with another head"
    return head_only or ""


def load_state_dict(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    *,
    source: str,
    arch: str | None = None,
    strict: bool = True,
) -> set[str]:
    """Load ``state`` into ``model``, strictly unless asked otherwise.

    Parameters
    ----------
    model : nn.Module
        The network, built with its own initialisation.
    state : mapping of str to Tensor
        The state dict read from ``source``.
    source : str
        Where ``state`` comes from (a file path), for messages.
    arch : str, optional
        The torchvision model name of ``model``: a mismatch then names the model of its
        family the file fits.
    strict : bool, default=True
        Require every key of the network, no other key, and the network's shapes. False loads
        the entries whose name and shape fit and warns with what it skipped.

    Returns
    -------
    set of str
        Keys of the network the file did not provide (empty when ``strict``).

    Raises
    ------
    WeightsMismatchError
        ``strict`` and the keys or shapes differ, or the file shares nothing with the network.
    """
    own = model.state_dict()
    diff = _compare(own, state)
    what = arch or type(model).__name__
    if diff and strict:
        fits = _fitting_models(arch, state) if arch else ""
        hint = f"; {fits}" if fits else ""
        if diff.head_only(own):
            hint += " (only the classifier head differs: a network trained for other classes?)"
        raise WeightsMismatchError(
            f"weights file {source!r} does not fit {what}: {diff.describe()}{hint}. Expected "
            f"a state_dict of {what} (torch.save(model.state_dict(), path)); "
            "weights_strict=False loads the parameters that fit and skips the others"
        )
    reshaped = {k for k, _, _ in diff.reshaped}
    usable = {k: v for k, v in state.items() if k in own and k not in reshaped}
    if not usable:
        raise WeightsMismatchError(
            f"weights file {source!r} shares no parameter (name and shape) with {what}: "
            f"the network has e.g. {list(own)[:3]} and the file has {list(state)[:3]}"
        )
    model.load_state_dict(usable, strict=False)
    if diff:
        warnings.warn(
            f"weights file {source!r}: loaded {len(usable)} of {len(own)} entries of {what} "
            f"and skipped {diff.describe()} (missing entries keep their initialisation)",
            UserWarning,
            stacklevel=3,
        )
    return set(own) - set(usable)


def _default_batchnorm_momentum(model: nn.Module) -> nn.Module:
    """Give BatchNorm layers PyTorch's default momentum 0.1 where torchvision set another.

    torchvision builds MobileNetV3 and EfficientNet with momentum 0.01 (TensorFlow's 0.99),
    meant for long ImageNet runs. Trained from random weights for minutes, their running
    statistics then lag far behind the weights and eval-mode predictions collapse to one
    class (the ``mobilenetv3-lstm-pain`` recipe's run that showed it is in
    ``benchmarks/README.md``). Pretrained models keep their momentum (their statistics are
    already right).
    """
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.momentum is not None:
            module.momentum = 0.1
    return model


def build_torchvision_model(
    arch: str,
    weights: str | os.PathLike | WeightsEnum | None,
    seed: int,
    *,
    strict: bool = True,
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
    strict : bool, default=True
        A local file must fit the network exactly (see :func:`load_state_dict`).

    Raises
    ------
    ValueError
        Unknown model or weights name (the message lists the valid ones).
    FileNotFoundError
        ``weights`` looks like a path but no such file exists.
    WeightsUnavailableError
        Download failed (the message explains how to provide a local file) or the file
        cannot be read.
    WeightsMismatchError
        A local file does not fit the network (``strict``).
    """
    models = classification_models()
    if arch not in models:
        raise ValueError(
            f"{arch!r} is not a torchvision classification model; expected one of {models}"
        )

    def random_init() -> nn.Module:
        return seeded_build(lambda: torchvision.models.get_model(arch, weights=None), seed)

    if weights is None:
        return BuiltModel(_default_batchnorm_momentum(random_init()).eval(), f"random:{int(seed)}")

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
    unloaded = load_state_dict(model, state, source=os.fspath(path), arch=arch, strict=strict)
    return BuiltModel(model.eval(), f"file:{file_digest(path)}", unloaded)
