"""Face tracks across frames (IoUTracker) and smoothing of a track's probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from hybridfer.faces.tracking import IoUTracker, smooth_probabilities


def test_two_moving_faces_keep_their_ids():
    tracker = IoUTracker()
    ids = []
    for t in range(10):
        a = (10 + 4 * t, 20, 40, 40)  # moving right
        b = (300 - 3 * t, 100 + 2 * t, 50, 50)  # moving left and down
        boxes = [a, b] if t % 2 == 0 else [b, a]  # the detector's order changes
        ids.append(tracker.update(boxes))
    assert ids[0] == [0, 1]
    assert all(step == ([0, 1] if t % 2 == 0 else [1, 0]) for t, step in enumerate(ids))
    assert tracker.n_tracks == 2


def test_new_face_gets_a_new_id_and_ids_are_not_reused():
    tracker = IoUTracker(max_gap=0)
    assert tracker.update([(0, 0, 30, 30)]) == [0]
    assert tracker.update([(2, 0, 30, 30), (200, 200, 30, 30)]) == [0, 1]
    assert tracker.update([(4, 0, 30, 30)]) == [0]  # track 1 missed once: ended (max_gap=0)
    assert tracker.update([(4, 0, 30, 30), (200, 200, 30, 30)]) == [0, 2]  # 1 is not reused
    assert tracker.update([]) == []


def test_gap_within_max_gap_continues_the_track():
    tracker = IoUTracker(max_gap=2)
    assert tracker.update([(0, 0, 40, 40)]) == [0]
    assert tracker.update([]) == []
    assert tracker.update([]) == []  # unseen for 2 updates
    assert tracker.update([(3, 3, 40, 40)]) == [0]
    for _ in range(3):  # unseen for 3 updates: more than max_gap
        tracker.update([])
    assert tracker.update([(3, 3, 40, 40)]) == [1]


def test_disappearance_and_far_jump():
    tracker = IoUTracker(iou_threshold=0.3)
    tracker.update([(0, 0, 40, 40), (100, 0, 40, 40)])
    assert tracker.update([(101, 1, 40, 40)]) == [1]  # face 0 left the picture
    assert tracker.update([(400, 300, 40, 40)]) == [2]  # no overlap: another face


def test_one_to_one_assignment():
    """Each box goes to one track, and as many boxes as possible keep a track: greedy
    matching would give box A to track 0 (its best overlap) and box B a new id."""
    tracker = IoUTracker(iou_threshold=0.3)
    assert tracker.update([(0, 0, 10, 10), (6, 0, 10, 10)]) == [0, 1]
    a, b = (2, 0, 10, 10), (-3, 0, 10, 10)
    # IoU: track 0 - A 0.67, track 0 - B 0.54, track 1 - A 0.43, track 1 - B 0.05
    assert tracker.update([a, b]) == [1, 0]
    assert len(set(tracker.update([(1, 0, 10, 10)] * 2))) == 2  # never one id twice


def test_threshold_decides_a_match():
    for threshold, expected in ((0.5, [1]), (0.2, [0])):
        tracker = IoUTracker(iou_threshold=threshold)
        tracker.update([(0, 0, 10, 10)])
        assert tracker.update([(5, 0, 10, 10)]) == expected  # IoU = 50 / 150 = 1/3


def test_reset_starts_again():
    tracker = IoUTracker()
    tracker.update([(0, 0, 10, 10), (50, 50, 10, 10)])
    tracker.reset()
    assert tracker.n_tracks == 0
    assert tracker.update([(50, 50, 10, 10)]) == [0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"iou_threshold": 0}, "iou_threshold"),
        ({"iou_threshold": 1.5}, "iou_threshold"),
        ({"iou_threshold": "0.3"}, "iou_threshold"),
        ({"max_gap": -1}, "max_gap"),
        ({"max_gap": 1.5}, "max_gap"),
    ],
)
def test_tracker_parameters_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IoUTracker(**kwargs)


@pytest.mark.parametrize(
    "boxes, match",
    [
        ([(0, 0, 10)], r"shape \(n, 4\)"),
        ([(0, 0, 10, -1)], "height >= 0"),
        ([(0, np.nan, 10, 10)], "finite"),
        ([("a", 0, 10, 10)], "numbers"),
    ],
)
def test_bad_boxes(boxes, match):
    with pytest.raises(ValueError, match=match):
        IoUTracker().update(boxes)


# --- smoothing -----------------------------------------------------------------------------


def random_rows(rng, n, k=7):
    p = rng.random((n, k))
    return p / p.sum(axis=1, keepdims=True)


def test_window_one_is_identity(rng):
    p = random_rows(rng, 12)
    out = smooth_probabilities(p, np.zeros(12, int), np.arange(12), 1)
    np.testing.assert_array_equal(out, p)
    assert out is not p


def test_constant_track_unchanged_and_rows_sum_to_one(rng):
    row = random_rows(rng, 1)[0]
    p = np.tile(row, (9, 1))
    out = smooth_probabilities(p, np.zeros(9, int), np.arange(9), 5)
    np.testing.assert_allclose(out, p, atol=1e-12)
    q = rng.random((15, 4)) * 3  # not normalised
    out = smooth_probabilities(q, np.repeat([0, 1, 2], 5), np.tile(np.arange(5), 3), 3)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)


def test_centered_moving_average_in_frame_order():
    # one track, rows given out of frame order; one-hot rows of classes 0, 1, 2, 3, 4
    frames = np.array([3, 0, 4, 1, 2])
    p = np.eye(5)[frames]  # the row of frame f is one-hot at f
    out = smooth_probabilities(p, [7] * 5, frames, 3)
    by_frame = out[np.argsort(frames)]
    expected = np.array(
        [
            [1 / 2, 1 / 2, 0, 0, 0],  # the window is cut at the ends of the track
            [1 / 3, 1 / 3, 1 / 3, 0, 0],
            [0, 1 / 3, 1 / 3, 1 / 3, 0],
            [0, 0, 1 / 3, 1 / 3, 1 / 3],
            [0, 0, 0, 1 / 2, 1 / 2],
        ]
    )
    np.testing.assert_allclose(by_frame, expected)


def test_tracks_do_not_mix():
    # two tracks interleaved frame by frame, each constant: smoothing keeps them apart
    n = 10
    tracks = np.tile([0, 1], n // 2)
    order = np.repeat(np.arange(n // 2), 2)
    p = np.where(tracks[:, None] == 0, [[1.0, 0.0]], [[0.0, 1.0]])
    out = smooth_probabilities(p, tracks, order, 4)
    np.testing.assert_allclose(out, p)
    # string track labels work as well
    out = smooth_probabilities(p, np.where(tracks == 0, "a", "b"), order, 4)
    np.testing.assert_allclose(out, p)


def test_even_window_and_all_zero_rows():
    p = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    out = smooth_probabilities(p, [0, 0, 1, 0], [0, 1, 0, 2], 2)  # one row before, none after
    np.testing.assert_allclose(out, [[1.0, 0.0], [0.5, 0.5], [0.0, 0.0], [0.5, 0.5]])


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.ones(4), [0] * 4, range(4), 3), "2-D"),
        ((np.ones((4, 2)), [0] * 3, range(4), 3), "tracks"),
        ((np.ones((4, 2)), [0] * 4, range(5), 3), "order"),
        ((np.ones((4, 2)), [0] * 4, list("abcd"), 3), "order"),
        ((np.ones((4, 2)), [0] * 4, range(4), 0), "window"),
        ((np.ones((4, 2)), [0] * 4, range(4), 2.0), "window"),
        ((-np.ones((4, 2)), [0] * 4, range(4), 3), ">= 0"),
        ((np.full((4, 2), np.nan), [0] * 4, range(4), 3), "finite"),
    ],
)
def test_smoothing_inputs_checked(args, match):
    with pytest.raises(ValueError, match=match):
        smooth_probabilities(*args)
