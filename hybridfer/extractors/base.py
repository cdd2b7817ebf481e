"""The shared base of the deep feature extractors: a torch backbone as a scikit-learn transformer.

:class:`DeepFeatureExtractor` does everything that does not depend on the backbone family:
parameter validation, building the network (pretrained, local or seeded random weights),
reading several taps in one truncated forward pass
(:func:`torchvision.models.feature_extraction.create_feature_extractor`), batched
preprocessing on the device, mixed precision, pooling, token output, the feature cache, the
progress bar, and feature names. A family subclass only describes itself by data:

- ``_arch``: the torchvision model name (or override :meth:`_arch_name`);
- ``_prefix``: the feature-name prefix (or override :meth:`_feature_prefix`);
- ``_taps`` / ``_default_layers``: its tap table and default taps (or override
  :meth:`_tap_table` / :meth:`_default_tap_names`).

Hook points for subclasses that are not plain torchvision classifiers:

- :meth:`_build_model` returns the full network (a supervised ``CNNFeatures`` builds and
  trains its own small CNN here);
- :meth:`_fine_tune` trains the network on ``(X, y)`` inside :meth:`fit` when
  ``fine_tune`` is set (implemented by :func:`hybridfer.nn.finetune.fine_tune_backbone`).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
import torchvision
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_feature_names, _check_feature_names_in, check_is_fitted
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor

from hybridfer._compat import FillDefaultsOnUnpickleMixin
from hybridfer.cache import CachedTransformMixin
from hybridfer.extractors.taps import (
    POOLINGS,
    Tap,
    check_output,
    pool_in_graph,
    resolve_pooling,
    resolve_taps,
    tap_channels,
    tokens,
)
from hybridfer.images import (
    FLOAT_RANGE_DOC,
    ImageSource,
    as_image_source,
    check_float_range,
    check_image_size,
    coerce_image_input,
    resolve_image_shape,
)
from hybridfer.nn.devices import (
    PRECISION_NAMES,
    autocast,
    resolve_device,
    resolve_precision,
    use_channels_last,
)
from hybridfer.nn.inference import stream_features
from hybridfer.nn.preprocessing import (
    NORMALIZATIONS,
    Preprocessor,
    normalization_stats,
    resolve_input_size,
)
from hybridfer.nn.seeding import DETERMINISTIC_DOC, deterministic_mode, seed_from
from hybridfer.nn.weights import BuiltModel, build_torchvision_model

__all__ = ["UNKNOWN_REDUCTION_FLOOR", "DeepFeatureExtractor"]

#: The smallest network input (pixels per side) for a tap whose reduction is not known: 32,
#: the output stride of torchvision's classification backbones.
UNKNOWN_REDUCTION_FLOOR = 32


def _state_digest(module: nn.Module) -> str:
    """blake2b digest of a module's state dict (names, shapes, values)."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


