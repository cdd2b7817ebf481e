"""The shared image-input layer: every accepted form, content hashes, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _helpers import write_pngs
from PIL import Image

from hybridfer.images import (
    ImageReadError,
    ImageSource,
    as_image_source,
    content_hash,
    read_image,
    read_images,
)


@pytest.fixture
def images(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (5, 8, 6), dtype=np.uint8)


@pytest.fixture
def paths(tmp_path: Path, images: np.ndarray) -> list[str]:
    return write_pngs(tmp_path, images)


def test_array_forms_agree(images: np.ndarray) -> None:
    flat = images.reshape(5, -1)
    a = as_image_source(images).load(slice(None))
    b = as_image_source(flat, image_shape=(8, 6)).load(slice(None))
    c = as_image_source(images[..., None]).load(slice(None))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    square = as_image_source(np.zeros((2, 16), np.uint8))
    assert square.first_image_shape() == (4, 4)


def test_paths_decode_lazily_and_match_arrays(images: np.ndarray, paths: list[str]) -> None:
    src = as_image_source(paths)
    assert src.is_lazy and len(src) == 5
    np.testing.assert_array_equal(src.load([3, 1]), images[[3, 1]])
    batches = list(src.iter_batches(2))
    assert [sl.start for sl, _ in batches] == [0, 2, 4] and batches[-1][1].shape == (1, 8, 6)
    assert src.content_hashes() == as_image_source(images).content_hashes()
    np.testing.assert_array_equal(np.stack(read_images(paths, n_jobs=2)), images)


def test_content_hash_depends_on_pixels_shape_and_dtype(images: np.ndarray) -> None:
    assert content_hash(images[0]) == content_hash(images[0].copy())
    assert content_hash(images[0]) != content_hash(images[1])
    assert content_hash(images[0]) != content_hash(images[0].astype(np.float32))
    assert content_hash(images[0]) != content_hash(images[0].reshape(6, 8))


def test_integer_and_bool_inputs_become_uint8() -> None:
    src = as_image_source(np.full((2, 4, 4), 200, dtype=np.int64))
    assert src.images.dtype == np.uint8
    assert as_image_source(np.ones((1, 4, 4), bool)).images.max() == 255


@pytest.mark.parametrize(
    ("X", "kwargs", "error", "match"),
    [
        (np.zeros((0, 4, 4)), {}, ValueError, "contains 0 images"),
        ([], {}, ValueError, "contains 0 images"),
        (np.zeros((3, 10)), {}, ValueError, "not a square number of pixels; pass image_shape"),
        (np.zeros((3, 10)), {"image_shape": (3, 3)}, ValueError, "does not fit X"),
        (np.zeros((3,)), {}, ValueError, r"1 dimensions.*expected \(n, H, W\)"),
        (np.zeros((2, 3, 4, 4, 4)), {}, ValueError, "5 dimensions"),
        (np.zeros((2, 3, 8, 8)), {}, ValueError, "channels last"),
        (np.full((2, 4, 4), np.nan), {}, ValueError, "NaN or infinite"),
        (np.full((2, 4, 4), 300), {}, ValueError, r"expected values on \[0, 255\]"),
        (np.array([["a"]], dtype=object), {}, TypeError, "dtype object"),
        ("faces/", {}, TypeError, "single path"),
        (["/no/such/image.png"], {}, FileNotFoundError, "1 of 1 image paths do not exist"),
    ],
)
def test_bad_inputs_name_what_was_expected(X, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        as_image_source(X, **kwargs)


def test_unreadable_and_mismatched_files(tmp_path: Path, paths: list[str]) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(ImageReadError, match="bad.jpg"):
        read_image(bad)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_image(tmp_path / "missing.png")
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(big)
    with pytest.raises(ValueError, match=r"big.png.*\(9, 9\)"):
        as_image_source([paths[0], str(big)]).load(slice(None))


def test_rgb_files_and_color_modes(tmp_path: Path) -> None:
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 255
    p = tmp_path / "red.png"
    Image.fromarray(rgb).save(p)
    assert read_image(p, "rgb").shape == (4, 4, 3)
    assert read_image(p, None).shape == (4, 4, 3)
    assert read_image(p, "gray").shape == (4, 4)
    assert as_image_source([str(p)], color="rgb").load([0]).shape == (1, 4, 4, 3)
    with pytest.raises(ValueError, match="color must be"):
        read_image(p, "cmyk")


def test_image_source_needs_exactly_one_input() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ImageSource()
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        next(ImageSource(images=np.zeros((1, 2, 2))).iter_batches(0))
