"""Following faces across video frames, and smoothing a track's class probabilities.

:class:`IoUTracker` links each frame's face boxes to those of the frames before by their
overlap (intersection over union), with an optimal one-to-one assignment
(:func:`scipy.optimize.linear_sum_assignment`): a face keeps its track id while it moves less
than its own size between sampled frames. :func:`smooth_probabilities` averages a track's
per-frame class probabilities over a centered window, so a label does not flicker from frame
to frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from hybridfer._messages import plain_repr
from hybridfer.faces.detection import iou_matrix

__all__ = ["IoUTracker", "smooth_probabilities"]


def _check_boxes(boxes: object) -> np.ndarray:
    try:
        arr = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"boxes must be a sequence of (x, y, w, h) boxes (numbers), got {type(boxes).__name__}"
        ) from None
    if arr.size == 0:
        return np.zeros((0, 4))
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape (n, 4), (x, y, w, h) each, got shape {arr.shape}")
    if not np.isfinite(arr).all() or (arr[:, 2:] < 0).any():
        raise ValueError("boxes must be finite, with a width and height >= 0 (x, y, w, h)")
    return arr


class IoUTracker:
    """Give each face box a track id that it keeps from frame to frame.

    Call :meth:`update` once per frame (sampled frames, in time order) with that frame's
    boxes. Each box is matched to at most one live track, maximising the summed IoU with the
    track's last box over pairs whose IoU is at least ``iou_threshold``; an unmatched box
    starts a new track. A track not matched for more than ``max_gap`` consecutive updates
    ends. Ids are 0, 1, 2, ... in order of appearance and never reused until :meth:`reset`.

    Parameters
    ----------
    iou_threshold : float, default=0.3
        The least IoU, in (0, 1], between a track's last box and a new box for them to match.
    max_gap : int, default=5
        How many consecutive updates a track may go unmatched (a missed detection, a face
        turned away) and still be continued; 0 ends a track at its first miss.

    Examples
    --------
    >>> tracker = IoUTracker()
    >>> tracker.update([(10, 10, 40, 40), (200, 50, 40, 40)])
    [0, 1]
    >>> tracker.update([(205, 52, 40, 40), (12, 11, 40, 40)])
    [1, 0]
    """

    def __init__(self, iou_threshold: float = 0.3, max_gap: int = 5) -> None:
        if (
            isinstance(iou_threshold, bool)
            or not isinstance(iou_threshold, (int, float, np.integer, np.floating))
            or not 0 < iou_threshold <= 1
        ):
            raise ValueError(f"iou_threshold must be in (0, 1], got {plain_repr(iou_threshold)}")
        if isinstance(max_gap, bool) or not isinstance(max_gap, (int, np.integer)) or max_gap < 0:
            raise ValueError(f"max_gap must be an integer >= 0, got {plain_repr(max_gap)}")
        self.iou_threshold = float(iou_threshold)
        self.max_gap = int(max_gap)
        self.reset()

    def reset(self) -> None:
        """Forget every track; the next ids start again at 0 (call it before a new video)."""
        self._ids: list[int] = []  # live tracks
        self._boxes = np.zeros((0, 4))  # their last boxes
        self._last_seen: list[int] = []  # the update at which each was last matched
        self._next_id = 0
        self._step = -1

    @property
    def n_tracks(self) -> int:
        """How many tracks have been started since the last :meth:`reset`."""
        return self._next_id

    def update(self, boxes: Sequence[Sequence[float]] | np.ndarray) -> list[int]:
        """Match one frame's boxes to the tracks; return one track id per box, in order.

        Parameters
        ----------
        boxes : sequence of (x, y, w, h), or array (n, 4)
            The frame's face boxes in pixels; an empty sequence for a frame with no face.

        Returns
        -------
        list of int
            The track id of each box.
        """
        new = _check_boxes(boxes)
        self._step += 1
        alive = [self._step - seen - 1 <= self.max_gap for seen in self._last_seen]
        self._ids = [t for t, a in zip(self._ids, alive, strict=True) if a]
        self._last_seen = [s for s, a in zip(self._last_seen, alive, strict=True) if a]
        self._boxes = self._boxes[np.asarray(alive, dtype=bool)] if alive else np.zeros((0, 4))

        ids = [-1] * len(new)
        if len(new) and len(self._ids):
            iou = iou_matrix(self._boxes, new)
            valid = iou >= self.iou_threshold
            # pairs below the threshold cost more than any valid set of pairs can gain
            cost = np.where(valid, -iou, float(min(iou.shape) + 1))
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                if valid[r, c]:
                    ids[c] = self._ids[r]
                    self._boxes[r] = new[c]
                    self._last_seen[r] = self._step
        fresh = [c for c, t in enumerate(ids) if t < 0]
        for c in fresh:
            ids[c] = self._next_id
            self._ids.append(self._next_id)
            self._last_seen.append(self._step)
            self._next_id += 1
        if fresh:
            self._boxes = np.concatenate([self._boxes, new[fresh]])
        return ids


def smooth_probabilities(
    probabilities: np.ndarray,
    tracks: Sequence | np.ndarray,
    order: Sequence | np.ndarray,
    window: int,
) -> np.ndarray:
    """Average each track's class probabilities over a centered window of its rows.

    The rows of one track (equal values of ``tracks``) are put in ``order`` (the frame
    index); each is replaced by the mean of the ``window`` consecutive rows of its track
    centered on it (``window // 2`` rows before, ``(window - 1) // 2`` after, fewer at the
    ends of the track), then renormalised to sum to 1. Rows of other tracks never mix, and
    the output keeps the input's row order.

    Parameters
    ----------
    probabilities : array (n, k)
        Class probabilities, one row per face and frame; finite and >= 0.
    tracks : array (n,)
        The track of each row (any values; equal values are one track).
    order : array (n,)
        The row's place in its track (frame index or time); ties keep the input order.
    window : int
        Rows averaged, >= 1; 1 returns a copy of the probabilities, unchanged.

    Returns
    -------
    ndarray (n, k) of float64
        Rows summing to 1 (rows that were all zeros stay zeros); with ``window=1``, the
        input as it is.
    """
    proba = np.asarray(probabilities, dtype=np.float64)
    if proba.ndim != 2:
        raise ValueError(
            f"probabilities must be a 2-D array (n_rows, n_classes), got shape {proba.shape}"
        )
    if not np.isfinite(proba).all() or (proba < 0).any():
        raise ValueError("probabilities must be finite and >= 0")
    n = len(proba)
    tracks = np.asarray(tracks)
    order = np.asarray(order)
    for name, arr in (("tracks", tracks), ("order", order)):
        if arr.ndim != 1 or len(arr) != n:
            raise ValueError(
                f"{name} must be a 1-D array with one value per row of probabilities ({n}), "
                f"got shape {arr.shape}"
            )
    if order.dtype.kind not in "biuf" or (order.dtype.kind == "f" and not np.isfinite(order).all()):
        raise ValueError(f"order must hold finite numbers (frame indices), got dtype {order.dtype}")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {plain_repr(window)}")
    out = proba.copy()
    if window == 1 or n == 0:
        return out
    _, groups = np.unique(tracks, return_inverse=True)
    rows = np.lexsort((np.arange(n), order, groups))  # by track, then order, then position
    g = groups.ravel()[rows]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    ends = np.r_[starts[1:], n]
    group_of = np.repeat(np.arange(len(starts)), ends - starts)
    pos = np.arange(n)
    lo = np.maximum(starts[group_of], pos - window // 2)
    hi = np.minimum(ends[group_of], pos + (window - 1) // 2 + 1)
    cumsum = np.concatenate([np.zeros((1, proba.shape[1])), np.cumsum(proba[rows], axis=0)])
    out[rows] = (cumsum[hi] - cumsum[lo]) / (hi - lo)[:, None]
    total = out.sum(axis=1, keepdims=True)
    np.divide(out, total, out=out, where=total > 0)
    return out
