"""Video reading and writing (hybridfer.video): a short clip written by the test, read back."""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import av
import numpy as np
import pytest

from hybridfer.video import (
    VIDEO_SUFFIXES,
    Frame,
    VideoInfo,
    VideoNotFoundError,
    VideoReadError,
    VideoWriter,
    is_video,
    read_video,
    video_info,
)

H, W, N, FPS, SIDE = 120, 160, 20, 10, 24


def square_frame(i: int, height: int = H, width: int = W) -> np.ndarray:
    """Black frame with a white SIDE x SIDE square whose left edge is at x = 6 * i."""
    image = np.zeros((height, width, 3), np.uint8)
    image[40 : 40 + SIDE, 6 * i : 6 * i + SIDE] = 255
    return image


def square_x(image: np.ndarray) -> float:
    """The square's left edge, from the bright columns."""
    gray = image if image.ndim == 2 else image.mean(axis=2)
    return float(np.flatnonzero(gray.max(axis=0) > 128)[0])


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    with VideoWriter(path, fps=FPS) as writer:
        for i in range(N):
            writer.write(square_frame(i))
    return path


@pytest.fixture(scope="module")
def noise_clip(tmp_path_factory) -> Path:
    """Noise frames: a clip large enough to cut in the middle of its data."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("video") / "noise.mp4"
    with VideoWriter(path, fps=FPS) as writer:
        for _ in range(N):
            writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    return path


def mdat_span(data: bytes) -> tuple[int, int]:
    """Offset and size of the MP4's media data box (VideoWriter writes the index first)."""
    offset = 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"mdat":
            return offset, size
        offset += size
    raise AssertionError("no mdat box")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# --- reading -------------------------------------------------------------------------------


def test_read_every_frame(clip):
    frames = list(read_video(clip))
    assert len(frames) == N
    assert all(isinstance(f, Frame) for f in frames)
    assert [f.index for f in frames] == list(range(N))
    np.testing.assert_allclose([f.time_s for f in frames], np.arange(N) / FPS, atol=1e-6)
    for i, f in enumerate(frames):
        assert f.image.shape == (H, W, 3) and f.image.dtype == np.uint8
        assert f.image.flags.c_contiguous and f.image.flags.writeable
        assert abs(square_x(f.image) - 6 * i) <= 1  # the content of frame i, in order
        assert np.abs(f.image.astype(int) - square_frame(i)).mean() < 4  # lossy, but close


def test_fps_sampling_by_time(clip):
    half = list(read_video(clip, fps=5))
    assert [f.index for f in half] == list(range(0, N, 2))
    np.testing.assert_allclose([f.time_s for f in half], np.arange(0, N, 2) / FPS, atol=1e-6)
    # 3 fps: the first frame at or after each k / 3 s
    assert [f.index for f in read_video(clip, fps=3)] == [0, 4, 7, 10, 14, 17]
    assert [f.index for f in read_video(clip, fps=1)] == [0, 10]
    # a rate above the video's yields every frame once
    assert [f.index for f in read_video(clip, fps=100)] == list(range(N))
    assert [f.index for f in read_video(clip, fps=10.0)] == list(range(N))


def test_gray_and_max_side(clip):
    gray = next(read_video(clip, color="gray"))
    assert gray.image.shape == (H, W) and gray.image.dtype == np.uint8
    small = list(read_video(clip, max_side=80))
    assert small[0].image.shape == (60, 80, 3)
    assert abs(square_x(small[5].image) - 3 * 5) <= 1  # scaled by one half
    assert next(read_video(clip, color="gray", max_side=40)).image.shape == (30, 40)
    assert next(read_video(clip, max_side=1000)).image.shape == (H, W, 3)  # never upscaled


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"fps": 0}, "fps"),
        ({"fps": -1.0}, "fps"),
        ({"fps": float("nan")}, "fps"),
        ({"fps": "10"}, "fps"),
        ({"color": "bgr"}, "color"),
        ({"max_side": 0}, "max_side"),
        ({"max_side": 2.5}, "max_side"),
    ],
)
def test_read_parameters_checked(clip, kwargs, match):
    with pytest.raises(ValueError, match=match):
        read_video(clip, **kwargs)


