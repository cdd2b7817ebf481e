"""Synthetic scenes with known face boxes: face crops scaled up and pasted into backgrounds.

They measure a face detector where the truth is known: recall at an IoU with the pasted
boxes, and false faces per image (on scenes with no face, or on :func:`scene_backgrounds`).

The default backgrounds (``"textures"``) are the face-free pictures that ship inside
scikit-image (nothing downloads): brick, grass, gravel, coins, a page, a text sign, the
moon, a cup of coffee, a cat (Chelsea: a hard negative, an animal face), a rocket on its
launch pad, a motorcycle in a garage, the Hubble deep field, a stained tissue and a retina.
``astronaut`` and ``camera`` (the cameraman) are left out: they show a person's face.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from hybridfer._messages import plain, plain_repr

__all__ = ["TEXTURE_NAMES", "FaceScenes", "make_face_scenes", "scene_backgrounds"]

#: The scikit-image pictures used by ``backgrounds="textures"`` (none shows a face).
TEXTURE_NAMES: tuple[str, ...] = (
    "brick",
    "grass",
    "gravel",
    "coins",
    "page",
    "text",
    "moon",
    "coffee",
    "chelsea",
    "rocket",
    "motorcycle",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
)
#: Tries to place one face before it is drawn again at a new scale, and redraws before the
#: scene keeps fewer faces (only when ``max_faces`` big faces cannot share the scene).
_PLACE_TRIES = 100
_SCALE_REDRAWS = 20


@dataclass
class FaceScenes:
    """Scenes with the boxes of the faces pasted into them.

    Attributes
    ----------
    images : list of ndarray of uint8, shape (H, W, 3)
        The RGB scenes.
    boxes : list of ndarray of float, shape (k, 4)
        For each scene, ``x, y, w, h`` in pixels of each pasted crop (``k`` may be 0).
    labels : list of list
        For each scene, the ``face_labels`` of its pasted faces, in ``boxes`` order (the
        index of the face in ``faces`` when no labels were given).
    """

    images: list[np.ndarray]
    boxes: list[np.ndarray]
    labels: list[list]

    def __len__(self) -> int:
        return len(self.images)

    @property
    def n_faces(self) -> int:
        """The number of faces pasted in all scenes."""
        return int(sum(len(b) for b in self.boxes))


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3].astype(np.uint8))


@lru_cache(maxsize=1)
def _textures() -> tuple[np.ndarray, ...]:
    import skimage.data

    def load(name: str) -> np.ndarray:
        if name == "motorcycle":
            return skimage.data.stereo_motorcycle()[0]
        return getattr(skimage.data, name)()

    return tuple(_rgb(load(name)) for name in TEXTURE_NAMES)


def _check_size(size: object) -> tuple[int, int]:
    try:
        h, w = (int(s) for s in size)  # type: ignore[union-attr]
        ok = (h, w) == tuple(size) and h >= 1 and w >= 1  # type: ignore[arg-type]
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"size={plain_repr(size)} must be a pair (height, width) of positive integers, "
            "e.g. (480, 640)"
        )
    return h, w


def _check_backgrounds(backgrounds: object) -> tuple[np.ndarray, ...]:
    if isinstance(backgrounds, str):
        if backgrounds != "textures":
            raise ValueError(
                f"backgrounds={plain_repr(backgrounds)} must be 'textures' or a list of "
                "images ((H, W) or (H, W, 3) uint8 arrays)"
            )
        return _textures()
    if (
        isinstance(backgrounds, np.ndarray)
        and backgrounds.ndim in (2, 3)
        and (backgrounds.ndim == 2 or backgrounds.shape[-1] in (3, 4))
    ):
        raise TypeError(
            "backgrounds is a single image array; pass a list of images ([image]) or 'textures'"
        )
    try:
        items = list(backgrounds)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(
            f"backgrounds must be 'textures' or a list of images, got {type(backgrounds).__name__}"
        ) from None
    if not items:
        raise ValueError("backgrounds is an empty list; give at least one image or 'textures'")
    out = []
    for i, image in enumerate(items):
        image = np.asarray(image)
        if image.dtype != np.uint8 or not (
            image.ndim == 2 or (image.ndim == 3 and image.shape[-1] in (3, 4))
        ):
            raise ValueError(
                f"backgrounds[{i}] has shape {image.shape} and dtype {image.dtype}; expected "
                "a uint8 image (H, W) gray or (H, W, 3) RGB"
            )
        if min(image.shape[:2]) < 2:
            raise ValueError(f"backgrounds[{i}] of shape {image.shape} is too small")
        out.append(_rgb(image))
    return tuple(out)


def _background(source: np.ndarray, size: tuple[int, int], rng, noise: float) -> np.ndarray:
    """A random crop of ``source`` with the aspect of ``size``, resized to it."""
    h, w = size
    sh, sw = source.shape[:2]
    fit = min(sh / h, sw / w)  # the largest crop of the scene's aspect, in scene units
    crop = fit * rng.uniform(0.5, 1.0)
    ch, cw = max(1, round(h * crop)), max(1, round(w * crop))
    y0 = int(rng.integers(0, sh - ch + 1))
    x0 = int(rng.integers(0, sw - cw + 1))
    im = Image.fromarray(source[y0 : y0 + ch, x0 : x0 + cw])
    im = im.resize((w, h), Image.Resampling.BICUBIC)
    if rng.random() < 0.5:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    out = np.array(im)
    return _noisy(out, rng, noise)


def _noisy(image: np.ndarray, rng, noise: float) -> np.ndarray:
    if noise <= 0:
        return image
    jitter = rng.normal(0.0, noise, size=image.shape)
    return np.clip(image + jitter, 0, 255).astype(np.uint8)


def _check_noise(noise: object) -> float:
    if not isinstance(noise, (int, float, np.number)) or not 0 <= float(noise) <= 64:
        raise ValueError(
            f"noise={plain_repr(noise)} must be a number in [0, 64] (the standard deviation "
            "of Gaussian pixel noise on the 0-255 scale)"
        )
    return float(noise)


def scene_backgrounds(
    n_images: int,
    *,
    size: tuple[int, int] = (480, 640),
    backgrounds: str | Sequence[np.ndarray] = "textures",
    noise: float = 0.0,
    random_state: int | None = None,
) -> list[np.ndarray]:
    """Face-free RGB images: random crops of ``backgrounds`` resized to ``size``.

    They are the backgrounds :func:`make_face_scenes` pastes faces into, for counting a
    detector's false faces on pictures with none.

    Parameters
    ----------
    n_images : int
        How many images.
    size : (int, int)
        ``(height, width)`` of each image.
    backgrounds : "textures" or list of ndarray
        The pictures to crop from: scikit-image's face-free pictures (see the module
        docstring), or your own uint8 images (gray or RGB, any size).
    noise : float
        Standard deviation of Gaussian pixel noise added (0-255 scale; 0 adds none).
    random_state : int, optional
        Seed; the same seed gives the same images.

    Returns
    -------
    list of ndarray of uint8, shape (H, W, 3)
    """
    n_images = _check_count(n_images, "n_images")
    size = _check_size(size)
    sources = _check_backgrounds(backgrounds)
    noise = _check_noise(noise)
    rng = np.random.default_rng(random_state)
    return [
        _background(sources[int(rng.integers(len(sources)))], size, rng, noise)
        for _ in range(n_images)
    ]


def _check_count(value: object, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}={plain_repr(value)} must be an integer >= {low}")
    return int(value)


def _check_faces(faces: object) -> np.ndarray:
    arr = np.asarray(faces)
    if arr.dtype != np.uint8 or arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] != 3):
        raise ValueError(
            f"faces has shape {arr.shape} and dtype {arr.dtype}; expected uint8 face crops "
            "(n, h, w) gray or (n, h, w, 3) RGB"
        )
    if len(arr) == 0:
        raise ValueError("faces holds 0 crops; expected at least 1")
    if min(arr.shape[1:3]) < 2:
        raise ValueError(f"faces of size {arr.shape[1]}x{arr.shape[2]} are too small to paste")
    return arr


def _check_scale(scale: object, crop: tuple[int, int], size: tuple[int, int]) -> tuple:
    try:
        low, high = (float(s) for s in scale)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        low = high = float("nan")
    if not (np.isfinite(low) and np.isfinite(high) and 0 < low <= high):
        raise ValueError(
            f"scale={plain_repr(scale)} must be a pair (low, high) with 0 < low <= high: "
            "the range of factors applied to the crop side, e.g. (2.0, 8.0)"
        )
    fit = min(size[0] / crop[0], size[1] / crop[1])
    if low > fit:
        raise ValueError(
            f"faces of {crop[0]}x{crop[1]} scaled by scale[0]={low:g} do not fit in scenes of "
            f"size {size[0]}x{size[1]}: the largest factor that fits is {fit:.3g}"
        )
    return low, min(high, fit)


def _overlaps(box: tuple[int, int, int, int], placed: list[tuple[int, int, int, int]]) -> bool:
    x, y, w, h = box
    return any(
        x < px + pw and px < x + w and y < py + ph and py < y + h for px, py, pw, ph in placed
    )


def _place(h: int, w: int, size, placed, rng) -> tuple[int, int, int, int] | None:
    for _ in range(_PLACE_TRIES):
        x = int(rng.integers(0, size[1] - w + 1))
        y = int(rng.integers(0, size[0] - h + 1))
        if not _overlaps((x, y, w, h), placed):
            return x, y, w, h
    return None


def make_face_scenes(
    faces: np.ndarray,
    *,
    n_scenes: int,
    size: tuple[int, int] = (480, 640),
    max_faces: int = 4,
    scale: tuple[float, float] = (2.0, 8.0),
    backgrounds: str | Sequence[np.ndarray] = "textures",
    random_state: int | None = None,
    face_labels: Sequence | None = None,
    min_faces: int = 0,
    noise: float = 0.0,
) -> FaceScenes:
    """Paste face crops, scaled up, into backgrounds at random places that do not overlap.

    Each scene is a background from :func:`scene_backgrounds`. Its number of faces runs
    from ``min_faces`` to ``max_faces``, each count equally often (to within one scene), in
    random order: with the defaults a fifth of the scenes have no face. Each face is a crop
    drawn at random from ``faces``, its side multiplied by a factor drawn uniformly from
    ``scale`` (bicubic resize), pasted wholly inside the scene where it overlaps no other
    pasted face. A face that finds no free place is drawn again at a new factor; after
    many such draws (only when big faces fill the scene) the scene keeps fewer faces.

    Parameters
    ----------
    faces : ndarray of uint8, shape (n, h, w) or (n, h, w, 3)
        Face crops (gray crops are pasted as gray RGB).
    n_scenes : int
        How many scenes.
    size : (int, int)
        ``(height, width)`` of each scene.
    max_faces, min_faces : int
        The most and fewest faces in one scene.
    scale : (float, float)
        Range of the factor applied to the crop side (capped where a face would not fit).
    backgrounds : "textures" or list of ndarray
        As in :func:`scene_backgrounds`.
    random_state : int, optional
        Seed; the same seed and inputs give the same scenes.
    face_labels : sequence, optional
        One label per crop (e.g. its class), reported per pasted face.
    noise : float
        Standard deviation of Gaussian pixel noise added to the whole scene (0-255 scale).

    Returns
    -------
    FaceScenes
        Images, the pasted crops' boxes ``x, y, w, h`` and their labels.
    """
    faces = _check_faces(faces)
    n_scenes = _check_count(n_scenes, "n_scenes")
    size = _check_size(size)
    max_faces = _check_count(max_faces, "max_faces", low=0)
    min_faces = _check_count(min_faces, "min_faces", low=0)
    if min_faces > max_faces:
        raise ValueError(f"min_faces={min_faces} is more than max_faces={max_faces}")
    low, high = _check_scale(scale, faces.shape[1:3], size)
    noise = _check_noise(noise)
    if face_labels is None:
        labels_of = list(range(len(faces)))
    else:
        labels_of = plain(list(face_labels))
        if len(labels_of) != len(faces):
            raise ValueError(
                f"face_labels has {len(labels_of)} entries but faces holds {len(faces)} crops"
            )
    rng = np.random.default_rng(random_state)
    backs = scene_backgrounds(
        n_scenes, size=size, backgrounds=backgrounds, random_state=rng.integers(2**63)
    )
    counts = min_faces + np.arange(n_scenes) % (max_faces - min_faces + 1)
    counts = rng.permutation(counts)
    fh, fw = faces.shape[1:3]
    images, boxes, labels = [], [], []
    for scene, count in zip(backs, counts, strict=True):
        placed: list[tuple[int, int, int, int]] = []
        chosen: list[int] = []
        for _ in range(int(count)):
            index = int(rng.integers(len(faces)))
            for _ in range(_SCALE_REDRAWS):
                factor = rng.uniform(low, high)
                h, w = max(1, round(fh * factor)), max(1, round(fw * factor))
                box = _place(h, w, size, placed, rng)
                if box is not None:
                    placed.append(box)
                    chosen.append(index)
                    break
        for (x, y, w, h), index in zip(placed, chosen, strict=True):
            crop = Image.fromarray(_rgb(faces[index])).resize((w, h), Image.Resampling.BICUBIC)
            scene[y : y + h, x : x + w] = np.asarray(crop)
        images.append(_noisy(scene, rng, noise))
        boxes.append(np.asarray(placed, dtype=float).reshape(-1, 4))
        labels.append([labels_of[i] for i in chosen])
    return FaceScenes(images=images, boxes=boxes, labels=labels)
