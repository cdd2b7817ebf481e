"""Face alignment: warp a detected face onto the geometry of a FER2013 crop.

A FER2013-trained network has only seen faces placed the way FER2013 places them. This module
maps a face found in a photo (:class:`~hybridfer.faces.detection.Face`) onto that placement
with a similarity transform (rotation, uniform scale, translation; no shear) and resamples it
at any output size and colour, e.g. 48x48 gray for the FER networks or 224x224 RGB for
torchvision backbones.

Coordinates: pixel ``(row r, column c)`` of an image has its centre at ``x = c, y = r`` (the
numpy/scikit-image convention); a template point ``(u, v)`` on the unit square of a crop of
``S`` pixels lies at ``x = u * S - 0.5``: 0 is the crop's left (top) edge, 1 its right
(bottom) edge.

FER2013_TEMPLATE
    The mean MTCNN landmarks of FER2013 Training crops, derived with
    ``tools/derive_face_template.py`` (command below): a class-stratified random sample of
    3,000 Training crops (seed 0), each upscaled x4 (48 -> 192 px, bicubic, gray -> RGB),
    padded by a quarter of its side on each side (edge pixels repeated, as a crop pasted into
    a larger picture is seen; the face often fills the crop to its edges) and run through
    MTCNN (``make_detector("mtcnn")``: facenet-pytorch 2.6.0's networks and weights, default
    thresholds, minimum face 20 px). The 2,611
    crops with exactly one face of probability >= 0.9 were kept (387 had none, 2 had two);
    91 s on one CPU core. Mean (standard deviation) as fractions of the crop side:

    ============  ===============  ===============
    landmark      x                y
    ============  ===============  ===============
    left_eye      0.3249 (0.071)   0.3898 (0.071)
    right_eye     0.6873 (0.077)   0.3830 (0.073)
    nose          0.5054 (0.098)   0.5936 (0.068)
    mouth_left    0.3547 (0.080)   0.7869 (0.072)
    mouth_right   0.6609 (0.084)   0.7819 (0.075)
    ============  ===============  ===============

    FER2013 crops are loosely aligned: a landmark's position varies by 3 to 5 px of 48 from
    crop to crop. Without the padding (``--pad 0``) MTCNN kept 2,500 of the 3,000 crops and
    put the landmarks 1 px further apart, less consistently (std 0.10 to 0.11): eyes
    (0.3071, 0.3900), (0.6968, 0.3843), nose (0.5018, 0.6072), mouth (0.3380, 0.8111),
    (0.6683, 0.8082).

FER2013_FACE_BOX
    The mean MTCNN face box on the same 2,611 crops, ``(x, y, w, h)`` as fractions of the crop
    side: ``(0.0919, -0.0223, 0.8085, 1.0588)`` (standard deviations 0.097, 0.132, 0.143,
    0.203). MTCNN's box is taller than wide, about as tall as the crop and shifted a little
    up. It is where a face box lands when a face is aligned from its
    box alone, and the face box a detector is expected to find on a FER2013 crop pasted into
    a larger picture (``--pad 0`` gives ``(0.0586, -0.0401, 0.8622, 1.1189)``).

Derived with::

    HYBRIDFER_DATA=/path/to/data python tools/derive_face_template.py --n 3000 --seed 0 \\
        --pad 0.25
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from hybridfer._messages import plain_repr

if TYPE_CHECKING:  # pragma: no cover
    from hybridfer.faces.detection import Face

__all__ = [
    "COLORS",
    "FER2013_FACE_BOX",
    "FER2013_TEMPLATE",
    "alignment_matrix",
    "align_face",
    "crop_whole",
    "similarity_transform",
    "warp_image",
]

#: The output colours: ``"gray"`` gives ``(h, w)`` images, ``"rgb"`` gives ``(h, w, 3)``.
COLORS = ("gray", "rgb")

#: Mean MTCNN landmarks of FER2013 Training crops, ``(5, 2)`` ``(x, y)`` fractions of the crop
#: side in ``LANDMARK_NAMES`` order (left eye, right eye, nose, mouth left, mouth right; "left"
#: is the image's left). See the module docstring for how it was derived.
FER2013_TEMPLATE = np.array(
    [
        [0.3249, 0.3898],
        [0.6873, 0.3830],
        [0.5054, 0.5936],
        [0.3547, 0.7869],
        [0.6609, 0.7819],
    ]
)
FER2013_TEMPLATE.flags.writeable = False

#: Mean MTCNN face box ``(x, y, w, h)`` of FER2013 Training crops, fractions of the crop side.
FER2013_FACE_BOX = (0.0919, -0.0223, 0.8085, 1.0588)

#: Downscaling by more than this factor first averages blocks of pixels (``Image.reduce``), so
#: a large face is not aliased by sampling one pixel in many.
_MAX_SAMPLING_STEP = 2.0


def _check_size(size: object) -> tuple[int, int]:
    """``size`` as ``(h, w)`` positive ints (an int ``k`` means ``(k, k)``)."""
    if isinstance(size, Integral) and not isinstance(size, bool):
        size = (size, size)
    try:
        pair = tuple(size)  # type: ignore[arg-type]
    except TypeError:
        pair = ()
    if len(pair) != 2 or not all(
        isinstance(v, Integral) and not isinstance(v, bool) and v >= 1 for v in pair
    ):
        raise ValueError(
            f"size must be a positive int or a pair (height, width) of positive ints, e.g. "
            f"(48, 48) or (224, 224), got {plain_repr(size)}"
        )
    return int(pair[0]), int(pair[1])


def _check_color(color: object) -> str:
    if color not in COLORS:
        raise ValueError(f"color must be 'gray' or 'rgb', got {plain_repr(color)}")
    return str(color)


def _check_margin(margin: object) -> float:
    if not isinstance(margin, Real) or isinstance(margin, bool) or not margin > -0.5:
        raise ValueError(
            f"margin must be a number > -0.5 (0 = the FER2013 crop's framing, 0.25 = a quarter "
            f"of the crop's side more on each side), got {plain_repr(margin)}"
        )
    if not np.isfinite(float(margin)):
        raise ValueError(f"margin must be finite, got {plain_repr(margin)}")
    return float(margin)


def _check_points(points: object, name: str, shape: tuple[int | None, int]) -> np.ndarray:
    try:
        arr = np.asarray(points, dtype=float)
    except (TypeError, ValueError):
        arr = np.empty((0,))
    want = "(k, 2)" if shape[0] is None else f"({shape[0]}, 2)"
    if arr.ndim != 2 or arr.shape[1] != 2 or (shape[0] is not None and arr.shape[0] != shape[0]):
        raise ValueError(
            f"{name} must be an array of {want} (x, y) points, got {plain_repr(points)}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or infinite coordinates: {plain_repr(points)}")
    return arr


def _check_template(template: object) -> np.ndarray:
    return _check_points(template, "template", (5, 2))


def _check_box(box: object, name: str = "face box") -> np.ndarray:
    try:
        arr = np.asarray(box, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        arr = np.empty((0,))
    if arr.shape != (4,) or not np.isfinite(arr).all() or arr[2] <= 0 or arr[3] <= 0:
        raise ValueError(
            f"{name} must be (x, y, w, h) finite numbers with w > 0 and h > 0, got "
            f"{plain_repr(box)}"
        )
    return arr


def _check_image(image: object, name: str = "image") -> np.ndarray:
    """``image`` as a uint8 ``(H, W)`` or ``(H, W, 3)`` array."""
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3) or 0 in arr.shape:
        raise ValueError(
            f"{name} has shape {arr.shape}; expected a gray (H, W) or RGB (H, W, 3) image"
        )
    if arr.dtype != np.uint8:
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(
                f"{name} has dtype {arr.dtype}; expected uint8 pixels on [0, 255] (convert "
                "float images on [0, 1] with (image * 255).round().astype(np.uint8))"
            )
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"{name} has integer pixels on [{lo}, {hi}]; expected [0, 255]")
        arr = arr.astype(np.uint8)
    return arr


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The least-squares similarity transform (Umeyama) that maps ``src`` points onto ``dst``.

    Parameters
    ----------
    src, dst : array-like of shape (k, 2)
        Corresponding ``(x, y)`` points, ``k >= 2``.

    Returns
    -------
    ndarray of shape (2, 3)
        ``M`` with ``dst ~ src @ M[:, :2].T + M[:, 2]``.

    Raises
    ------
    ValueError
        If the shapes differ or the points do not determine a transform (all ``src`` points
        equal).
    """
    from skimage.transform import SimilarityTransform

    src = _check_points(src, "src", (None, 2))
    dst = _check_points(dst, "dst", (None, 2))
    if len(src) != len(dst) or len(src) < 2:
        raise ValueError(
            f"src and dst must hold the same number (>= 2) of points, got {len(src)} and {len(dst)}"
        )
    tform = SimilarityTransform.from_estimate(src, dst)
    if not tform:
        raise ValueError(
            f"no similarity transform maps src onto dst ({tform}); src points must not all "
            f"coincide: {plain_repr(src.tolist())}"
        )
    return np.asarray(tform.params[:2], dtype=float)


