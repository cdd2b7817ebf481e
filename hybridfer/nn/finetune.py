"""Supervised fine-tuning of a pretrained backbone with a temporary classification head.

:func:`fine_tune_backbone` is what a deep feature extractor's ``fine_tune=`` option runs inside
``fit``: the backbone (the convolutional part of a torchvision classifier, or the modules an
extractor taps) gets a fresh head for the task's classes, the pair is trained with
:func:`hybridfer.nn.training.fit_module` (two stages, focal loss, EMA... all available), and the
head is thrown away; the backbone's weights are updated in place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from hybridfer._messages import plain_repr
from hybridfer.nn.augment import make_augmentation
from hybridfer.nn.batches import take_batch
from hybridfer.nn.config import TRAINING_PARAMETERS, TrainConfig, TrainingResult
from hybridfer.nn.devices import resolve_device, to_device
from hybridfer.nn.heads import BackboneClassifier, PooledHead, SequenceClassifier, probe_features
from hybridfer.nn.seeding import seeded
from hybridfer.nn.training import fit_module

__all__ = ["backbone_trunk", "fine_tune_backbone"]


def backbone_trunk(model: nn.Module) -> nn.Module:
    """The convolutional trunk of a torchvision classifier (its classifier head removed).

    ``model.features`` for the families that have it (MobileNet, EfficientNet, ConvNeXt, VGG,
    DenseNet...), the stem and ``layer1``-``layer4`` for ResNet-like models, ``stem`` and
    ``trunk_output`` for RegNet. The returned module shares the model's parameters.
    """
    if isinstance(getattr(model, "features", None), nn.Module):
        return model.features
    if all(hasattr(model, n) for n in ("conv1", "bn1", "layer1", "layer4")):
        names = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
        return nn.Sequential(*(getattr(model, n) for n in names))
    if hasattr(model, "stem") and hasattr(model, "trunk_output"):
        return nn.Sequential(model.stem, model.trunk_output)
    raise ValueError(
        f"cannot find the convolutional trunk of {type(model).__name__}: expected a "
        "`features` module (MobileNet, EfficientNet, ConvNeXt, VGG), ResNet's layer1..layer4 or "
        "RegNet's stem/trunk_output; pass return_nodes= to name the modules to read"
    )


def _prefixed(names: str | Sequence[str] | None) -> str | list[str] | None:
    if names is None:
        return None

    def fix(name: str) -> str:
        if name in ("backbone", "head") or name.startswith(("backbone.", "head.")):
            return name
        return f"backbone.{name}"

    return fix(names) if isinstance(names, str) else [fix(n) for n in names]


def fine_tune_backbone(
    model: nn.Module,
    images: Any,
    y: Any,
    *,
    prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
    return_nodes: Sequence[str] | None = None,
    head: str = "linear",
    hidden_units: Sequence[int] = (),
    head_dropout: float = 0.2,
    lstm_hidden: int = 128,
    augment: Any = None,
    sample_weight: np.ndarray | None = None,
    eval_set: tuple[Any, Any] | None = None,
    return_result: bool = False,
    **config: Any,
) -> nn.Module | tuple[nn.Module, TrainingResult]:
    """Fine-tune ``model``'s backbone on labelled images; the model is changed in place.

    Parameters
    ----------
    model : nn.Module
        A torchvision classifier (its trunk is found by :func:`backbone_trunk`), or any module
        whose modules ``return_nodes`` name.
    images : ndarray, tensor or ImageSource
        Training images, taken batch by batch (uint8 or float).
    y : array-like of shape (n,)
        Labels (any type); they are encoded to ``0..K-1``.
    prepare : callable, optional
        Raw batch on the device -> the backbone's input (e.g. a
        :class:`hybridfer.extractors.Preprocessor`).
    return_nodes : sequence of str, optional
        Modules of ``model`` to read (as in torchvision's ``create_feature_extractor``): the
        head sees the global average of each, concatenated (``"lstm"``: the last one's
        tokens). Default: the trunk's output.
    head : {"linear", "mlp", "lstm"}
        The temporary head: linear or MLP (``hidden_units``) on pooled features, or an LSTM
        (``lstm_hidden``) over the spatial tokens.
    augment : see :func:`hybridfer.nn.augment.make_augmentation`
    sample_weight, eval_set : optional
        As in :func:`hybridfer.nn.training.fit_module` (``eval_set`` labels raw, like ``y``).
    return_result : bool
        Also return the :class:`~hybridfer.nn.config.TrainingResult`.
    **config
        Fields of :class:`~hybridfer.nn.config.TrainConfig` (``epochs=5``,
        ``learning_rate=1e-4``, ``freeze="backbone"`` with ``frozen_epochs=2`` for two-stage
        training, ``freeze_up_to="features.1"``, ``loss="focal"``, ``ema_decay``,
        ``random_state``...). Module names in ``freeze``/``freeze_up_to`` are those of
        ``model``. Defaults differ from TrainConfig's: 5 epochs at learning rate 1e-4.

    Returns
    -------
    model, or (model, TrainingResult)
    """
    y = np.asarray(y)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError("fine-tuning needs labels of at least 2 classes")
    unknown = set(config) - set(TRAINING_PARAMETERS)
    if unknown:
        raise ValueError(
            f"unknown fine-tuning options {sorted(unknown)}; expected fields of TrainConfig "
            f"({sorted(TRAINING_PARAMETERS)}) or head, hidden_units, head_dropout, "
            "lstm_hidden, augment, return_nodes"
        )
    config.setdefault("epochs", 5)
    config.setdefault("learning_rate", 1e-4)
    config["freeze"] = _prefixed(config.get("freeze"))
    config["freeze_up_to"] = _prefixed(config.get("freeze_up_to"))
    train_config = TrainConfig(**config)

    if return_nodes is not None:
        from torchvision.models.feature_extraction import create_feature_extractor

        backbone = create_feature_extractor(model, {n: n for n in return_nodes})
    else:
        backbone = backbone_trunk(model)
    head_input = "tokens" if head == "lstm" else "pooled"
    if head not in ("linear", "mlp", "lstm"):
        raise ValueError(f"head must be 'linear', 'mlp' or 'lstm', got {plain_repr(head)}")

    device = resolve_device(train_config.device)
    backbone.to(device)
    example = to_device(take_batch(images, np.arange(1)), device)
    example = prepare(example) if prepare is not None else example
    width = probe_features(backbone, example.float(), head_input)[-1]
    with seeded(train_config.random_state):
        if head == "lstm":
            head_module: nn.Module = SequenceClassifier(
                width, len(classes), hidden_size=lstm_hidden, dropout=head_dropout
            )
        else:
            units = tuple(hidden_units) if head == "mlp" else ()
            head_module = PooledHead(width, len(classes), units, head_dropout)
    network = BackboneClassifier(backbone, head_module, head_input)
    eval_data = None
    if eval_set is not None:
        lookup = {c: i for i, c in enumerate(classes.tolist())}
        eval_data = (eval_set[0], np.array([lookup[v] for v in np.asarray(eval_set[1]).tolist()]))
    result = fit_module(
        network,
        images,
        codes,
        train_config,
        n_classes=len(classes),
        prepare=prepare,
        augment=make_augmentation(augment),
        sample_weight=sample_weight,
        eval_set=eval_data,
    )
    model.eval()
    return (model, result) if return_result else model
