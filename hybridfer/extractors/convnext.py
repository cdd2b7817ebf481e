"""ConvNeXt feature taps and :class:`ConvNeXtTinyFeatures`.

ConvNeXt-Tiny taps (torchvision ``convnext_tiny``; depths 3, 3, 9, 3):

==========  ==============  ========  =========
tap         module          channels  reduction
==========  ==============  ========  =========
``stem``    ``features.0``  96        4
``stage1``  ``features.1``  96        4
``stage2``  ``features.3``  192       8
``stage3``  ``features.5``  384       16
``stage4``  ``features.7``  768       32
==========  ==============  ========  =========

The default reads the four stages (1,440 features with average pooling). ``stage4`` is read
before the classifier's final LayerNorm.
"""

from __future__ import annotations

from hybridfer.extractors.base import _COMMON_DOC, DeepFeatureExtractor
from hybridfer.extractors.taps import Tap, table

__all__ = ["CONVNEXT_TINY_TAPS", "ConvNeXtTinyFeatures", "convnext_taps"]

CONVNEXT_TINY_TAPS = table(
    ("stem", "features.0", 96, 4),
    ("stage1", "features.1", 96, 4),
    ("stage2", "features.3", 192, 8),
    ("stage3", "features.5", 384, 16),
    ("stage4", "features.7", 768, 32),
)
CONVNEXT_DEFAULT_LAYERS = ("stage1", "stage2", "stage3", "stage4")


def convnext_taps(arch: str) -> dict[str, Tap]:
    """Tap table of any torchvision ConvNeXt (channels known for ConvNeXt-Tiny)."""
    if arch == "convnext_tiny":
        return dict(CONVNEXT_TINY_TAPS)
    return table(*[(t.name, t.module, None, t.reduction) for t in CONVNEXT_TINY_TAPS.values()])


class ConvNeXtTinyFeatures(DeepFeatureExtractor):
    """Multi-stage ConvNeXt-Tiny features (torchvision ``convnext_tiny``).

    Feature names: ``convnext_tiny.<tap>.<pooling>.<channel>``. The CTAN paper's
    preprocessing is ``input_size=224, equalize=True, normalize="half"``.
    See :mod:`hybridfer.extractors.convnext` for the taps.

    Parameters
    ----------
    """

    __doc__ = (__doc__ or "") + _COMMON_DOC

    _arch = "convnext_tiny"
    _prefix = "convnext_tiny"
    _taps = CONVNEXT_TINY_TAPS
    _default_layers = CONVNEXT_DEFAULT_LAYERS
