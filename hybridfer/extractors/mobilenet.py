"""MobileNet feature taps, :class:`MobileNetV3Features` and :class:`MobileNetV2Features`.

Taps are named ``stage<k>`` for the last block at 1/2^k of the input resolution; ``stage5``
is the network's final feature map (the 1x1 expansion conv before pooling). Defaults read
``stage2`` .. ``stage5``.

MobileNetV3-Large (``mobilenet_v3_large``):
``stage1`` = ``features.1`` (16 ch, /2), ``stage2`` = ``features.3`` (24, /4),
``stage3`` = ``features.6`` (40, /8), ``stage4`` = ``features.12`` (112, /16),
``stage5`` = ``features.16`` (960, /32) — 1,136 features by default.

MobileNetV3-Small (``mobilenet_v3_small``):
``stage1`` = ``features.0`` (16, /2), ``stage2`` = ``features.1`` (16, /4),
``stage3`` = ``features.3`` (24, /8), ``stage4`` = ``features.8`` (48, /16),
``stage5`` = ``features.12`` (576, /32) — 664 features by default.

MobileNetV2 (``mobilenet_v2``):
``stage1`` = ``features.1`` (16, /2), ``stage2`` = ``features.3`` (24, /4),
``stage3`` = ``features.6`` (32, /8), ``stage4`` = ``features.13`` (96, /16),
``stage5`` = ``features.18`` (1280, /32) — 1,432 features by default.

The MobileNet papers scale pixels to [-1, 1]: pass ``normalize="minus_one_one"`` to follow
them (torchvision's ImageNet weights expect the default ``"imagenet"``).
"""

from __future__ import annotations

from sklearn.utils._param_validation import StrOptions

from hybridfer.extractors.base import _COMMON_DOC, DeepFeatureExtractor
from hybridfer.extractors.taps import Tap, table

__all__ = [
    "MOBILENETV2_TAPS",
    "MOBILENETV3_LARGE_TAPS",
    "MOBILENETV3_SMALL_TAPS",
    "MobileNetV2Features",
    "MobileNetV3Features",
]

MOBILENETV3_LARGE_TAPS = table(
    ("stage1", "features.1", 16, 2),
    ("stage2", "features.3", 24, 4),
    ("stage3", "features.6", 40, 8),
    ("stage4", "features.12", 112, 16),
    ("stage5", "features.16", 960, 32),
)
MOBILENETV3_SMALL_TAPS = table(
    ("stage1", "features.0", 16, 2),
    ("stage2", "features.1", 16, 4),
    ("stage3", "features.3", 24, 8),
    ("stage4", "features.8", 48, 16),
    ("stage5", "features.12", 576, 32),
)
MOBILENETV2_TAPS = table(
    ("stage1", "features.1", 16, 2),
    ("stage2", "features.3", 24, 4),
    ("stage3", "features.6", 32, 8),
    ("stage4", "features.13", 96, 16),
    ("stage5", "features.18", 1280, 32),
)
MOBILENET_DEFAULT_LAYERS = ("stage2", "stage3", "stage4", "stage5")

#: Tap tables by torchvision model name.
MOBILENET_TAPS: dict[str, dict[str, Tap]] = {
    "mobilenet_v3_large": MOBILENETV3_LARGE_TAPS,
    "mobilenet_v3_small": MOBILENETV3_SMALL_TAPS,
    "mobilenet_v2": MOBILENETV2_TAPS,
}


class MobileNetV3Features(DeepFeatureExtractor):
    """Multi-stage MobileNetV3 features (torchvision ``mobilenet_v3_large`` / ``_small``).

    Feature names: ``mobilenetv3_large.<tap>.<pooling>.<channel>`` (or
    ``mobilenetv3_small...``). See :mod:`hybridfer.extractors.mobilenet` for the taps.

    Parameters
    ----------
    variant : {"large", "small"}, default="large"
        Which MobileNetV3.
    """

    __doc__ = (__doc__ or "") + _COMMON_DOC

    _default_layers = MOBILENET_DEFAULT_LAYERS
    _parameter_constraints: dict = {
        **DeepFeatureExtractor._parameter_constraints,
        "variant": [StrOptions({"large", "small"})],
    }

    def __init__(
        self,
        variant="large",
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
        super().__init__(
            layers=layers,
            pooling=pooling,
            output=output,
            token_layer=token_layer,
            weights=weights,
            weights_strict=weights_strict,
            input_size=input_size,
            normalize=normalize,
            equalize=equalize,
            image_shape=image_shape,
            float_range=float_range,
            device=device,
            precision=precision,
            channels_last=channels_last,
            batch_size=batch_size,
            num_workers=num_workers,
            cache=cache,
            fine_tune=fine_tune,
            verbose=verbose,
            random_state=random_state,
            deterministic=deterministic,
        )
        self.variant = variant

    def _arch_name(self) -> str:
        return f"mobilenet_v3_{self.variant}"

    def _feature_prefix(self) -> str:
        return f"mobilenetv3_{self.variant}"

    def _tap_table(self) -> dict[str, Tap]:
        return dict(MOBILENET_TAPS[self._arch_name()])


class MobileNetV2Features(DeepFeatureExtractor):
    """Multi-stage MobileNetV2 features (torchvision ``mobilenet_v2``).

    Feature names: ``mobilenetv2.<tap>.<pooling>.<channel>``. The CLCM paper's
    preprocessing is ``input_size=224, normalize="minus_one_one"``.
    See :mod:`hybridfer.extractors.mobilenet` for the taps.

    Parameters
    ----------
    """

    __doc__ = (__doc__ or "") + _COMMON_DOC

    _arch = "mobilenet_v2"
    _prefix = "mobilenetv2"
    _taps = MOBILENETV2_TAPS
    _default_layers = MOBILENET_DEFAULT_LAYERS
