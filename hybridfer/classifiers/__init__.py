"""Classifiers for extracted features and images: weight-normalized XGBoost, an SVM with a
BLAS-computed kernel, an LSTM head, and an end-to-end FER network.

The torch-based classifiers are imported on first use, so ``WNXGBClassifier`` alone does
not load torch.
"""

from hybridfer.classifiers.gram_svc import GramSVC
from hybridfer.classifiers.wnxgb import WNXGBClassifier

__all__ = [
    "FERNetClassifier",
    "GramSVC",
    "LSTMHeadClassifier",
    "WNXGBClassifier",
    "pretrained_classifier",
]

_LAZY = {
    "FERNetClassifier": "hybridfer.classifiers.fernet",
    "LSTMHeadClassifier": "hybridfer.classifiers.lstm_head",
    "pretrained_classifier": "hybridfer.classifiers.fernet",
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
