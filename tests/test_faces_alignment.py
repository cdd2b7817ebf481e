"""Face alignment: similarity fits, landmarks onto the FER2013 template, the warp itself."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.ndimage import binary_erosion
from skimage.transform import AffineTransform, warp

from hybridfer.faces.alignment import (
    FER2013_FACE_BOX,
    FER2013_TEMPLATE,
    align_face,
    alignment_matrix,
    crop_whole,
    similarity_transform,
    warp_image,
)


def face(box, landmarks=None):
    """A stand-in for detection.Face: alignment reads only ``box`` and ``landmarks``."""
    return SimpleNamespace(box=tuple(float(v) for v in box), landmarks=landmarks)


def rotation(degrees: float) -> np.ndarray:
    t = np.deg2rad(degrees)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def place_template(side: float, degrees: float, origin) -> np.ndarray:
    """The template's landmarks drawn as a face of ``side`` pixels, rotated, at ``origin``."""
    return (FER2013_TEMPLATE * side) @ rotation(degrees).T + np.asarray(origin, float)


def dots_image(points: np.ndarray, shape, sigma: float) -> np.ndarray:
    """A black uint8 image with a bright Gaussian dot at each (x, y) point."""
    img = np.zeros(shape[:2])
    reach = int(4 * sigma) + 1
    for x, y in points:
        x0, y0 = max(0, int(x) - reach), max(0, int(y) - reach)
        yy, xx = np.mgrid[y0 : int(y) + reach, x0 : int(x) + reach].astype(float)
        dot = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
        window = img[y0 : y0 + dot.shape[0], x0 : x0 + dot.shape[1]]
        np.maximum(window, dot[: window.shape[0], : window.shape[1]], out=window)
    return np.rint(img * 255).astype(np.uint8)


