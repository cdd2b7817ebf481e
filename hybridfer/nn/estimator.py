"""What the scikit-learn estimators that train a torch network share.

The training parameters (``epochs``, ``learning_rate``, ``loss``, ``ema_decay``...) are the same
for :class:`~hybridfer.extractors.CNNFeatures`, :class:`~hybridfer.classifiers.FERNetClassifier`
and :class:`~hybridfer.classifiers.LSTMHeadClassifier`: each lists them in its ``__init__`` (as
scikit-learn requires) and :class:`TorchTrainingMixin` turns them into a
:class:`~hybridfer.nn.config.TrainConfig`, validates labels, sample weights and evaluation
sets, and seeds the run. :class:`ImageNetworkMixin` owns the fit and predict of the networks
trained on images (:meth:`~ImageNetworkMixin._fit_network`,
:meth:`~ImageNetworkMixin._network_outputs`): a subclass supplies only its network builder
(``_build_network``) and its input handling (``_configure_inputs``).
"""

from __future__ import annotations

import os
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_feature_names,
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
)

from hybridfer._compat import FillDefaultsOnUnpickleMixin
from hybridfer._messages import plain_repr
from hybridfer.images import (
    FLOAT_RANGE_DOC,
    ImageSource,
    as_image_source,
    check_float_range,
    coerce_image_input,
    resolve_image_shape,
)
from hybridfer.nn.augment import make_augmentation
from hybridfer.nn.batches import RowSubset
from hybridfer.nn.callbacks import MONITORS
from hybridfer.nn.config import TRAINING_PARAMETERS, TrainConfig, TrainingResult
from hybridfer.nn.devices import PRECISION_NAMES, resolve_device
from hybridfer.nn.fernet import count_parameters
from hybridfer.nn.inference import TTA_MODES, predict_module
from hybridfer.nn.losses import CLASS_WEIGHT_RULES, LOSSES, check_soft_targets
from hybridfer.nn.optim import OPTIMIZERS, SCHEDULES
from hybridfer.nn.preprocessing import Preprocessor, resolve_input_size
from hybridfer.nn.seeding import DETERMINISTIC_DOC, deterministic_mode, seed_from
from hybridfer.nn.training import fit_module

__all__ = [
    "IMAGE_DOC",
    "IMAGE_TRAINING_DOC",
    "ImageNetworkMixin",
    "SOFT_TARGETS_DOC",
    "TRAINING_DOC",
    "TRAINING_PARAMETER_CONSTRAINTS",
    "TTA_CONSTRAINT",
    "TTA_DOC",
    "TorchTrainingMixin",
    "seed_from",
]


def _softmax(logits: torch.Tensor) -> torch.Tensor:
    return torch.softmax(logits.float(), dim=1)


TRAINING_PARAMETER_CONSTRAINTS: dict[str, list] = {
    "epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "optimizer": [StrOptions(set(OPTIMIZERS))],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "lr_schedule": [StrOptions(set(SCHEDULES)), None],
    "min_lr": [Interval(Real, 0, None, closed="left")],
    "loss": [StrOptions(set(LOSSES))],
    "focal_alpha": [Interval(Real, 0, None, closed="left"), "array-like", None],
    "focal_gamma": [Interval(Real, 0, None, closed="left")],
    "label_smoothing": [Interval(Real, 0, 1, closed="left")],
    "class_weight": [StrOptions(set(CLASS_WEIGHT_RULES)), dict, None],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "patience": [Interval(Integral, 1, None, closed="left")],
    "monitor": [StrOptions(set(MONITORS))],
    "ema_decay": [Interval(Real, 0, 1, closed="neither"), None],
    "grad_clip": [Interval(Real, 0, None, closed="neither"), None],
    "max_time": [Interval(Real, 0, None, closed="neither"), None],
    "device": [str],
    "precision": [StrOptions(set(PRECISION_NAMES))],
    "channels_last": ["boolean", StrOptions({"auto"})],
    "checkpoint": [str, os.PathLike, None],
    "resume": ["boolean"],
    "random_state": ["random_state"],
    "deterministic": ["boolean"],
    "verbose": ["verbose"],
}

