"""Face detection (hybridfer.faces.detection, .mtcnn, .haar): a real photograph, synthetic
scenes, downscaling, batching, the size floor, bad inputs, box overlap and JAFFE."""

from __future__ import annotations

import pickle
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hybridfer.data import load_jaffe
from hybridfer.faces.detection import (
    BACKENDS,
    LANDMARK_NAMES,
    Face,
    FaceDetectorUnavailableError,
    iou,
    iou_matrix,
    make_detector,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: skimage.data.astronaut()'s face, (x, y, w, h), as MTCNN finds it.
ASTRONAUT_BOX = (181.0, 62.0, 87.0, 110.0)


@pytest.fixture(scope="module")
def mtcnn():
    return make_detector("mtcnn", device="cpu")


@pytest.fixture(scope="module")
def haar():
    pytest.importorskip("cv2")
    return make_detector("haar")


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))


def _scene(face_region: np.ndarray, side: int, canvas=(480, 640), at=(40, 30)) -> np.ndarray:
    """``face_region`` resized to ``side`` x ``side`` and pasted at ``at`` (x, y) on a plain
    gray canvas ``(H, W)``."""
    image = np.full((*canvas, 3), 128, np.uint8)
    x, y = at
    image[y : y + side, x : x + side] = _resize(face_region, (side, side))
    return image


def _eyes_inside(face: Face) -> bool:
    x, y, w, h = face.box
    eyes = face.landmarks[:2]
    return bool(
        np.all((eyes[:, 0] > x) & (eyes[:, 0] < x + w) & (eyes[:, 1] > y) & (eyes[:, 1] < y + h))
    )


# -- a real photograph ---------------------------------------------------------------------


def test_mtcnn_finds_the_astronaut_with_landmarks(mtcnn, astronaut):
    (faces,) = mtcnn.detect([astronaut])
    assert len(faces) == 1
    face = faces[0]
    np.testing.assert_allclose(face.box, ASTRONAUT_BOX, atol=6)
    assert 0.9 < face.score <= 1.0
    marks = dict(zip(LANDMARK_NAMES, face.landmarks, strict=True))
    x, y, w, h = face.box
    assert np.all((face.landmarks[:, 0] > x) & (face.landmarks[:, 0] < x + w))
    assert np.all((face.landmarks[:, 1] > y) & (face.landmarks[:, 1] < y + h))
    assert marks["left_eye"][0] < marks["nose"][0] < marks["right_eye"][0]
    assert marks["mouth_left"][0] < marks["mouth_right"][0]
    eyes_y = max(marks["left_eye"][1], marks["right_eye"][1])
    mouth_y = min(marks["mouth_left"][1], marks["mouth_right"][1])
    assert eyes_y < marks["nose"][1] < mouth_y
    assert not face.landmarks.flags.writeable


