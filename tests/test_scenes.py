"""make_face_scenes and scene_backgrounds: known boxes, no overlap, determinism, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hybridfer.data import FaceScenes, make_face_scenes, make_faces, scene_backgrounds
from hybridfer.data.scenes import TEXTURE_NAMES


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    return make_faces(12, image_size=48, random_state=0).images


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_scenes_shapes_boxes_inside_and_disjoint(crops: np.ndarray) -> None:
    scenes = make_face_scenes(crops, n_scenes=30, random_state=0)
    assert isinstance(scenes, FaceScenes) and len(scenes) == 30
    assert len(scenes.boxes) == len(scenes.labels) == 30
    for image, boxes, labels in zip(scenes.images, scenes.boxes, scenes.labels, strict=True):
        assert image.shape == (480, 640, 3) and image.dtype == np.uint8
        assert boxes.shape == (len(labels), 4) and boxes.dtype == float
        for i, (x, y, w, h) in enumerate(boxes):
            assert x >= 0 and y >= 0 and x + w <= 640 and y + h <= 480
            assert w == h and 2 * 48 - 1 <= w <= 8 * 48 + 1  # square crops, x2 to x8
            for other in boxes[i + 1 :]:
                assert not _overlap(boxes[i], other)
    counts = np.bincount([len(b) for b in scenes.boxes], minlength=5)
    assert len(counts) == 5 and counts[0] == 6  # 0..4 faces, each count 6 times asked
    assert counts[1:3].tolist() == [6, 6]  # small counts always fit
    assert scenes.n_faces == sum(len(b) for b in scenes.boxes) >= 55


def test_pasted_pixels_are_the_resized_crop(crops: np.ndarray) -> None:
    scenes = make_face_scenes(crops, n_scenes=6, min_faces=1, max_faces=2, random_state=3)
    for image, boxes, labels in zip(scenes.images, scenes.boxes, scenes.labels, strict=True):
        assert 1 <= len(boxes) <= 2
        for (x, y, w, h), index in zip(boxes.astype(int), labels, strict=True):
            gray = Image.fromarray(crops[index]).resize((w, h), Image.Resampling.BICUBIC)
            pasted = image[y : y + h, x : x + w]
            np.testing.assert_array_equal(pasted[..., 0], np.asarray(gray))
            np.testing.assert_array_equal(pasted[..., 0], pasted[..., 2])  # gray face in RGB


def test_rgb_crops_labels_size_and_scale(crops: np.ndarray) -> None:
    rgb = np.stack([crops, crops // 2, crops // 3], axis=-1)[:, :40, :30]  # 40x30 crops
    names = [f"face{i}" for i in range(len(rgb))]
    scenes = make_face_scenes(
        rgb,
        n_scenes=8,
        size=(200, 300),
        min_faces=1,
        max_faces=1,
        scale=(1.5, 2.0),
        face_labels=names,
        random_state=1,
    )
    for image, boxes, labels in zip(scenes.images, scenes.boxes, scenes.labels, strict=True):
        assert image.shape == (200, 300, 3)
        assert len(boxes) == 1 and labels[0] in names
        x, y, w, h = boxes[0].astype(int)
        assert 60 <= h <= 80 and 45 <= w <= 60
        index = names.index(labels[0])
        want = Image.fromarray(rgb[index]).resize((w, h), Image.Resampling.BICUBIC)
        np.testing.assert_array_equal(image[y : y + h, x : x + w], np.asarray(want))


def test_a_factor_too_big_for_the_scene_is_capped(crops: np.ndarray) -> None:
    scenes = make_face_scenes(
        crops, n_scenes=5, size=(100, 150), min_faces=1, max_faces=1, scale=(1.5, 8.0)
    )
    assert all(b[0, 3] <= 100 for b in scenes.boxes)


def test_deterministic_given_random_state(crops: np.ndarray) -> None:
    a = make_face_scenes(crops, n_scenes=4, random_state=7, noise=3.0)
    b = make_face_scenes(crops, n_scenes=4, random_state=7, noise=3.0)
    c = make_face_scenes(crops, n_scenes=4, random_state=8, noise=3.0)
    for x, y in zip(a.images, b.images, strict=True):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(a.boxes, b.boxes, strict=True):
        np.testing.assert_array_equal(x, y)
    assert a.labels == b.labels
    assert any(not np.array_equal(x, y) for x, y in zip(a.images, c.images, strict=True))


def test_noise_is_light_and_optional(crops: np.ndarray) -> None:
    clean = make_face_scenes(crops, n_scenes=2, random_state=5)
    noisy = make_face_scenes(crops, n_scenes=2, random_state=5, noise=4.0)
    diff = noisy.images[0].astype(int) - clean.images[0].astype(int)
    assert 2.0 < diff.std() < 6.0 and np.abs(diff.mean()) < 1.0


def test_custom_backgrounds_and_face_free_backgrounds() -> None:
    wall = np.full((50, 70), 90, np.uint8)
    images = scene_backgrounds(3, size=(40, 60), backgrounds=[wall], random_state=0)
    assert all(im.shape == (40, 60, 3) and (im == 90).all() for im in images)
    faces = np.zeros((2, 8, 8), np.uint8)
    scenes = make_face_scenes(faces, n_scenes=4, size=(40, 60), backgrounds=[wall], random_state=0)
    for image, boxes in zip(scenes.images, scenes.boxes, strict=True):
        mask = np.zeros(image.shape[:2], bool)
        for x, y, w, h in boxes.astype(int):
            mask[y : y + h, x : x + w] = True
        assert (image[mask] == 0).all() and (image[~mask] == 90).all()  # the box is the crop


def test_textures_are_varied_and_face_free() -> None:
    assert "astronaut" not in TEXTURE_NAMES and "camera" not in TEXTURE_NAMES
    images = scene_backgrounds(12, random_state=0)
    a = scene_backgrounds(12, random_state=0)
    assert all(np.array_equal(x, y) for x, y in zip(images, a, strict=True))
    assert all(im.shape == (480, 640, 3) and im.dtype == np.uint8 for im in images)
    assert all(im.std() > 5 for im in images)  # textures, not flat fills
    assert len({im.tobytes()[:4096] for im in images}) == 12


def test_zero_faces_everywhere(crops: np.ndarray) -> None:
    scenes = make_face_scenes(crops, n_scenes=3, max_faces=0, random_state=0)
    assert scenes.n_faces == 0 and all(b.shape == (0, 4) for b in scenes.boxes)
    assert scenes.labels == [[], [], []]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"faces": np.zeros((2, 8, 8), np.float32)}, ValueError, "faces has shape"),
        ({"faces": np.zeros((2, 8, 8, 4), np.uint8)}, ValueError, r"\(n, h, w, 3\) RGB"),
        ({"faces": np.zeros((0, 8, 8), np.uint8)}, ValueError, "0 crops"),
        ({"n_scenes": 0}, ValueError, "n_scenes=0 must be an integer >= 1"),
        ({"n_scenes": 2.5}, ValueError, "n_scenes=2.5"),
        ({"size": (480,)}, ValueError, r"size=\(480,\) must be a pair"),
        ({"size": (0, 640)}, ValueError, "positive integers"),
        ({"max_faces": -1}, ValueError, "max_faces=-1"),
        ({"min_faces": 3, "max_faces": 2}, ValueError, "min_faces=3 is more than max_faces=2"),
        ({"scale": (8.0, 2.0)}, ValueError, "0 < low <= high"),
        ({"scale": "big"}, ValueError, "scale='big'"),
        (
            {"scale": (70.0, 80.0)},
            ValueError,
            "8x8 scaled by scale.0.=70 do not fit in scenes of size 480x640",
        ),
        ({"backgrounds": "photos"}, ValueError, "'textures' or a list of images"),
        ({"backgrounds": []}, ValueError, "empty list"),
        ({"backgrounds": np.zeros((9, 9), np.uint8)}, TypeError, "single image array"),
        ({"backgrounds": [np.zeros((9, 9), float)]}, ValueError, r"backgrounds\[0\]"),
        ({"backgrounds": 3}, TypeError, "got int"),
        ({"face_labels": ["a"]}, ValueError, "face_labels has 1 entries but faces holds 2"),
        ({"noise": -1}, ValueError, r"noise=-1 must be a number in \[0, 64\]"),
    ],
)
def test_bad_inputs_are_named(kwargs: dict, error: type, match: str) -> None:
    args = {"faces": np.zeros((2, 8, 8), np.uint8), "n_scenes": 2, **kwargs}
    with pytest.raises(error, match=match):
        make_face_scenes(args.pop("faces"), **args)


def test_scene_backgrounds_bad_inputs() -> None:
    with pytest.raises(ValueError, match="n_images=0"):
        scene_backgrounds(0)
    with pytest.raises(ValueError, match="size="):
        scene_backgrounds(1, size=(10, -3))
