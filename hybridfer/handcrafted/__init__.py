"""Handcrafted image descriptors as scikit-learn transformers: HOG and LBP grid histograms.

Both compute exactly what scikit-image computes per image (``skimage.feature.hog`` and
``skimage.feature.local_binary_pattern`` + per-cell histograms), vectorised over batches of
images and parallel over batches with joblib.
"""

from hybridfer.handcrafted.hog import HOGFeatures, hog_batch
from hybridfer.handcrafted.lbp import LBPFeatures, lbp_codes, lbp_histograms, lbp_n_bins

__all__ = [
    "HOGFeatures",
    "LBPFeatures",
    "hog_batch",
    "lbp_codes",
    "lbp_histograms",
    "lbp_n_bins",
]