_COMMON_DOC = (
    """
    layers : str, list of str or None, default=None
        Taps to read (see the family's tap table); None uses the family's default. An
        unknown name raises a ValueError listing the valid ones.
    pooling : {"avg", "max", "both"} or list of those, default="avg"
        Global pooling of each tap; several are concatenated per tap ("both" = avg then max).
    output : {"pooled", "tokens"}, default="pooled"
        ``"pooled"``: 2-D float32 ``(n, n_features_out_)``. ``"tokens"``: one tap's spatial
        grid as a token sequence, 3-D float32 ``(n, H'*W', C)`` in row-major (channels-last)
        order, for the LSTM head. Tokens are not 2-D, so ``set_output(transform="pandas")``
        and most scikit-learn estimators cannot consume them.
    token_layer : str or None, default=None
        The tap read in tokens mode; None means the last of ``layers``.
    weights : str, path, WeightsEnum or None, default="DEFAULT"
        torchvision weights name (``"DEFAULT"``, ``"IMAGENET1K_V2"``...) loaded the standard
        torchvision way (downloaded once into ``$TORCH_HOME``); a path to a local state dict;
        or None for a random initialisation seeded by ``random_state``.
    weights_strict : bool, default=True
        A local state dict must hold every parameter of the network and nothing else, with
        the same shapes; a mismatch is a :class:`~hybridfer.nn.weights.WeightsMismatchError`
        that lists a few keys of each kind and the torchvision model the file fits. False
        loads what matches on purpose, warns with what it skipped, and still refuses a file
        that lacks a parameter of a tapped layer.
    input_size : int, (H, W) or None, default=224
        Images are resized to this size on the device; None keeps the native size (48 for
        FER2013). The network's input must be at least as large as the reduction of the
        deepest tap read (32 for ``layer4``/``stage5``; 32 for a module tap of unknown
        reduction), so that its feature map has a cell made of image pixels rather than of
        padding; smaller images (``input_size=None``) or sizes are refused.
    normalize : {"imagenet", "minus_one_one", "half", "none"}, default="imagenet"
        Pixel normalisation ("minus_one_one" and "half" both map [0, 1] to [-1, 1]).
    equalize : bool, default=False
        Histogram-equalise each image before resizing.
    image_shape : tuple of int or None, default=None
        ``(H, W[, C])`` of each image when X is a flat 2-D array (None: square gray
        inferred). One size may be -1: ``(1, -1)`` reads each row of any 2-D array as a
        one-row image."""
    + FLOAT_RANGE_DOC.rstrip("\n")
    + """
    device : str, default="auto"
        ``"auto"`` (cuda, then mps, then cpu), or any torch device string.
    precision : {"auto", "float32", "bfloat16", "float16"}, default="auto"
        Autocast dtype; "auto" is bfloat16 (or float16) on a GPU, bfloat16 on CPUs with
        native bf16 (AVX512-BF16 or AMX) and float32 on other CPUs. Features are always
        returned as float32; the feature cache keys them by the effective precision.
    channels_last : bool or "auto", default="auto"
        Run convolutions in channels-last memory format ("auto": on CUDA, and on CPUs in
        float32 or native bf16, not emulated bf16).
    batch_size : int, default=64
        Images per forward pass; memory is bounded by it, not by the number of images.
    num_workers : int or None, default=None
        DataLoader workers decoding image files (None: min(4, CPUs)); unused for arrays.
    cache : str, path, FeatureCache, bool or None, default="auto"
        Feature store (see :func:`hybridfer.cache.resolve_cache`): "auto" uses
        ``$HYBRIDFER_CACHE`` when set and no cache otherwise; None/False disables it.
    fine_tune : bool or dict, default=False
        Train the backbone on ``(X, y)`` inside ``fit`` before reading features (options as a
        dict). Implemented by :func:`hybridfer.nn.finetune.fine_tune_backbone`.
    verbose : int, default=0
        0 is silent; >= 1 shows a progress bar (images/s) during ``transform``.
    random_state : int, RandomState or None, default=None
        Seeds the random initialisation (``weights=None``) and any training."""
    + DETERMINISTIC_DOC.rstrip("\n")
    + """

    Attributes
    ----------
    model_ : torch.fx.GraphModule
        The network truncated after its last tap, on ``device_``; returns a dict of the taps'
        pooled ``(b, C * n_poolings)`` float32 vectors (pooled mode; each map is pooled, then
        freed, as soon as it is computed) or of the raw token tap (tokens mode).
    preprocessor_ : Preprocessor
        The batched preprocessing, on ``device_``.
    taps_ : list of Tap
        The taps read (one in tokens mode).
    tap_channels_ : dict of str to int
        Channels of each tap.
    poolings_ : tuple of str
        The poolings applied to each tap.
    n_features_out_ : int
        Output width (tokens mode: ``H' * W' * C`` per image).
    n_features_in_ : int
        Pixels per image seen in ``fit`` (informative only: any image size is resized).
    weights_id_ : str
        Identity of the weights (torchvision enum, ``file:<hash>``, ``random:<seed>`` or
        ``trained:<hash>``); part of the cache key.
    seed_ : int
        The seed drawn from ``random_state``.
    history_, n_epochs_, train_time_ : list of dict, int, float
        With ``fine_tune`` only: the backbone's training record (per-epoch losses), its
        epochs and seconds.
    device_ : torch.device
    dtype_ : torch.dtype
        Compute precision.
"""
).lstrip()


