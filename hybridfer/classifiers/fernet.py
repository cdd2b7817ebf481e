"""An end-to-end image classifier: backbone + head trained on images, as a scikit-learn estimator.

:class:`FERNetClassifier` is the papers' end-to-end baseline in the same pipelines, CV and
ablations as the hybrids: a FER network of :mod:`hybridfer.nn.architectures` or a torchvision
backbone, with its own head or a linear, MLP or LSTM-over-tokens head, trained with the shared
loop of :mod:`hybridfer.nn.training` (two-stage freezing, focal loss, class weights, EMA,
augmentation, early stopping, mixed precision on GPU), on labels or on soft targets
(``fit(..., soft_targets=...)``: FERPlus's vote distributions).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from hybridfer.nn.architectures import ARCHITECTURES, build_fer_net
from hybridfer.nn.estimator import (
    IMAGE_DOC,
    IMAGE_TRAINING_DOC,
    SOFT_TARGETS_DOC,
    TRAINING_DOC,
    TRAINING_PARAMETER_CONSTRAINTS,
    TTA_CONSTRAINT,
    TTA_DOC,
    ImageNetworkMixin,
    TorchTrainingMixin,
)
from hybridfer.nn.finetune import backbone_trunk
from hybridfer.nn.heads import BackboneClassifier, PooledHead, SequenceClassifier, probe_features
from hybridfer.nn.seeding import seeded

__all__ = ["BACKBONE_MIN_SIZE", "FERNetClassifier", "pretrained_classifier"]

#: The smallest input side of a torchvision backbone: its output stride (32 for every
#: torchvision classification trunk), below which the last feature map is mostly padding.
BACKBONE_MIN_SIZE = 32


class FERNetClassifier(ImageNetworkMixin, TorchTrainingMixin, ClassifierMixin, BaseEstimator):
    """A network trained end to end on face images (backbone + head).

    Parameters
    ----------
    backbone : str, default="fer_resnet"
        A FER network (``"cnnlstm_model1"``, ``"cnnlstm_model2"``, ``"cnnlstm_model3"``,
        ``"fer_resnet"``, ``"fer_vgg"``, the CTAN paper's ``"ctan_convnext"``: pass it
        ``color="rgb", normalize="half"``) or a torchvision classification model name
        (``"mobilenet_v2"``, ``"mobilenet_v3_large"``, ``"resnet50"``, ``"convnext_tiny"``...),
        whose convolutional trunk is used.
    head : {"auto", "native", "linear", "mlp", "lstm"}, default="auto"
        ``"native"``: the FER network's own head (the paper models' LSTMs and dense layers);
        ``"linear"``/``"mlp"``: global average pooling then a linear layer or an MLP of
        ``hidden_units`` (CLCM: ``(128, 64)``, dropout 0.5); ``"lstm"``: an LSTM over the
        trunk's spatial tokens (the pain paper's head). ``"auto"``: native for FER networks,
        linear for torchvision backbones.
    weights : str, path or None, default=None
        A FER model shipped with hybridfer (``"fer2013-vgg"``; ``hybridfer models`` lists
        them) or the path of a model card ``NAME.json`` (:mod:`hybridfer.models`): the
        network, its classes and its input geometry are the card's (``backbone``, ``head``,
        ``architecture_params``, ``input_size``, ``color``, ``normalize`` and ``equalize`` are
        not read; other images are resized and converted to what the card states), and
        ``fit`` only reads the images' shape, unless ``fine_tune``. For torchvision
        backbones: ``"DEFAULT"`` or a weights name (loaded the standard torchvision way), a
        local state-dict file, or None (random initialisation).
    fine_tune : bool, default=False
        With a shipped model in ``weights``: train it further on ``(X, y)`` with the training
        parameters below (its head is kept when ``y`` has the card's classes, and replaced
        by a fresh linear layer otherwise). False: ``fit`` learns nothing.
    weights_strict : bool, default=True
        A local state dict must fit the torchvision network exactly (see
        :func:`hybridfer.nn.weights.load_state_dict`); False loads what fits and warns with
        what it skipped (a file with another classifier head, which is replaced anyway).
    architecture_params : dict or None, default=None
        Extra arguments of a FER network (``{"widths": (32, 64, 128, 256)}``).
    hidden_units : tuple of int, default=(128, 64)
        Hidden layers of the ``"mlp"`` head (and of the ``"lstm"`` head's dense part).
    head_dropout : float, default=0.5
    lstm_hidden : int, default=128
    lstm_layers : int, default=1
    bidirectional : bool, default=False
    freeze : str, list of str or None, default=None
        Modules frozen in the first stage: ``"backbone"`` (head-only training; the modules are
        named ``backbone`` and ``head`` unless ``head="native"``), or any module names such as
        ``"backbone.0"``.
    freeze_up_to : str or None, default=None
        Freeze every parameter up to and including this module (e.g.
        ``"backbone.1"`` is MobileNetV2's first bottleneck block: the CLCM setting).
    frozen_epochs : int or None, default=None
        Epochs of the frozen stage; then everything is trained (two-stage transfer learning).
        None keeps the frozen modules frozen throughout.
    unfreeze_lr : float or None, default=None
        Learning rate of the second stage (None: ``learning_rate``).
    """

    __doc__ += (
        IMAGE_DOC.replace(
            'color : {"gray", "rgb"}, default="gray"',
            'color : {"auto", "gray", "rgb"}, default="auto"',
        ).replace(
            'normalize : {"none", "imagenet", "minus_one_one", "half"}, default="none"',
            'normalize : {"auto", "none", "imagenet", "minus_one_one", "half"}, default="auto"',
        )
        + """        ``"auto"`` for ``color``/``normalize``: gray and [0, 1] pixels for FER networks, RGB and
        ImageNet statistics for torchvision backbones.
"""
        + IMAGE_TRAINING_DOC
        + TRAINING_DOC
        + """
    predict_batch_size : int, default=256
"""
        + TTA_DOC
        + """
    Attributes
    ----------
    model_ : nn.Module
        The trained network (on the CPU, eval mode).
    classes_ : ndarray
    history_ : list of dict
    best_epoch_ : int or None
    n_parameters_ : int
    """
    )

    _parameter_constraints: dict = {
        "backbone": [str],
        "head": [StrOptions({"auto", "native", "linear", "mlp", "lstm"})],
        "weights": "no_validation",
        "weights_strict": ["boolean"],
        "fine_tune": ["boolean"],
        "architecture_params": [dict, None],
        "hidden_units": [tuple, list],
        "head_dropout": [Interval(Real, 0, 1, closed="left")],
        "lstm_hidden": [Interval(Integral, 1, None, closed="left")],
        "lstm_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "freeze": [str, list, tuple, None],
        "freeze_up_to": [str, None],
        "frozen_epochs": [Interval(Integral, 0, None, closed="left"), None],
        "unfreeze_lr": [Interval(Real, 0, None, closed="neither"), None],
        "input_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "color": [StrOptions({"auto", "gray", "rgb"})],
        "normalize": [StrOptions({"auto", "none", "imagenet", "minus_one_one", "half"})],
        "equalize": ["boolean"],
        "image_shape": [tuple, list, None],
        "float_range": [tuple, list, None],
        "augment": [None, "boolean", str, dict, callable],
        "progressive_resize": [list, tuple, None],
        "predict_batch_size": [Interval(Integral, 1, None, closed="left")],
        "tta": TTA_CONSTRAINT,
        **TRAINING_PARAMETER_CONSTRAINTS,
    }

    def __init__(
        self,
        backbone="fer_resnet",
        head="auto",
        weights=None,
        weights_strict=True,
        fine_tune=False,
        architecture_params=None,
        hidden_units=(128, 64),
        head_dropout=0.5,
        lstm_hidden=128,
        lstm_layers=1,
        bidirectional=False,
        freeze=None,
        freeze_up_to=None,
        frozen_epochs=None,
        unfreeze_lr=None,
        input_size=None,
        color="auto",
        normalize="auto",
        equalize=False,
        image_shape=None,
        float_range=(0.0, 1.0),
        augment=None,
        progressive_resize=None,
        epochs=30,
        batch_size=64,
        optimizer="adam",
        learning_rate=1e-3,
        weight_decay=0.0,
        lr_schedule=None,
        min_lr=0.0,
        loss="cross_entropy",
        focal_alpha=None,
        focal_gamma=2.0,
        label_smoothing=0.0,
        class_weight=None,
        early_stopping=False,
        validation_fraction=0.1,
        patience=10,
        monitor="val_loss",
        ema_decay=None,
        grad_clip=None,
        max_time=None,
        device="auto",
        precision="auto",
        channels_last="auto",
        checkpoint=None,
        resume=False,
        predict_batch_size=256,
        tta=None,
        random_state=None,
        deterministic=False,
        verbose=0,
    ):
        self.backbone = backbone
        self.head = head
        self.weights = weights
        self.weights_strict = weights_strict
        self.fine_tune = fine_tune
        self.architecture_params = architecture_params
        self.hidden_units = hidden_units
        self.head_dropout = head_dropout
        self.lstm_hidden = lstm_hidden
        self.lstm_layers = lstm_layers
        self.bidirectional = bidirectional
        self.freeze = freeze
        self.freeze_up_to = freeze_up_to
        self.frozen_epochs = frozen_epochs
        self.unfreeze_lr = unfreeze_lr
        self.input_size = input_size
        self.color = color
        self.normalize = normalize
        self.equalize = equalize
        self.image_shape = image_shape
        self.float_range = float_range
        self.augment = augment
        self.progressive_resize = progressive_resize
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.min_lr = min_lr
        self.loss = loss
        self.focal_alpha = focal_alpha
        self.focal_gamma = focal_gamma
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.monitor = monitor
        self.ema_decay = ema_decay
        self.grad_clip = grad_clip
        self.max_time = max_time
        self.device = device
        self.precision = precision
        self.channels_last = channels_last
        self.checkpoint = checkpoint
        self.resume = resume
        self.predict_batch_size = predict_batch_size
        self.tta = tta
        self.random_state = random_state
        self.deterministic = deterministic
        self.verbose = verbose

    # -- network -----------------------------------------------------------------------------
    def _is_fer_net(self) -> bool:
        return self.backbone in ARCHITECTURES

    def _build_network(self, seed: int, n_classes: int) -> nn.Module:
        head = self.head
        if head == "auto":
            head = "native" if self._is_fer_net() else "linear"
        size = self.input_size_
        if not self._is_fer_net() and min(size) < BACKBONE_MIN_SIZE:
            source = "input_size" if self.input_size is not None else "the images' own size"
            raise ValueError(
                f"FERNetClassifier(backbone={self.backbone!r}) needs a network input of at "
                f"least {BACKBONE_MIN_SIZE}x{BACKBONE_MIN_SIZE} pixels (the backbone's "
                f"output stride), but {source} gives {size[0]}x{size[1]}; set input_size "
                "(e.g. 224) to resize the images"
            )
        if self._is_fer_net() and self.weights is not None:
            from hybridfer.models.registry import get_model

            get_model(self.weights)  # not a shipped model: the error lists the known ones
        with seeded(seed):
            if self._is_fer_net():
                net = build_fer_net(
                    self.backbone,
                    n_classes=n_classes,
                    in_channels=self.in_channels_,
                    image_size=size,
                    **(self.architecture_params or {}),
                )
                if head == "native":
                    return net
                trunk = net.trunk
            else:
                if head == "native":
                    raise ValueError(
                        f"head='native' is only for the FER networks {sorted(ARCHITECTURES)}; "
                        f"use 'linear', 'mlp' or 'lstm' with backbone={self.backbone!r}"
                    )
                if self.architecture_params:
                    raise ValueError("architecture_params is only for the FER networks")
                from hybridfer.nn.weights import build_torchvision_model

                trunk = backbone_trunk(
                    build_torchvision_model(
                        self.backbone, self.weights, seed, strict=self.weights_strict
                    ).model
                )
            head_input = "tokens" if head == "lstm" else "pooled"
            width = probe_features(trunk, torch.zeros(1, self.in_channels_, *size), head_input)[-1]
            if head == "lstm":
                head_module: nn.Module = SequenceClassifier(
                    width,
                    n_classes,
                    hidden_size=self.lstm_hidden,
                    num_layers=self.lstm_layers,
                    bidirectional=self.bidirectional,
                    dropout=self.head_dropout,
                    dense_units=tuple(self.hidden_units),
                )
            else:
                units = tuple(self.hidden_units) if head == "mlp" else ()
                head_module = PooledHead(width, n_classes, units, self.head_dropout)
            return BackboneClassifier(trunk, head_module, head_input)

    # -- scikit-learn API --------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None, eval_set=None, soft_targets=None):
        """Train the network end to end (a shipped model in ``weights``: load it).

        Parameters
        ----------
        X : array-like or sequence of paths
            Images ``(n, H, W[, C])``, flat ``(n, H*W)`` with ``image_shape``, or file paths.
        y : array-like of shape (n,)
            Labels; not read for a shipped model without ``fine_tune`` (None is fine).
        sample_weight : array-like of shape (n,), optional
            Zero-weight images are left out.
        eval_set : (X_val, y_val), optional
            Validation images for early stopping (instead of a held-out fraction).
        {soft_targets}

        Returns
        -------
        self
        """
        self._fit_network(X, y, sample_weight, eval_set, soft_targets)
        return self

    if fit.__doc__:  # None under python -OO
        fit.__doc__ = fit.__doc__.format(soft_targets=SOFT_TARGETS_DOC.strip("\n").lstrip())

    def _configure_inputs(self, source) -> None:
        fer = self._is_fer_net()
        color = self.color if self.color != "auto" else ("gray" if fer else "rgb")
        self.in_channels_ = 1 if color == "gray" else 3
        self.normalize_ = (
            self.normalize if self.normalize != "auto" else ("none" if fer else "imagenet")
        )
        self.input_size_ = self._check_input_size(source)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` in ``classes_`` order (averaged over the
        ``tta`` views)."""
        return self._softmax_outputs(X)

    def predict(self, X) -> np.ndarray:
        """Most probable class of each image."""
        proba = self._softmax_outputs(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # image file paths
        return tags


def pretrained_classifier(model: Any, **params: Any) -> FERNetClassifier:
    """A fitted :class:`FERNetClassifier` of a shipped model, ready to predict.

    Parameters
    ----------
    model : str or path
        A shipped model's name (``"fer2013-vgg"``) or a model card file
        (:func:`hybridfer.models.get_model`).
    **params
        Other parameters of :class:`FERNetClassifier` (``tta="flip"``, ``device``...).

    Returns
    -------
    FERNetClassifier
        Fitted on one blank image of the card's size: nothing is learned, the weights are
        the card's (checked against its sha256); ``predict_proba`` is the network's softmax.
    """
    from hybridfer.models.registry import SHIPPED_DIR, get_model

    card = get_model(model)
    blank = np.zeros((1, *card.input_size) + ((3,) if card.in_channels == 3 else ()), np.uint8)
    weights = card.name if card.path.parent == SHIPPED_DIR else str(card.path)
    return FERNetClassifier(weights=weights, **params).fit(blank)
