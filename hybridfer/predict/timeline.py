"""Timelines of a video's predictions: each face track's class probabilities over time.

:func:`plot_timeline` draws one video's rows of :func:`~hybridfer.predict.predict_faces`
as a PNG: one panel per track (the longest tracks first, at most ``max_tracks``), one line
per class, probability against ``time_s``. :func:`write_timelines` writes one per video of a
prediction table. Figures are drawn with matplotlib's Agg canvas (no display, no pyplot
state) and written atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["plot_timeline", "write_timelines"]


def plot_timeline(
    rows: Any,
    path: str | os.PathLike,
    *,
    title: str | None = None,
    max_tracks: int = 8,
    dpi: int = 100,
) -> Path:
    """Plot one video's face tracks' class probabilities over time, to a PNG.

    Parameters
    ----------
    rows : DataFrame
        The rows of one video (``time_s``, ``track``, ``proba_<class>``; rows without a
        prediction, e.g. frames without a face, are skipped).
    path : path
        The PNG to write (atomically).
    title : str, optional
        Default: the video's path.
    max_tracks : int, default=8
        Panels at most: the tracks with the most rows (the title says how many are left
        out).
    dpi : int, default=100

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If ``rows`` has no ``proba_<class>`` columns (a pipeline without ``predict_proba``).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from hybridfer._io import atomic_path

    classes = [c for c in rows.columns if c.startswith("proba_")]
    if not classes:
        raise ValueError(
            "a timeline plots class probabilities, but the rows have no proba_<class> columns "
            "(the pipeline has no predict_proba)"
        )
    faces = rows[rows["track"].notna() & rows["label"].notna()]
    counts = faces["track"].value_counts()
    shown = sorted(int(t) for t in counts.index[:max_tracks])
    if title is None:
        title = Path(str(rows["path"].iloc[0])).name if len(rows) else "video"
    if len(counts) > len(shown):
        title += f" ({len(shown)} of {len(counts)} tracks: the longest)"
    n = max(1, len(shown))
    fig = Figure(figsize=(9, 0.8 + 1.9 * n), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for ax, track in zip(axes, shown, strict=False):
        d = faces[faces["track"] == track].sort_values("time_s")
        marker = "." if len(d) < 40 else None
        for k, col in enumerate(classes):
            ax.plot(
                d["time_s"],
                d[col],
                label=col[len("proba_") :],
                color=cmap(k % 10),
                lw=1.3,
                marker=marker,
            )
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel(f"track {track}\nprobability")
        ax.grid(alpha=0.3)
    if not shown:
        axes[0].text(
            0.5, 0.5, "no face found", ha="center", va="center", transform=axes[0].transAxes
        )
    else:
        axes[0].legend(
            ncol=min(len(classes), 7),
            loc="lower left",
            bbox_to_anchor=(0, 1.0),
            fontsize=8,
            frameon=False,
        )
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(title, fontsize=10)
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return out


def write_timelines(rows: Any, folder: str | os.PathLike) -> list[Path]:
    """Write one :func:`plot_timeline` PNG per video of a prediction table.

    Parameters
    ----------
    rows : DataFrame
        Rows of :func:`~hybridfer.predict.predict_faces`; photos are skipped, and so are
        videos without a frame read (their error row says why).
    folder : path
        Where to write (created if missing): ``<stem>.png`` per video, ``<stem>-2.png``...
        when names collide.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of the rows.
    """
    from hybridfer.predict.annotate import _name
    from hybridfer.video import is_video

    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"timeline folder {os.fspath(out)!r} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    written = []
    for path in dict.fromkeys(rows["path"].tolist()):
        mine = rows[rows["path"] == path]
        if not is_video(str(path)) or not mine["frame"].notna().any():
            continue
        written.append(plot_timeline(mine, out / _name(str(path), ".png", used)))
    return written
