"""FER models shipped inside hybridfer: trained networks that work offline once it is installed.

Each model has a card (:class:`~hybridfer.models.registry.ModelCard`) and a weights file in the
package (:mod:`hybridfer.models.registry`). Use one as a frozen extractor,
``CNNFeatures(weights="fer2013-vgg")``, as a classifier, ``FERNetClassifier(weights=
"fer2013-vgg")`` or :func:`hybridfer.classifiers.pretrained_classifier`, on photos and videos
with ``hybridfer predict --model fer2013-vgg PHOTOS...`` or
``hybridfer.predict_faces("fer2013-vgg", source)``. ``hybridfer models`` lists the models and
``hybridfer models show NAME`` prints a card (:mod:`hybridfer.models.describe`).
``tools/publish_model.py`` turns a ``fer2013-cpu`` work folder into a card and its weights.
"""

from hybridfer.models.describe import format_card, format_models
from hybridfer.models.registry import (
    SHIPPED_DIR,
    ModelCard,
    ModelError,
    WeightsHashError,
    available_models,
    get_model,
    is_model_spec,
    load_network,
    model_cards,
    sha256_file,
    write_model,
)

__all__ = [
    "SHIPPED_DIR",
    "ModelCard",
    "ModelError",
    "WeightsHashError",
    "available_models",
    "format_card",
    "format_models",
    "get_model",
    "is_model_spec",
    "load_network",
    "model_cards",
    "sha256_file",
    "write_model",
]
