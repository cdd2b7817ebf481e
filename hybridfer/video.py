"""Video files: frames decoded with PyAV, sampled at a chosen rate, and MP4s written atomically.

PyAV's wheel brings its own FFmpeg (decoders for H.264, HEVC, VP8/9, AV1, MPEG-4, ... and the
libx264 encoder), so reading a user's clips needs no system FFmpeg. ``av`` is imported when a
video is first opened, not with this module.

- :func:`read_video` yields :class:`Frame` objects (decoded frame index, presentation time in
  seconds from the stream's start, a ``uint8`` RGB or gray image), every frame or sampled at
  ``fps=`` frames a second. Frames are turned upright from the stream's display matrix (phone
  videos recorded in portrait) and stretched to square pixels when the stream's sample aspect
  ratio is not 1.
- :func:`video_info` gives the size, rate, frame count and duration of a video.
- :class:`VideoWriter` writes RGB frames to an H.264 MP4 (mpeg4 where PyAV's FFmpeg has no
  libx264); the file appears only when the ``with`` block ends without an error.

Every unreadable input raises :class:`VideoReadError` (a ``ValueError``) naming the file and
the problem: a missing file (:class:`VideoNotFoundError`, also a ``FileNotFoundError``), a
folder, an empty file, a file that is not a video, a file with no video stream, a video with
no decodable frame. A damaged or truncated video with some decodable frames yields those
frames and stops (with a ``RuntimeWarning`` when packets failed to decode).
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from hybridfer._io import atomic_path
from hybridfer._messages import plain_repr

__all__ = [
    "VIDEO_SUFFIXES",
    "Frame",
    "VideoInfo",
    "VideoNotFoundError",
    "VideoReadError",
    "VideoWriter",
    "is_video",
    "read_video",
    "video_info",
]

#: File suffixes taken as videos (lower case), by :func:`is_video`.
VIDEO_SUFFIXES: tuple[str, ...] = (
    ".mp4",
    ".avi",
    ".mov",
    ".mkv",
    ".webm",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".wmv",
    ".flv",
    ".3gp",
)

#: Container format of each suffix :class:`VideoWriter` writes.
_WRITER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov"}


class VideoReadError(ValueError):
    """A video file cannot be read: missing, empty, not a video, no video stream or no
    decodable frame. The message names the file and the problem."""


class VideoNotFoundError(VideoReadError, FileNotFoundError):
    """The video file does not exist (a :class:`VideoReadError` and a ``FileNotFoundError``)."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, as its container states it.

    ``width`` and ``height`` are the size of the frames :func:`read_video` yields (upright,
    square pixels); ``fps`` the stream's average frame rate (0.0 when unknown); ``n_frames``
    the frame count the container states, else estimated from the duration and rate, else
    None; ``duration_s`` the stream's (or container's) duration in seconds, or None.
    """

    path: str
    width: int
    height: int
    fps: float
    n_frames: int | None
    duration_s: float | None


@dataclass(frozen=True)
class Frame:
    """One decoded video frame.

    ``index`` is the frame's position among the decoded frames of the stream (0 first, counted
    whether or not the frame was sampled); ``time_s`` its presentation time in seconds from
    the stream's start; ``image`` a ``uint8`` array, ``(H, W, 3)`` RGB or ``(H, W)`` gray.
    """

    index: int
    time_s: float
    image: np.ndarray


def is_video(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a video file, by its suffix (:data:`VIDEO_SUFFIXES`, any case).

    The file is not opened; anything that is not a path gives False.
    """
    if not isinstance(path, (str, os.PathLike)):
        return False
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _av() -> Any:
    import av

    return av


