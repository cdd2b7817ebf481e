"""Frame sequences: windows of clips, per-frame features, LSTM head with grouped CV."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.model_selection import StratifiedGroupKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from hybridfer.classifiers.lstm_head import LSTMHeadClassifier
from hybridfer.data.sequences import (
    PerFrame,
    clips_from_paths,
    frames_from_dataset,
    make_frame_windows,
)

torch.set_num_threads(1)


def test_windows_of_each_clip_in_frame_order():
    # clip "a": 5 frames given out of order; clip "b": 2 frames
    clips = np.array(["a", "a", "b", "a", "a", "b", "a"])
    order = np.array([3, 1, 1, 0, 2, 0, 4])
    X = np.arange(7)[:, None] * 10.0  # one feature per frame
    y = np.array(["x", "x", "z", "y", "y", "z", "x"])
    w = make_frame_windows(X, clips, window=3, stride=1, y=y, order=order)
    # "a" sorted by frame number is rows 3, 1, 4, 0, 6; "b" is too short and dropped
    np.testing.assert_array_equal(w.indices, [[3, 1, 4], [1, 4, 0], [4, 0, 6]])
    assert w.X.shape == (3, 3, 1)
    np.testing.assert_array_equal(w.X[0, :, 0], [30.0, 10.0, 40.0])
    np.testing.assert_array_equal(w.y, ["y", "x", "x"])  # label of the last frame
    assert list(w.clips) == ["a"] * 3 and list(w.groups) == ["a"] * 3
    assert len(w) == 3


def test_stride_cover_end_padding_and_label_rules():
    clips = ["c"] * 6
    y = ["p", "p", "q", "q", "q", "r"]
    w = make_frame_windows(np.arange(6), clips, window=3, stride=2, y=y)
    np.testing.assert_array_equal(w.indices, [[0, 1, 2], [2, 3, 4], [3, 4, 5]])  # end covered
    w = make_frame_windows(np.arange(6), clips, window=3, stride=2, y=y, cover_end=False)
    np.testing.assert_array_equal(w.indices, [[0, 1, 2], [2, 3, 4]])
    for rule, expected in (("first", "p"), ("center", "p"), ("majority", "p"), ("last", "q")):
        w = make_frame_windows(np.arange(6), clips, window=3, stride=3, y=y, label=rule)
        assert w.y[0] == expected, rule
    w = make_frame_windows(np.arange(6), clips, window=6, y=y, label=lambda labels: labels[2])
    assert w.y.tolist() == ["q"]
    short = make_frame_windows(np.arange(2), ["s", "s"], window=4, pad="first")
    np.testing.assert_array_equal(short.indices, [[0, 0, 0, 1]])
    short = make_frame_windows(np.arange(2), ["s", "s"], window=4, pad="last")
    np.testing.assert_array_equal(short.indices, [[0, 1, 1, 1]])


def test_groups_and_errors():
    clips = ["a", "a", "b", "b"]
    w = make_frame_windows(np.zeros((4, 2)), clips, window=2, groups=["S1", "S1", "S2", "S2"])
    assert w.groups.tolist() == ["S1", "S2"]
    with pytest.raises(ValueError, match="spans several groups"):
        make_frame_windows(np.zeros(4), clips, window=2, groups=["S1", "S2", "S2", "S2"])
    with pytest.raises(ValueError, match="no clip has 3 frames"):
        make_frame_windows(np.zeros(4), clips, window=3)
    with pytest.raises(ValueError, match="y has 3 entries"):
        make_frame_windows(np.zeros(4), clips, window=2, y=[0, 1, 2])
    with pytest.raises(ValueError, match="window must be"):
        make_frame_windows(np.zeros(4), clips, window=0)


def test_paths_and_clip_names():
    paths = [
        "/d/happy/S005_001_00000011.png",
        "/d/happy/S005_001_00000009.png",
        "/d/sad/S010_002_00000003.png",
    ]
    clips, frames = clips_from_paths(paths)
    assert clips.tolist() == ["S005_001", "S005_001", "S010_002"]
    assert frames.tolist() == [11, 9, 3]
    w = make_frame_windows(paths, clips, window=2, order=frames)
    assert w.X.shape == (1, 2) and w.X[0, 0].endswith("00000009.png")
    with pytest.raises(ValueError, match="does not match"):
        clips_from_paths(["face.png"])


def _clips(n_clips=40, T=5, size=8, seed=0):
    """Clips whose brightness rises (label 'onset') or falls ('offset') over the frames; each
    subject owns two clips."""
    rng = np.random.default_rng(seed)
    frames, clips, labels, subjects = [], [], [], []
    for c in range(n_clips):
        rising = c % 2 == 0
        levels = np.linspace(60, 200, T)[:: 1 if rising else -1]
        for t in range(T):
            img = np.clip(levels[t] + rng.normal(0, 30, (size, size)), 0, 255).astype(np.uint8)
            frames.append(img)
            clips.append(f"clip{c}")
            labels.append("onset" if rising else "offset")
            subjects.append(f"S{c // 2}")
    return np.stack(frames), np.array(clips), np.array(labels), np.array(subjects)


def _brightness(images):
    return np.asarray(images, dtype=np.float64).reshape(len(images), -1).mean(1, keepdims=True)


def test_per_frame_features_feed_the_lstm_with_grouped_cv():
    frames, clips, labels, subjects = _clips()
    w = make_frame_windows(frames, clips, window=4, stride=1, y=labels, groups=subjects)
    assert w.X.shape == (80, 4, 8, 8) and len(np.unique(w.groups)) == 20
    per_frame = FunctionTransformer(_brightness, feature_names_out=lambda *_: ["brightness"])
    model = Pipeline(
        [
            ("frames", PerFrame(per_frame)),
            (
                "lstm",
                LSTMHeadClassifier(
                    hidden_size=8, epochs=40, batch_size=16, learning_rate=1e-2, random_state=0
                ),
            ),
        ]
    )
    cv = StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=0)
    # a subject's clips never sit on both sides of a split
    for train, test in cv.split(w.X, w.y, w.groups):
        assert not set(w.groups[train]) & set(w.groups[test])
    scores = cross_val_score(model, w.X, w.y, groups=w.groups, cv=cv)
    assert scores.mean() > 0.9  # only the order of the frames tells onset from offset
    fitted = model.fit(w.X, w.y)
    assert fitted.named_steps["frames"].transform(w.X[:3]).shape == (3, 4, 1)


def test_per_frame_flat_output_and_names():
    frames, clips, labels, _ = _clips(n_clips=6, T=3)
    w = make_frame_windows(frames, clips, window=3, y=labels)
    per_frame = FunctionTransformer(_brightness, feature_names_out=lambda *_: ["brightness"])
    flat = PerFrame(per_frame, output="flat").fit(w.X, w.y)
    assert flat.transform(w.X).shape == (6, 3)
    assert flat.get_feature_names_out().tolist() == [f"t{t}.brightness" for t in range(3)]
    with pytest.raises(ValueError, match="windows of 2 frames"):
        flat.transform(w.X[:, :2])


@pytest.mark.realdata
def test_ckplus_clips(ckplus_root):
    from hybridfer.data import load_ckplus48

    ds = load_ckplus48(ckplus_root, lazy=True)
    w = frames_from_dataset(ds, window=3)
    assert len(w) == len(np.unique(clips_from_paths(ds.paths)[0]))
    assert w.X.shape == (len(w), 3)  # paths, read lazily by an extractor
    # one subject per window group, frames of a window from one clip, in frame order
    for idx in w.indices[:50]:
        clip_ids, frame_no = clips_from_paths(ds.paths[idx])
        assert len(set(clip_ids)) == 1 and np.all(np.diff(frame_no) > 0)
        assert len(set(ds.labels[idx])) == 1
    assert set(w.groups) == set(ds.groups)
