"""crop_boxes: face crops cut at each row's box, from decoded images or from files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hybridfer.data import FERDataset
from hybridfer.data.boxes import crop_boxes

CLASSES = ("happy", "sad")


def _photo(h: int, w: int, box: tuple[int, int, int, int], value: int) -> np.ndarray:
    """A gray photo of 10s with the box ``x, y, w, h`` filled with ``value`` and its top-left
    pixel 255 (to see the crop's origin)."""
    img = np.full((h, w), 10, np.uint8)
    x, y, bw, bh = box
    img[y : y + bh, x : x + bw] = value
    img[y, x] = 255
    return img


@pytest.fixture
def photos(tmp_path: Path) -> tuple[list[str], np.ndarray]:
    """Two PNG photos of different sizes; the first holds two faces, the second one."""
    boxes = np.array([[2, 3, 6, 5], [12, 1, 4, 4], [5, 6, 8, 7]])
    a = _photo(12, 20, tuple(boxes[0]), 100)
    a[1:5, 12:16] = 200
    a[1, 12] = 255
    b = _photo(16, 24, tuple(boxes[2]), 150)
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(np.stack([b] * 3, axis=-1)).save(tmp_path / "b.png")  # an RGB file
    paths = [str(tmp_path / "a.png"), str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    return paths, boxes


def _dataset(paths: list[str], boxes: np.ndarray, **kw) -> FERDataset:
    return FERDataset(
        images=None,
        labels=np.array(["happy", "sad", "happy"][: len(paths)]),
        classes=CLASSES,
        paths=np.asarray(paths),
        boxes=boxes,
        **kw,
    )


def test_crops_from_files_hold_the_box_pixels_and_keep_the_annotations(photos) -> None:
    paths, boxes = photos
    soft = np.array([[0.75, 0.25], [0.0, 1.0], [1.0, 0.0]], np.float32)
    ds = _dataset(
        paths,
        boxes,
        usage=np.array(["train", "train", "test"]),
        groups=np.array(["p1", "p1", "p2"]),
        soft_labels=soft,
        columns={"face_id": np.array([0, 1, 0])},
        name="expw",
    )
    out = crop_boxes(ds, size=8)
    assert out.images.shape == (3, 8, 8) and out.images.dtype == np.uint8
    assert out.boxes is None and out.paths is None and out.name == "expw"
    assert out.labels.tolist() == ["happy", "sad", "happy"] and out.classes == CLASSES
    assert out.usage.tolist() == ["train", "train", "test"]
    assert out.groups.tolist() == ["p1", "p1", "p2"]
    np.testing.assert_array_equal(out.soft_labels, soft)
    assert out.columns["face_id"].tolist() == [0, 1, 0]
    assert out.columns["source"].tolist() == paths
    # inside each box the crop is the face's value; its top-left pixel marks the corner
    assert int(out.images[0, 4, 4]) == 100 and int(out.images[1, 4, 4]) == 200
    assert int(out.images[2, 4, 4]) == 150
    assert all(int(img[0, 0]) > 200 for img in out.images)


def test_unresized_crops_are_the_exact_box_and_margins_grow_them(photos) -> None:
    paths, boxes = photos
    one = FERDataset(
        images=None,
        labels=np.array(["happy"]),
        classes=CLASSES,
        paths=np.asarray(paths[:1]),
        boxes=boxes[:1],
    )
    exact = crop_boxes(one)
    photo = np.asarray(Image.open(paths[0]))
    np.testing.assert_array_equal(exact.images[0], photo[3:8, 2:8])
    grown = crop_boxes(one, margin=0.4)  # 0.4 * 6 and 0.4 * 5 pixels: 2 on each side
    assert grown.images.shape == (1, 9, 10)  # clipped at the left border: 2 - 2 = 0
    np.testing.assert_array_equal(grown.images[0], photo[1:10, 0:10])
    big = crop_boxes(one, margin=10.0)  # clipped at the borders: the whole photo
    np.testing.assert_array_equal(big.images[0], photo)


def test_in_memory_images_are_cut_like_files_and_color_is_converted(photos) -> None:
    paths, boxes = photos
    photo = np.asarray(Image.open(paths[0]))
    mem = FERDataset(
        images=np.stack([photo, photo]),
        labels=np.array(["happy", "sad"]),
        classes=CLASSES,
        boxes=boxes[:2],
    )
    from_mem = crop_boxes(mem, size=(6, 4))
    from_files = crop_boxes(_dataset(paths, boxes), size=(6, 4))
    assert from_mem.images.shape == (2, 6, 4)
    np.testing.assert_array_equal(from_mem.images, from_files.images[:2])
    assert "source" not in from_mem.columns
    rgb = crop_boxes(mem, size=5, color="rgb")
    assert rgb.images.shape == (2, 5, 5, 3)
    np.testing.assert_array_equal(rgb.images[..., 0], rgb.images[..., 2])
    rgb_files = crop_boxes(_dataset(paths, boxes), size=5, color="rgb", n_jobs=1)
    assert rgb_files.images.shape == (3, 5, 5, 3)
    np.testing.assert_array_equal(rgb_files.images[:2], rgb.images)
    # RGB images in memory: kept RGB by default, made gray on request
    whole = FERDataset(
        images=rgb_files.images,
        labels=rgb_files.labels,
        classes=CLASSES,
        boxes=np.tile([1, 1, 3, 3], (3, 1)),
    )
    assert crop_boxes(whole).images.shape == (3, 3, 3, 3)
    gray = crop_boxes(whole, color="gray")
    assert gray.images.shape == (3, 3, 3)
    np.testing.assert_array_equal(gray.images, rgb_files.images[:, 1:4, 1:4, 0])


def test_crops_of_several_sizes_need_size(photos) -> None:
    paths, boxes = photos
    with pytest.raises(
        ValueError,
        match=r"crop of row 1 \('.*a\.png', box \[12, 1, 4, 4\]\) has shape \(4, 4\).*pass size=",
    ):
        crop_boxes(_dataset(paths, boxes))


def test_a_dataset_without_boxes_is_refused(photos) -> None:
    paths, _ = photos
    ds = FERDataset(images=None, labels=np.array(["happy"]), classes=CLASSES, paths=paths[:1])
    ds.name = "rafdb"
    with pytest.raises(ValueError, match="'rafdb' has no boxes"):
        crop_boxes(ds)


def test_a_box_outside_its_image_is_named(photos) -> None:
    paths, boxes = photos
    outside = boxes.copy()
    outside[2] = [30, 2, 4, 4]  # b.png is 24 wide
    with pytest.raises(
        ValueError, match=r"row 2 \('.*b\.png'\).*x=30.*outside its image of width 24"
    ):
        crop_boxes(_dataset(paths, outside), size=4, clip=True)
    reaching = boxes.copy()
    reaching[0] = [16, 8, 8, 8]  # a.png is 20x12
    with pytest.raises(ValueError, match=r"row 0 .*reaching outside.*clip=True"):
        crop_boxes(_dataset(paths, reaching), size=4)
    clipped = crop_boxes(_dataset(paths[:1], reaching[:1]), clip=True)
    assert clipped.images.shape == (1, 4, 4)
    empty = boxes.copy()
    empty[1] = [1, 1, 0, 3]
    with pytest.raises(ValueError, match=r"row 1 .*empty box"):
        crop_boxes(_dataset(paths, empty), size=4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 0}, "size must be"),
        ({"size": (4, 4, 4)}, "size must be"),
        ({"size": 2.5}, "size must be"),
        ({"margin": -0.1}, "margin must be >= 0"),
        ({"margin": float("nan")}, "margin must be"),
        ({"color": "cmyk"}, "color must be"),
    ],
)
def test_bad_parameters_are_named(photos, kwargs, match) -> None:
    paths, boxes = photos
    with pytest.raises(ValueError, match=match):
        crop_boxes(_dataset(paths, boxes), **kwargs)


def test_many_files_cut_in_threads_match_one_thread(tmp_path: Path) -> None:
    paths, boxes = [], []
    for i in range(20):
        box = (i % 5, i % 3, 4 + i % 4, 3 + i % 2)
        Image.fromarray(_photo(10, 14, box, 20 + 10 * i)).save(tmp_path / f"{i:02d}.png")
        paths.append(str(tmp_path / f"{i:02d}.png"))
        boxes.append(box)
    ds = FERDataset(
        images=None,
        labels=np.array(["happy"] * 20),
        classes=CLASSES,
        paths=np.asarray(paths),
        boxes=np.asarray(boxes),
    )
    threaded = crop_boxes(ds, size=4, n_jobs=4)
    single = crop_boxes(ds, size=4, n_jobs=1)
    np.testing.assert_array_equal(threaded.images, single.images)
    assert [int(img[2, 2]) for img in threaded.images] == [20 + 10 * i for i in range(20)]