TRAINING_DOC = (
    """
    epochs : int
        Maximum passes over the training data.
    batch_size : int, default=64
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
    learning_rate : float
    weight_decay : float, default=0.0
    lr_schedule : {"constant", "cosine", "warmup_cosine", "step", "onecycle"} or None, \
default=None
        Cosine annealing to ``min_lr``, a 5% linear warm-up then cosine, step decay (x0.1
        every 10 epochs) or one-cycle; over the epochs, or over ``max_time`` when that comes
        first, so a budgeted run still ends at ``min_lr``. Under bf16 prefer a schedule that
        warms up (``"warmup_cosine"``, ``"onecycle"``): at initialisation BatchNorm's
        backward amplifies bf16 rounding into a large relative gradient error, and a network
        started at the full rate loses accuracy in bf16 that a warm-up keeps
        (``benchmarks/bench_training.py --accuracy`` compares them).
    min_lr : float, default=0.0
        Final learning rate of the cosine, warm-up-cosine and one-cycle schedules.
    loss : {"cross_entropy", "focal"}, default="cross_entropy"
    focal_alpha : float, array-like or None, default=None
        Focal-loss balancing factor (scalar, or one per class in ``classes_`` order).
    focal_gamma : float, default=2.0
        Focal-loss focusing parameter (0 gives the cross-entropy).
    label_smoothing : float, default=0.0
    class_weight : {"balanced", "normalized"}, dict or None, default=None
        ``"balanced"``: n / (K n_c); ``"normalized"``: N / n_c normalised to sum 1 (CTAN); a
        dict maps labels to weights. Multiplied into the sample weights.
    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` (or use ``eval_set`` given to ``fit``),
        stop after ``patience`` epochs without improvement of ``monitor`` and restore the best
        epoch's weights.
    validation_fraction : float, default=0.1
    patience : int, default=10
    monitor : {"val_loss", "val_accuracy"}, default="val_loss"
    ema_decay : float or None, default=None
        Keep an exponential moving average of the weights (e.g. 0.999); validation uses it and
        the fitted network ends with the averaged weights.
    grad_clip : float or None, default=None
        Clip the global gradient norm.
    max_time : float or None, default=None
        Training-time budget in seconds (checked after every batch); the schedule anneals
        over it.
    device : str, default="auto"
        ``"auto"``: cuda, then mps, then cpu.
    precision : {"auto", "float32", "bfloat16", "float16"}, default="auto"
        ``"auto"``: bfloat16 autocast on GPUs that have it (float16 on others) and on CPUs
        with native bf16 (AVX512-BF16 or AMX), float32 on other CPUs. Train bf16 with a
        warm-up schedule (see ``lr_schedule``).
    channels_last : bool or "auto", default="auto"
        Channels-last memory format for convolutional networks; ``"auto"``: on CUDA, and on
        CPUs in float32 or native bf16 (not emulated bf16).
    checkpoint : str, path or None, default=None
        File the whole training state is written to (atomically) after every epoch.
    resume : bool, default=False
        Continue training from ``checkpoint`` when the file exists (after a kill); the
        checkpoint must come from the same data, network and settings.
    random_state : int, RandomState or None, default=None
        Seeds initialisation, batch order, validation split, dropout and augmentation: the
        same seed gives the same model on the same machine with the same torch thread count
        (``deterministic=True`` drops that condition)."""
    + DETERMINISTIC_DOC.rstrip("\n")
    + """
    verbose : int, default=0
        >= 1 shows a progress bar per epoch and one line of loss/accuracy per epoch.
"""
)