def _output_square(size: tuple[int, int], margin: float) -> tuple[float, float, float]:
    """Where the template's unit square lies in the output: left, top, side (pixel edges)."""
    h, w = size
    side = min(h, w) / (1.0 + 2.0 * margin)
    return (w - side) / 2.0, (h - side) / 2.0, side


def alignment_matrix(
    face: Face,
    *,
    size: tuple[int, int] | int = (48, 48),
    margin: float = 0.0,
    template: np.ndarray = FER2013_TEMPLATE,
    face_box: Sequence[float] = FER2013_FACE_BOX,
) -> np.ndarray:
    """The similarity ``(2, 3)`` that maps image pixel coordinates to aligned-crop coordinates.

    With 5 landmarks it is the least-squares fit of the landmarks to ``template``; with 2
    (the eyes) the exact similarity that puts the eyes on the template's eyes; without
    landmarks it scales the box uniformly (by the square root of its area) and centres it
    where ``face_box`` lies on the template's crop. See :func:`align_face` for the parameters.
    """
    size = _check_size(size)
    margin = _check_margin(margin)
    template = _check_template(template)
    left, top, side = _output_square(size, margin)

    def to_output(points: np.ndarray) -> np.ndarray:  # unit square -> output pixel coordinates
        return np.column_stack([left + points[:, 0] * side, top + points[:, 1] * side]) - 0.5

    box = _check_box(getattr(face, "box", None))
    landmarks = getattr(face, "landmarks", None)
    if landmarks is not None:
        points = np.asarray(landmarks, dtype=float)
        if points.shape == (5, 2):
            return similarity_transform(points, to_output(template))
        if points.shape == (2, 2):
            return similarity_transform(points, to_output(template[:2]))
        raise ValueError(
            f"face landmarks must be (5, 2) (eyes, nose, mouth corners) or (2, 2) (eyes), "
            f"got shape {points.shape}"
        )
    ref = _check_box(face_box, "face_box")
    x, y, w, h = box
    scale = side * np.sqrt(ref[2] * ref[3] / (w * h))
    src_centre = np.array([x + w / 2.0, y + h / 2.0]) - 0.5  # pixel edges -> centres
    dst_centre = to_output(np.array([[ref[0] + ref[2] / 2.0, ref[1] + ref[3] / 2.0]]))[0]
    shift = dst_centre - scale * src_centre
    return np.array([[scale, 0.0, shift[0]], [0.0, scale, shift[1]]])


