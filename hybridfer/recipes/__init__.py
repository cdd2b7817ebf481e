"""Named, versioned systems that run end to end: ``list_recipes``, ``get_recipe``, ``run_recipe``.

- ``fer2013-cpu`` / ``fer2013-gpu``: hybridfer's own FER2013 recipe (a FER network trained from
  scratch within a time budget, hybrid heads on its embeddings), on the official protocol;
  see :mod:`hybridfer.recipes.fer2013`.
- ``cnn-lstm-fer2013``: the CNN + LSTM paper's Model 1/2/3 under its oversample-then-split
  protocol and the official one, side by side; see :mod:`hybridfer.recipes.cnn_lstm`.
- ``ctan-convnext``: the CTAN paper's ConvNeXt-Tiny + attention network on CK+48 (random
  8:1:1 of frames vs subject-grouped folds) or FER2013 (random 8:1:1 of all images vs the
  official usages); see :mod:`hybridfer.recipes.ctan`.
- ``resnet50-wnxgboost``: the ResNet50 + WNXGBoost paper's multi-level features and boosting on
  FER2013 under its random 80:20 split of all images, scored on the held-out part and on its
  training part (its Table 3), and the official usages; see
  :mod:`hybridfer.recipes.resnet_wnxgb`.
- ``clcm-mobilenetv2``: the CLCM paper's MobileNetV2 variant on FER2013's official split (the
  paper's own, honest) beside plain MobileNetV2 and ShuffleNetV2 under the same protocol and
  budget, with its cross-dataset test on CK+48 (``cross_data=``); see
  :mod:`hybridfer.recipes.clcm`.
- ``mobilenetv3-lstm-pain``: the MobileNetV3-LSTM pain paper's model on CK+48 (its frames
  grouped by subject and sequence stand in for the pain frames), per frame or per sequence,
  beside MobileNetV3 without the LSTM, under the paper's balanced test + 90:10
  train:validation of frames and subject-grouped folds; see
  :mod:`hybridfer.recipes.mobilenetv3_lstm`.

The paper recipes share their steps (protocols side by side, the budget split between their
trainings, leakage audit, pooled folds, profile) through :mod:`hybridfer.recipes.paper`'s
:class:`~hybridfer.recipes.paper.PaperRun`; the data they read through
:mod:`hybridfer.recipes.data`, their table through :mod:`hybridfer.recipes.report`.

Each recipe runs at ``scale="smoke"`` (seconds), ``"cpu"`` (an hour or less on 2 cores) or
``"full"`` (meant for a GPU) and returns a :class:`RecipeResult` whose report (markdown and
JSON), confusion PNGs and fitted pipeline are written to the work folder.
"""

from hybridfer.recipes import clcm as _clcm  # noqa: F401  (registers its recipe)
from hybridfer.recipes import cnn_lstm as _cnn_lstm  # noqa: F401  (registers its recipe)
from hybridfer.recipes import ctan as _ctan  # noqa: F401  (registers its recipe)
from hybridfer.recipes import fer2013 as _fer2013  # noqa: F401  (registers its recipes)
from hybridfer.recipes import mobilenetv3_lstm as _mnv3  # noqa: F401  (registers its recipe)
from hybridfer.recipes import resnet_wnxgb as _resnet_wnxgb  # noqa: F401  (registers its recipe)
from hybridfer.recipes.base import (
    SCALES,
    Recipe,
    RecipeError,
    RecipeResult,
    get_recipe,
    list_recipes,
    run_recipe,
)

__all__ = [
    "SCALES",
    "Recipe",
    "RecipeError",
    "RecipeResult",
    "get_recipe",
    "list_recipes",
    "run_recipe",
]