IMAGE_TRAINING_DOC = """
    augment : None, bool, "default", "pain", dict or callable, default=None
        Batch augmentation during training (see :func:`hybridfer.nn.augment.make_augmentation`):
        flip, rotation, shift, zoom, shear, crop with padding, random erasing drawn per image
        in one batched ``grid_sample``, and optional mixup/CutMix (presets ``"fer"`` and
        ``"fer_mix"``).
    progressive_resize : sequence of (float, int) or None, default=None
        Progressive resizing: ``(until, size)`` pairs, ``until`` increasing in (0, 1]. The
        augmented training batches are resized to ``size`` x ``size`` while training progress
        (the share of the planned steps, or of ``max_time`` when that comes first) is below
        ``until``; after the last pair they train at the input size. ``[(0.5, 40)]`` trains
        a 48x48 network at 40x40 for the first half. Validation, ``predict`` and
        ``transform`` always use the input size.
"""

#: TrainConfig fields not read from the estimators' parameters: ``random_state`` is seeded per
#: fit, an extractor's ``num_workers`` decodes its feature extraction, and the estimators have
#: no parameter for the others.
_NOT_FROM_PARAMETERS = frozenset(
    {"random_state", "num_workers", "momentum", "warmup", "step_size", "step_gamma", "compile"}
)

#: The TrainConfig fields an estimator's parameters of the same names fill.
_CONFIG_FIELDS = tuple(n for n in TRAINING_PARAMETERS if n not in _NOT_FROM_PARAMETERS)


class TorchTrainingMixin:
    """Shared helpers of the torch-trained estimators (labels, weights, configuration)."""

    def _train_config(self, seed: int, **overrides: Any) -> TrainConfig:
        kwargs = {name: getattr(self, name) for name in _CONFIG_FIELDS if hasattr(self, name)}
        if kwargs.get("focal_alpha") is not None and not np.isscalar(kwargs["focal_alpha"]):
            alpha = np.asarray(kwargs["focal_alpha"], dtype=float)
            if alpha.shape != (len(self.classes_),):
                raise ValueError(
                    f"focal_alpha has {alpha.size} values; expected a scalar or one per class "
                    f"({len(self.classes_)})"
                )
            kwargs["focal_alpha"] = alpha.tolist()
        if kwargs.get("checkpoint") is not None:
            kwargs["checkpoint"] = os.fspath(kwargs["checkpoint"])
        kwargs.update(overrides)
        return TrainConfig(random_state=seed, **kwargs)

    def _encode_labels(self, y: Any) -> np.ndarray:
        """Set ``classes_`` and return integer codes; at least two classes are required."""
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            got = (
                f"1 class ({plain_repr(self.classes_[0])})" if len(self.classes_) else "no samples"
            )
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes; got {got}"
            )
        return encoder.transform(y).astype(np.int64)

    def _encode_known(self, y: Any, name: str = "y") -> np.ndarray:
        """Integer codes of labels that must all be in ``classes_``."""
        y = column_or_1d(np.asarray(y), warn=True)
        lookup = {c: i for i, c in enumerate(self.classes_.tolist())}
        try:
            return np.array([lookup[v] for v in y.tolist()], dtype=np.int64)
        except KeyError as exc:
            raise ValueError(
                f"{name} holds label {plain_repr(exc.args[0])}, which is not among the training classes "
                f"{self.classes_.tolist()}"
            ) from None

    def _soft_targets(self, soft_targets: Any, codes: np.ndarray) -> np.ndarray | None:
        """Validated soft targets ``(n, len(classes_))`` in ``classes_`` order (None stays
        None); see :data:`SOFT_TARGETS_DOC`. Called after ``_encode_labels``."""
        if soft_targets is None:
            return None
        classes = self.classes_.tolist()
        where = f"{type(self).__name__}.fit soft_targets"
        if hasattr(soft_targets, "columns") and hasattr(soft_targets, "to_numpy"):
            columns = list(soft_targets.columns)
            if len(set(columns)) != len(columns):
                twice = sorted({plain_repr(c) for c in columns if columns.count(c) > 1})
                raise ValueError(f"{where} has the columns {twice} twice; one per class")
            missing = [c for c in classes if c not in columns]
            if missing:
                raise ValueError(
                    f"{where} has no column for the classes {plain_repr(missing)}; its columns "
                    f"are {plain_repr(columns)}, the classes of y {plain_repr(classes)}"
                )
            try:
                values = soft_targets.to_numpy(dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where} cannot be read as numbers ({exc})") from None
            extra = [j for j, c in enumerate(columns) if c not in classes]
            held = [columns[j] for j in extra if np.any(values[:, j] != 0)]
            if held:
                raise ValueError(
                    f"{where} gives probability to {plain_repr(held)}, which no label of y "
                    f"has; the network has one output per class of y {plain_repr(classes)}"
                )
            soft_targets = values[:, [columns.index(c) for c in classes]]
        soft = check_soft_targets(
            soft_targets, len(codes), len(classes), classes=classes, name=where
        )
        own = soft[np.arange(len(codes)), codes]
        if np.any(own <= 0):
            r = int(np.flatnonzero(own <= 0)[0])
            label = plain_repr(classes[codes[r]])
            raise ValueError(
                f"{where} row {r} gives probability 0 to its own label y={label}: are its "
                f"columns in classes_ order, the sorted labels of y {plain_repr(classes)}? A FERDataset's soft_labels follow ds.classes: pass "
                "pandas.DataFrame(ds.soft_labels, columns=ds.classes)"
            )
        return soft

    def _record_training(self, result: TrainingResult) -> None:
        """Copy what training reports into the fitted attributes."""
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.n_epochs_ = result.n_epochs
        self.train_time_ = result.train_time
        self.n_parameters_ = count_parameters(self.model_)

    def _sample_weight(
        self, sample_weight: Any, n: int, codes: np.ndarray | None = None
    ) -> np.ndarray | None:
        """Validated non-negative weights (None stays None).

        Samples with zero weight are left out of training, so at least two classes must keep
        a positive weight.
        """
        if sample_weight is None:
            return None
        sw = _check_sample_weight(sample_weight, np.empty((n, 0)), ensure_non_negative=True)
        if codes is not None and len(np.unique(codes[sw > 0])) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes with non-zero "
                "sample_weight; got 1 class"
            )
        return sw


