"""What the torch parts of hybridfer share: devices, training loop, losses, augmentation.

- :mod:`~hybridfer.nn.devices`: ``device="auto"`` (cuda, mps, cpu) and autocast precision.
- :mod:`~hybridfer.nn.training`: :func:`fit_module` / :class:`TrainConfig`, the one training
  loop (optimizers, schedules, early stopping, EMA, focal loss, class weights, augmentation,
  two-stage freezing, gradient clipping, mixed precision, seeds, progress bar).
- :mod:`~hybridfer.nn.losses`, :mod:`~hybridfer.nn.augment`, :mod:`~hybridfer.nn.optim`,
  :mod:`~hybridfer.nn.freeze`: its parts.
- :mod:`~hybridfer.nn.architectures`: the CNN-LSTM paper's CNNs and deeper FER nets.
- :mod:`~hybridfer.nn.heads`: pooled, MLP and LSTM heads; backbone + head networks.
- :mod:`~hybridfer.nn.attention`: CTAN's Efficient Attention and (SA-Net) Shuffle Attention.
- :mod:`~hybridfer.nn.finetune`: supervised fine-tuning of a backbone with a temporary head.
"""

from hybridfer.nn.architectures import ARCHITECTURES, build_fer_net, count_parameters
from hybridfer.nn.attention import EfficientAttention, ShuffleAttention
from hybridfer.nn.augment import BatchAugmentation, make_augmentation
from hybridfer.nn.finetune import fine_tune_backbone
from hybridfer.nn.losses import FocalLoss, compute_class_weights
from hybridfer.nn.training import TrainConfig, TrainingResult, fit_module, predict_module, seeded

__all__ = [
    "ARCHITECTURES",
    "BatchAugmentation",
    "EfficientAttention",
    "FocalLoss",
    "ShuffleAttention",
    "TrainConfig",
    "TrainingResult",
    "build_fer_net",
    "compute_class_weights",
    "count_parameters",
    "fine_tune_backbone",
    "fit_module",
    "make_augmentation",
    "predict_module",
    "seeded",
]
