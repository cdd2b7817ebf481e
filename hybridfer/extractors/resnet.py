"""ResNet feature taps and :class:`ResNet50Features`.

ResNet50 taps (torchvision module names; channels; reduction of the input resolution):

==========  ===========  ========  =========
tap         module       channels  reduction
==========  ===========  ========  =========
``stem``    ``maxpool``  64        4
``layer1``  ``layer1``   256       4
``layer2``  ``layer2``   512       8
``layer3``  ``layer3``   1024      16
``layer4``  ``layer4``   2048      32
==========  ===========  ========  =========

The default reads ``layer1`` .. ``layer4`` (3,840 features with average pooling): our reading
of the "multi-level" features of the ResNet50 + weight-normalised XGBoost paper.
"""

from __future__ import annotations

from hybridfer.extractors.base import _COMMON_DOC, DeepFeatureExtractor
from hybridfer.extractors.taps import Tap, table

__all__ = ["RESNET50_TAPS", "ResNet50Features", "resnet_taps"]

RESNET50_TAPS = table(
    ("stem", "maxpool", 64, 4),
    ("layer1", "layer1", 256, 4),
    ("layer2", "layer2", 512, 8),
    ("layer3", "layer3", 1024, 16),
    ("layer4", "layer4", 2048, 32),
)
RESNET_DEFAULT_LAYERS = ("layer1", "layer2", "layer3", "layer4")


def resnet_taps(arch: str) -> dict[str, Tap]:
    """Tap table of any torchvision ResNet/ResNeXt/Wide-ResNet (channels known for ResNet50)."""
    if arch == "resnet50":
        return dict(RESNET50_TAPS)
    return table(*[(t.name, t.module, None, t.reduction) for t in RESNET50_TAPS.values()])


class ResNet50Features(DeepFeatureExtractor):
    """Multi-level ResNet50 features (torchvision ``resnet50``) as a scikit-learn transformer.

    Feature names: ``resnet50.<tap>.<pooling>.<channel>``, e.g. ``resnet50.layer3.avg.17``.
    See :mod:`hybridfer.extractors.resnet` for the taps.

    Parameters
    ----------
    """

    __doc__ = (__doc__ or "") + _COMMON_DOC

    _arch = "resnet50"
    _prefix = "resnet50"
    _taps = RESNET50_TAPS
    _default_layers = RESNET_DEFAULT_LAYERS