class DeepFeatureExtractor(
    FillDefaultsOnUnpickleMixin, CachedTransformMixin, TransformerMixin, BaseEstimator
):
    """Base class of the deep feature extractors (not for direct use).

    Parameters
    ----------
    """

    __doc__ = (__doc__ or "") + _COMMON_DOC

    _arch: str = ""
    _prefix: str = ""
    _taps: dict[str, Tap] = {}
    _default_layers: tuple[str, ...] = ()
    #: Channels the network takes (3 for torchvision models; 1 for gray CNNs).
    _in_channels: int = 3

    _parameter_constraints: dict = {
        "layers": [str, list, tuple, None],
        "pooling": [StrOptions({*POOLINGS, "both"}), list, tuple],
        "output": [StrOptions({"pooled", "tokens"})],
        "token_layer": [str, None],
        "weights": "no_validation",  # name, path, WeightsEnum or None: checked when building
        "weights_strict": ["boolean"],
        "input_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "normalize": [StrOptions(set(NORMALIZATIONS))],
        "equalize": ["boolean"],
        "image_shape": [tuple, list, None],
        "float_range": [tuple, list, None],
        "device": [str, torch.device],
        "precision": [StrOptions(set(PRECISION_NAMES))],
        "channels_last": ["boolean", StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "num_workers": [Interval(Integral, 0, None, closed="left"), None],
        "cache": "no_validation",  # checked by hybridfer.cache.resolve_cache
        "fine_tune": ["boolean", dict],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "deterministic": ["boolean"],
    }

    def __init__(
        self,
        *,
        layers=None,
        pooling="avg",
        output="pooled",
        token_layer=None,
        weights="DEFAULT",
        weights_strict=True,
        input_size=224,
        normalize="imagenet",
        equalize=False,
        image_shape=None,
        float_range=(0.0, 1.0),
        device="auto",
        precision="auto",
        channels_last="auto",
        batch_size=64,
        num_workers=None,
        cache="auto",
        fine_tune=False,
        verbose=0,
        random_state=None,
        deterministic=False,
    ):
        self.layers = layers
        self.pooling = pooling
        self.output = output
        self.token_layer = token_layer
        self.weights = weights
        self.weights_strict = weights_strict
        self.input_size = input_size
        self.normalize = normalize
        self.equalize = equalize
        self.image_shape = image_shape
        self.float_range = float_range
        self.device = device
        self.precision = precision
        self.channels_last = channels_last
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.cache = cache
        self.fine_tune = fine_tune
        self.verbose = verbose
        self.random_state = random_state
        self.deterministic = deterministic

    # -- description hooks (override in subclasses) -------------------------------------
    def _arch_name(self) -> str:
        """The torchvision model name built by :meth:`_build_model`."""
        return self._arch

    def _feature_prefix(self) -> str:
        """First component of every feature name (``resnet50``)."""
        return self._prefix

    def _tap_table(self) -> dict[str, Tap]:
        """The family's taps by name."""
        return dict(self._taps)

    def _default_tap_names(self, model: nn.Module) -> tuple[str, ...]:
        """Taps read when ``layers`` is None."""
        return tuple(self._default_layers)

    def _extra_module_names(self, model: nn.Module) -> list[str] | None:
        """Module names accepted in ``layers`` besides the tap table (None: table only)."""
        return None

    # -- model hooks ---------------------------------------------------------------------
    def _build_model(self, seed: int) -> BuiltModel:
        """Build the full network with ``self.weights`` (on the CPU, eval mode).

        Override to build a network that is not a torchvision classifier; keep the
        ``BuiltModel.weights_id`` an exact identity of the weights (it keys the cache).
        """
        return build_torchvision_model(
            self._arch_name(), self.weights, seed, strict=self.weights_strict
        )

    def _fine_tune(self, model: nn.Module, source: ImageSource, y: np.ndarray) -> nn.Module:
        """Train ``model`` on ``(source, y)`` and return it; called by :meth:`fit`.

        ``self.fine_tune`` is True (defaults) or a dict of options for
        :func:`hybridfer.nn.finetune.fine_tune_backbone` (e.g. ``epochs``, ``learning_rate``,
        ``head``, ``freeze``, ``frozen_epochs``, ``augment``, ``loss``, ``ema_decay``): a
        temporary head reads the tapped layers, the network is trained through the same
        preprocessing as :meth:`transform`, and the head is dropped.
        """
        from hybridfer.nn.finetune import fine_tune_backbone

        options = {} if self.fine_tune is True else dict(self.fine_tune)
        options.setdefault("device", self.device)
        options.setdefault("precision", self.precision)
        options.setdefault("random_state", self.seed_)
        options.setdefault("verbose", self.verbose)
        prepare = Preprocessor(
            self.input_size, self.normalize, self.equalize, out_channels=self._in_channels
        ).to(self.device_)
        model, result = fine_tune_backbone(
            model,
            source,
            y,
            prepare=prepare,
            return_nodes=[t.module for t in self.taps_],
            return_result=True,
            **options,
        )
        self.history_ = result.history
        self.n_epochs_ = result.n_epochs
        self.train_time_ = result.train_time
        return model

    # -- helpers -------------------------------------------------------------------------
    def _image_source(self, X, *, fitted: bool = False) -> ImageSource:
        X = coerce_image_input(X)
        flat = isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind in "biuf"
        if flat and X.shape[1] == 0:
            raise ValueError(
                f"X has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required: "
                "expected image pixels"
            )
        if flat and fitted and self._fitted_flat and X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input: flat rows must hold images of the "
                "shape seen in fit"
            )
        source = as_image_source(
            X,
            resolve_image_shape(self.image_shape, X),
            color=None,
            name="X",
            float_range=check_float_range(self.float_range),
        )
        if not source.is_lazy and 0 in source.images.shape[1:]:
            raise ValueError(f"X holds empty images of shape {source.images.shape[1:]}")
        return source

    def _min_input_size(self) -> tuple[int, str]:
        """The smallest network input side and the tap that sets it (the deepest one)."""
        sizes = [
            (t.reduction if t.reduction is not None else UNKNOWN_REDUCTION_FLOOR, t.name)
            for t in self.taps_
            if t.layout != "ntc"  # token encoders (ViT) check their own input size
        ]
        return max(sizes) if sizes else (1, "")

    def _check_network_input(self, image_shape: tuple[int, ...]) -> None:
        """Refuse a network input (``input_size``, else the images' own size) smaller than
        the deepest tap's reduction."""
        side, tap = self._min_input_size()
        size = resolve_input_size(self.input_size)
        owner = type(self).__name__
        reduction = next(t.reduction for t in self.taps_ if t.name == tap) if tap else None
        reason = (
            f"the tap {tap!r} is 1/{reduction} of the input"
            if reduction is not None
            else f"the floor for a tap of unknown reduction such as {tap!r}"
        )
        if size is not None:
            if min(size) < side:
                raise ValueError(
                    f"input_size={self.input_size!r} is too small for {owner}: the network "
                    f"input must be at least {side}x{side} pixels ({reason}); set input_size "
                    f">= {side} or read earlier layers"
                )
            return
        check_image_size(
            image_shape,
            (side, side),
            consumer=f"{owner} with input_size=None",
            reason=reason,
            fix=f"set input_size (e.g. {max(side, 224)}) to resize them, or read earlier layers",
        )

    def _channels_last(self, device: torch.device) -> bool:
        return use_channels_last(self.channels_last, device, self.dtype_)

    def _resolve_layers(self, model: nn.Module) -> list[Tap]:
        owner = type(self).__name__
        table = self._tap_table()
        extra = self._extra_module_names(model)
        taps = resolve_taps(
            self.layers, table, self._default_tap_names(model), owner=owner, module_names=extra
        )
        if self.output == "tokens":
            name = self.token_layer if self.token_layer is not None else taps[-1].name
            taps = resolve_taps([name], table, (), owner=owner, module_names=extra)
        elif self.token_layer is not None:
            raise ValueError(f"{owner}: token_layer is only used with output='tokens'")
        modules = [t.module for t in taps]
        if len(set(modules)) != len(modules):
            raise ValueError(f"{owner}: layers {[t.name for t in taps]} read one module twice")
        return taps

    def _probe(self, first_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """Run one blank image through the extractor; return each tap's output shape."""
        size = resolve_input_size(self.input_size)
        shape = size if size is not None else tuple(first_shape[:2])
        blank = torch.zeros((1, *shape), dtype=torch.uint8, device=self.device_)
        with torch.inference_mode(), autocast(self.device_, self.dtype_):
            outs = self.model_(self.preprocessor_(blank))
        for tap in self.taps_:
            check_output(outs[tap.name], tap, owner=type(self).__name__)
        return {name: tuple(v.shape[1:]) for name, v in outs.items()}

    # -- scikit-learn API ----------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Build (and, with ``fine_tune``, train) the network.

        Parameters
        ----------
        X : array-like or sequence of paths
            Images ``(n, H, W[, C])``, a flat ``(n, H*W[*C])`` array with ``image_shape``,
            or image file paths (see :mod:`hybridfer.images`). Only validated unless
            ``fine_tune`` is set.
        y : array-like of shape (n,), optional
            Labels; needed only with ``fine_tune``.

        Returns
        -------
        self
        """
        owner = type(self).__name__
        _check_feature_names(self, X, reset=True)
        source = self._image_source(X)
        first_shape = source.first_image_shape()
        self.n_features_in_ = int(np.prod(first_shape))
        self._fitted_flat = not source.is_lazy and getattr(coerce_image_input(X), "ndim", 0) == 2
        self.poolings_ = resolve_pooling(self.pooling, owner=owner)
        normalization_stats(self.normalize)
        resolve_input_size(self.input_size)
        self.device_ = resolve_device(self.device)
        self.dtype_ = resolve_precision(self.precision, self.device_)
        self.seed_ = seed_from(self.random_state)

        with deterministic_mode(self.deterministic):
            return self._fit(source, first_shape, y)

    def _fit(self, source: ImageSource, first_shape: tuple[int, ...], y) -> DeepFeatureExtractor:
        owner = type(self).__name__
        built = self._build_model(self.seed_)
        model, weights_id = built.model, built.weights_id
        self.taps_ = self._resolve_layers(model)
        self._check_network_input(first_shape)
        if self.fine_tune:
            if y is None:
                raise ValueError(f"{owner}: fine_tune={self.fine_tune!r} needs labels y in fit")
            model = self._fine_tune(model, source, np.asarray(y))
            weights_id = f"trained:{_state_digest(model)}"
        self.weights_id_ = weights_id

        model.eval()
        extractor = create_feature_extractor(model, {t.module: t.name for t in self.taps_})
        missing = sorted(set(extractor.state_dict()) & built.unloaded)
        if missing:
            raise ValueError(
                f"{owner}: weights={self.weights!r} do not provide {len(missing)} parameters "
                f"the tapped layers need, e.g. {missing[:5]}"
            )
        channels_last = self._channels_last(self.device_)
        extractor = extractor.eval().requires_grad_(False)
        extractor = extractor.to(self.device_)
        if channels_last:
            extractor = extractor.to(memory_format=torch.channels_last)
        self.model_ = extractor
        self.preprocessor_ = Preprocessor(
            self.input_size,
            self.normalize,
            self.equalize,
            out_channels=self._in_channels,
            channels_last=channels_last,
        ).to(self.device_)

        shapes = self._probe(first_shape)
        self.tap_channels_ = {t.name: tap_channels(shapes[t.name], t) for t in self.taps_}
        for t in self.taps_:
            if t.channels is not None and t.channels != self.tap_channels_[t.name]:
                raise RuntimeError(
                    f"{owner}: tap {t.name!r} was described with {t.channels} channels but "
                    f"outputs {self.tap_channels_[t.name]}"
                )
        self.n_features_out_ = self._n_features(shapes)
        if self.output == "pooled":
            pool_in_graph(self.model_, self.taps_, self.poolings_)
        return self

    def _n_features(self, shapes: dict[str, tuple[int, ...]]) -> int:
        if self.output == "tokens":
            tap = self.taps_[0]
            return int(np.prod(shapes[tap.name]))
        return sum(self.tap_channels_[t.name] * len(self.poolings_) for t in self.taps_)

    def _cache_key_params(self) -> dict:
        mean, std = normalization_stats(self.normalize)
        return {
            "arch": self._arch_name(),
            "prefix": self._feature_prefix(),
            "weights": self.weights_id_,
            "taps": [[t.name, t.module, t.layout] for t in self.taps_],
            "pooling": list(self.poolings_) if self.output == "pooled" else None,
            "output": self.output,
            "input_size": resolve_input_size(self.input_size),
            "normalize": [list(mean), list(std)],
            "equalize": bool(self.equalize),
            "in_channels": self._in_channels,
            "precision": str(self.dtype_).replace("torch.", ""),
            "torch": torch.__version__.split("+")[0],
            "torchvision": torchvision.__version__.split("+")[0],
            # deterministic runs never read features another thread count computed
            **({"deterministic": True} if self.deterministic else {}),
        }

    def _compute_features(self, source: ImageSource, indices: np.ndarray) -> np.ndarray:
        """Features ``(len(indices), d)`` float32 of the images at ``indices``, batch by batch."""
        native = resolve_input_size(self.input_size) is None
        with deterministic_mode(self.deterministic):
            return stream_features(
                self.model_,
                source,
                indices,
                prepare=self.preprocessor_,
                reduce=self._reduce,
                device=self.device_,
                dtype=self.dtype_,
                batch_size=self.batch_size,
                n_features=self.n_features_out_,
                num_workers=self.num_workers,
                # each batch of files may have its own size
                check_batch=self._check_network_input if native else None,
                desc=self._feature_prefix(),
                verbose=self.verbose,
            )

    def _reduce(self, outs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Tap outputs → ``(b, d)`` float32 (pooled, or flattened tokens)."""
        if self.output == "tokens":
            tap = self.taps_[0]
            return tokens(outs[tap.name], tap.layout).flatten(1)
        parts = [outs[t.name] for t in self.taps_]  # pooled inside the graph
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def transform(self, X) -> np.ndarray:
        """Features of every image, streamed in batches (read from the cache when present).

        Parameters
        ----------
        X : array-like or sequence of paths
            Images in any accepted form (see :mod:`hybridfer.images`).

        Returns
        -------
        ndarray of float32
            ``(n, n_features_out_)``, or ``(n, H'*W', C)`` with ``output="tokens"``.
        """
        check_is_fitted(self, "model_")
        _check_feature_names(self, X, reset=False)
        source = self._image_source(X, fitted=True)
        if resolve_input_size(self.input_size) is None:
            self._check_network_input(source.first_image_shape())
        self.model_.eval()
        features = self._transform_cached(source)
        if self.output == "tokens":
            channels = self.tap_channels_[self.taps_[0].name]
            return features.reshape(len(features), -1, channels)
        return features

    def _transform_cached(self, source: ImageSource, extra_key: dict | None = None) -> np.ndarray:
        if self.output == "tokens" and resolve_input_size(self.input_size) is None:
            # the token count follows the native image size, so the size joins the key
            extra_key = {**(extra_key or {}), "image_shape": list(source.first_image_shape())}
        return super()._transform_cached(source, extra_key)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Feature names, e.g. ``resnet50.layer3.avg.17``.

        With ``output="tokens"`` the names describe the last (channel) axis of each token:
        ``resnet50.layer4.token.17``.

        Parameters
        ----------
        input_features : ignored
            Checked for consistency with the input seen in fit only.

        Returns
        -------
        ndarray of str objects
        """
        check_is_fitted(self, "model_")
        _check_feature_names_in(self, input_features, generate_names=False)
        prefix = self._feature_prefix()
        if self.output == "tokens":
            tap = self.taps_[0]
            return np.asarray(
                [f"{prefix}.{tap.name}.token.{c}" for c in range(self.tap_channels_[tap.name])],
                dtype=object,
            )
        names = [
            f"{prefix}.{t.name}.{p}.{c}"
            for t in self.taps_
            for p in self.poolings_
            for c in range(self.tap_channels_[t.name])
        ]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.requires_fit = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
