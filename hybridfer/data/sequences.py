"""Frame sequences: windows of consecutive frames of clips, for sequence models and grouped CV.

Video-like data (CK+ sequences, pain clips) come as one image per frame. To train an LSTM on
*frames* rather than on one image's spatial cells:

1. :func:`make_frame_windows` cuts each clip (frames sorted by their frame number) into windows
   of ``window`` frames every ``stride`` frames, gives each window a label (its last, first,
   centre or majority frame label) and a group (the clip's subject, else the clip), and
   returns the windows of whatever was given - images ``(m, T, H, W)``, paths ``(m, T)`` or
   per-frame features ``(m, T, d)``;
2. :class:`PerFrame` wraps any per-image transformer (``MobileNetV3Features(output="pooled")``,
   ``CNNFeatures``...) so a pipeline maps windows of images to sequences of features
   ``(m, T, d)``;
3. :class:`~hybridfer.classifiers.LSTMHeadClassifier` reads those sequences; a
   ``StratifiedGroupKFold`` on ``windows.groups`` keeps each subject on one side of each split.

Example::

    ds = load_ckplus48(root)
    w = frames_from_dataset(ds, window=3)
    model = Pipeline([("frames", PerFrame(MobileNetV3Features())),
                      ("lstm", LSTMHeadClassifier())])
    cross_val_score(model, w.X, w.y, groups=w.groups, cv=make_cv(5, groups=w.groups))
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from hybridfer._messages import plain_repr

__all__ = [
    "FrameWindows",
    "PerFrame",
    "clips_from_paths",
    "frames_from_dataset",
    "make_frame_windows",
]

#: CK+ file names ``S005_001_00000011.png``: clip ``S005_001``, frame 11.
CKPLUS_FRAME_PATTERN = r"^(S\d+_\d+)_(\d+)"


@dataclass
class FrameWindows:
    """Windows of consecutive frames.

    Attributes
    ----------
    X : ndarray
        The windows: ``(m, T, ...)`` of the per-frame input (images, paths or features).
    y : ndarray of shape (m,) or None
        One label per window.
    groups : ndarray of shape (m,)
        Group of each window (the clip's subject, or the clip), for grouped CV.
    clips : ndarray of shape (m,)
        Clip of each window.
    indices : ndarray of int, shape (m, T)
        Positions in the original input of each window's frames.
    """

    X: np.ndarray
    y: np.ndarray | None
    groups: np.ndarray
    clips: np.ndarray
    indices: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)


def clips_from_paths(
    paths: Sequence[str], pattern: str = CKPLUS_FRAME_PATTERN
) -> tuple[np.ndarray, np.ndarray]:
    """Clip id and frame number of each file name (default: CK+'s ``S005_001_00000011``).

    ``pattern`` is a regular expression searched in the file name whose first group is the
    clip and second group the frame number.
    """
    import re

    regex = re.compile(pattern)
    clips, frames = [], []
    for p in paths:
        m = regex.search(Path(str(p)).name)
        if m is None or len(m.groups()) < 2:
            raise ValueError(
                f"file name {Path(str(p)).name!r} does not match {pattern!r} with two groups "
                "(clip, frame number)"
            )
        clips.append(m.group(1))
        frames.append(int(m.group(2)))
    return np.asarray(clips, dtype=str), np.asarray(frames, dtype=np.int64)


def _window_label(labels: np.ndarray, rule: str | Callable) -> Any:
    if callable(rule):
        return rule(labels)
    if rule == "last":
        return labels[-1]
    if rule == "first":
        return labels[0]
    if rule == "center":
        return labels[len(labels) // 2]
    if rule == "majority":
        counts = Counter(labels.tolist())
        best = max(counts.values())
        # ties go to the latest frame's label among the most frequent
        for value in labels[::-1].tolist():
            if counts[value] == best:
                return value
    raise ValueError(
        f"label must be 'last', 'first', 'center', 'majority' or a callable, got {plain_repr(rule)}"
    )


def make_frame_windows(
    X: Any,
    clips: Sequence,
    *,
    window: int,
    stride: int = 1,
    y: Sequence | None = None,
    order: Sequence | None = None,
    groups: Sequence | None = None,
    label: str | Callable = "last",
    pad: str | None = None,
    cover_end: bool = True,
) -> FrameWindows:
    """Cut per-frame data into windows of ``window`` consecutive frames of each clip.

    Parameters
    ----------
    X : array-like of shape (n, ...) or sequence of paths
        One entry per frame: images, file paths or feature vectors.
    clips : array-like of shape (n,)
        Clip (video/sequence) id of each frame.
    window : int
        Frames per window (T).
    stride : int, default=1
        Frames between the starts of consecutive windows of a clip.
    y : array-like of shape (n,), optional
        Frame labels; each window gets one by ``label``.
    order : array-like of shape (n,), optional
        Frame number within its clip (default: order of appearance).
    groups : array-like of shape (n,), optional
        Group of each frame (the subject); it must be the same for all frames of a clip.
        Default: the clip id.
    label : {"last", "first", "center", "majority"} or callable, default="last"
        Window label: of its last frame (the apex, for onset-to-apex clips like CK+), first,
        centre, the most frequent, or ``label(frame_labels) -> label``.
    pad : {None, "first", "last"}, default=None
        Clips shorter than ``window``: dropped (None), or padded by repeating their first
        frame at the start ("first") or their last frame at the end ("last").
    cover_end : bool, default=True
        Add a window ending at a clip's last frame when the stride would skip it.

    Returns
    -------
    FrameWindows

    Raises
    ------
    ValueError
        On mismatched lengths, a clip spanning several groups, or no window at all.
    """
    if not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be a positive int, got {plain_repr(window)}")
    if not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {plain_repr(stride)}")
    if pad not in (None, "first", "last"):
        raise ValueError(f"pad must be None, 'first' or 'last', got {plain_repr(pad)}")
    is_paths = isinstance(X, (list, tuple)) and len(X) > 0 and isinstance(X[0], (str, Path))
    data = np.asarray([str(p) for p in X]) if is_paths else np.asarray(X)
    n = len(data)
    clips = np.asarray(clips)
    for name, arr in (("clips", clips), ("y", y), ("order", order), ("groups", groups)):
        if arr is not None and len(arr) != n:
            raise ValueError(f"{name} has {len(arr)} entries but X has {n} frames")
    labels = None if y is None else np.asarray(y)
    frame_no = np.arange(n) if order is None else np.asarray(order)
    frame_groups = clips if groups is None else np.asarray(groups)

    windows: list[np.ndarray] = []
    win_clips, win_groups, win_labels = [], [], []
    for clip in dict.fromkeys(clips.tolist()):  # first-appearance order
        members = np.flatnonzero(clips == clip)
        members = members[np.argsort(frame_no[members], kind="stable")]
        clip_groups = np.unique(frame_groups[members])
        if len(clip_groups) > 1:
            raise ValueError(
                f"clip {clip!r} spans several groups {clip_groups.tolist()}; a clip must "
                "belong to one subject"
            )
        if len(members) < window:
            if pad is None:
                continue
            fill = np.full(window - len(members), members[0] if pad == "first" else members[-1])
            members = np.concatenate([fill, members] if pad == "first" else [members, fill])
        starts = list(range(0, len(members) - window + 1, stride))
        if cover_end and starts[-1] != len(members) - window:
            starts.append(len(members) - window)
        for s in starts:
            idx = members[s : s + window]
            windows.append(idx)
            win_clips.append(clip)
            win_groups.append(clip_groups[0])
            if labels is not None:
                win_labels.append(_window_label(labels[idx], label))
    if not windows:
        raise ValueError(f"no clip has {window} frames; use a shorter window or pad='first'/'last'")
    indices = np.stack(windows)
    return FrameWindows(
        X=data[indices],
        y=None if labels is None else np.asarray(win_labels),
        groups=np.asarray(win_groups),
        clips=np.asarray(win_clips),
        indices=indices,
    )


def frames_from_dataset(
    ds: Any,
    window: int,
    stride: int = 1,
    *,
    pattern: str = CKPLUS_FRAME_PATTERN,
    **kwargs: Any,
) -> FrameWindows:
    """Windows of a :class:`~hybridfer.data.FERDataset` whose file names give clip and frame.

    The clip and frame number come from ``ds.paths`` by ``pattern`` (CK+ naming by default);
    groups are ``ds.groups`` (the subject) when set. ``X`` holds the images when they are
    loaded, else the paths. Other keyword arguments go to :func:`make_frame_windows`.
    """
    if ds.paths is None:
        raise ValueError("the dataset has no file paths to read clips and frame numbers from")
    clips, frames = clips_from_paths(ds.paths, pattern)
    X = ds.images if ds.images is not None else list(ds.paths)
    return make_frame_windows(
        X,
        clips,
        window=window,
        stride=stride,
        y=ds.labels,
        order=frames,
        groups=ds.groups,
        **kwargs,
    )


class PerFrame(TransformerMixin, BaseEstimator):
    """Apply a per-image transformer to every frame of windows ``(m, T, ...)``.

    Parameters
    ----------
    transformer : estimator
        A transformer of single images returning 2-D features (a deep extractor with
        ``output="pooled"``, ``CNNFeatures``, HOG...). It is cloned and fitted on all frames
        (with each window's label repeated for its frames when ``y`` is given).
    output : {"sequence", "flat"}, default="sequence"
        ``"sequence"``: 3-D ``(m, T, d)`` for :class:`~hybridfer.classifiers.LSTMHeadClassifier`;
        ``"flat"``: 2-D ``(m, T*d)`` (then ``LSTMHeadClassifier(sequence=(T, d))``).

    Attributes
    ----------
    transformer_ : estimator
        The fitted per-frame transformer.
    window_ : int
        Frames per window (T) seen in fit.
    """

    def __init__(self, transformer: Any, output: str = "sequence") -> None:
        self.transformer = transformer
        self.output = output

    @staticmethod
    def _frames(X: Any) -> tuple[Any, int, int]:
        arr = np.asarray(X)
        if arr.ndim < 2:
            raise ValueError(
                f"X has shape {arr.shape}; expected windows (m, T, ...) of frames (images, "
                "paths or features), e.g. FrameWindows.X"
            )
        m, T = arr.shape[:2]
        flat = arr.reshape(m * T, *arr.shape[2:])
        if flat.dtype.kind in "US":
            flat = flat.tolist()
        return flat, m, T

    def fit(self, X: Any, y: Any = None) -> PerFrame:
        """Fit the per-frame transformer on all frames of the windows ``X``."""
        if self.output not in ("sequence", "flat"):
            raise ValueError(f"output must be 'sequence' or 'flat', got {plain_repr(self.output)}")
        flat, m, T = self._frames(X)
        y_frames = None if y is None else np.repeat(np.asarray(y), T)
        self.transformer_ = clone(self.transformer).fit(flat, y_frames)
        self.window_ = T
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Per-frame features of every window: ``(m, T, d)`` or ``(m, T*d)``."""
        check_is_fitted(self, "transformer_")
        flat, m, T = self._frames(X)
        if T != self.window_:
            raise ValueError(f"X has windows of {T} frames; {self.window_} were seen in fit")
        feats = np.asarray(self.transformer_.transform(flat))
        if feats.ndim != 2:
            raise ValueError(
                f"the per-frame transformer returned shape {feats.shape}; PerFrame needs 2-D "
                "features per frame (use output='pooled' on deep extractors)"
            )
        out = feats.reshape(m, T, -1)
        return out.reshape(m, -1) if self.output == "flat" else out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Per-frame feature names (``"sequence"``) or ``t{t}.{name}`` (``"flat"``)."""
        check_is_fitted(self, "transformer_")
        names = np.asarray(self.transformer_.get_feature_names_out(), dtype=object)
        if self.output == "sequence":
            return names
        return np.asarray([f"t{t}.{n}" for t in range(self.window_) for n in names], dtype=object)
