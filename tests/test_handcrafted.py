"""HOGFeatures and LBPFeatures: equality with scikit-image, sklearn API, inputs, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from _helpers import write_pngs
from PIL import Image
from skimage.feature import hog, local_binary_pattern
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from hybridfer.handcrafted import (
    HOGFeatures,
    LBPFeatures,
    hog_batch,
    lbp_codes,
    lbp_histograms,
    lbp_n_bins,
)
from hybridfer.handcrafted.lbp import grid_edges, to_gray
from hybridfer.images import as_image_source, read_images


def _skimage_lbp(img: np.ndarray, P: int, R: float, method: str) -> np.ndarray:
    with warnings.catch_warnings():  # skimage warns about float images; we compare anyway
        warnings.simplefilter("ignore", UserWarning)
        return local_binary_pattern(img, P, R, method)


def _reference_lbp_features(
    images: np.ndarray, P: int, R: float, method: str, grid: tuple[int, int], normalize
) -> np.ndarray:
    """Per image: skimage codes, then np.histogram of each cell (row-major)."""
    bin_codes = {
        "uniform": np.arange(P + 2),
        "nri_uniform": np.arange(P * (P - 1) + 3),
        "default": np.arange(2**P),
    }
    rows = []
    for img in images:
        codes = _skimage_lbp(img, P, R, method)
        if method == "ror":
            codes_all = np.unique(
                [
                    min(((c >> k) | (c << (P - k))) & (2**P - 1) for k in range(P))
                    for c in range(2**P)
                ]
            )
        else:
            codes_all = bin_codes[method]
        edges = np.append(codes_all, codes_all[-1] + 1) - 0.5
        re, ce = grid_edges(img.shape[0], grid[0]), grid_edges(img.shape[1], grid[1])
        cells = []
        for i in range(grid[0]):
            for j in range(grid[1]):
                h = np.histogram(codes[re[i] : re[i + 1], ce[j] : ce[j + 1]], bins=edges)[0]
                h = h.astype(float)
                if normalize == "l1":
                    h /= h.sum()
                elif normalize == "l2":
                    h /= np.sqrt((h**2).sum())
                cells.append(h)
        rows.append(np.concatenate(cells))
    return np.array(rows)


@pytest.fixture
def gray_u8(rng) -> np.ndarray:
    X = rng.integers(0, 256, size=(7, 26, 21), dtype=np.uint8)
    X[:, :6, :6] = 90  # flat patches: ties between samples and centres
    return X


# ---------------------------------------------------------------- HOG equality with skimage
HOG_PARAMS = [
    dict(),
    dict(orientations=7, pixels_per_cell=(6, 5), cells_per_block=(3, 2), block_norm="L1"),
    dict(orientations=12, pixels_per_cell=4, cells_per_block=1, block_norm="L2"),
    dict(pixels_per_cell=(7, 9), cells_per_block=(2, 1), block_norm="L1-sqrt", transform_sqrt=True),
]


def _skimage_hog(img: np.ndarray, **params) -> np.ndarray:
    ppc = params.get("pixels_per_cell", (8, 8))
    cpb = params.get("cells_per_block", (2, 2))
    return hog(
        img,
        orientations=params.get("orientations", 9),
        pixels_per_cell=(ppc, ppc) if isinstance(ppc, int) else ppc,
        cells_per_block=(cpb, cpb) if isinstance(cpb, int) else cpb,
        block_norm=params.get("block_norm", "L2-Hys"),
        transform_sqrt=params.get("transform_sqrt", False),
        feature_vector=True,
        channel_axis=-1 if img.ndim == 3 else None,
    )


@pytest.mark.parametrize("params", HOG_PARAMS)
@pytest.mark.parametrize("kind", ["uint8", "float64", "float32", "rgb_uint8", "rgb_float"])
def test_hog_equals_skimage(rng, params, kind):
    shape = (5, 26, 21, 3) if kind.startswith("rgb") else (5, 26, 21)
    X = rng.integers(0, 256, size=shape, dtype=np.uint8)
    X[:, :8, :8] = 40
    if kind in ("float64", "rgb_float"):
        X = X / 255.0
    elif kind == "float32":
        X = (X / 255.0).astype(np.float32)
    out = HOGFeatures(**params).fit_transform(X)
    ref = np.stack([_skimage_hog(img, **params) for img in X])
    assert out.dtype == np.float32
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_hog_batch_float64_close_to_skimage_within_float32_accumulation(gray_u8):
    # skimage sums each cell in float32; everything else is identical
    out = hog_batch(gray_u8, 9, (4, 4), (2, 2), "L2-Hys")
    ref = np.stack([hog(img, 9, (4, 4), (2, 2), "L2-Hys") for img in gray_u8])
    assert out.dtype == np.float64
    assert np.abs(out - ref).max() < 1e-6


def test_hog_flat_and_channel_inputs(gray_u8):
    n, h, w = gray_u8.shape
    ref = HOGFeatures(pixels_per_cell=4).fit_transform(gray_u8)
    flat = HOGFeatures(pixels_per_cell=4, image_shape=(h, w)).fit_transform(gray_u8.reshape(n, -1))
    flat_inferred_width = HOGFeatures(pixels_per_cell=4, image_shape=(h, -1)).fit_transform(
        gray_u8.reshape(n, -1)
    )
    one_channel = HOGFeatures(pixels_per_cell=4).fit_transform(gray_u8[..., None])
    frame = HOGFeatures(pixels_per_cell=4, image_shape=(h, w)).fit_transform(
        pd.DataFrame(gray_u8.reshape(n, -1))
    )
    for other in (flat, flat_inferred_width, one_channel, frame):
        np.testing.assert_array_equal(other, ref)


def test_hog_and_lbp_from_paths(tmp_path, gray_u8, rng):
    paths = write_pngs(tmp_path, gray_u8)
    hog_out = HOGFeatures(pixels_per_cell=5).fit_transform(paths)
    np.testing.assert_array_equal(hog_out, HOGFeatures(pixels_per_cell=5).fit_transform(gray_u8))
    ref = np.stack([_skimage_hog(img, pixels_per_cell=(5, 5)) for img in gray_u8])
    np.testing.assert_allclose(hog_out, ref, rtol=1e-5, atol=1e-6)
    lbp_out = LBPFeatures(grid=(2, 3), batch_size=3).fit_transform(np.array(paths))
    np.testing.assert_array_equal(lbp_out, LBPFeatures(grid=(2, 3)).fit_transform(gray_u8))

    # RGB files: HOG keeps color (skimage's channel rule), LBP decodes as gray
    rgb = rng.integers(0, 256, size=(3, 20, 18, 3), dtype=np.uint8)
    rgb_dir = tmp_path / "rgb"
    rgb_dir.mkdir()
    rgb_paths = write_pngs(rgb_dir, rgb)
    np.testing.assert_allclose(
        HOGFeatures(pixels_per_cell=4).fit_transform(rgb_paths),
        np.stack([_skimage_hog(img, pixels_per_cell=(4, 4)) for img in rgb]),
        rtol=1e-5,
        atol=1e-6,
    )
    gray_from_files = np.stack(read_images(rgb_paths, "gray"))
    np.testing.assert_array_equal(to_gray(rgb), gray_from_files)  # Pillow's convert("L")
    np.testing.assert_array_equal(
        LBPFeatures(grid=2).fit_transform(rgb_paths), LBPFeatures(grid=2).fit_transform(rgb)
    )


# ---------------------------------------------------------------- LBP equality with skimage
LBP_CASES = [
    (8, 1.0, "uniform"),
    (8, 1.0, "nri_uniform"),
    (8, 1.0, "default"),
    (8, 1.0, "ror"),
    (16, 2.0, "uniform"),
    (12, 1.5, "nri_uniform"),
    (4, 1.3, "default"),
    (24, 3.0, "uniform"),
    (6, 0.7, "ror"),
]


@pytest.mark.parametrize("P, R, method", LBP_CASES)
@pytest.mark.parametrize("kind", ["uint8", "float64", "negative_float"])
def test_lbp_codes_equal_skimage(gray_u8, P, R, method, kind):
    X = {
        "uint8": gray_u8,
        "float64": gray_u8 / 255.0,
        "negative_float": (gray_u8.astype(float) - 128.0) * 3.7,
    }[kind]
    codes = lbp_codes(X, P, R, method)
    ref = np.stack([_skimage_lbp(img, P, R, method) for img in X])
    np.testing.assert_array_equal(codes, ref)


@pytest.mark.parametrize(
    "P, R, method, grid, normalize",
    [
        (8, 1.0, "uniform", (4, 4), "l1"),
        (16, 2.0, "uniform", (3, 4), None),
        (8, 1.0, "nri_uniform", (2, 3), "l2"),
        (8, 1.0, "ror", (1, 1), None),
        (6, 1.0, "default", (5, 2), "l1"),
    ],
)
def test_lbp_features_equal_skimage_cell_histograms(gray_u8, P, R, method, grid, normalize):
    lbp = LBPFeatures(P=P, R=R, method=method, grid=grid, normalize=normalize, batch_size=4)
    out = lbp.fit_transform(gray_u8)
    ref = _reference_lbp_features(gray_u8, P, R, method, grid, normalize)
    assert out.dtype == np.float32
    assert out.shape == ref.shape == (len(gray_u8), grid[0] * grid[1] * lbp_n_bins(P, method))
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=0)
    if normalize == "l1":
        sums = out.reshape(len(out), -1, lbp_n_bins(P, method)).sum(axis=2)
        np.testing.assert_allclose(sums, 1, rtol=1e-6)
    if normalize is None:  # counts: every pixel in exactly one cell
        assert out.sum() == gray_u8.size


def test_lbp_histograms_function_matches_transformer(gray_u8):
    direct = lbp_histograms(gray_u8, 8, 1.0, "uniform", (4, 4), "l1")
    np.testing.assert_allclose(LBPFeatures().fit_transform(gray_u8), direct, rtol=1e-7)


def test_lbp_rgb_is_converted_like_pillow(rng):
    rgb = rng.integers(0, 256, size=(4, 16, 15, 3), dtype=np.uint8)
    pil_gray = np.stack([np.asarray(Image.fromarray(img).convert("L")) for img in rgb])
    np.testing.assert_array_equal(to_gray(rgb), pil_gray)
    np.testing.assert_array_equal(
        LBPFeatures(grid=2).fit_transform(rgb), LBPFeatures(grid=2).fit_transform(pil_gray)
    )


# ---------------------------------------------------------------- scale, names, pandas
def test_float_inputs_on_any_range(gray_u8):
    # HOG: block normalisation makes it scale invariant up to eps (float_range=None: as is)
    a = HOGFeatures(pixels_per_cell=4).fit_transform(gray_u8)
    b = HOGFeatures(pixels_per_cell=4, float_range=None).fit_transform(gray_u8 / 255.0 * 1e3 - 7)
    np.testing.assert_allclose(a, b, atol=1e-4)
    # LBP with whole-pixel samples compares pixels directly: exactly scale invariant
    # (not shift invariant at the border, where outside pixels read as 0 as in skimage)
    lbp = LBPFeatures(P=4, R=1.0, method="default", grid=3, float_range=None)
    np.testing.assert_array_equal(lbp.fit_transform(gray_u8), lbp.fit_transform(gray_u8 * 2.5))
    # a declared range is mapped to [0, 1]: float images on the 8-bit scale give the features
    # of the same images divided by 255
    for est in (HOGFeatures(pixels_per_cell=4), LBPFeatures(grid=3)):
        unit = est.fit_transform(gray_u8 / 255.0)
        eight_bit = est.set_params(float_range=(0, 255)).fit_transform(gray_u8.astype(float))
        np.testing.assert_allclose(eight_bit, unit, rtol=1e-6, atol=1e-6)
        with pytest.raises(ValueError, match=r"float pixels on \[.*\], but float images must"):
            est.set_params(float_range=(0.0, 1.0)).fit(gray_u8.astype(np.float32))


def test_feature_names(gray_u8):
    hog_t = HOGFeatures(pixels_per_cell=4).fit(gray_u8)
    names = hog_t.get_feature_names_out()
    assert names.dtype == object
    assert len(names) == hog_t.n_features_out_ == hog_t.transform(gray_u8[:1]).shape[1]
    assert names[0] == "hog.0" and names[-1] == f"hog.{len(names) - 1}"

    lbp = LBPFeatures(P=8, method="uniform", grid=(2, 3)).fit(gray_u8)
    names = lbp.get_feature_names_out()
    assert len(names) == lbp.n_features_out_ == 6 * 10
    assert names[0] == "lbp.cell0.0" and names[10] == "lbp.cell1.0" and names[-1] == "lbp.cell5.9"
    ror = LBPFeatures(P=8, method="ror", grid=1).fit(gray_u8)
    # ror names carry the rotation-invariant code itself: 36 patterns for P=8
    assert ror.n_features_out_ == 36
    assert ror.get_feature_names_out()[-1] == "lbp.cell0.255"


def test_pandas_output(gray_u8):
    for est in (HOGFeatures(pixels_per_cell=4), LBPFeatures(grid=2)):
        est.set_output(transform="pandas")
        frame = est.fit_transform(gray_u8)
        assert isinstance(frame, pd.DataFrame)
        assert list(frame.columns) == list(est.get_feature_names_out())
        assert (frame.dtypes == np.float32).all()
        assert frame.shape[0] == len(gray_u8)


# ---------------------------------------------------------------- errors
def test_too_small_images_raise_with_minimum(rng):
    X = rng.integers(0, 256, size=(3, 12, 30), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"size 12x30, too small .* at least 16x16 pixels"):
        HOGFeatures().fit(X)
    with pytest.raises(ValueError, match=r"size 12x30, too small .* at least 13x2 pixels"):
        LBPFeatures(grid=(13, 2)).fit(X)


def test_bad_inputs_raise(rng, gray_u8):
    for est in (HOGFeatures(pixels_per_cell=4), LBPFeatures()):
        with pytest.raises(ValueError, match="0 images"):
            est.fit(np.zeros((0, 20, 20), dtype=np.uint8))
        with pytest.raises(ValueError, match="dimensions"):
            est.fit(np.zeros((2, 20, 20, 3, 1), dtype=np.uint8))
        with pytest.raises(ValueError, match="Reshape your data"):
            est.fit(np.zeros(400))
        with pytest.raises(NotFittedError):
            clone(est).transform(gray_u8)
        est.fit(gray_u8)
        with pytest.raises(ValueError, match=r"\(24, 21\), but .* fitted on images of shape"):
            est.transform(gray_u8[:, :24])
        with pytest.raises(ValueError, match=r"\(21, 26\), but .* shape \(26, 21\)"):
            est.transform(gray_u8.transpose(0, 2, 1))  # same pixel count, other shape
    with pytest.raises(ValueError, match="non-negative"):
        HOGFeatures(pixels_per_cell=4, transform_sqrt=True, float_range=None).fit_transform(
            gray_u8 / 255.0 - 0.5
        )


def test_files_of_another_size_raise(tmp_path, gray_u8):
    paths = write_pngs(tmp_path, gray_u8[:3])
    odd = tmp_path / "odd.png"
    Image.fromarray(gray_u8[0, :20]).save(odd)
    est = LBPFeatures(batch_size=2).fit(paths)
    with pytest.raises(ValueError, match=r"odd.png' has shape \(20, 21\), but .*\(26, 21\)"):
        est.transform([*paths, str(odd)])


def test_bad_parameters_raise(gray_u8):
    with pytest.raises(InvalidParameterError):
        HOGFeatures(block_norm="L3").fit(gray_u8)
    with pytest.raises(InvalidParameterError):
        LBPFeatures(method="var").fit(gray_u8)
    with pytest.raises(ValueError, match="pixels_per_cell"):
        HOGFeatures(pixels_per_cell=(4, 0)).fit(gray_u8)
    with pytest.raises(ValueError, match="grid"):
        LBPFeatures(grid=(2, 2, 2)).fit(gray_u8)
    with pytest.raises(ValueError, match="P <= 16"):
        LBPFeatures(P=20, method="default").fit(gray_u8)


# ---------------------------------------------------------------- determinism, parallelism
def test_deterministic_and_batch_independent(gray_u8):
    for est in (HOGFeatures(pixels_per_cell=4), LBPFeatures(P=16, R=2, grid=3)):
        ref = clone(est).fit_transform(gray_u8)
        np.testing.assert_array_equal(clone(est).fit_transform(gray_u8), ref)
        np.testing.assert_array_equal(
            clone(est).set_params(batch_size=2).fit_transform(gray_u8), ref
        )
        fitted = clone(est).fit(gray_u8)
        np.testing.assert_array_equal(fitted._transform_batch(gray_u8), ref)
        # the hook a feature cache calls for the images it lacks: any subset, any order
        source = as_image_source(gray_u8)
        subset = np.array([5, 0, 3])
        np.testing.assert_array_equal(fitted._compute_features(source, subset), ref[subset])


def test_n_jobs_2_equals_n_jobs_1(tmp_path, gray_u8):
    paths = write_pngs(tmp_path, gray_u8)
    for est in (HOGFeatures(pixels_per_cell=4, batch_size=2), LBPFeatures(batch_size=2)):
        serial = clone(est).fit_transform(gray_u8)
        parallel = clone(est).set_params(n_jobs=2).fit_transform(gray_u8)
        np.testing.assert_array_equal(parallel, serial)
        np.testing.assert_array_equal(clone(est).set_params(n_jobs=2).fit_transform(paths), serial)


def test_cache_key_params():
    a = LBPFeatures(batch_size=7, n_jobs=2)._cache_key_params()
    assert a == LBPFeatures()._cache_key_params()  # not batch size or jobs
    assert a != LBPFeatures(R=2.0)._cache_key_params()
    h = HOGFeatures(pixels_per_cell=8)._cache_key_params()
    assert h == HOGFeatures(pixels_per_cell=(8, 8), n_jobs=4)._cache_key_params()
    assert h != HOGFeatures(block_norm="L1")._cache_key_params()
    assert h["transformer"] == "HOGFeatures"


# ---------------------------------------------------------------- scikit-learn's checks
# Generic checks feed (n, d) floats of any width and sign: image_shape=(1, -1) reads each row
# as a 1 x d image, and 1x1 cells / a 1x1 grid accept every width. Every check passes, so no
# expected failures are declared.
@parametrize_with_checks(
    [
        HOGFeatures(
            pixels_per_cell=(1, 1), cells_per_block=(1, 1), image_shape=(1, -1), float_range=None
        ),
        LBPFeatures(grid=(1, 1), image_shape=(1, -1), float_range=None),
        LBPFeatures(
            P=4,
            R=2.0,
            method="nri_uniform",
            grid=1,
            normalize=None,
            image_shape=(1, -1),
            float_range=None,
        ),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- real data
@pytest.mark.realdata
def test_equal_to_skimage_on_fer2013(fer2013_root):
    paths = sorted((fer2013_root / "test").glob("*/PublicTest_*.jpg"))[::12][:300]
    assert len(paths) == 300
    images = np.stack(read_images(paths, "gray"))
    assert images.shape == (300, 48, 48) and images.dtype == np.uint8

    hog_out = HOGFeatures().fit_transform(paths)
    ref = np.stack([hog(img, 9, (8, 8), (2, 2), "L2-Hys") for img in images])
    np.testing.assert_allclose(hog_out, ref, rtol=1e-5, atol=1e-6)

    for P, R in ((8, 1.0), (16, 2.0)):
        codes = lbp_codes(images, P, R, "uniform")
        np.testing.assert_array_equal(
            codes, np.stack([local_binary_pattern(img, P, R, "uniform") for img in images])
        )
        out = LBPFeatures(P=P, R=R, grid=(4, 4)).fit_transform(images)
        expected = _reference_lbp_features(images, P, R, "uniform", (4, 4), "l1")
        np.testing.assert_allclose(out, expected, rtol=1e-6, atol=0)
