"""What the torch parts of hybridfer share: devices, training loop, losses, augmentation.

- :mod:`~hybridfer.nn.devices`: ``device="auto"`` (cuda, mps, cpu) and autocast precision;
  :mod:`~hybridfer.nn.seeding`: seeds and the deterministic mode.
- :mod:`~hybridfer.nn.training`: :func:`fit_module` / :class:`~hybridfer.nn.training.Trainer`,
  the one training loop (optimizers, schedules, early stopping, EMA, focal loss, class weights,
  augmentation, two-stage freezing, gradient clipping, mixed precision, seeds, progress bar).
- Its parts: :mod:`~hybridfer.nn.config` (:class:`TrainConfig`, :class:`TrainingResult`),
  :mod:`~hybridfer.nn.state` (what checkpoints save), :mod:`~hybridfer.nn.budget` (the clock),
  :mod:`~hybridfer.nn.callbacks`, :mod:`~hybridfer.nn.batches` (row access),
  :mod:`~hybridfer.nn.losses`, :mod:`~hybridfer.nn.augment`, :mod:`~hybridfer.nn.optim`,
  :mod:`~hybridfer.nn.freeze`.
- :mod:`~hybridfer.nn.inference`: :func:`predict_module` and the extractors' streamed forward.
- :mod:`~hybridfer.nn.fernet`: the :class:`~hybridfer.nn.fernet.FERNet` base;
  :mod:`~hybridfer.nn.architectures`: the CNN-LSTM paper's CNNs, deeper FER nets and the
  registry of every FER net (CTAN's is in :mod:`~hybridfer.nn.ctan`).
- :mod:`~hybridfer.nn.heads`: pooled, MLP and LSTM heads; backbone + head networks.
- :mod:`~hybridfer.nn.attention`: CTAN's Efficient Attention and (SA-Net) Shuffle Attention.
- :mod:`~hybridfer.nn.finetune`: supervised fine-tuning of a backbone with a temporary head.
"""

from hybridfer.nn.architectures import ARCHITECTURES, build_fer_net, count_parameters
from hybridfer.nn.attention import EfficientAttention, ShuffleAttention
from hybridfer.nn.augment import BatchAugmentation, make_augmentation
from hybridfer.nn.config import TrainConfig, TrainingResult
from hybridfer.nn.finetune import fine_tune_backbone
from hybridfer.nn.inference import predict_module
from hybridfer.nn.losses import FocalLoss, compute_class_weights
from hybridfer.nn.seeding import seeded
from hybridfer.nn.training import fit_module

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
