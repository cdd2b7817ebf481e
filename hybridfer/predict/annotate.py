"""Pictures of face predictions: boxes and labels drawn on photos and video frames.

:func:`annotate_image` draws the rows of :func:`~hybridfer.predict.predict_faces` for one
image (a box per face, ``"label p"`` above it, the track id in a video; the error of a row
without a face in the top-left corner). :func:`write_annotations` writes, for every photo of
a prediction table, a PNG copy, and for every video an MP4 of its sampled frames, each
atomically (:func:`hybridfer._io.atomic_path`). Drawing uses Pillow's ``ImageDraw`` and its
default font.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MAX_SIDE", "annotate_image", "write_annotations"]

#: Annotated copies are downscaled to this longer side (an 8000x6000 photo's copy is
#: 2048x1536): the boxes and labels stay readable and the files small.
MAX_SIDE = 2048
#: Box colours, by track (or face) number.
_PALETTE = (
    (230, 25, 75),
    (60, 180, 75),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
)


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))


def _records(rows: Any) -> list[Mapping[str, Any]]:
    if hasattr(rows, "to_dict"):  # a DataFrame
        return rows.to_dict("records")
    if isinstance(rows, Mapping):
        return [rows]
    return list(rows)


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # old Pillow or no FreeType: the bitmap font
        return ImageFont.load_default()


def caption(row: Mapping[str, Any]) -> str:
    """What is written above a face: ``"#track label p"`` (track in videos, ``p`` the
    label's probability when the row has one)."""
    text = str(row.get("label"))
    p = row.get(f"proba_{text}")
    if p is not None and not _missing(p):
        text += f" {float(p):.2f}"
    track = row.get("track")
    if track is not None and not _missing(track):
        text = f"#{int(track)} {text}"
    return text


def annotate_image(image: np.ndarray, rows: Any, *, max_side: int | None = None) -> np.ndarray:
    """``image`` with the faces of ``rows`` boxed and labelled.

    Parameters
    ----------
    image : ndarray (H, W) or (H, W, 3), uint8
        The photo or frame the rows were predicted on.
    rows : DataFrame or iterable of mappings
        Rows of :func:`~hybridfer.predict.predict_faces` for this image: ``box_x``, ``box_y``,
        ``box_w``, ``box_h``, ``label``, optionally ``track``, ``proba_<class>`` and ``error``.
        A row without a box but with an ``error`` (no face found) is written in the top-left
        corner.
    max_side : int, optional
        Downscale the picture first so that its longer side is at most this (boxes follow).

    Returns
    -------
    ndarray (h, w, 3), uint8
        A new RGB image; ``image`` is not modified.
    """
    from PIL import Image, ImageDraw

    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError(
            f"image must be a uint8 (H, W) or (H, W, 3) array, got dtype {array.dtype} and "
            f"shape {array.shape}"
        )
    pil = Image.fromarray(array).convert("RGB")
    scale = 1.0
    if max_side is not None and max(pil.size) > max_side:
        scale = max_side / max(pil.size)
        size = (max(1, round(pil.width * scale)), max(1, round(pil.height * scale)))
        pil = pil.resize(size, Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(pil)
    side = max(pil.size)
    width = max(1, round(side / 300))
    font = _font(max(10, round(side / 36)))
    pad = max(1, width)
    for k, row in enumerate(_records(rows)):
        box = [row.get(f"box_{c}") for c in "xywh"]
        if any(v is None or _missing(v) for v in box):
            error = row.get("error")
            if error and not _missing(error):
                draw.text((pad * 2, pad * 2), str(error), fill=(255, 40, 40), font=font)
            continue
        x, y, w, h = (float(v) * scale for v in box)
        index = next((int(v) for v in (row.get("track"), row.get("face")) if not _missing(v)), k)
        color = _PALETTE[index % len(_PALETTE)]
        draw.rectangle([x, y, x + w, y + h], outline=color, width=width)
        if _missing(row.get("label")):
            continue
        text = caption(row)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left, bottom - top
        ty = y - th - 2 * pad if y - th - 2 * pad >= 0 else y + h  # above, else below the box
        draw.rectangle([x, ty, x + tw + 2 * pad, ty + th + 2 * pad], fill=color)
        draw.text((x + pad - left, ty + pad - top), text, fill=(0, 0, 0), font=font)
    return np.asarray(pil)


def _name(path: str, suffix: str, used: set[str]) -> str:
    """A file name from ``path``'s stem, not yet in ``used`` (case-insensitive)."""
    stem = Path(path).stem or "image"
    name, k = f"{stem}{suffix}", 2
    while name.lower() in used:
        name, k = f"{stem}-{k}{suffix}", k + 1
    used.add(name.lower())
    return name


def _write_png(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    from hybridfer._io import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")


def _video_rate(path: str, fps: float | None) -> float:
    """The frame rate of the sampled frames of ``path``: ``fps`` or the video's, whichever is
    lower (25 when the video states none)."""
    from hybridfer.video import video_info

    native = video_info(path).fps or 25.0
    return native if fps is None else min(float(fps), native)


def _write_video(path: str, groups: Mapping[int, list], dest: Path, fps: float | None) -> bool:
    from hybridfer.video import VideoReadError, VideoWriter, read_video

    try:
        rate = _video_rate(path, fps)
        frames = read_video(path, fps=fps, color="rgb")
        with VideoWriter(dest, fps=rate) as writer:
            for frame in frames:
                if frame.index in groups:
                    writer.write(
                        annotate_image(frame.image, groups[frame.index], max_side=MAX_SIDE)
                    )
    except (VideoReadError, ValueError):  # unreadable: its rows say why
        return False
    return True


def write_annotations(
    rows: Any, folder: str | os.PathLike, *, fps: float | None = None
) -> list[Path]:
    """Write annotated copies of the photos and videos of a prediction table.

    Parameters
    ----------
    rows : DataFrame
        Rows of :func:`~hybridfer.predict.predict_faces` (their files are read again).
    folder : path
        Where to write (created if missing): ``<stem>.png`` per photo and ``<stem>.mp4`` per
        video (H.264, at the sampling rate), ``<stem>-2.png``... when names collide. Copies
        are at most :data:`MAX_SIDE` pixels on their longer side.
    fps : float, optional
        The rate the videos were sampled at (as given to ``predict_faces``; None: every
        frame), so that the same frames are read.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of the rows. Files that cannot be read again and
        in-memory images (``<image i>``) are left out.
    """
    from hybridfer.images import read_image
    from hybridfer.video import is_video

    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"annotate folder {os.fspath(out)!r} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    written: list[Path] = []
    records = _records(rows)
    by_path: dict[str, list[Mapping[str, Any]]] = {}
    for row in records:
        by_path.setdefault(str(row["path"]), []).append(row)
    for path, mine in by_path.items():
        if path.startswith("<image "):
            continue
        if is_video(path):
            groups: dict[int, list] = {}
            for row in mine:
                if not _missing(row.get("frame")):
                    groups.setdefault(int(row["frame"]), []).append(row)
            if not groups:
                continue
            dest = out / _name(path, ".mp4", used)
            if _write_video(path, groups, dest, fps):
                written.append(dest)
            continue
        try:
            image = read_image(path, "rgb")
        except (OSError, ValueError):
            continue
        dest = out / _name(path, ".png", used)
        _write_png(annotate_image(image, mine, max_side=MAX_SIDE), dest)
        written.append(dest)
    return written
