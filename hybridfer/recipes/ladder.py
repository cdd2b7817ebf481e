"""The ``fer2013-cpu`` ladder: network configurations whose accuracy per epoch was measured, and
the choice of the one expected to score best on this machine within the training budget.

Every rung is the recipe's ``fer_vgg`` with its schedule (AdamW, one-cycle annealed over the
budget, ``"fer_light"`` augmentation, label smoothing 0.1, EMA 0.999) at one width and input
size, with dense or depthwise-separable convolutions. What a rung reaches depends on how many
epochs it gets; how many it gets depends on the machine. So each rung carries the PublicTest
accuracies (network + flip TTA, trained on Training only) that annealed runs of it reached
after a known number of epochs
(:attr:`Rung.measured`, with the run that produced each point), and the choice is a pure
function of the measured throughput and the budget (:func:`choose_rung`): the epochs each rung
would get, ``train_s / epoch_seconds(...)`` (the measured rates, slowed by what whole runs
sustained: :data:`SUSTAINED_SLOWDOWN`), and the accuracy its
measured points give at that many epochs (:func:`predict_accuracy`). Throughput is measured on
the machine, in seconds, before training (:func:`measure_rung`).

The points were chosen on PublicTest (``benchmarks/fer2013_time_to_accuracy.py`` produced them):
the rung choice is a selection made on PublicTest before the run, like the recipe's other
settings (see :mod:`hybridfer.recipes.fer2013`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_RUNG",
    "RUNGS",
    "SUSTAINED_SLOWDOWN",
    "TRUST_FACTOR",
    "LadderChoice",
    "Rung",
    "choose_rung",
    "epoch_seconds",
    "measure_rung",
    "predict_accuracy",
    "rung_settings",
]


@dataclass(frozen=True)
class Rung:
    """One configuration of the ladder.

    Attributes
    ----------
    name : str
    widths : tuple of int
        ``fer_vgg``'s block widths.
    input_size : int
        The network's input side (FER2013's 48x48 faces are resized to it).
    measured : tuple of (epochs, accuracy, source)
        PublicTest accuracy (network + flip TTA) of annealed runs of this rung after
        ``epochs`` epochs on all of Training, and the run each came from; repeated runs at
        the same epochs count as their mean. A rung without points is not chosen while
        another has some (it can be forced with ``rung=``).
    progressive : tuple of (until, size)
        Progressive resizing (``CNNFeatures(progressive_resize=...)``): the share of the
        training time spent at each smaller size before ``input_size``; empty: none.
    separable : bool
        Depthwise-separable convolutions after the first (``fer_vgg``'s ``separable``).
    """

    name: str
    widths: tuple[int, ...]
    input_size: int
    measured: tuple[tuple[float, float, str], ...] = field(default=())
    progressive: tuple[tuple[float, int], ...] = field(default=())
    separable: bool = False

    def size_shares(self) -> list[tuple[int, float]]:
        """``(input side, share of the training time)`` of every size the rung trains at."""
        out, start = [], 0.0
        for until, size in self.progressive:
            out.append((int(size), float(until) - start))
            start = float(until)
        return out + [(int(self.input_size), 1.0 - start)]


#: The rungs, cheapest last. Measured points: ``benchmarks/fer2013_time_to_accuracy.py`` (its
#: docstring and ``benchmarks/README.md`` hold the tables and commands).
RUNGS: tuple[Rung, ...] = (
    Rung(
        "vgg48@48",
        (48, 96, 192, 384),
        48,
        (
            (4.2, 0.5784, "fer2013-cpu v1, 52 min, AMD EPYC AVX2 float32 (issue 18)"),
            (6.0, 0.6018, "time_to_accuracy --minutes 10, Xeon bf16"),
            (18.0, 0.6514, "fer2013-cpu v1, 52 min, AMD EPYC bf16"),
            (20.0, 0.6548, "fer2013-cpu v1, 52 min, AMD EPYC bf16, cores quiet"),
            (30.0, 0.6785, "fer2013-cpu v1, 52 min, Xeon bf16"),
            (34.0, 0.6826, "fer2013-cpu v2, 110 min, AMD EPYC bf16 (shipped fer2013-vgg)"),
        ),
    ),
    Rung(
        "vgg48@40",
        (48, 96, 192, 384),
        40,
        ((5.0, 0.5801, "time_to_accuracy --minutes 10, AMD EPYC bf16"),),
    ),
    Rung(
        "vgg32@48",
        (32, 64, 128, 256),
        48,
        (
            (9.0, 0.6133, "time_to_accuracy --minutes 15, AMD EPYC bf16"),
            (41.0, 0.6754, "fer2013-cpu v2, 60 min, AMD EPYC bf16"),
        ),
    ),
    Rung(
        "vgg32@40",
        (32, 64, 128, 256),
        40,
        (
            (9.0, 0.6055, "time_to_accuracy --minutes 10, AMD EPYC bf16"),
            (13.0, 0.6222, "fer2013-cpu v2, 40 min, AMD EPYC capped at AVX2, float32"),
            (23.0, 0.6447, "fer2013-cpu v2, 60 min, AMD EPYC capped at AVX2, float32"),
            (31.0, 0.6604, "fer2013-cpu v2, 60 min, Xeon without native bf16, float32"),
            (45.0, 0.6790, "fer2013-cpu v2, 60 min, AMD EPYC bf16"),
            (59.0, 0.6732, "fer2013-cpu v2, 60 min, AMD EPYC bf16, a second run"),
        ),
    ),
    # vgg48@48 trained at 40 px for the first 75% of the time, then at 48 (FFCV-style
    # progressive resizing): 1.4-1.5x the images of vgg48@48 per second of training, but
    # below vgg48@48's curve at equal epochs (0.6364 after 16 against about 0.646): scored at
    # 48 px, PublicTest fell from 0.544 to 0.51-0.53 while it trained at 40 px
    Rung(
        "vgg48@40-48",
        (48, 96, 192, 384),
        48,
        ((16.0, 0.6364, "fer2013-cpu v2, 60 min, Xeon without native bf16, float32"),),
        progressive=((0.75, 40),),
    ),
    # vgg48@48's widths at full resolution with depthwise-separable convolutions (0.41 M
    # parameters, an eighth of the FLOPs): on 2 EPYC cores 2.5x vgg48@48's training rate with
    # native bf16 and 3.4x in AVX2 float32, 0.7-1.1x vgg32@40's; less accurate per epoch and per
    # minute than vgg32@40 (0.6551 after 52 epochs in 54.5 minutes against 0.6790 after 45 in
    # 53.0, the same EPYC): under-fitted (training accuracy 0.736 against 0.784)
    Rung(
        "sep48@48",
        (48, 96, 192, 384),
        48,
        ((52.0, 0.6551, "fer2013-cpu v2, 60 min, AMD EPYC bf16"),),
        separable=True,
    ),
)

#: The rung of version 1 of the recipe, and the reference curve's shape for rungs with few
#: points.
DEFAULT_RUNG = "vgg48@48"


def rung_settings(settings: Mapping[str, Any], rung: Rung) -> dict[str, Any]:
    """The recipe's ``CNNFeatures`` settings with the rung's widths and input size."""
    params = dict(settings.get("architecture_params") or {})
    params["widths"] = tuple(rung.widths)
    params["separable"] = bool(rung.separable)
    out = {**settings, "architecture_params": params}
    out["input_size"] = None if rung.input_size == 48 else int(rung.input_size)
    out["progressive_resize"] = tuple(rung.progressive) or None
    return out


def _curve(points: Sequence[tuple[float, float, str]]) -> tuple[np.ndarray, np.ndarray]:
    """(log-epochs, accuracy) sorted by epochs; repeated runs at the same epochs averaged."""
    by_epochs: dict[float, list[float]] = {}
    for e, a, _ in points:
        by_epochs.setdefault(float(e), []).append(float(a))
    epochs = sorted(by_epochs)
    return np.log(epochs), np.array([np.mean(by_epochs[e]) for e in epochs])


def _interp(x: np.ndarray, y: np.ndarray, at: float) -> float:
    """Piecewise linear through (x, y); beyond the last point flat, before the first along the
    first segment's slope (flat with one point)."""
    if at >= x[-1]:
        return float(y[-1])
    if at <= x[0]:
        slope = (y[1] - y[0]) / (x[1] - x[0]) if len(x) > 1 else 0.0
        return float(y[0] - slope * (x[0] - at))
    return float(np.interp(at, x, y))


#: How far past its last measured epochs a rung's prediction is trusted (a factor on the
#: epochs); beyond it the prediction is held flat: a narrower or smaller-input network is not
#: assumed to keep the reference's gains far beyond what was measured of it.
TRUST_FACTOR = 2.0


def predict_accuracy(rung: Rung, epochs: float, reference: Rung | None = None) -> float:
    """Predicted PublicTest accuracy (network + flip TTA) of ``rung`` after ``epochs`` annealed
    epochs.

    Within the rung's measured epochs: linear in log-epochs between its points. Outside them
    (or with no point of its own): the reference rung's curve (:data:`DEFAULT_RUNG`), shifted
    to meet the rung's nearest measured point, and held flat beyond :data:`TRUST_FACTOR` times
    the rung's last measured epochs; beyond the reference's last point it is flat, before its
    first it follows the first segment's slope. A rung with no point is predicted as the
    reference, which no rung should be: the choice then only weighs epochs.
    """
    reference = reference or next(r for r in RUNGS if r.name == DEFAULT_RUNG)
    if epochs <= 0:
        return 0.0
    if rung.measured and rung is not reference:
        epochs = min(epochs, TRUST_FACTOR * max(e for e, _, _ in rung.measured))
    at = math.log(epochs)
    rx, ry = _curve(reference.measured)
    if not rung.measured or rung is reference:
        return _interp(rx, ry, at)
    x, y = _curve(rung.measured)
    if x[0] <= at <= x[-1]:
        return _interp(x, y, at)
    end = 0 if at < x[0] else -1
    return _interp(rx, ry, at) + float(y[end] - _interp(rx, ry, x[end]))


#: Seconds per epoch that whole ``fer2013-cpu`` runs sustained against what the short
#: measurement (:func:`measure_rung`) predicted: 1.27 (40-minute run, AVX2-capped EPYC), 0.99
#: (60 minutes, AVX2-capped EPYC), 1.13 (60 minutes, EPYC with native bf16, after 2 minutes lost
#: to other work), 1.14 (60 minutes, Xeon without native bf16), and with native bf16 on the
#: EPYC 1.03 (sep48@48), 1.07 (vgg32@48) and 1.02 (vgg32@40, a second run); their median.
SUSTAINED_SLOWDOWN = 1.07


def epoch_seconds(
    n_train: int,
    n_eval: int,
    train_ips: float,
    infer_ips: float,
    slowdown: float = SUSTAINED_SLOWDOWN,
) -> float:
    """Predicted seconds per epoch of a run: ``n_train`` images trained at ``train_ips`` and
    ``n_eval`` scored at ``infer_ips`` (measured images/s), times ``slowdown``."""
    return float(slowdown) * (n_train / float(train_ips) + n_eval / float(infer_ips))


@dataclass(frozen=True)
class LadderChoice:
    """The rung chosen and the prediction behind it.

    Attributes
    ----------
    rung : Rung
    rows : list of dict
        Per rung: ``rung``, ``train_ips`` and ``infer_ips`` (images/s measured),
        ``epoch_s`` (seconds per epoch, scoring included: :func:`epoch_seconds`), ``epochs``
        and ``predicted`` (accuracy) within the budget.
    train_s : float
        The training budget the choice was made for.
    """

    rung: Rung
    rows: list[dict[str, Any]]
    train_s: float

    def describe(self) -> str:
        """A markdown table of the prediction and a sentence saying what was chosen and why."""
        lines = [
            "| rung | params | train img/s | infer img/s | s per epoch | epochs in budget | "
            "predicted PublicTest (flip TTA) | measured points |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r['rung']} | {r['params']:,} | {r['train_ips']:.0f} | {r['infer_ips']:.0f} | "
                f"{r['epoch_s']:.0f} | {r['epochs']:.1f} | {r['predicted']:.4f} | {r['points']} |"
            )
        best = next(r for r in self.rows if r["rung"] == self.rung.name)
        lines += [
            "",
            f"Chosen: **{self.rung.name}** ({best['epochs']:.1f} epochs in "
            f"{self.train_s / 60:.1f} min of training, predicted {best['predicted']:.4f}): the "
            "highest predicted accuracy; throughput was measured on this machine before "
            f"training (epochs slowed by {SUSTAINED_SLOWDOWN:g}, what whole runs sustained), "
            "the accuracy per epoch comes from the measured points "
            "(hybridfer.recipes.ladder).",
        ]
        return "\n".join(lines)


def choose_rung(
    throughput: Mapping[str, tuple[float, float]],
    train_s: float,
    n_train: int,
    n_eval: int = 0,
    rungs: Sequence[Rung] = RUNGS,
    params: Mapping[str, int] | None = None,
) -> LadderChoice:
    """The rung with the highest predicted accuracy within ``train_s`` seconds of training.

    Parameters
    ----------
    throughput : mapping of rung name to (train img/s, inference img/s)
        Measured on this machine (:func:`measure_rung`); rungs missing here are not
        considered.
    train_s : float
        Seconds of training.
    n_train : int
        Training images per epoch.
    n_eval : int
        Images scored after every epoch (inference only).
    rungs : sequence of Rung
    params : mapping of rung name to parameter count, optional
        Shown in the report only.

    Returns
    -------
    LadderChoice
        Ties go to the earlier rung. Rungs without a measured point are predicted as the
        reference (:func:`predict_accuracy`) but chosen only when no rung has a point.
    """
    rows = []
    for rung in rungs:
        if rung.name not in throughput:
            continue
        train_ips, infer_ips = (float(v) for v in throughput[rung.name])
        if train_ips <= 0 or infer_ips <= 0:
            raise ValueError(f"throughput of rung {rung.name!r} must be positive")
        epoch_s = epoch_seconds(n_train, n_eval, train_ips, infer_ips)
        epochs = max(0.0, float(train_s)) / epoch_s
        rows.append(
            {
                "rung": rung.name,
                "params": int((params or {}).get(rung.name, 0)),
                "train_ips": train_ips,
                "infer_ips": infer_ips,
                "epoch_s": epoch_s,
                "epochs": epochs,
                "predicted": predict_accuracy(rung, epochs),
                "points": ", ".join(f"{e:g} ep: {a:.4f}" for e, a, _ in rung.measured) or "none",
            }
        )
    if not rows:
        raise ValueError(f"no throughput for any rung of {[r.name for r in rungs]}")
    named = {r.name: r for r in rungs}
    pool = [i for i, row in enumerate(rows) if named[row["rung"]].measured] or range(len(rows))
    best = max(pool, key=lambda i: (rows[i]["predicted"], -i))
    chosen = next(r for r in rungs if r.name == rows[best]["rung"])
    return LadderChoice(rung=chosen, rows=rows, train_s=float(train_s))


def measure_rung(
    settings: Mapping[str, Any], rung: Rung, *, n: int = 512, device: str = "auto"
) -> tuple[float, float, int]:
    """Training and inference images/s of ``rung`` on this machine, and its parameter count.

    Two epochs of ``n`` random 48x48 images through the recipe's own ``CNNFeatures.fit``
    (augmentation, precision and memory format as the run will use); the second epoch is
    timed (the first pays the warm-up). A progressive rung is timed at each of its sizes and
    its training rate is their mean weighted by the share of time at each (the budgeted
    schedule's progress is the time spent). Inference: the network's forward pass at the
    input size (:func:`hybridfer.recipes.budget.measure_inference`).
    """
    from hybridfer.extractors import CNNFeatures
    from hybridfer.recipes.budget import measure_inference

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (n, 48, 48), dtype=np.uint8)
    y = np.arange(n) % 7
    drop = {"checkpoint", "resume", "max_time", "verbose", "epochs", "device", "random_state"}
    base = {k: v for k, v in rung_settings(settings, rung).items() if k not in drop}
    train_ips = 0.0
    for size, share in rung.size_shares():
        est = CNNFeatures(
            **{**base, "input_size": None if size == 48 else size, "progressive_resize": None},
            epochs=2,
            device=device,
            random_state=0,
            verbose=0,
        )
        start = time.perf_counter()
        est.fit(X, y)
        seconds = est.history_[-1].get("time") or (time.perf_counter() - start) / 2
        train_ips += share * n / max(float(seconds), 1e-9)
    infer = measure_inference(est.model_, (1, rung.input_size, rung.input_size), device=device)
    return train_ips, infer, int(est.n_parameters_)
