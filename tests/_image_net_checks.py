"""scikit-learn's common checks that an image network cannot pass, shared by its test files.

The checks feed tabular ``(n_samples, n_features)`` arrays with 1 to 30 columns; an image
network reads images (a flat row must be a square image of at least 22x22 pixels for the
paper CNNs), so every check that fits on such data cannot run. The test files test the same
properties on images instead.
"""

from __future__ import annotations

#: Checks that fit on tabular data, common to the transformers and classifiers.
TABULAR_CHECKS = (
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_estimators_dtypes",
    "check_estimators_fit_returns_self",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1feature",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weights_list",
    "check_sample_weights_not_an_array",
    "check_sample_weights_not_overwritten",
    "check_sample_weights_pandas_series",
    "check_sample_weights_shape",
)


def expected_failures(estimator: str, extra: tuple[str, ...] = ()) -> dict[str, str]:
    """``expected_failed_checks`` of an image network named ``estimator``."""
    reason = (
        f"fits on tabular (n, d) data; {estimator} trains a CNN on images, so d must be a "
        "square number of pixels of at least 22x22 (tested on images in this file instead)"
    )
    failures = dict.fromkeys(TABULAR_CHECKS + extra, reason)
    failures["check_dtype_object"] = (
        "object arrays are not pixel data: hybridfer.images refuses them with a TypeError"
    )
    return failures