def test_video_info(clip):
    info = video_info(clip)
    assert isinstance(info, VideoInfo)
    assert (info.width, info.height, info.n_frames) == (W, H, N)
    assert info.fps == pytest.approx(FPS)
    assert info.duration_s == pytest.approx(N / FPS, abs=0.05)
    assert info.path == str(clip)


def test_is_video():
    assert is_video("a/b/clip.mp4") and is_video(Path("CLIP.MOV")) and is_video("x.webm")
    assert all(is_video(f"x{s}") for s in VIDEO_SUFFIXES)
    assert not is_video("face.png") and not is_video("notes") and not is_video(3)


def test_generator_closes_the_file(clip):
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to count open files")
    before = open_fds()
    frames = read_video(clip)  # opened and checked, then closed
    assert open_fds() == before
    next(frames)
    frames.close()  # stopped early
    assert open_fds() == before
    assert len(list(read_video(clip, fps=5))) == 10  # exhausted
    assert open_fds() == before


def test_display_rotation_applied(tmp_path):
    """A phone video stored landscape with a 90 degree display matrix reads upright."""
    path = tmp_path / "portrait.mp4"
    image = np.zeros((48, 64, 3), np.uint8)
    image[:8, :8] = 255  # top-left corner
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4")
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.set_display_rotation(90)  # counter-clockwise
        for _ in range(3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    frame = next(read_video(path, color="gray"))
    assert frame.image.shape == (64, 48)
    assert frame.image[-8:, :8].mean() > 200 and frame.image[:8, :8].mean() < 50  # bottom-left
    info = video_info(path)
    assert (info.width, info.height) == (48, 64)


# --- bad inputs ----------------------------------------------------------------------------


def both_readers(path):
    """video_info and read_video (the error must come at the call, not at the first frame)."""
    return [lambda: video_info(path), lambda: read_video(path)]


def test_missing_file(tmp_path):
    path = tmp_path / "absent.mp4"
    for call in both_readers(path):
        with pytest.raises(VideoNotFoundError, match="absent.mp4") as info:
            call()
        assert isinstance(info.value, FileNotFoundError)
        assert isinstance(info.value, VideoReadError)


def test_folder(tmp_path):
    for call in both_readers(tmp_path):
        with pytest.raises(VideoReadError, match="folder"):
            call()


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    for call in both_readers(path):
        with pytest.raises(VideoReadError, match=r"empty\.mp4.*empty \(0 bytes\)"):
            call()


def test_text_renamed_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("these are not the frames you are looking for\n" * 20)
    for call in both_readers(path):
        with pytest.raises(VideoReadError, match=r"notes\.mp4.*Invalid data"):
            call()


def test_audio_only(tmp_path):
    path = tmp_path / "speech.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for i in range(5):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 16000, i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    for call in both_readers(path):
        with pytest.raises(VideoReadError, match=r"speech\.mp4.*no video stream.*audio"):
            call()


def test_truncated_without_a_decodable_frame(noise_clip, tmp_path):
    data = noise_clip.read_bytes()
    start, _ = mdat_span(data)
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: start + 8])  # the index survives, no frame data
    frames = read_video(path)  # the container opens
    with pytest.raises(VideoReadError, match=r"cut\.mp4.*no decodable video frame"):
        list(frames)
    with pytest.raises(VideoReadError, match="no decodable video frame"):
        video_info(path)


