"""Supervised CNN features: train a small FER network in ``fit`` (or load a shipped one), read
its embeddings.

:class:`CNNFeatures` is a transformer whose ``fit(X, y)`` trains one of
:data:`hybridfer.nn.architectures.ARCHITECTURES` (the CNN-LSTM paper's three models, or the
deeper ``fer_resnet``/``fer_vgg``) on the labelled images, and whose ``transform`` returns the
trained network's penultimate activations (``output="embedding"``), those beside the average
and the maximum of its last feature map (``output="embedding+pooled"``, two depths of the
network), or its last feature map as spatial tokens (``output="tokens"``, 3-D). A classical classifier on those features
(``WNXGBClassifier``, ``LSTMHeadClassifier``) is the hybrid; :meth:`CNNFeatures.network_predict`
gives the network's own softmax decision to compare against. ``CNNFeatures(weights=
"fer2013-vgg")`` is a FER2013-trained network shipped with hybridfer (:mod:`hybridfer.models`):
its ``fit`` learns nothing unless ``fine_tune=True``.
"""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from hybridfer.cache import CachedTransformMixin, resolve_cache
from hybridfer.extractors.base import _state_digest
from hybridfer.nn.architectures import ARCHITECTURES, build_fer_net
from hybridfer.nn.batches import RowSubset
from hybridfer.nn.devices import resolve_device, resolve_precision
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
from hybridfer.nn.seeding import seeded

__all__ = ["CNNFeatures"]


def _embed(model, x):
    return model.embed(x)


def _tokens(model, x):
    return model.tokens(x)


def _embed_pooled(model, x):
    return model.embed_pooled(x)


_OUTPUTS = {"embedding": _embed, "embedding+pooled": _embed_pooled, "tokens": _tokens}