def warp_image(
    image: np.ndarray,
    matrix: np.ndarray,
    *,
    size: tuple[int, int] | int = (48, 48),
    color: str = "gray",
) -> np.ndarray:
    """Resample ``image`` through the affine ``matrix`` (image -> output pixel coordinates).

    Bilinear (PIL ``Image.transform``); pixels that fall outside the image are black. When the
    output shrinks the face by more than 2x, blocks of pixels are first averaged
    (``Image.reduce``) so that it is not aliased. Only the part of the image the output sees is
    converted, so a large photo costs little.

    Parameters
    ----------
    image : ndarray (H, W) or (H, W, 3), uint8
    matrix : array-like of shape (2, 3)
    size : (int, int) or int
        Output ``(height, width)``.
    color : {"gray", "rgb"}

    Returns
    -------
    ndarray (h, w) for gray, (h, w, 3) for rgb, uint8
    """
    size = _check_size(size)
    color = _check_color(color)
    image = _check_image(image)
    m = np.asarray(matrix, dtype=float)
    if m.shape != (2, 3) or not np.isfinite(m).all() or abs(np.linalg.det(m[:, :2])) < 1e-12:
        raise ValueError(f"matrix must be an invertible (2, 3) affine matrix, got {plain_repr(m)}")
    h, w = size
    inv = np.linalg.inv(np.vstack([m, [0.0, 0.0, 1.0]]))[:2]  # output -> image, pixel centres
    # The image region the output reads (pixel edges), padded for the bilinear neighbours.
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=float) - 0.5
    seen = corners @ inv[:, :2].T + inv[:, 2] + 0.5
    step = float(np.sqrt(abs(np.linalg.det(inv[:, :2]))))  # input pixels per output pixel
    factor = int(step) if step > _MAX_SAMPLING_STEP else 1  # leaves 1 to 2 pixels per step
    pad = 2 * factor + 2
    x0, y0 = (max(0, int(np.floor(v)) - pad) for v in seen.min(axis=0))
    x1 = min(image.shape[1], int(np.ceil(seen[:, 0].max())) + pad)
    y1 = min(image.shape[0], int(np.ceil(seen[:, 1].max())) + pad)
    channels = () if color == "gray" else (3,)
    if x1 <= x0 or y1 <= y0:  # the face lies wholly outside the image
        return np.zeros((h, w, *channels), dtype=np.uint8)
    crop = Image.fromarray(np.ascontiguousarray(image[y0:y1, x0:x1]))
    if color == "gray" and crop.mode != "L":
        crop = crop.convert("L")
    # PIL's transform maps output pixel-edge coordinates to input pixel-edge coordinates.
    a = inv[:, :2]
    t = inv[:, 2] - a @ [0.5, 0.5] + 0.5 - [x0, y0]
    if factor > 1:
        crop = crop.reduce(factor)
        a, t = a / factor, t / factor
    coeffs = (a[0, 0], a[0, 1], t[0], a[1, 0], a[1, 1], t[1])
    out = crop.transform((w, h), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR)
    arr = np.asarray(out, dtype=np.uint8)
    if color == "rgb" and arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return arr