class ImageNetworkMixin(FillDefaultsOnUnpickleMixin):
    """Image-side helpers of estimators that train a network on images."""

    def _image_source(self, X: Any) -> ImageSource:
        X = coerce_image_input(X)
        return as_image_source(
            X,
            resolve_image_shape(self.image_shape, X),
            color=None,
            name="X",
            float_range=check_float_range(self.float_range),
        )

    def _validate_targets(self, y: Any, sample_weight: Any) -> tuple[np.ndarray, Any]:
        """Labels and sample weights are checked before the images (cheap errors first)."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None "
                "(the network is trained on labelled images)"
            )
        codes = self._encode_labels(y)
        return codes, self._sample_weight(sample_weight, len(codes), codes)

    def _check_input_size(self, source: ImageSource) -> tuple[int, int]:
        """The network's input size: ``input_size`` or the images' own (H, W)."""
        size = resolve_input_size(self.input_size)
        if size is None:
            size = tuple(int(s) for s in source.first_image_shape()[:2])
        return size

    def _tta_padding(self) -> int:
        """Shift of the ``tta="crops"`` views: the training augmentation's crop padding, else
        1/12 of the input size (4 px at 48x48)."""
        pad = int(getattr(make_augmentation(self.augment), "crop_padding", 0) or 0)
        return pad or max(1, round(min(self.input_size_) / 12))

    def _preprocessor(self, device: Any) -> Preprocessor:
        """The network's input preprocessing (fitted ``input_size_``, ``normalize_`` and
        ``in_channels_``) on ``device``."""
        return Preprocessor(
            input_size=self.input_size_,
            normalize=self.normalize_,
            equalize=getattr(self, "equalize_", self.equalize),
            out_channels=self.in_channels_,
        ).to(device)

    # -- the shared fit and predict core -------------------------------------------------
    def _configure_inputs(self, source: ImageSource) -> None:
        """Set ``input_size_``, ``in_channels_`` and ``normalize_`` (subclasses refine)."""
        self.input_size_ = self._check_input_size(source)
        self.in_channels_ = 1 if self.color == "gray" else 3
        self.normalize_ = self.normalize

    def _build_network(self, seed: int, n_classes: int):  # pragma: no cover
        raise NotImplementedError

    # -- shipped models (hybridfer.models) -----------------------------------------------
    def _shipped_card(self):
        """The card of the model ``weights`` names (shipped name or card file), else None."""
        from hybridfer.models.registry import get_model, is_model_spec

        weights = getattr(self, "weights", None)
        return get_model(weights) if is_model_spec(weights) else None

    def _configure_from_card(self, card) -> None:
        """The card's input geometry replaces the estimator's own (``_configure_inputs``)."""
        self.input_size_ = card.input_size
        self.in_channels_ = card.in_channels
        self.normalize_ = card.input("normalize")
        self.equalize_ = bool(card.input("equalize"))
        self.model_card_ = dict(card.data)

    def _load_shipped(self, card, X: Any) -> None:
        """``fit`` of a shipped model without fine-tuning: read the images' shape, load the
        checked weights; nothing is learned."""
        from hybridfer.models.registry import load_network

        _check_feature_names(self, X, reset=True)
        self._check_images(self._image_source(X), reset=True)
        self._configure_from_card(card)
        self.model_ = load_network(card)
        self.classes_ = np.asarray(card.classes)
        self.history_ = []
        self.best_epoch_ = None
        self.n_epochs_ = 0
        self.train_time_ = 0.0
        self.n_parameters_ = count_parameters(self.model_)

    def _fit_network(
        self, X: Any, y: Any, sample_weight: Any, eval_set: Any, soft_targets: Any = None
    ) -> None:
        """Validate, build the network (``_build_network``) and train it on the images.

        Labels, weights and soft targets are checked first, then the images; zero-weight
        images are left out; ``eval_set`` images are validation data. Sets ``model_`` and the
        training attributes (``history_``, ``best_epoch_``, ``n_epochs_``, ``train_time_``,
        ``n_parameters_``).
        """
        card = self._shipped_card()
        if card is not None and not getattr(self, "fine_tune", False):
            self._load_shipped(card, X)
            return
        codes, sw = self._validate_targets(y, sample_weight)
        soft = self._soft_targets(soft_targets, codes)
        _check_feature_names(self, X, reset=True)
        source = self._image_source(X)
        if len(codes) != len(source):
            raise ValueError(f"X has {len(source)} images but y has {len(codes)} labels")
        self._check_images(source, reset=True)
        data: Any = source
        if sw is not None and np.any(sw == 0):
            rows = np.flatnonzero(sw > 0)
            codes, sw, data = codes[rows], sw[rows], RowSubset(source, rows)
            soft = None if soft is None else soft[rows]
        self._configure_inputs(source)
        self.equalize_ = bool(self.equalize)
        self.model_card_ = None
        if card is not None:
            self._configure_from_card(card)
        seed = seed_from(self.random_state)
        eval_data = None
        if eval_set is not None:
            eval_data = (
                self._image_source(eval_set[0]),
                self._encode_known(eval_set[1], "eval_set y"),
            )
        with deterministic_mode(self.deterministic):
            if card is None:
                self.model_ = self._build_network(seed, len(self.classes_))
            else:  # fine-tuning a shipped model: its head is kept for its own classes
                from hybridfer.models.registry import load_network

                same = [str(c) for c in self.classes_] == card.classes
                self.model_ = load_network(card, None if same else len(self.classes_)).train()
            result = fit_module(
                self.model_,
                data,
                codes,
                self._train_config(seed),
                n_classes=len(self.classes_),
                prepare=self._preprocessor(resolve_device(self.device)),
                augment=make_augmentation(self.augment),
                sample_weight=sw,
                eval_set=eval_data,
                classes=self.classes_,
                soft_targets=soft,
            )
        self._record_training(result)

    def _network_outputs(self, X: Any, forward: Any = None, post: Any = None) -> np.ndarray:
        """The trained network's outputs on ``X`` (``forward(model, x)``, default logits),
        averaged over the ``tta`` views after ``post``."""
        return self._source_outputs(self._fitted_source(X), forward, post)

    def _fitted_source(self, X: Any) -> ImageSource:
        """``X`` as an image source, checked against what the estimator was fitted on."""
        check_is_fitted(self, "model_")
        _check_feature_names(self, X, reset=False)
        source = self._image_source(X)
        self._check_images(source, reset=False)
        return source

    def _source_outputs(self, source: Any, forward: Any = None, post: Any = None) -> np.ndarray:
        """:meth:`_network_outputs` of an image source (or a :class:`RowSubset` of one)."""
        device = resolve_device(self.device)
        with deterministic_mode(self.deterministic):
            return predict_module(
                self.model_,
                source,
                prepare=self._preprocessor(device),
                forward=forward,
                batch_size=self.predict_batch_size,
                device=device,
                precision=self.precision,
                channels_last=self.channels_last,
                tta=self.tta,
                tta_padding=self._tta_padding(),
                post=post,
            )

    def _softmax_outputs(self, X: Any) -> np.ndarray:
        """Class probabilities (float64, rows sum to 1), averaged over the ``tta`` views."""
        proba = self._network_outputs(X, None, post=_softmax).astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def _check_images(self, source: ImageSource, reset: bool) -> None:
        shape = tuple(int(s) for s in source.first_image_shape())
        if reset:
            self.image_shape_in_ = shape
            self.n_features_in_ = int(np.prod(shape))
        elif (
            resolve_input_size(self.input_size) is None
            and getattr(self, "model_card_", None) is None  # a shipped model resizes
            and shape[:2] != self.image_shape_in_[:2]
        ):
            raise ValueError(
                f"X holds images of size {shape[:2]}, but {type(self).__name__} was fitted on "
                f"{self.image_shape_in_[:2]} and input_size=None keeps the native size; set "
                "input_size to resize every image"
            )


SOFT_TARGETS_DOC = """
        soft_targets : array-like of shape (n, n_classes) or DataFrame, optional
            Train against class probabilities (FERPlus's vote distributions, a teacher's
            predictions) instead of the labels: the loss becomes the cross-entropy (or focal
            loss) against each row's distribution. An array's columns follow ``classes_``,
            the sorted unique labels of ``y``; a DataFrame's columns are class names,
            reordered to ``classes_`` (a column of a class ``y`` lacks must be all 0); rows
            follow X, are non-negative, sum to 1 and give the row's own label a probability
            above 0 (which catches columns in another order). ``y`` still gives
            ``classes_``, the validation split and metrics (validation loss and accuracy are
            measured on the labels), and the class counts of ``class_weight="balanced"``; a
            sample's class weight is its target's expected class weight. Mixup/CutMix mix
            the two images' targets in the images' ratio; label smoothing, ``focal_gamma``
            and ``focal_alpha`` apply per class. One-hot rows train exactly as ``y`` does (to
            rounding with label smoothing or the focal loss).
"""

#: Constraint of the ``tta`` parameter.
TTA_CONSTRAINT = [StrOptions({m for m in TTA_MODES if m}), None]

TTA_DOC = """
    tta : {None, "flip", "crops"}, default=None
        Test-time augmentation of predictions and embeddings: ``"flip"`` averages each image
        and its mirror; ``"crops"`` the ten-crop scheme (centre and four corner crops of the
        image padded by the training crop padding, and their mirrors).
"""

IMAGE_DOC = (
    """
    input_size : int, (H, W) or None, default=None
        Resize images to this size on the device; None keeps the training images' size.
    color : {"gray", "rgb"}, default="gray"
        Channels the network reads (RGB input becomes gray by ITU-R 601 luma, gray input is
        repeated to 3 channels).
    normalize : {"none", "imagenet", "minus_one_one", "half"}, default="none"
        Pixel normalisation after scaling to [0, 1] (see
        :data:`hybridfer.nn.preprocessing.NORMALIZATIONS`).
    equalize : bool, default=False
        Histogram-equalise each image first.
    image_shape : tuple of int or None, default=None
        ``(H, W[, C])`` of each image when X is a flat 2-D array (square gray inferred)."""
    + FLOAT_RANGE_DOC
)