def test_truncated_yields_the_decodable_frames(noise_clip, tmp_path):
    data = noise_clip.read_bytes()
    start, size = mdat_span(data)
    path = tmp_path / "half.mp4"
    path.write_bytes(data[: start + size // 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a warning is allowed, not an error
        frames = list(read_video(path))
    assert 0 < len(frames) < N
    assert [f.index for f in frames] == list(range(len(frames)))
    assert all(f.image.shape == (48, 64, 3) for f in frames)


def test_damaged_packets_are_skipped(noise_clip, tmp_path):
    data = bytearray(noise_clip.read_bytes())
    start, size = mdat_span(bytes(data))
    middle = start + size // 2
    data[middle : middle + 3000] = bytes(3000)  # about two frames' worth of zeros
    path = tmp_path / "damaged.mp4"
    path.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match=r"damaged\.mp4.*could not be decoded"):
        frames = list(read_video(path))
    assert N // 2 <= len(frames) < N  # the frames after the damage are read too
    times = [f.time_s for f in frames]
    assert times == sorted(times) and times[-1] == pytest.approx((N - 1) / FPS)


# --- writing -------------------------------------------------------------------------------


def test_writer_codec(clip):
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        expected = "h264" if "libx264" in av.codecs_available else "mpeg4"
        assert stream.codec_context.name == expected
        assert stream.codec_context.pix_fmt == "yuv420p"


def test_writer_is_atomic(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(path, fps=FPS) as writer:
            for i in range(5):
                writer.write(square_frame(i))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []  # no file, no temporary file

    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(path, fps=FPS) as writer:
            writer.write(square_frame(0))
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old"  # the previous file untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_writer_without_frames_saves_nothing(tmp_path):
    path = tmp_path / "none.mp4"
    with pytest.raises(ValueError, match="no frame was written"):
        with VideoWriter(path, fps=FPS):
            pass
    assert list(tmp_path.iterdir()) == []


def test_writer_odd_size_and_gray(tmp_path):
    path = tmp_path / "odd.mp4"
    with VideoWriter(path, fps=FPS) as writer:
        for i in range(3):
            writer.write(square_frame(i, 47, 63)[:, :, 0])  # gray, odd height and width
    assert writer.n_frames == 3
    info = video_info(path)
    assert (info.width, info.height, info.n_frames) == (64, 48, 3)  # padded by one pixel
    frames = list(read_video(path))
    assert len(frames) == 3
    # the padding repeats the edge: the last column copies the one before
    image = frames[0].image.astype(int)
    assert np.abs(image[:47, 63] - image[:47, 62]).mean() < 8


def test_writer_checks_frames(tmp_path):
    path = tmp_path / "bad.mp4"
    with pytest.raises(ValueError, match="differs"):
        with VideoWriter(path, fps=FPS, size=(48, 64)) as writer:
            writer.write(np.zeros((48, 64, 3), np.uint8))
            writer.write(np.zeros((48, 66, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        with VideoWriter(path, fps=FPS) as writer:
            writer.write(np.zeros((48, 64, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        with VideoWriter(path, fps=FPS) as writer:
            writer.write(np.zeros((48, 64, 4), np.uint8))
    assert not path.exists()
    with pytest.raises(RuntimeError, match="context manager"):
        VideoWriter(path, fps=FPS).write(np.zeros((48, 64, 3), np.uint8))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"path": "x.avi", "fps": 10}, "writes"),
        ({"path": "x.mp4", "fps": 0}, "fps"),
        ({"path": "x.mp4", "fps": float("inf")}, "fps"),
        ({"path": "x.mp4", "fps": 10, "size": (48,)}, "size"),
        ({"path": "x.mp4", "fps": 10, "size": (0, 64)}, "size"),
    ],
)
def test_writer_parameters_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VideoWriter(**kwargs)


def test_writer_fractional_rate(tmp_path):
    path = tmp_path / "ntsc.mp4"
    with VideoWriter(path, fps=29.97) as writer:
        for i in range(6):
            writer.write(square_frame(i, 48, 64))
    assert video_info(path).fps == pytest.approx(29.97, abs=0.01)
    times = [f.time_s for f in read_video(path)]
    np.testing.assert_allclose(np.diff(times), 1 / 29.97, atol=1e-3)