class CNNFeatures(
    ImageNetworkMixin, TorchTrainingMixin, CachedTransformMixin, TransformerMixin, BaseEstimator
):
    """Features learned by training a small FER CNN on the labelled images.

    Parameters
    ----------
    architecture : str, default="cnnlstm_model3"
        ``"cnnlstm_model1"``, ``"cnnlstm_model2"``, ``"cnnlstm_model3"`` (the CNN-LSTM paper's
        models, 117,031 / 303,495 / 457,863 parameters at 48x48x1), ``"fer_resnet"`` or
        ``"fer_vgg"`` (deeper nets); see :mod:`hybridfer.nn.architectures`.
    architecture_params : dict or None, default=None
        Extra arguments of the architecture (``{"widths": (32, 64, 128, 256)}``,
        ``{"dropout": 0.5}``...).
    output : {"embedding", "embedding+pooled", "tokens"}, default="embedding"
        ``"embedding"``: the penultimate activations, 2-D float32 ``(n, embedding_dim)``.
        ``"embedding+pooled"``: those beside the average and the maximum over positions of the
        trunk's last feature map, ``(n, embedding_dim + 2 C)`` (on a fer_vgg trained by
        ``fer2013-cpu``, an RBF SVM on them reached 69.10% FER2013 PublicTest against 68.65%
        on the embedding alone). ``"tokens"``: the trunk's last feature map as ``(n, h*w, C)``
        float32 (3-D, for :class:`~hybridfer.classifiers.LSTMHeadClassifier`). Read only by
        ``transform``, so it can be changed on a fitted extractor (as ``tta``).
    weights : str, path or None, default=None
        None: ``fit`` trains the network from a random initialisation. A FER model shipped
        with hybridfer (``"fer2013-vgg"``; ``hybridfer models`` lists them) or the path of a
        model card ``NAME.json`` (:mod:`hybridfer.models`): the network, its classes and its
        input geometry are the card's (``architecture``, ``architecture_params``,
        ``input_size``, ``color``, ``normalize`` and ``equalize`` are not read; images of
        another size or colour are resized and converted as the card states), and ``fit``
        only reads the images' shape (``y`` may be None), unless ``fine_tune``.
    fine_tune : bool, default=False
        With a shipped model in ``weights``: train it further on ``(X, y)`` with the training
        parameters below (its head is kept when ``y`` has the card's classes, else replaced
        by a fresh linear layer).
    cache : FeatureCache, str, path, bool, "auto" or None, default=None
        The feature cache of ``transform`` (:func:`hybridfer.cache.resolve_cache`), keyed by
        the weights (a shipped model's sha256, else a digest of the trained state), ``output``,
        ``tta``, the input geometry and the effective precision.
    """

    __doc__ += (
        IMAGE_DOC
        + IMAGE_TRAINING_DOC
        + TRAINING_DOC
        + """
    predict_batch_size : int, default=256
        Images per forward pass in ``transform``.
"""
        + TTA_DOC
        + """

    Attributes
    ----------
    model_ : FERNet
        The trained network (on the CPU, eval mode).
    classes_ : ndarray
        Training labels, in the order of :meth:`network_predict_proba`'s columns.
    n_features_out_ : int
        Width of one output row (of one token with ``output="tokens"``).
    history_ : list of dict
        Per-epoch loss/accuracy (and validation metrics).
    best_epoch_ : int or None
        Epoch restored by early stopping.
    n_parameters_ : int
        Trainable parameters of the network.
    """
    )

    _parameter_constraints: dict = {
        "architecture": [StrOptions(set(ARCHITECTURES))],
        "architecture_params": [dict, None],
        "output": [StrOptions(set(_OUTPUTS))],
        "weights": [str, os.PathLike, None],
        "fine_tune": ["boolean"],
        "cache": "no_validation",
        "input_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "color": [StrOptions({"gray", "rgb"})],
        "normalize": [StrOptions({"none", "imagenet", "minus_one_one", "half"})],
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
        architecture="cnnlstm_model3",
        architecture_params=None,
        output="embedding",
        weights=None,
        fine_tune=False,
        cache=None,
        input_size=None,
        color="gray",
        normalize="none",
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
        self.architecture = architecture
        self.architecture_params = architecture_params
        self.output = output
        self.weights = weights
        self.fine_tune = fine_tune
        self.cache = cache
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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None, eval_set=None, soft_targets=None):
        """Train the network on labelled images (or on soft targets).

        Parameters
        ----------
        X : array-like or sequence of paths
            Images ``(n, H, W[, C])``, flat ``(n, H*W)`` with ``image_shape``, or file paths.
        y : array-like of shape (n,)
            Labels.
        sample_weight : array-like of shape (n,), optional
            Per-image loss weights (zero-weight images are left out).
        eval_set : (X_val, y_val), optional
            Validation images and labels for early stopping (instead of a held-out fraction).
        {soft_targets}

        Returns
        -------
        self
        """
        self._fit_network(X, y, sample_weight, eval_set, soft_targets)
        return self

    if fit.__doc__:  # None under python -OO
        fit.__doc__ = fit.__doc__.format(soft_targets=SOFT_TARGETS_DOC.strip("\n").lstrip())

    @property
    def n_features_out_(self) -> int:
        """Width of one output row (of one token with ``output="tokens"``)."""
        check_is_fitted(self, "model_")
        model = self.model_
        return {
            "embedding": model.embedding_dim,
            "embedding+pooled": model.embedding_dim + 2 * model.token_dim,
            "tokens": model.token_dim,
        }[self.output]

    def _shipped_card(self):
        """Any ``weights`` must name a shipped model (an unknown name lists the known ones)."""
        if self.weights is None:
            return None
        from hybridfer.models.registry import get_model

        return get_model(self.weights)

    def _build_network(self, seed: int, n_classes: int):
        with seeded(seed):
            return build_fer_net(
                self.architecture,
                n_classes=n_classes,
                in_channels=self.in_channels_,
                image_size=self.input_size_,
                **(self.architecture_params or {}),
            )

    def transform(self, X) -> np.ndarray:
        """Embeddings ``(n, n_features_out_)`` or tokens ``(n, h*w, C)`` of the trained network.

        Parameters
        ----------
        X : array-like or sequence of paths
            Images in any accepted form (see :mod:`hybridfer.images`).

        Returns
        -------
        ndarray of float32
        """
        source = self._fitted_source(X)
        if resolve_cache(self.cache) is None:
            return self._source_outputs(source, _OUTPUTS[self.output])
        features = self._transform_cached(source)
        if self.output == "tokens":
            return features.reshape(len(features), -1, self.model_.token_dim)
        return features

    def _compute_features(self, source, indices: np.ndarray) -> np.ndarray:
        """Rows of :meth:`transform` (tokens flattened) for the images at ``indices``."""
        out = self._source_outputs(RowSubset(source, indices), _OUTPUTS[self.output])
        return out.reshape(len(out), -1)

    def _cache_key_params(self) -> dict:
        card = getattr(self, "model_card_", None)
        device = resolve_device(self.device)
        return {
            "weights": (
                f"{card['name']}@sha256:{card['weights']['sha256']}"
                if card
                else f"state:{_state_digest(self.model_)}"
            ),
            "output": self.output,
            "tta": self.tta,
            "tta_padding": self._tta_padding() if self.tta == "crops" else None,
            "input_size": list(self.input_size_),
            "in_channels": self.in_channels_,
            "normalize": self.normalize_,
            "equalize": bool(getattr(self, "equalize_", self.equalize)),
            "precision": str(resolve_precision(self.precision, device)).replace("torch.", ""),
            "torch": torch.__version__.split("+")[0],
            **({"deterministic": True} if self.deterministic else {}),
        }

    def network_predict_proba(self, X) -> np.ndarray:
        """The trained network's own softmax probabilities ``(n, n_classes)`` (averaged over
        the ``tta`` views)."""
        return self._softmax_outputs(X)

    def network_predict(self, X) -> np.ndarray:
        """The trained network's own decision (the baseline a hybrid is compared against)."""
        proba = self.network_predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """``cnnlstm_model3.embedding.0`` ... (then ``.avgpool.0`` ... and ``.maxpool.0`` ...
        with ``output="embedding+pooled"``; ``.token.0`` ... per channel of a token with
        ``output="tokens"``)."""
        check_is_fitted(self, "model_")
        model = self.model_
        card = getattr(self, "model_card_", None)
        prefix = card["name"] if card else self.architecture
        if self.output == "tokens":
            parts = [("token", model.token_dim)]
        else:
            parts = [("embedding", model.embedding_dim)]
            if self.output == "embedding+pooled":
                parts += [("avgpool", model.token_dim), ("maxpool", model.token_dim)]
        return np.asarray(
            [f"{prefix}.{kind}.{i}" for kind, n in parts for i in range(n)],
            dtype=object,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.string = True  # image file paths
        return tags