def dot_centres(img: np.ndarray, expected: np.ndarray, radius: int) -> np.ndarray:
    """Intensity-weighted centroid of the dot near each expected (x, y) position."""
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    found = []
    for x, y in expected:
        near = (np.abs(xx - x) <= radius) & (np.abs(yy - y) <= radius)
        w = np.where(near, img.astype(float), 0.0)
        found.append([(w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()])
    return np.array(found)


def template_pixels(size) -> np.ndarray:
    h, w = size
    side = min(h, w)
    return FER2013_TEMPLATE * side + [(w - side) / 2, (h - side) / 2] - 0.5


def test_template_constants():
    assert FER2013_TEMPLATE.shape == (5, 2) and not FER2013_TEMPLATE.flags.writeable
    eyes, nose, mouth = FER2013_TEMPLATE[:2], FER2013_TEMPLATE[2], FER2013_TEMPLATE[3:]
    assert (eyes[:, 0] < [0.5, 1]).all() and eyes[0, 0] < nose[0] < eyes[1, 0]  # left-right
    assert eyes[:, 1].max() < nose[1] < mouth[:, 1].min()  # top to bottom
    x, y, w, h = FER2013_FACE_BOX
    assert 0.6 < w < 1.0 and 0.8 < h < 1.3 and abs(x + w / 2 - 0.5) < 0.05


def test_similarity_transform_recovers_a_known_similarity(rng):
    src = rng.uniform(0, 100, size=(5, 2))
    m = np.column_stack([1.7 * rotation(-35), [12.0, -4.0]])
    dst = src @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(similarity_transform(src, dst), m, atol=1e-9)
    two = similarity_transform(src[:2], dst[:2])  # two points fix a similarity exactly
    np.testing.assert_allclose(two, m, atol=1e-9)
    with pytest.raises(ValueError, match="same number"):
        similarity_transform(src, dst[:4])
    with pytest.raises(ValueError, match=r"\(k, 2\)"):
        similarity_transform(src[:, :1], dst)
    with pytest.raises(ValueError, match="coincide"):
        similarity_transform(np.ones((3, 2)), dst[:3])


@pytest.mark.parametrize("size", [(48, 48), (224, 224), (40, 64)])
def test_five_landmarks_land_on_the_template(size):
    points = place_template(150, 20, (160, 60))
    img = dots_image(points, (300, 400), sigma=6)
    out = align_face(img, face((150, 60, 150, 150), points), size=size)
    assert out.shape == size and out.dtype == np.uint8
    expected = template_pixels(size)
    scale = min(size) / 150
    found = dot_centres(out, expected, radius=max(3, int(round(12 * scale))))
    np.testing.assert_allclose(found, expected, atol=1.0)


def test_large_photo_face_is_reduced_not_aliased():
    points = place_template(1500, -10, (1200, 700))
    img = dots_image(points, (3000, 4000), sigma=40)
    out = align_face(img, face((1200, 700, 1500, 1500), points), size=(48, 48))
    expected = template_pixels((48, 48))
    np.testing.assert_allclose(dot_centres(out, expected, radius=3), expected, atol=1.0)
    assert out.max() > 200  # the dots survive the 31x reduction


def test_eyes_only_and_box_only():
    points = place_template(120, 25, (100, 80))
    img = dots_image(points, (260, 300), sigma=5)
    m = alignment_matrix(face((0, 0, 1, 1), points[:2]), size=(48, 48))
    np.testing.assert_allclose(points[:2] @ m[:, :2].T + m[:, 2], template_pixels((48, 48))[:2])
    out = align_face(img, face((0, 0, 1, 1), points[:2]), size=(48, 48))
    eyes = template_pixels((48, 48))[:2]
    np.testing.assert_allclose(dot_centres(out, eyes, radius=4), eyes, atol=1.0)
    # no landmarks: the box is scaled uniformly (by its area) onto FER2013_FACE_BOX
    x, y, w, h = 40.0, 30.0, 100.0, 130.0
    m = alignment_matrix(face((x, y, w, h)), size=(48, 48))
    bx, by, bw, bh = np.asarray(FER2013_FACE_BOX) * 48
    np.testing.assert_allclose(m[:, :2], np.eye(2) * np.sqrt(bw * bh / (w * h)))
    centre = np.array([x + w / 2, y + h / 2]) - 0.5
    np.testing.assert_allclose(m @ [*centre, 1], [bx + bw / 2 - 0.5, by + bh / 2 - 0.5])
    assert align_face(img, face((x, y, w, h)), size=(48, 48), color="rgb").shape == (48, 48, 3)


def test_margin_zooms_out_around_the_centre():
    points = place_template(150, 0, (100, 100))
    f = face((100, 100, 150, 150), points)
    plain = alignment_matrix(f, size=(48, 48))
    wide = alignment_matrix(f, size=(48, 48), margin=0.25)
    np.testing.assert_allclose(np.linalg.det(plain[:, :2]) / np.linalg.det(wide[:, :2]), 1.5**2)
    centre = np.array([175.0, 175.0])  # the template square's centre: u = 0.5 at 100 + 150 u
    for m in (plain, wide):
        np.testing.assert_allclose(m @ [*centre, 1], [23.5, 23.5], atol=1e-9)
    tight = alignment_matrix(f, size=(48, 48), margin=-0.2)
    assert np.linalg.det(tight[:, :2]) > np.linalg.det(plain[:, :2])


def test_colours_and_sizes(rng):
    rgb = rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    gray = rgb[..., 0].copy()
    f = face((40, 20, 80, 90))
    for img in (rgb, gray, gray[..., None]):
        assert align_face(img, f).shape == (48, 48)
        assert align_face(img, f, size=224, color="rgb").shape == (224, 224, 3)
        assert align_face(img, f, size=(30, 50), color="gray").shape == (30, 50)
    both = align_face(gray, f, color="rgb")
    np.testing.assert_array_equal(both[..., 0], both[..., 2])
    np.testing.assert_array_equal(both[..., 0], align_face(gray, f))
    outside = align_face(rgb, face((1000, 1000, 50, 50)))  # wholly off the picture: black
    assert outside.shape == (48, 48) and not outside.any()


def test_pil_warp_matches_skimage(rng):
    """PIL's pixel-edge coordinates are converted right: skimage's warp, centre-based, agrees."""
    img = rng.integers(0, 256, size=(90, 120), dtype=np.uint8)
    m = np.column_stack([1.3 * rotation(17), [-20.0, 10.0]])  # image -> output
    size = (100, 110)
    ours = warp_image(img, m, size=size).astype(float)
    inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))
    ref = warp(img.astype(float), AffineTransform(matrix=inv), output_shape=size, order=1)
    ref = np.rint(ref)
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]]
    src = np.stack([xx.ravel(), yy.ravel(), np.ones(xx.size)]).T @ inv[:2].T
    inside = ((src > 1) & (src < np.array(img.shape[::-1]) - 2)).all(axis=1).reshape(size)
    assert inside.sum() > 4000
    assert np.abs(ours - ref)[inside].max() <= 1.0
    # the reduced path (an 8x shrink): right on a linear ramp, which block averages preserve
    ramp = np.add.outer(np.arange(400) * 0.3, np.arange(500) * 0.2)
    shrink = np.column_stack([0.125 * rotation(10), [3.0, 2.0]])
    ours = warp_image(np.rint(ramp).astype(np.uint8), shrink, size=(40, 50)).astype(float)
    inv = np.linalg.inv(np.vstack([shrink, [0, 0, 1]]))
    ref = warp(ramp, AffineTransform(matrix=inv), output_shape=(40, 50), order=1, cval=np.nan)
    inside = binary_erosion(np.isfinite(ref), iterations=2)  # away from the picture's edges
    assert inside.sum() > 1000
    assert np.abs(ours - ref)[inside].max() <= 1.5


def test_crop_whole(rng):
    img = rng.integers(0, 256, size=(60, 90, 3), dtype=np.uint8)
    assert crop_whole(img, size=(48, 48), color="gray").shape == (48, 48)
    assert crop_whole(img[..., 0], size=(20, 30), color="rgb").shape == (20, 30, 3)
    flat = np.full((33, 77), 123, np.uint8)
    np.testing.assert_array_equal(crop_whole(flat, size=48, color="gray"), 123)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"size": (0, 48)}, ValueError, "size must be"),
        ({"size": "48"}, ValueError, "size must be"),
        ({"size": (48.0, 48)}, ValueError, "size must be"),
        ({"color": "bgr"}, ValueError, "color must be 'gray' or 'rgb'"),
        ({"margin": -0.5}, ValueError, "margin must be a number > -0.5"),
        ({"template": np.zeros((4, 2))}, ValueError, r"template must be an array of \(5, 2\)"),
        ({"image": np.zeros((20, 20), np.float32)}, TypeError, "expected uint8"),
        ({"image": np.zeros((20, 20, 4), np.uint8)}, ValueError, r"\(H, W, 3\)"),
        ({"face": face((0, 0, 10, 10), np.zeros((3, 2)))}, ValueError, r"\(5, 2\).*\(2, 2\)"),
        ({"face": face((0, 0, 0, 10))}, ValueError, "w > 0 and h > 0"),
    ],
)
def test_bad_parameters_are_named(kwargs, error, match):
    args = {"image": np.zeros((20, 20), np.uint8), "face": face((2, 2, 10, 10))}
    args.update(kwargs)
    image, f = args.pop("image"), args.pop("face")
    with pytest.raises(error, match=match):
        align_face(image, f, **args)
