"""An LSTM classifier over sequences of features, as a scikit-learn estimator.

What a "sequence" is depends on the input:

* 3-D ``(n, T, d)``: T timesteps of d features - spatial tokens of a backbone
  (``output="tokens"``), or T frames of a clip (:mod:`hybridfer.data.sequences`);
* 2-D with ``sequence=(T, d)``: each row is T timesteps of d features laid end to end;
* 2-D with ``sequence="taps"``: multi-level pooled features (``resnet50.layer1.avg.*``,
  ``resnet50.layer2.avg.*``...) become one timestep per tap, each projected by its own linear
  layer to a common width; taps are read from the feature names (a DataFrame input, e.g. after
  ``set_output(transform="pandas")``) or given as a list of tap widths;
* 2-D with ``sequence=None``: a sequence of one timestep (the per-frame use of the pain paper).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from hybridfer._compat import FillDefaultsOnUnpickleMixin
from hybridfer.nn.estimator import (
    TRAINING_DOC,
    TRAINING_PARAMETER_CONSTRAINTS,
    TorchTrainingMixin,
    seed_from,
)
from hybridfer.nn.heads import SequenceClassifier
from hybridfer.nn.inference import predict_module
from hybridfer.nn.seeding import deterministic_mode, seeded
from hybridfer.nn.training import fit_module

__all__ = ["LSTMHeadClassifier", "tap_sizes_from_names"]


def tap_sizes_from_names(names: Sequence[str]) -> tuple[list[str], list[int]]:
    """Group consecutive feature names by everything before their last ``.`` component.

    ``resnet50.layer1.avg.0 ... resnet50.layer1.avg.255, resnet50.layer2.avg.0 ...`` gives
    taps ``["resnet50.layer1.avg", "resnet50.layer2.avg", ...]`` with their widths.
    """
    taps: list[str] = []
    sizes: list[int] = []
    for name in names:
        key = str(name).rsplit(".", 1)[0] if "." in str(name) else str(name)
        if taps and taps[-1] == key:
            sizes[-1] += 1
        else:
            if key in taps:
                raise ValueError(
                    f"features of tap {key!r} are not contiguous; reorder the columns so each "
                    "tap's features are adjacent"
                )
            taps.append(key)
            sizes.append(1)
    return taps, sizes


class LSTMHeadClassifier(
    FillDefaultsOnUnpickleMixin, TorchTrainingMixin, ClassifierMixin, BaseEstimator
):
    """LSTM (stacked, optionally bidirectional) plus a dense head, trained on feature sequences.

    Parameters
    ----------
    sequence : None, (int, int), "taps" or list of int, default=None
        How a 2-D input becomes a sequence (3-D input is used as it is): None - one timestep;
        ``(T, d)`` - reshape each row; ``"taps"`` - one timestep per feature tap, taps read from
        the DataFrame's feature names (all but the last ``.`` component); a list of ints - the
        widths of consecutive taps.
    hidden_size : int, default=128
    num_layers : int, default=1
    bidirectional : bool, default=False
    dropout : float, default=0.2
        Between LSTM layers and before each dense layer of the head.
    dense_units : tuple of int, default=()
        Hidden ReLU layers of the head (the pain paper's "dense" layers).
    pooling : {"last", "mean", "max"}, default="last"
        The final hidden state, or the mean/max of the outputs over time.
    projection_dim : int or None, default=None
        Project every timestep to this width first (taps always are; None then means
        ``hidden_size``).
    standardize : bool, default=True
        Standardise each feature with the training mean and standard deviation.
    """

    __doc__ += (
        TRAINING_DOC
        + """
    Attributes
    ----------
    classes_ : ndarray
        The labels, in the order of ``predict_proba``'s columns.
    n_features_in_ : int
        Columns of a 2-D input (timesteps of a 3-D one).
    sequence_shape_ : tuple of int
        ``(T, d)`` of the sequences the LSTM reads (``(n_taps, total width)`` for taps).
    tap_sizes_ : list of int or None
        Widths of the taps with ``sequence="taps"`` or a list.
    model_ : SequenceClassifier
        The trained network (on the CPU).
    history_ : list of dict
        Per-epoch training (and validation) loss and accuracy.
    best_epoch_ : int or None
        The epoch restored by early stopping.
    """
    )

    _parameter_constraints: dict = {
        "sequence": [tuple, list, StrOptions({"taps"}), None],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "dense_units": [tuple, list],
        "pooling": [StrOptions({"last", "mean", "max"})],
        "projection_dim": [Interval(Integral, 1, None, closed="left"), None],
        "standardize": ["boolean"],
        **TRAINING_PARAMETER_CONSTRAINTS,
    }

    def __init__(
        self,
        sequence=None,
        hidden_size=128,
        num_layers=1,
        bidirectional=False,
        dropout=0.2,
        dense_units=(),
        pooling="last",
        projection_dim=None,
        standardize=True,
        epochs=50,
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
        random_state=None,
        deterministic=False,
        verbose=0,
    ):
        self.sequence = sequence
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.dense_units = dense_units
        self.pooling = pooling
        self.projection_dim = projection_dim
        self.standardize = standardize
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
        self.random_state = random_state
        self.deterministic = deterministic
        self.verbose = verbose

    # -- input handling --------------------------------------------------------------------
    def _check_sequence_shape(self, X) -> None:
        """After fit: a 3-D X must hold sequences of the fitted timesteps and width, named so
        (scikit-learn's check would call the timesteps "features")."""
        shape = getattr(X, "shape", None)
        if shape is None:
            try:
                shape = np.asarray(X).shape
            except (TypeError, ValueError):  # ragged or not numbers: validate_data says so
                return
        fitted_3d = getattr(self, "_fitted_3d", None)
        if fitted_3d is None:  # fitted by an older version: scikit-learn's check only
            return
        T, d = self.sequence_shape_
        owner = type(self).__name__
        if len(shape) == 3 and fitted_3d:
            if tuple(shape[1:]) != (T, d):
                raise ValueError(
                    f"X holds sequences of {shape[1]} timesteps of width {shape[2]}, but "
                    f"{owner} was fitted on {T} timesteps of width {d}; expected X of shape "
                    f"(n, {T}, {d})"
                )
        elif len(shape) == 3:
            raise ValueError(
                f"X holds 3-D sequences of shape {tuple(shape[1:])}, but {owner} was fitted on "
                f"2-D rows of {self.n_features_in_} features (read as {T} timesteps of width "
                f"{d}); expected X of shape (n, {self.n_features_in_})"
            )
        elif len(shape) == 2 and fitted_3d:
            raise ValueError(
                f"X is 2-D with {shape[1]} columns, but {owner} was fitted on 3-D sequences of "
                f"{T} timesteps of width {d}; expected X of shape (n, {T}, {d})"
            )
        elif len(shape) == 2 and shape[1] != self.n_features_in_:
            layout = (
                f"{len(self.tap_sizes_)} taps of widths {self.tap_sizes_}"
                if self.tap_sizes_ is not None
                else f"{T} timesteps of width {d}"
            )
            raise ValueError(
                f"X has {shape[1]} features, but {owner} is expecting {self.n_features_in_} "
                f"features as input ({layout})"
            )

    def _validate_X(self, X, y=None, reset: bool = False):
        if not reset and hasattr(self, "sequence_shape_"):
            self._check_sequence_shape(X)
        kwargs = {"allow_nd": True, "dtype": [np.float64, np.float32], "reset": reset}
        if y is None:
            X = validate_data(self, X, **kwargs)
        else:
            X, y = validate_data(self, X, y, **kwargs)
        if X.ndim not in (2, 3):
            raise ValueError(
                f"X has shape {X.shape}; expected (n, T, d) sequences or a 2-D (n, features) array"
            )
        return X, y

    def _resolve_sequence(self, X: np.ndarray) -> None:
        """Set ``sequence_shape_`` and ``tap_sizes_`` from the training input."""
        self.tap_sizes_ = None
        self._fitted_3d = X.ndim == 3
        if X.ndim == 3:
            if self.sequence is not None and tuple(self.sequence) != X.shape[1:]:
                raise ValueError(
                    f"sequence={self.sequence!r} is for 2-D input; X is already 3-D with "
                    f"sequences of shape {X.shape[1:]}"
                )
            self.sequence_shape_ = tuple(int(s) for s in X.shape[1:])
            return
        d = X.shape[1]
        seq = self.sequence
        if seq is None:
            self.sequence_shape_ = (1, d)
        elif isinstance(seq, str):  # "taps"
            names = getattr(self, "feature_names_in_", None)
            if names is None:
                raise ValueError(
                    "sequence='taps' reads the taps from feature names: pass X as a pandas "
                    "DataFrame (e.g. set_output(transform='pandas') on the extractor) or give "
                    "the tap widths as a list, e.g. sequence=[256, 512, 1024, 2048]"
                )
            self.taps_, self.tap_sizes_ = tap_sizes_from_names(names)
            self.sequence_shape_ = (len(self.tap_sizes_), d)
        elif isinstance(seq, tuple) and len(seq) == 2:
            T, width = (int(s) for s in seq)
            if T < 1 or width < 1 or T * width != d:
                raise ValueError(
                    f"sequence={seq!r} needs T * d == n_features, but X has {d} features"
                )
            self.sequence_shape_ = (T, width)
        else:
            sizes = [int(s) for s in seq]
            if not sizes or min(sizes) < 1 or sum(sizes) != d:
                raise ValueError(
                    f"sequence={seq!r} gives tap widths summing to {sum(sizes)}, but X has {d} "
                    "features; expected (T, d), 'taps', a list of positive tap widths or None"
                )
            self.tap_sizes_ = sizes
            self.sequence_shape_ = (len(sizes), d)

    def _as_sequences(self, X: np.ndarray, standardize: bool = True) -> np.ndarray:
        """Reshape (and standardise) a validated X into what the network reads, float32."""
        if X.ndim == 3:
            if X.shape[1:] != self.sequence_shape_:
                raise ValueError(
                    f"X has sequences of shape {X.shape[1:]}, but {type(self).__name__} was "
                    f"fitted on {self.sequence_shape_}"
                )
            out = X
        elif self.tap_sizes_ is not None:
            out = X  # the network splits the taps itself
        else:
            out = X.reshape(len(X), *self.sequence_shape_)
        if standardize and self.standardize:
            out = (out - self.mean_) / self.scale_
        return np.ascontiguousarray(out, dtype=np.float32)

    def _fit_scaler(self, seq: np.ndarray) -> None:
        """Mean and standard deviation of each feature of the last axis (over samples and
        timesteps)."""
        flat = seq.reshape(-1, seq.shape[-1])
        self.mean_ = flat.mean(axis=0, dtype=np.float64)
        std = flat.std(axis=0, dtype=np.float64)
        std[~np.isfinite(std) | (std < 1e-12)] = 1.0
        self.scale_ = std

    # -- scikit-learn API ------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, eval_set=None):
        """Train the LSTM head.

        Parameters
        ----------
        X : array-like of shape (n, T, d) or (n, n_features)
        y : array-like of shape (n,)
            Labels (strings or numbers).
        sample_weight : array-like of shape (n,), optional
            Per-sample loss weights; samples with weight 0 are left out.
        eval_set : (X_val, y_val), optional
            Validation data for early stopping instead of a held-out fraction.

        Returns
        -------
        self
        """
        X, y = self._validate_X(X, y, reset=True)
        codes = self._encode_labels(y)
        sw = self._sample_weight(sample_weight, len(X), codes)
        if sw is not None:
            keep = sw > 0
            X, codes, sw = X[keep], codes[keep], sw[keep]
        self._resolve_sequence(X)
        data = self._as_sequences(X, standardize=False)
        if self.standardize:
            self._fit_scaler(data)
            data = ((data - self.mean_) / self.scale_).astype(np.float32)
        eval_data = None
        if eval_set is not None:
            X_val, y_val = eval_set
            X_val, _ = self._validate_X(X_val)
            eval_data = (self._as_sequences(X_val), self._encode_known(y_val, "eval_set y"))

        seed = seed_from(self.random_state)
        T, d = self.sequence_shape_
        projection = self.projection_dim
        if self.tap_sizes_ is not None and projection is None:
            projection = self.hidden_size
        with seeded(seed), deterministic_mode(self.deterministic):
            self.model_ = SequenceClassifier(
                input_size=d,
                n_classes=len(self.classes_),
                hidden_size=self.hidden_size,
                num_layers=self.num_layers,
                bidirectional=self.bidirectional,
                dropout=self.dropout,
                dense_units=tuple(self.dense_units),
                pooling=self.pooling,
                tap_sizes=self.tap_sizes_,
                projection_dim=projection,
            )
        with deterministic_mode(self.deterministic):
            result = fit_module(
                self.model_,
                data,
                codes,
                self._train_config(seed),
                n_classes=len(self.classes_),
                sample_weight=sw,
                eval_set=eval_data,
                classes=self.classes_,
            )
        self._record_training(result)
        return self

    def _logits(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X, _ = self._validate_X(X)
        with deterministic_mode(self.deterministic):
            return predict_module(
                self.model_,
                self._as_sequences(X),
                batch_size=max(256, self.batch_size),
                device=self.device,
                precision=self.precision,
                channels_last=self.channels_last,
            )

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` in ``classes_`` order."""
        logits = torch.from_numpy(self._logits(X)).double()
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        """Most probable class of each sample."""
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
