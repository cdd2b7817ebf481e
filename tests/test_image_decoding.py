"""read_image on the files users have: EXIF-rotated JPEGs, 16-bit images, transparency."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hybridfer.images import read_image, read_images

ORIENTATION = 0x0112


def _upright() -> np.ndarray:
    """A 40x60 RGB picture whose top-left quadrant is black and the rest white-ish."""
    img = np.full((40, 60, 3), 230, np.uint8)
    img[:20, :30] = 0
    img[20:, 30:] = (230, 30, 30)  # bottom-right red
    return img


def _save_rotated_jpeg(path: Path, orientation: int) -> None:
    """Store the upright picture turned so that a viewer applying EXIF ``orientation``
    (6: rotate 90 degrees clockwise to display; 8: counter-clockwise) shows it upright."""
    stored = Image.fromarray(_upright())
    stored = stored.transpose(
        Image.Transpose.ROTATE_90 if orientation == 6 else Image.Transpose.ROTATE_270
    )
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    stored.save(path, "JPEG", quality=95, exif=exif)


def _assert_upright(decoded: np.ndarray) -> None:
    assert decoded.shape[:2] == (40, 60)
    gray = decoded if decoded.ndim == 2 else decoded.mean(axis=2)
    assert gray[2:18, 2:28].mean() < 20  # black top-left
    assert gray[2:18, 32:58].mean() > 200  # white top-right
    if decoded.ndim == 3:
        red = decoded[22:38, 32:58].mean(axis=(0, 1))
        assert red[0] > 200 and red[1] < 60 and red[2] < 60


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_rotated_jpeg_decodes_upright(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / f"phone_{orientation}.jpg"
    _save_rotated_jpeg(path, orientation)
    with Image.open(path) as im:  # stored sideways
        assert im.size == (40, 60) and im.getexif()[ORIENTATION] == orientation
    for color in ("rgb", "gray", None):
        _assert_upright(read_image(path, color))
    assert read_image(path, "rgb").shape == (40, 60, 3)
    assert read_image(path, "gray").shape == (40, 60)


def test_jpeg_without_exif_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "plain.jpg"
    Image.fromarray(_upright()).save(path, quality=95)
    _assert_upright(read_image(path, "rgb"))


def _gradient16() -> np.ndarray:
    return np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (3, 1))  # 257 * i


def test_16bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "depth16.png"
    Image.fromarray(_gradient16()).save(path)
    with Image.open(path) as im:
        assert im.mode == "I;16"
        assert np.asarray(im.convert("L")).mean() > 250  # what plain Pillow would give
    gray = read_image(path, "gray")
    assert gray.dtype == np.uint8 and gray.shape == (3, 256)
    np.testing.assert_array_equal(gray[0], np.arange(256))
    rgb = read_image(path, "rgb")
    assert rgb.shape == (3, 256, 3)
    np.testing.assert_array_equal(rgb[..., 1], gray)
    assert read_image(path, None).shape == (3, 256)  # gray files stay gray


@pytest.mark.parametrize("mode", ["I;16B", "I"])
def test_16bit_and_32bit_tiff(tmp_path: Path, mode: str) -> None:
    values = _gradient16()
    if mode == "I":
        im = Image.fromarray(values.astype(np.int32))
    else:
        im = Image.frombytes(mode, values.shape[::-1], values.astype(">u2").tobytes())
    path = tmp_path / "scan.tif"
    im.save(path)
    with Image.open(path) as check:
        assert check.mode == mode
    np.testing.assert_array_equal(read_image(path)[0], np.arange(256))


def test_32bit_values_beyond_16_bits_are_clipped_to_white(tmp_path: Path) -> None:
    path = tmp_path / "wide.tif"
    Image.fromarray(np.array([[-5, 0, 65535, 10**6]], dtype=np.int32)).save(path)
    np.testing.assert_array_equal(read_image(path)[0], [0, 0, 255, 255])


def test_rgba_png_transparent_background_is_white(tmp_path: Path) -> None:
    rgba = np.zeros((10, 10, 4), np.uint8)  # transparent black everywhere
    rgba[3:7, 3:7] = (200, 0, 0, 255)  # an opaque red square
    rgba[0, 0] = (0, 0, 0, 128)  # half-transparent black: mid-gray on white
    path = tmp_path / "logo.png"
    Image.fromarray(rgba, "RGBA").save(path)
    rgb = read_image(path, "rgb")
    assert rgb.shape == (10, 10, 3)
    np.testing.assert_array_equal(rgb[9, 9], [255, 255, 255])
    np.testing.assert_array_equal(rgb[5, 5], [200, 0, 0])
    assert 120 <= int(rgb[0, 0, 0]) <= 135
    gray = read_image(path, "gray")
    assert gray[9, 9] == 255 and gray[5, 5] == round(200 * 0.299)
    assert read_image(path, None).shape == (10, 10, 3)


def test_la_png_composited_on_white_and_stays_gray(tmp_path: Path) -> None:
    la = np.zeros((6, 6, 2), np.uint8)
    la[:3, :, 1] = 255  # top half opaque black, bottom half transparent
    path = tmp_path / "la.png"
    Image.fromarray(la, "LA").save(path)
    out = read_image(path, None)
    assert out.shape == (6, 6)
    assert (out[:3] == 0).all() and (out[3:] == 255).all()


def test_palette_png_with_transparency(tmp_path: Path) -> None:
    index = np.zeros((8, 8), np.uint8)
    index[2:6, 2:6] = 1
    im = Image.fromarray(index, "P")
    im.putpalette([0, 0, 0, 0, 0, 255] + [0] * (3 * 254))  # 0 black, 1 blue
    path = tmp_path / "sprite.png"
    im.save(path, transparency=0)  # index 0 (black) is transparent
    rgb = read_image(path, "rgb")
    np.testing.assert_array_equal(rgb[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(rgb[4, 4], [0, 0, 255])
    gray = read_image(path, "gray")
    assert gray[0, 0] == 255 and gray[4, 4] == round(255 * 0.114)


def test_palette_png_without_transparency_keeps_its_colours(tmp_path: Path) -> None:
    index = np.zeros((4, 4), np.uint8)
    im = Image.fromarray(index, "P")
    im.putpalette([0, 0, 0] * 256)
    path = tmp_path / "flat.png"
    im.save(path)
    assert (read_image(path, "rgb") == 0).all()


def test_gray_and_rgb_modes_of_plain_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    gray_src = rng.integers(0, 256, (12, 9), dtype=np.uint8)
    rgb_src = rng.integers(0, 256, (12, 9, 3), dtype=np.uint8)
    g, c = tmp_path / "g.png", tmp_path / "c.png"
    Image.fromarray(gray_src).save(g)
    Image.fromarray(rgb_src).save(c)
    np.testing.assert_array_equal(read_image(g, "gray"), gray_src)
    np.testing.assert_array_equal(read_image(g, None), gray_src)
    np.testing.assert_array_equal(read_image(g, "rgb"), np.repeat(gray_src[..., None], 3, 2))
    np.testing.assert_array_equal(read_image(c, "rgb"), rgb_src)
    np.testing.assert_array_equal(read_image(c, None), rgb_src)
    expected = np.asarray(Image.fromarray(rgb_src).convert("L"))
    np.testing.assert_array_equal(read_image(c, "gray"), expected)
    batch = read_images([g, c], "rgb")
    assert [b.shape for b in batch] == [(12, 9, 3), (12, 9, 3)]
