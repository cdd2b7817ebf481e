"""Deep feature extractors: torchvision backbones as scikit-learn transformers.

Each extractor reads several intermediate layers ("taps") of a backbone in one forward pass,
pools each one, and returns 2-D float32 features with names such as
``resnet50.layer3.avg.17`` (or spatial tokens ``(n, T, C)`` for sequence heads).
Preprocessing (gray→RGB, resize, equalisation, normalisation) runs per batch on the
extractor's device; features can be cached per image in a :class:`hybridfer.cache.FeatureCache`.
"""

from hybridfer.extractors.base import DeepFeatureExtractor
from hybridfer.extractors.convnext import CONVNEXT_TINY_TAPS, ConvNeXtTinyFeatures
from hybridfer.extractors.mobilenet import (
    MOBILENETV2_TAPS,
    MOBILENETV3_LARGE_TAPS,
    MOBILENETV3_SMALL_TAPS,
    MobileNetV2Features,
    MobileNetV3Features,
)
from hybridfer.extractors.resnet import RESNET50_TAPS, ResNet50Features
from hybridfer.extractors.taps import Tap
from hybridfer.extractors.torchvision_generic import TorchvisionFeatures
from hybridfer.nn.preprocessing import NORMALIZATIONS, Preprocessor
from hybridfer.nn.weights import WeightsUnavailableError

__all__ = [
    "CONVNEXT_TINY_TAPS",
    "CNNFeatures",
    "MOBILENETV2_TAPS",
    "MOBILENETV3_LARGE_TAPS",
    "MOBILENETV3_SMALL_TAPS",
    "NORMALIZATIONS",
    "RESNET50_TAPS",
    "ConvNeXtTinyFeatures",
    "DeepFeatureExtractor",
    "MobileNetV2Features",
    "MobileNetV3Features",
    "Preprocessor",
    "ResNet50Features",
    "Tap",
    "TorchvisionFeatures",
    "WeightsUnavailableError",
]


def __getattr__(name: str):
    # CNNFeatures (supervised small CNNs) pulls in the training code: import it on first use
    if name == "CNNFeatures":
        from hybridfer.extractors.cnn import CNNFeatures

        return CNNFeatures
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