def test_haar_finds_the_astronaut_where_mtcnn_does(haar, mtcnn, astronaut):
    (faces,) = haar.detect([astronaut])
    assert len(faces) == 1
    assert iou(faces[0].box, mtcnn.detect_image(astronaut)[0].box) >= 0.4
    assert 0.0 < faces[0].score < 1.0
    eyes = faces[0].landmarks
    assert eyes.shape == (2, 2) and eyes[0, 0] < eyes[1, 0]  # image-left eye first
    assert _eyes_inside(faces[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_face_in_blank_or_noise(backend, request):
    detector = request.getfixturevalue(backend)
    rng = np.random.default_rng(0)
    images = [
        np.zeros((480, 640, 3), np.uint8),
        np.full((300, 200), 200, np.uint8),
        rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
        np.zeros((8, 8), np.uint8),  # smaller than any face
    ]
    assert detector.detect(images) == [[], [], [], []]


def test_threshold_sets_the_final_stage(astronaut):
    assert make_detector("mtcnn", threshold=1.0, device="cpu").detect_image(astronaut) == []
    assert len(make_detector("mtcnn", threshold=0.5, device="cpu").detect_image(astronaut)) == 1


# -- the shared steps: downscaling, batches, the size floor ----------------------------------


def test_large_image_is_downscaled_and_boxes_mapped_back(astronaut):
    detector = make_detector("mtcnn", max_side=1280, device="cpu")
    seen = []
    inner = detector._detect_batch
    detector._detect_batch = lambda batch, min_size: (
        seen.append(batch.shape) or inner(batch, min_size)
    )
    big = _resize(astronaut, (3000, 3000))
    (faces,) = detector.detect([big])
    assert seen == [(1, 1280, 1280, 3)]
    assert len(faces) == 1
    expected = np.array(ASTRONAUT_BOX) * 3000 / 512
    assert iou(faces[0].box, expected) > 0.8
    x, y, w, h = faces[0].box
    assert np.all((faces[0].landmarks[:, 0] > x) & (faces[0].landmarks[:, 0] < x + w))


def test_batched_mixed_sizes_keep_input_order(astronaut):
    detector = make_detector("mtcnn", batch_size=2, device="cpu")
    gray = np.asarray(Image.fromarray(astronaut).convert("L"))
    half = _resize(astronaut, (256, 256))
    images = [astronaut, np.zeros((100, 150), np.uint8), gray, half, astronaut, astronaut[..., :1]]
    results = detector.detect(images)
    assert [len(r) for r in results] == [1, 0, 1, 1, 1, 1]
    for i in (0, 2, 4, 5):
        np.testing.assert_allclose(results[i][0].box, ASTRONAUT_BOX, atol=8)
    assert iou(results[3][0].box, np.array(ASTRONAUT_BOX) / 2) > 0.7
    # a batch gives what one image at a time gives
    alone = detector.detect_image(astronaut)[0]
    np.testing.assert_allclose(results[4][0].box, alone.box, atol=1e-3)
    # an (n, H, W, 3) array is a batch
    assert [len(r) for r in detector.detect(np.stack([astronaut, astronaut]))] == [1, 1]


def test_min_face_size_drops_small_faces(astronaut):
    region = astronaut[30:230, 130:330]  # the face is about half of this square
    small = _scene(region, 100)  # a face about 45 x 55 pixels
    assert len(make_detector("mtcnn", min_face_size=20, device="cpu").detect_image(small)) == 1
    assert make_detector("mtcnn", min_face_size=80, device="cpu").detect_image(small) == []
    # the floor is in original pixels also when the image is downscaled (2560 -> 1280)
    big = _scene(region, 200, canvas=(1920, 2560), at=(900, 700))  # a face about 90 px
    kept = make_detector("mtcnn", min_face_size=60, device="cpu").detect_image(big)
    assert len(kept) == 1 and max(kept[0].box[2:]) >= 60
    assert iou(kept[0].box, (900 + 181 - 130, 700 + 62 - 30, 87, 110)) > 0.7
    assert make_detector("mtcnn", min_face_size=130, device="cpu").detect_image(big) == []


# -- bad inputs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "images, error, words",
    [
        ([np.zeros((50, 50))], ValueError, ["images[0]", "float64", "uint8"]),
        ([np.zeros((40, 40), np.uint8), np.zeros((50, 50), np.float32)], ValueError, ["images[1]"]),
        ([np.zeros((1, 50, 50, 3), np.uint8)], ValueError, ["images[0]", "(1, 50, 50, 3)"]),
        ([np.zeros((50, 50, 4), np.uint8)], ValueError, ["(H, W, 3) RGB"]),
        ([np.zeros((0, 50), np.uint8)], ValueError, ["images[0] is empty"]),
        (np.zeros((50, 50, 3), np.uint8), ValueError, ["pass a list", "[image]"]),
        ("photo.jpg", TypeError, ["sequence of uint8 arrays"]),
        (["photo.jpg"], TypeError, ["images[0]", "numpy uint8 array"]),
    ],
)
def test_bad_images_are_named(mtcnn, images, error, words):
    with pytest.raises(error) as info:
        mtcnn.detect(images)
    for word in words:
        assert word in str(info.value)


def test_no_images_no_results(mtcnn):
    assert mtcnn.detect([]) == []


@pytest.mark.parametrize(
    "params, word",
    [
        ({"min_face_size": 0}, "min_face_size"),
        ({"max_side": 2.5}, "max_side"),
        ({"batch_size": 0}, "batch_size"),
        ({"threshold": 1.5}, "threshold"),
        ({"device": "gpu9"}, "device"),
    ],
)
def test_bad_parameters(params, word):
    with pytest.raises(ValueError, match=word):
        make_detector("mtcnn", **params)


def test_unknown_backend_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown face detector backend 'nope'.*'mtcnn', 'haar'"):
        make_detector("nope")


def test_missing_packages_name_the_install_command(monkeypatch):
    for name in ("facenet_pytorch", "facenet_pytorch.models", "facenet_pytorch.models.mtcnn"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(FaceDetectorUnavailableError) as info:
        make_detector("mtcnn")
    assert "pip install --no-deps facenet-pytorch==2.6.0" in str(info.value)
    assert "pip install requests" in str(info.value) and info.value.backend == "mtcnn"
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(FaceDetectorUnavailableError, match=r"hybridfer\[haar\].*<5") as info:
        make_detector("haar")
    assert issubclass(FaceDetectorUnavailableError, ImportError)
    copy = pickle.loads(pickle.dumps(info.value))
    assert str(copy) == str(info.value) and copy.backend == "haar"


def test_nothing_downloads(monkeypatch, astronaut):
    def refuse(*args, **kwargs):
        raise AssertionError("the detector opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert len(make_detector("mtcnn", device="cpu").detect_image(astronaut)) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_detectors_pickle(backend, request, astronaut):
    detector = request.getfixturevalue(backend)
    detector.detect_image(astronaut)  # models loaded
    copy = pickle.loads(pickle.dumps(detector))
    assert repr(copy) == repr(detector)
    assert copy.detect_image(astronaut) == detector.detect_image(astronaut)


# -- Face, iou -----------------------------------------------------------------------------


def test_face_record():
    face = Face(box=np.array([10, 20, 30, 40]), score=np.float32(0.5), landmarks=[[1, 2], [3, 4]])
    assert face.box == (10.0, 20.0, 30.0, 40.0) and isinstance(face.score, float)
    assert face.area == 1200.0 and face.center == (25.0, 40.0)
    assert face == Face((10, 20, 30, 40), 0.5, np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert face != Face((10, 20, 30, 40), 0.5) and hash(face) == hash(Face((10, 20, 30, 40), 0.5))
    with pytest.raises(ValueError, match="landmarks"):
        Face((0, 0, 1, 1), 1.0, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="box"):
        Face((0, 0, 1), 1.0)


def test_iou_values():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 0, 10, 10)) == 0.0
    assert iou((0, 0, 10, 10), (10, 0, 10, 10)) == 0.0  # touching edges
    assert iou((0, 0, 2, 2), (1, 0, 2, 2)) == pytest.approx(1 / 3)
    assert iou((0, 0, 4, 4), (1, 1, 2, 2)) == pytest.approx(4 / 16)
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0
    a = np.array([[0, 0, 2, 2], [5, 5, 1, 1]])
    b = np.array([[1, 0, 2, 2], [0, 0, 2, 2], [5, 5, 2, 2]])
    m = iou_matrix(a, b)
    assert m.shape == (2, 3)
    np.testing.assert_allclose(m, [[iou(x, y) for y in b] for x in a])
    np.testing.assert_allclose(m, [[1 / 3, 1, 0], [0, 0, 0.25]])
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)


# -- JAFFE: full frames, one face each -------------------------------------------------------


@pytest.fixture(scope="module")
def jaffe_frames(jaffe_root: Path) -> list[np.ndarray]:
    return list(load_jaffe(jaffe_root).images)


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize(
    "backend, min_found, min_eyes",
    # measured: mtcnn 213 faces, 213 with both eyes inside the box; haar 213 and 196
    [("mtcnn", 211, 211), ("haar", 208, 188)],
)
def test_jaffe_faces_with_eyes_inside(backend, min_found, min_eyes, jaffe_frames, request):
    detector = request.getfixturevalue(backend)
    results = detector.detect(jaffe_frames)
    assert len(jaffe_frames) == 213
    found = sum(len(r) >= 1 for r in results)
    with_eyes = sum(bool(r) and r[0].landmarks is not None and _eyes_inside(r[0]) for r in results)
    assert found >= min_found, f"{backend}: a face in {found} of 213 frames"
    assert with_eyes >= min_eyes, f"{backend}: both eyes inside the box in {with_eyes} frames"
    assert sum(len(r) > 1 for r in results) <= 2  # one poser per frame


def test_haar_drops_faces_below_its_default_threshold():
    pytest.importorskip("cv2")
    from skimage import data

    from hybridfer.faces.haar import DEFAULT_THRESHOLD

    coins = np.stack([data.coins()] * 3, axis=-1)  # many face-like false positives at score 0
    every = make_detector("haar", threshold=0.0).detect_image(coins)
    kept = make_detector("haar").detect_image(coins)
    assert len(every) > len(kept)
    assert all(f.score >= DEFAULT_THRESHOLD for f in kept)
    assert {f.box for f in kept} <= {f.box for f in every}
