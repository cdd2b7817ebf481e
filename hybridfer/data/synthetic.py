"""Deterministic synthetic faces for the seven basic expressions (demo default and fast tests).

Each image is a drawn face whose expression moves the action units FER relies on: brow
height and tilt, eye opening, mouth curvature, width and opening, nose wrinkles and lip
asymmetry. Expressions are blended with neutral at a random intensity, and every image
gets identity (per subject), pose, scale, illumination and noise jitter, so the task is
learnable but not trivial: weak expressions look alike, as in real data.
"""

from __future__ import annotations

import numpy as np

from hybridfer._messages import plain_repr
from hybridfer.data.dataset import FERDataset
from hybridfer.data.fer2013 import FER2013_CLASSES

__all__ = ["EXPRESSION_PARAMETERS", "make_faces"]

# brow_raise, brow_tilt (inner end up), eye_open, mouth_curve (corners up), mouth_open,
# mouth_width, nose_wrinkle, lip_asymmetry
_NAMES = (
    "brow_raise",
    "brow_tilt",
    "eye_open",
    "mouth_curve",
    "mouth_open",
    "mouth_width",
    "nose_wrinkle",
    "lip_asymmetry",
)
# fmt: off
EXPRESSION_PARAMETERS: dict[str, tuple[float, ...]] = {
    "angry":    (-0.07, -0.12, 0.045, -0.04, 0.00, 0.80, 0.0, 0.00),
    "disgust":  (-0.04, -0.04, 0.040, -0.10, 0.02, 0.90, 1.0, 0.07),
    "fear":     (0.07, 0.10, 0.095, -0.08, 0.07, 1.10, 0.0, 0.00),
    "happy":    (0.01, 0.00, 0.050, 0.12, 0.03, 1.20, 0.0, 0.00),
    "sad":      (0.00, 0.11, 0.055, -0.10, 0.00, 0.90, 0.0, 0.00),
    "surprise": (0.12, 0.02, 0.100, 0.00, 0.15, 0.70, 0.0, 0.00),
    "neutral":  (0.00, 0.00, 0.070, 0.00, 0.00, 1.00, 0.0, 0.00),
}
# fmt: on


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _segment_distance(x, y, x0, y0, x1, y1):
    """Distance from points (x, y) to segments (x0, y0)-(x1, y1), all broadcast."""
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    return np.hypot(x - (x0 + t * dx), y - (y0 + t * dy))