def _check_file(path: str | os.PathLike) -> str:
    """``path`` as a string, with the file checked to exist, to be a file and not be empty."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"video path must be a str or path-like, got {type(path).__name__}")
    name = os.fspath(path)
    p = Path(name)
    if not p.exists():
        raise VideoNotFoundError(f"video file not found: {name!r}")
    if p.is_dir():
        raise VideoReadError(f"cannot read video {name!r}: it is a folder, not a video file")
    if p.stat().st_size == 0:
        raise VideoReadError(f"cannot read video file {name!r}: the file is empty (0 bytes)")
    return name


def _not_a_video(name: str, exc: BaseException) -> VideoReadError:
    reason = getattr(exc, "strerror", None) or str(exc)
    return VideoReadError(
        f"cannot read video file {name!r}: {reason}. Expected a video file FFmpeg can decode "
        f"({', '.join(VIDEO_SUFFIXES)})"
    )


def _open(name: str) -> tuple[Any, Any]:
    """Open ``name`` for reading; return the container and its first video stream."""
    av = _av()
    try:
        container = av.open(name, mode="r")
    except av.error.FileNotFoundError:
        raise VideoNotFoundError(f"video file not found: {name!r}") from None
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise _not_a_video(name, exc) from exc
    streams = [
        s
        for s in container.streams.video
        if not s.disposition & av.stream.Disposition.attached_pic  # cover art of audio files
    ]
    if not streams:
        kinds = sorted({s.type for s in container.streams})
        container.close()
        what = f"streams: {', '.join(kinds)}" if kinds else "no stream at all: damaged or truncated"
        raise VideoReadError(f"cannot read video file {name!r}: it has no video stream ({what})")
    return container, streams[0]


def _rate(stream: Any) -> Fraction | None:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return rate if rate else None


def _display_size(width: int, height: int, stream: Any) -> tuple[int, int]:
    """(width, height) of a frame shown with square pixels (before rotation)."""
    sar = stream.codec_context.sample_aspect_ratio
    if sar and sar != 1:
        width = max(1, round(width * sar))
    return width, height


def _quarter_turns(frame: Any) -> int:
    """How many counter-clockwise quarter turns make the frame upright (display matrix)."""
    rotation = frame.rotation
    return round(rotation / 90) % 4 if rotation else 0


def _to_array(
    frame: Any, stream: Any, color: str, max_side: int | None, reformatter: Any
) -> np.ndarray:
    """The frame as a uint8 array, upright, with square pixels, at most ``max_side``.

    One ``reformatter`` serves every frame of a video: ``frame.to_ndarray(format=...)`` sets
    up a new swscale context for each frame, which makes it 2 to 3 times slower
    (benchmarks/bench_video_decode.py)."""
    width, height = _display_size(frame.width, frame.height, stream)
    if max_side is not None and max(width, height) > max_side:
        scale = max_side / max(width, height)
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
    kwargs: dict[str, Any] = {"format": "rgb24" if color == "rgb" else "gray"}
    if (width, height) != (frame.width, frame.height):
        kwargs.update(width=width, height=height, interpolation="AREA")
    image = reformatter.reformat(frame, **kwargs).to_ndarray()
    turns = _quarter_turns(frame)
    if turns:
        image = np.rot90(image, turns)
    return np.ascontiguousarray(image, dtype=np.uint8)


def _check_read_params(fps: object, color: object, max_side: object) -> None:
    if fps is not None:
        if (
            isinstance(fps, bool)
            or not isinstance(fps, (int, float, np.integer, np.floating))
            or not math.isfinite(fps)
            or fps <= 0
        ):
            raise ValueError(f"fps must be a positive number or None, got {plain_repr(fps)}")
    if color not in ("rgb", "gray"):
        raise ValueError(f"color must be 'rgb' or 'gray', got {plain_repr(color)}")
    if max_side is not None and (
        isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)) or max_side < 1
    ):
        raise ValueError(f"max_side must be a positive integer or None, got {plain_repr(max_side)}")


def video_info(path: str | os.PathLike) -> VideoInfo:
    """Size, frame rate, frame count and duration of a video file.

    The first frame is decoded, so that ``width`` and ``height`` are those of the frames
    :func:`read_video` yields (turned upright, square pixels).

    Raises
    ------
    VideoReadError
        If the file is missing (:class:`VideoNotFoundError`), a folder, empty, not a video,
        has no video stream or no decodable frame.
    """
    name = _check_file(path)
    container, stream = _open(name)
    try:
        first = next(_decode(container, stream, name), None)
        if first is None:
            raise _no_frame(name, 0, None)
        frame = first[0]
        width, height = _display_size(frame.width, frame.height, stream)
        if _quarter_turns(frame) % 2:
            width, height = height, width
        rate = _rate(stream)
        fps = float(rate) if rate else 0.0
        duration_s = None
        if stream.duration and stream.time_base:
            duration_s = float(stream.duration * stream.time_base)
        elif container.duration:
            duration_s = container.duration / 1_000_000  # AV_TIME_BASE
        n_frames: int | None = stream.frames or None
        if n_frames is None and duration_s is not None and fps > 0:
            n_frames = max(1, round(duration_s * fps))
        return VideoInfo(name, width, height, fps, n_frames, duration_s)
    finally:
        container.close()


def _no_frame(name: str, n_errors: int, error: BaseException | None) -> VideoReadError:
    detail = ""
    if n_errors:
        detail = f" ({n_errors} packets failed to decode, the last with: {_reason(error)})"
    return VideoReadError(
        f"cannot read video file {name!r}: no decodable video frame{detail}; the file is "
        "damaged, truncated or holds no picture"
    )


def _reason(exc: BaseException | None) -> str:
    return (getattr(exc, "strerror", None) or str(exc)) if exc is not None else "unknown"


def _decode(container: Any, stream: Any, name: str, stats: dict | None = None) -> Iterator[Any]:
    """Decoded frames of ``stream`` with their index; packets that fail to decode are skipped,
    a demuxing error ends the stream. ``stats`` receives the count of failures."""
    av = _av()
    stats = {} if stats is None else stats
    stats.update(errors=0, error=None)
    index = 0
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError as exc:  # the container itself is damaged: stop here
            stats["errors"] += 1
            stats["error"] = exc
            break
        try:
            frames = packet.decode()
        except av.error.FFmpegError as exc:
            stats["errors"] += 1
            stats["error"] = exc
            continue
        for frame in frames:
            yield frame, index
            index += 1
    if stats["error"] is not None:  # demux ended early or a packet failed: drain the decoder
        try:
            for frame in stream.decode(None):
                yield frame, index
                index += 1
        except av.error.FFmpegError:
            pass


def read_video(
    path: str | os.PathLike,
    fps: float | None = None,
    color: str = "rgb",
    max_side: int | None = None,
) -> Iterator[Frame]:
    """Decode a video file's frames, every one or sampled at ``fps`` frames a second.

    The file is opened and checked when the function is called; frames are decoded as the
    iterator is consumed (FFmpeg's own threads), and the file is closed when the iterator is
    exhausted, closed or garbage collected.

    Parameters
    ----------
    path : str or path-like
        The video file (any format PyAV's FFmpeg reads).
    fps : float or None, default=None
        None yields every frame. Otherwise frames are sampled by their presentation times: a
        frame is kept when its time reaches the next sample time ``k / fps`` (within a quarter
        of a source frame, so timestamps rounded by the container do not shift the pattern);
        a rate above the video's yields every frame.
    color : {"rgb", "gray"}, default="rgb"
        ``(H, W, 3)`` RGB or ``(H, W)`` gray ``uint8`` images.
    max_side : int or None, default=None
        Frames whose longer side exceeds it are downscaled (area interpolation) to that side,
        keeping the aspect ratio; smaller frames are left as they are.

    Yields
    ------
    Frame
        ``index`` (decoded frame index), ``time_s`` (seconds from the stream's start),
        ``image``. Frames are upright (display matrix applied) with square pixels.

    Raises
    ------
    VideoReadError
        At the call: the file is missing (:class:`VideoNotFoundError`), a folder, empty, not
        a video or has no video stream. While iterating: no frame of the video decodes. A
        video with some decodable frames yields them and stops, with a ``RuntimeWarning`` when
        packets failed to decode.
    """
    _check_read_params(fps, color, max_side)
    name = _check_file(path)
    container, _ = _open(name)  # checked now, so the errors come at the call
    container.close()
    return _frames(name, None if fps is None else float(fps), color, max_side)


def _frames(name: str, fps: float | None, color: str, max_side: int | None) -> Iterator[Frame]:
    container, stream = _open(name)
    try:
        stream.thread_type = "AUTO"  # frame and slice threads, as many as FFmpeg sees cores
        time_base = stream.time_base
        start = stream.start_time or 0
        rate = _rate(stream)
        tolerance = 0.25 / float(rate) if rate else 1e-6
        step = 1.0 / fps if fps is not None else 0.0
        next_sample = 0  # the k of the next sample time k / fps
        reformatter = _av().video.reformatter.VideoReformatter()
        stats: dict = {}
        n_decoded = n_yielded = 0
        for frame, index in _decode(container, stream, name, stats):
            n_decoded += 1
            if frame.pts is not None and time_base:
                time_s = float((frame.pts - start) * time_base)
            elif rate:
                time_s = index / float(rate)
            else:
                time_s = float("nan")
            if fps is not None and math.isfinite(time_s):
                if time_s < next_sample * step - tolerance:
                    continue
                next_sample = math.floor((time_s + tolerance) / step) + 1
            image = _to_array(frame, stream, color, max_side, reformatter)
            n_yielded += 1
            yield Frame(index=index, time_s=time_s, image=image)
        if n_decoded == 0:
            raise _no_frame(name, stats["errors"], stats["error"])
        if stats["errors"]:
            warnings.warn(
                f"video file {name!r}: {stats['errors']} packets could not be decoded "
                f"(damaged or truncated; the last error: {_reason(stats['error'])}); "
                f"read {n_yielded} frames",
                RuntimeWarning,
                stacklevel=2,
            )
    finally:
        container.close()


def _encoder() -> str:
    """libx264 where PyAV's FFmpeg has it, else mpeg4."""
    av = _av()
    if "libx264" in av.codecs_available:
        try:
            av.codec.Codec("libx264", "w")
            return "libx264"
        except (av.error.FFmpegError, ValueError):
            pass
    return "mpeg4"


class VideoWriter:
    """Write RGB frames to an MP4 file, atomically: the file appears when the ``with`` block
    ends without an error, and nothing is left behind when it raises.

    Frames are encoded with H.264 (libx264, preset ``veryfast``, CRF 23) where PyAV's FFmpeg
    has it, else MPEG-4 part 2, in ``yuv420p`` (what every player reads). That format needs
    an even width and height: frames of odd size are padded by one pixel (the edge repeated).

    Parameters
    ----------
    path : str or path-like
        The ``.mp4`` (or ``.m4v``, ``.mov``) file to write.
    fps : float
        Frame rate of the video.
    size : (int, int) or None, default=None
        ``(height, width)`` of every frame (as in an image's ``shape``); None takes the first
        frame's. A frame of another size is refused with a ValueError.

    Attributes
    ----------
    codec : str
        The encoder in use (``"libx264"`` or ``"mpeg4"``), known once the block is entered.
    n_frames : int
        Frames written so far.

    Examples
    --------
    >>> with VideoWriter("out.mp4", fps=10) as writer:  # doctest: +SKIP
    ...     for image in images:
    ...         writer.write(image)
    """

    def __init__(
        self, path: str | os.PathLike, fps: float, size: tuple[int, int] | None = None
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or path-like, got {type(path).__name__}")
        suffix = Path(path).suffix.lower()
        if suffix not in _WRITER_FORMATS:
            raise ValueError(
                f"VideoWriter writes {', '.join(_WRITER_FORMATS)} files, got {os.fspath(path)!r}"
            )
        if (
            isinstance(fps, bool)
            or not isinstance(fps, (int, float, np.integer, np.floating))
            or not math.isfinite(fps)
            or not 0 < fps <= 1000
        ):
            raise ValueError(f"fps must be a number in (0, 1000], got {plain_repr(fps)}")
        if size is not None:
            if (
                not isinstance(size, (tuple, list))
                or len(size) != 2
                or not all(
                    isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1
                    for s in size
                )
            ):
                raise ValueError(
                    f"size must be (height, width), two positive integers, or None, "
                    f"got {plain_repr(size)}"
                )
            size = (int(size[0]), int(size[1]))
        self.path = path
        self.fps = fps
        self.size = size
        self.codec: str | None = None
        self.n_frames = 0
        self._format = _WRITER_FORMATS[suffix]
        self._atomic: Any = None
        self._tmp: Path | None = None
        self._container: Any = None
        self._stream: Any = None
        self._size: tuple[int, int] | None = size

    def __enter__(self) -> VideoWriter:
        if self._atomic is not None:
            raise RuntimeError("this VideoWriter is already open")
        self.codec = _encoder()
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        return self

    def _open_container(self, height: int, width: int) -> None:
        av = _av()
        self._container = av.open(
            os.fspath(self._tmp), mode="w", format=self._format, options={"movflags": "+faststart"}
        )
        rate = Fraction(self.fps).limit_denominator(1001)
        stream = self._container.add_stream(self.codec, rate=rate)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        if self.codec == "libx264":
            stream.options = {"preset": "veryfast", "crf": "23"}
        else:
            stream.bit_rate = max(200_000, int(stream.width * stream.height * float(rate) * 0.2))
        self._stream = stream

    def write(self, image: np.ndarray) -> None:
        """Encode one frame: a ``uint8`` array ``(H, W, 3)`` RGB or ``(H, W)`` gray."""
        if self._atomic is None:
            raise RuntimeError(
                "use VideoWriter as a context manager: `with VideoWriter(...) as w:`"
            )
        image = np.asarray(image)
        if image.dtype != np.uint8:
            raise ValueError(
                f"frame {self.n_frames}: expected a uint8 image, got dtype {image.dtype}"
            )
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(
                f"frame {self.n_frames}: expected an (H, W, 3) RGB or (H, W) gray image, "
                f"got shape {image.shape}"
            )
        height, width = image.shape[:2]
        if self._size is None:
            self._size = (height, width)
        if (height, width) != self._size:
            raise ValueError(
                f"frame {self.n_frames}: size (height, width) {(height, width)} differs from "
                f"the video's {self._size}"
            )
        if self._container is None:
            self._open_container(height, width)
        if height % 2 or width % 2:
            image = np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        frame = _av().VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.n_frames += 1

    def _finish(self) -> None:
        if self._container is None:
            raise ValueError(
                f"no frame was written to {os.fspath(self.path)!r}: nothing saved "
                "(call write() at least once inside the with block)"
            )
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        container, self._container = self._container, None
        container.close()

    def _discard(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except Exception:  # the file is deleted anyway
                pass

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        atomic, self._atomic = self._atomic, None
        if exc_type is not None:
            self._discard()
            atomic.__exit__(exc_type, exc, tb)  # removes the temporary file
            return False
        try:
            self._finish()
        except BaseException:
            self._discard()
            atomic.__exit__(*sys.exc_info())
            raise
        atomic.__exit__(None, None, None)  # moves the finished file into place
        return False