def align_face(
    image: np.ndarray,
    face: Face,
    *,
    size: tuple[int, int] | int = (48, 48),
    color: str = "gray",
    margin: float = 0.0,
    template: np.ndarray = FER2013_TEMPLATE,
    face_box: Sequence[float] = FER2013_FACE_BOX,
) -> np.ndarray:
    """Crop ``face`` out of ``image``, aligned to the FER2013 geometry.

    Parameters
    ----------
    image : ndarray (H, W) or (H, W, 3), uint8
        The picture the face was detected in (gray or RGB).
    face : Face
        A detection (:class:`~hybridfer.faces.detection.Face`) in ``image``'s pixels. With 5
        landmarks the face is fitted to ``template`` (least-squares similarity); with 2 (eyes
        only) the eyes go exactly onto the template's eyes; without landmarks its box is
        scaled uniformly onto ``face_box``.
    size : (int, int) or int, default=(48, 48)
        Output ``(height, width)``. The template's unit square is the largest centred square
        (shrunk by ``margin``); a wider or taller output shows more context beside it.
    color : {"gray", "rgb"}, default="gray"
        ``"gray"`` gives ``(h, w)`` (ITU-R 601 luma, as PIL converts), ``"rgb"`` gives
        ``(h, w, 3)`` (a gray image repeated in three channels).
    margin : float, default=0.0
        Context added on each side, as a fraction of the template square's side: the
        FER2013-crop region fills ``1 / (1 + 2 * margin)`` of the output side. Positive zooms
        out (0.25 shows a quarter of the crop's side more on each side), negative (> -0.5)
        zooms in.
    template : array-like of shape (5, 2), default=FER2013_TEMPLATE
        Landmark positions on the unit square, in ``LANDMARK_NAMES`` order.
    face_box : (x, y, w, h), default=FER2013_FACE_BOX
        Where a face box lies on the unit square, for faces without landmarks.

    Returns
    -------
    ndarray (h, w) or (h, w, 3), uint8
        Pixels that fall outside ``image`` are black.
    """
    matrix = alignment_matrix(face, size=size, margin=margin, template=template, face_box=face_box)
    return warp_image(image, matrix, size=size, color=color)


def crop_whole(image: np.ndarray, *, size: tuple[int, int] | int, color: str) -> np.ndarray:
    """The whole ``image`` resized to ``size`` (aspect ratio not kept), in ``color``.

    Bilinear with PIL's antialiasing; what :class:`~hybridfer.faces.cropper.FaceCropper` gives
    for an image without a face when ``on_missing="whole"``.

    Returns
    -------
    ndarray (h, w) or (h, w, 3), uint8
    """
    h, w = _check_size(size)
    color = _check_color(color)
    pil = Image.fromarray(_check_image(image))
    pil = pil.convert("L" if color == "gray" else "RGB")
    return np.asarray(pil.resize((w, h), Image.Resampling.BILINEAR), dtype=np.uint8)
