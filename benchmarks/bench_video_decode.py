"""Video decoding speed: PyAV (hybridfer.video's decoder) against OpenCV and imageio.

Writes a 640x480, 30 fps, 10 s H.264 test clip with :class:`hybridfer.video.VideoWriter`
(a photograph moving over a textured background, so the encoder sees real motion), then times
decoding every frame to an RGB ``uint8`` numpy array with:

- PyAV with ``thread_type="AUTO"`` (frame and slice threads, what ``read_video`` sets), one
  ``VideoReformatter`` converting every frame to RGB;
- PyAV with its default threading (slice threads);
- PyAV AUTO with ``frame.to_ndarray(format="rgb24")``, which builds a new swscale context for
  every frame (2 to 3 times slower than one ``VideoReformatter`` for all frames, as above);
- ``hybridfer.video.read_video`` itself (PyAV AUTO plus timestamps, rotation, checks);
- OpenCV's ``cv2.VideoCapture`` (its wheel brings its own FFmpeg too), BGR frames converted
  to RGB with ``cv2.cvtColor``; skipped when OpenCV is not installed (``hybridfer[haar]``);
- imageio's ``pyav`` plugin (a wrapper over PyAV), when imageio is installed.

Each is run ``--repeat`` times; the best time counts. Prints the CPU, frames/s and the ratio
to PyAV AUTO. Takes well under a minute.

Usage::

    python benchmarks/bench_video_decode.py [--seconds 10] [--size 640x480] [--repeat 3] [--keep clip.mp4]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _paths  # noqa: F401  (puts the checkout on sys.path when run as a script)
import numpy as np

from hybridfer.video import VideoWriter, read_video, video_info

FPS = 30


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown CPU"


def write_clip(path: Path, seconds: float, width: int = 640, height: int = 480) -> None:
    from skimage.data import astronaut
    from skimage.transform import resize

    rng = np.random.default_rng(0)
    face = (resize(astronaut(), (200, 200), anti_aliasing=True) * 255).astype(np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    texture = (
        127 + 60 * np.sin(xx / 17.0) * np.cos(yy / 23.0) + rng.normal(0, 8, (height, width))
    ).clip(0, 255)
    background = np.repeat(texture[:, :, None], 3, axis=2).astype(np.uint8)
    with VideoWriter(path, fps=FPS) as writer:
        for i in range(round(seconds * FPS)):
            frame = np.roll(background, i * 2, axis=1)  # camera pan
            x = int((width - 200) / 2 * (1 + 0.9 * np.sin(i / 25.0)))
            y = int((height - 200) / 2 * (1 + 0.9 * np.cos(i / 40.0)))
            frame[y : y + 200, x : x + 200] = face
            writer.write(frame)


def pyav_frames(path: Path, thread_type: str | None, reuse_scaler: bool = True) -> int:
    """Every frame to RGB; one VideoReformatter for all frames (what read_video does), or
    ``frame.to_ndarray(format="rgb24")``, which sets up a new swscale context per frame."""
    import av
    from av.video.reformatter import VideoReformatter

    n = 0
    scaler = VideoReformatter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if thread_type is not None:
            stream.thread_type = thread_type
        for frame in container.decode(stream):
            if reuse_scaler:
                image = scaler.reformat(frame, format="rgb24").to_ndarray()
            else:
                image = frame.to_ndarray(format="rgb24")
            n += image.shape[0] > 0
    return n


def hybridfer_frames(path: Path) -> int:
    return sum(1 for _ in read_video(path))


def opencv_frames(path: Path) -> int:
    import cv2

    capture = cv2.VideoCapture(str(path))
    n = 0
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            n += image.shape[0] > 0
    finally:
        capture.release()
    return n


def imageio_frames(path: Path) -> int:
    import imageio.v3 as iio

    return sum(1 for image in iio.imiter(path, plugin="pyav") if image.shape[0] > 0)


def best_time(fn: Callable[[], int], repeat: int, expected: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        n = fn()
        times.append(time.perf_counter() - start)
        if n != expected:
            raise SystemExit(f"decoded {n} frames, expected {expected}")
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each decoder (best counts)")
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT (default 640x480)")
    parser.add_argument("--keep", type=Path, default=None, help="write the clip here and keep it")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))

    import av

    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs visible)")
    print(f"PyAV {av.__version__} (FFmpeg {av.ffmpeg_version_info})", end="")
    decoders: list[tuple[str, Callable[[Path], int]]] = [
        ("PyAV, thread_type=AUTO", lambda p: pyav_frames(p, "AUTO")),
        ("PyAV, default threading (SLICE)", lambda p: pyav_frames(p, None)),
        ("PyAV AUTO, frame.to_ndarray(rgb24)", lambda p: pyav_frames(p, "AUTO", False)),
        ("hybridfer.video.read_video", hybridfer_frames),
    ]
    try:
        import cv2

        print(f", OpenCV {cv2.__version__}", end="")
        decoders.append(("OpenCV VideoCapture + cvtColor", opencv_frames))
    except ImportError:
        print(", OpenCV not installed (skipped)", end="")
    try:
        import imageio

        print(f", imageio {imageio.__version__}", end="")
        decoders.append(("imageio.v3 (pyav plugin)", imageio_frames))
    except ImportError:
        print(", imageio not installed (skipped)", end="")
    print()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "clip.mp4"
        start = time.perf_counter()
        write_clip(path, args.seconds, width, height)
        info = video_info(path)
        print(
            f"clip: {info.width}x{info.height}, {info.fps:g} fps, {info.n_frames} frames, "
            f"H.264 {path.stat().st_size / 1e6:.1f} MB, written in "
            f"{time.perf_counter() - start:.1f} s (VideoWriter, libx264 veryfast)"
        )
        results = []
        for name, fn in decoders:
            try:
                seconds = best_time(lambda fn=fn: fn(path), args.repeat, info.n_frames)
            except Exception as exc:  # a decoder that cannot read the clip is reported
                print(f"{name}: failed ({type(exc).__name__}: {exc})")
                continue
            results.append((name, info.n_frames / seconds))
    reference = results[0][1]
    width = max(len(name) for name, _ in results)
    print(f"\n{'decoder':<{width}}  frames/s  vs PyAV AUTO")
    for name, fps in results:
        print(f"{name:<{width}}  {fps:8.0f}  {fps / reference:10.2f}x")


if __name__ == "__main__":
    main()
