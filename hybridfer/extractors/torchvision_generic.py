""":class:`TorchvisionFeatures`: multi-level features of any torchvision classification model.

Known families get named taps and defaults (a tap table per family, as in the family
modules); any other module of the network can be tapped by its qualified name from
``model.named_modules()``. Families and their default taps:

- ResNet / ResNeXt / Wide-ResNet: ``layer1`` .. ``layer4``;
- MobileNetV2 / V3: ``stage2`` .. ``stage5`` (see :mod:`hybridfer.extractors.mobilenet`);
- ConvNeXt: ``stage1`` .. ``stage4``; Swin (channels-last maps): ``stage1`` .. ``stage4``;
- EfficientNet (B0-B7, V2): ``stage2`` .. ``stage5``; RegNet: ``stage1`` .. ``stage4``;
- DenseNet: ``stage1`` .. ``stage4`` (``stage4`` is ``features.norm5``);
- ShuffleNetV2: ``stage2`` .. ``stage4``, ``conv5``; GoogLeNet / Inception-v3: three stages;
- ViT: ``encoder`` (a token sequence, class token included);
- otherwise the top-level ``features`` (VGG, AlexNet, SqueezeNet) or ``layers`` (MNASNet).

Other models (MaxViT...) need ``layers=[...]`` with module names.
"""

from __future__ import annotations

import re

from sklearn.utils._param_validation import StrOptions
from torch import nn

from hybridfer.extractors.base import _COMMON_DOC, DeepFeatureExtractor
from hybridfer.extractors.convnext import CONVNEXT_DEFAULT_LAYERS, convnext_taps
from hybridfer.extractors.mobilenet import MOBILENET_DEFAULT_LAYERS, MOBILENET_TAPS
from hybridfer.extractors.resnet import RESNET_DEFAULT_LAYERS, resnet_taps
from hybridfer.extractors.taps import Tap, table
from hybridfer.nn.weights import classification_models

__all__ = ["TorchvisionFeatures", "family_taps"]

_STAGES4 = ("stage1", "stage2", "stage3", "stage4")
_STAGES2_5 = ("stage2", "stage3", "stage4", "stage5")


def _stages(modules, reductions, layout="nchw", first=1) -> dict[str, Tap]:
    return table(
        *[
            (f"stage{k}", m, None, r)
            for k, (m, r) in enumerate(zip(modules, reductions, strict=True), start=first)
        ],
        layout=layout,
    )


def family_taps(arch: str) -> tuple[dict[str, Tap], tuple[str, ...]] | None:
    """``(tap table, default tap names)`` of a known torchvision family, else None."""
    if re.fullmatch(r"resnet\d+|resnext\d+_\w+|wide_resnet\d+_\d+", arch):
        return resnet_taps(arch), RESNET_DEFAULT_LAYERS
    if arch in MOBILENET_TAPS:
        return dict(MOBILENET_TAPS[arch]), MOBILENET_DEFAULT_LAYERS
    if arch.startswith("convnext_"):
        return convnext_taps(arch), CONVNEXT_DEFAULT_LAYERS
    if re.fullmatch(r"efficientnet_b\d", arch):
        mods = ("features.1", "features.2", "features.3", "features.5", "features.8")
        return _stages(mods, (2, 4, 8, 16, 32)), _STAGES2_5
    if arch.startswith("efficientnet_v2_"):
        mods = ("features.1", "features.2", "features.3", "features.5", "features.7")
        return _stages(mods, (2, 4, 8, 16, 32)), _STAGES2_5
    if arch.startswith("regnet_"):
        mods = tuple(f"trunk_output.block{k}" for k in range(1, 5))
        return _stages(mods, (4, 8, 16, 32)), _STAGES4
    if arch.startswith("densenet"):
        mods = ("features.denseblock1", "features.denseblock2", "features.denseblock3")
        return _stages((*mods, "features.norm5"), (4, 8, 16, 32)), _STAGES4
    if arch.startswith("swin_"):
        mods = ("features.1", "features.3", "features.5", "features.7")
        return _stages(mods, (4, 8, 16, 32), layout="nhwc"), _STAGES4
    if arch.startswith("shufflenet_v2"):
        taps = _stages(("stage2", "stage3", "stage4"), (8, 16, 32), first=2)
        taps["conv5"] = Tap("conv5", "conv5", None, 32)
        return taps, ("stage2", "stage3", "stage4", "conv5")
    if arch == "googlenet":
        return _stages(("inception3b", "inception4e", "inception5b"), (8, 16, 32)), (
            "stage1",
            "stage2",
            "stage3",
        )
    if arch == "inception_v3":
        return _stages(("Mixed_5d", "Mixed_6e", "Mixed_7c"), (8, 16, 32)), (
            "stage1",
            "stage2",
            "stage3",
        )
    if arch.startswith("vit_"):
        return {"encoder": Tap("encoder", "encoder", None, None, "ntc")}, ("encoder",)
    return None


class TorchvisionFeatures(DeepFeatureExtractor):
    """Multi-level features of any torchvision classification model.

    Feature names: ``<backbone>.<tap>.<pooling>.<channel>``, e.g.
    ``resnet18.layer2.avg.5`` or ``vgg16.features.avg.0``. See
    :mod:`hybridfer.extractors.torchvision_generic` for the known families' taps.

    Parameters
    ----------
    backbone : str, default="resnet18"
        A torchvision classification model name (``torchvision.models.list_models``).
    """

    __doc__ = (__doc__ or "") + _COMMON_DOC

    _parameter_constraints: dict = {
        **DeepFeatureExtractor._parameter_constraints,
        "backbone": [StrOptions(set(classification_models()))],
    }

    def __init__(
        self,
        backbone="resnet18",
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
        self.backbone = backbone

    def _arch_name(self) -> str:
        return self.backbone

    def _feature_prefix(self) -> str:
        return self.backbone

    def _tap_table(self) -> dict[str, Tap]:
        family = family_taps(self.backbone)
        return dict(family[0]) if family else {}

    def _default_tap_names(self, model: nn.Module) -> tuple[str, ...]:
        family = family_taps(self.backbone)
        if family:
            return family[1]
        children = dict(model.named_children())
        for name in ("features", "layers", "trunk_output"):
            if name in children:
                return (name,)
        raise ValueError(
            f"TorchvisionFeatures: no default taps for {self.backbone!r}; pass layers=[...] "
            f"with module names, e.g. among its top-level modules {list(children)}"
        )

    def _extra_module_names(self, model: nn.Module) -> list[str]:
        return [name for name, _ in model.named_modules() if name]