def _render(p: dict[str, np.ndarray], size: int) -> np.ndarray:
    """Render a batch of faces from per-image parameter arrays of shape (b, 1, 1)."""
    g = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    v, u = np.meshgrid(g, g, indexing="ij")  # v down, u right
    u, v = u[None], v[None]
    # pose: into face coordinates
    cu, cv = (u - p["shift_x"]) / p["scale"], (v - p["shift_y"]) / p["scale"]
    c, s = np.cos(p["roll"]), np.sin(p["roll"])
    x, y = c * cu + s * cv, -s * cu + c * cv

    img = p["background"] + p["light"] * (u * np.cos(p["light_dir"]) + v * np.sin(p["light_dir"]))
    face_r = np.sqrt((x / p["face_w"]) ** 2 + ((y - 0.02) / 0.92) ** 2)
    face = _sigmoid((1.0 - face_r) / 0.03)
    img = img * (1 - face) + face * (p["skin"] + 0.5 * p["light"] * (x * 0.3 - y * 0.2))

    def darken(mask, depth):
        nonlocal img
        img = img - depth * mask * face

    eye_y = -0.18
    for side in (-1.0, 1.0):
        ex = side * p["eye_dx"]
        eye_r = np.sqrt(((x - ex) / 0.13) ** 2 + ((y - eye_y) / p["eye_open"]) ** 2)
        darken(_sigmoid((1.0 - eye_r) / 0.12), 0.45)
        # brow: inner end at |x|=0.10, outer at |x|=eye_dx + 0.17
        by = eye_y - 0.17 - p["brow_raise"]
        d = _segment_distance(
            x, y, side * 0.10, by - p["brow_tilt"], side * (p["eye_dx"] + 0.17), by + 0.02
        )
        darken(_sigmoid((0.035 - d) / 0.012), 0.40)
    # nose
    d = _segment_distance(x, y, 0.0, -0.08, 0.0, 0.18)
    darken(_sigmoid((0.02 - d) / 0.012), 0.12)
    for side in (-1.0, 1.0):  # wrinkles beside the nose (disgust)
        d = _segment_distance(x, y, side * 0.05, 0.02, side * 0.16, -0.04)
        darken(_sigmoid((0.02 - d) / 0.01), 0.35 * p["nose_wrinkle"])
    # mouth: a curve whose corners move up (smile) or down, optionally open
    mouth_y, w = 0.45, 0.24 * p["mouth_width"]
    xn = np.clip(x / w, -1.0, 1.0)
    curve_y = mouth_y - p["mouth_curve"] * xn**2 + p["lip_asymmetry"] * xn
    inside = _sigmoid((1.0 - np.abs(x) / w) / 0.05)
    darken(inside * _sigmoid((0.03 - np.abs(y - curve_y)) / 0.012), 0.5)
    open_r = np.sqrt((x / (0.7 * w)) ** 2 + ((y - mouth_y) / (p["mouth_open"] + 1e-3)) ** 2)
    darken(_sigmoid((1.0 - open_r) / 0.1) * (p["mouth_open"] > 0.005), 0.55)

    img = img + p["noise"] * p["noise_field"]
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def make_faces(
    n_samples: int = 700,
    image_size: int = 48,
    n_subjects: int = 20,
    intensity: tuple[float, float] = (0.35, 1.0),
    noise: tuple[float, float] = (0.02, 0.08),
    class_weights: dict[str, float] | None = None,
    random_state: int | None = 0,
    batch_size: int = 256,
) -> FERDataset:
    """Generate labelled synthetic faces for the seven FER2013 expressions.

    Parameters
    ----------
    n_samples : int
        Number of images.
    image_size : int
        Side of the square uint8 grayscale images (>= 16).
    n_subjects : int
        Number of synthetic identities (face width, eye spacing, skin tone); the subject
        of each image is its group, for subject-grouped CV.
    intensity : (float, float)
        Range of expression intensity (0 is neutral, 1 the full expression).
    noise : (float, float)
        Range of the Gaussian pixel noise's standard deviation (on a [0, 1] scale).
    class_weights : dict, optional
        Relative class frequencies (default: balanced); e.g. ``{"disgust": 0.2}`` mimics
        FER2013's rare class.
    random_state : int, optional
        Seed; the same seed gives the same images.
    batch_size : int
        Images rendered at once (memory only; does not change the result).

    Returns
    -------
    FERDataset
        Images ``(n, image_size, image_size)``, labels in :data:`FER2013_CLASSES`, groups
        ``subject_<k>``.
    """
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {plain_repr(n_samples)}")
    if not isinstance(image_size, (int, np.integer)) or image_size < 16:
        raise ValueError(f"image_size must be an integer >= 16, got {plain_repr(image_size)}")
    if n_subjects < 1:
        raise ValueError(f"n_subjects must be >= 1, got {plain_repr(n_subjects)}")
    rng = np.random.default_rng(random_state)
    classes = FER2013_CLASSES
    weights = np.ones(len(classes))
    if class_weights:
        unknown = sorted(set(class_weights) - set(classes))
        if unknown:
            raise ValueError(
                f"class_weights names unknown classes {unknown}; expected some of {list(classes)}"
            )
        weights = np.array([float(class_weights.get(c, 1.0)) for c in classes])
    # stratified: exact class counts, then shuffled
    counts = np.floor(weights / weights.sum() * n_samples).astype(int)
    counts[np.argsort(-weights)[: n_samples - counts.sum()]] += 1
    y = rng.permutation(np.repeat(np.arange(len(classes)), counts))

    subjects = rng.integers(0, n_subjects, n_samples)
    ident = {
        "face_w": rng.uniform(0.62, 0.78, n_subjects),
        "eye_dx": rng.uniform(0.26, 0.34, n_subjects),
        "skin": rng.uniform(0.55, 0.85, n_subjects),
        "mouth_scale": rng.uniform(0.85, 1.15, n_subjects),
    }
    expr = np.array([EXPRESSION_PARAMETERS[c] for c in classes])
    neutral = np.array(EXPRESSION_PARAMETERS["neutral"])
    k = rng.uniform(*intensity, n_samples)[:, None]
    params = neutral + k * (expr[y] - neutral)
    params[:, 2] *= rng.uniform(0.85, 1.15, n_samples)  # eye opening varies per image
    p = {name: params[:, i] for i, name in enumerate(_NAMES)}
    p["mouth_width"] = p["mouth_width"] * ident["mouth_scale"][subjects]
    p.update(
        face_w=ident["face_w"][subjects],
        eye_dx=ident["eye_dx"][subjects],
        skin=ident["skin"][subjects],
        shift_x=rng.uniform(-0.08, 0.08, n_samples),
        shift_y=rng.uniform(-0.08, 0.08, n_samples),
        scale=rng.uniform(0.85, 1.1, n_samples),
        roll=np.deg2rad(rng.normal(0, 7, n_samples)),
        background=rng.uniform(0.1, 0.5, n_samples),
        light=rng.uniform(0.0, 0.25, n_samples),
        light_dir=rng.uniform(0, 2 * np.pi, n_samples),
        noise=rng.uniform(*noise, n_samples),
    )
    noise_field = rng.standard_normal((n_samples, image_size, image_size))
    images = np.empty((n_samples, image_size, image_size), dtype=np.uint8)
    for start in range(0, n_samples, batch_size):
        sl = slice(start, start + batch_size)
        batch = {key: val[sl, None, None] for key, val in p.items()}
        batch["noise_field"] = noise_field[sl]
        images[sl] = _render(batch, image_size)
    return FERDataset(
        images=images,
        labels=np.asarray(classes)[y],
        classes=classes,
        groups=np.char.add("subject_", subjects.astype(str)),
        name=f"make_faces(n={n_samples}, seed={random_state})",
    )
