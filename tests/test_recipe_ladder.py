"""The fer2013-cpu ladder: the rung choice is a pure function of the measured throughput and the
budget, predictions follow the measured points, and a rung's throughput is measured for real."""

from __future__ import annotations

import math

import pytest

from hybridfer.recipes.fer2013 import SETTINGS
from hybridfer.recipes.ladder import (
    DEFAULT_RUNG,
    RUNGS,
    SUSTAINED_SLOWDOWN,
    TRUST_FACTOR,
    Rung,
    choose_rung,
    epoch_seconds,
    measure_rung,
    predict_accuracy,
    rung_settings,
)

N_TRAIN, N_EVAL = 28_709, 3_589
REF = next(r for r in RUNGS if r.name == DEFAULT_RUNG)
# a toy ladder: a slow accurate rung and a fast one that is worse at equal epochs
SLOW = Rung("slow", (48,), 48, ((5, 0.58, "t"), (20, 0.65, "t"), (40, 0.68, "t")))
FAST = Rung("fast", (32,), 40, ((5, 0.55, "t"), (20, 0.62, "t"), (40, 0.64, "t")))


def _speeds(slow_ips, fast_ips):
    return {"slow": (slow_ips, 3 * slow_ips), "fast": (fast_ips, 3 * fast_ips)}


def test_the_choice_is_a_pure_function_of_throughput_and_budget():
    args = (_speeds(80.0, 320.0), 3000.0, N_TRAIN, N_EVAL)
    first = choose_rung(*args, rungs=(SLOW, FAST))
    again = choose_rung(*args, rungs=(SLOW, FAST))
    assert first.rung == again.rung and first.rows == again.rows
    # slow machine, one hour: the slow rung gets ~6 epochs (0.59), the fast ~25 (0.63)
    assert first.rung.name == "fast"
    row = {r["rung"]: r for r in first.rows}
    # the measured rates, slowed by what whole runs sustained
    epoch_s = SUSTAINED_SLOWDOWN * (N_TRAIN / 80.0 + N_EVAL / 240.0)
    assert row["slow"]["epochs"] == pytest.approx(3000.0 / epoch_s)
    assert row["slow"]["epoch_s"] == pytest.approx(epoch_seconds(N_TRAIN, N_EVAL, 80.0, 240.0))
    assert epoch_seconds(N_TRAIN, N_EVAL, 80.0, 240.0, slowdown=1.0) == pytest.approx(
        epoch_s / SUSTAINED_SLOWDOWN
    )
    # ten times the machine: the slow rung gets its 40+ epochs and wins
    fast_machine = choose_rung(_speeds(800.0, 3200.0), 3000.0, N_TRAIN, N_EVAL, rungs=(SLOW, FAST))
    assert fast_machine.rung.name == "slow"
    # the same machine with ten times the budget chooses as the faster machine does
    long = choose_rung(_speeds(80.0, 320.0), 30_000.0, N_TRAIN, N_EVAL, rungs=(SLOW, FAST))
    assert long.rung.name == "slow"
    assert "Chosen: **slow**" in long.describe()
    # only measured rungs are considered; bad throughput is refused
    only = choose_rung({"slow": (80.0, 240.0)}, 3000.0, N_TRAIN, rungs=(SLOW, FAST))
    assert [r["rung"] for r in only.rows] == ["slow"]
    with pytest.raises(ValueError, match="no throughput"):
        choose_rung({}, 3000.0, N_TRAIN, rungs=(SLOW, FAST))
    with pytest.raises(ValueError, match="'slow' must be positive"):
        choose_rung({"slow": (0.0, 1.0)}, 3000.0, N_TRAIN, rungs=(SLOW, FAST))


def test_predictions_follow_the_measured_points():
    for epochs, acc, _ in SLOW.measured:
        assert predict_accuracy(SLOW, epochs, reference=SLOW) == pytest.approx(acc)
    # linear in log-epochs between points, flat after the last
    mid = math.exp((math.log(5) + math.log(20)) / 2)
    assert predict_accuracy(SLOW, mid, reference=SLOW) == pytest.approx((0.58 + 0.65) / 2)
    assert predict_accuracy(SLOW, 400, reference=SLOW) == pytest.approx(0.68)
    # before the first point: the first segment's slope
    assert predict_accuracy(SLOW, 2.5, reference=SLOW) < 0.58
    # outside its own points a rung follows the reference's shape, shifted to meet its point
    one = Rung("one", (32,), 48, ((20, 0.60, "t"),))
    assert predict_accuracy(one, 20, reference=SLOW) == pytest.approx(0.60)
    assert predict_accuracy(one, 40, reference=SLOW) == pytest.approx(0.60 + 0.68 - 0.65)
    # held flat beyond TRUST_FACTOR times its last measured epochs
    assert TRUST_FACTOR == 2.0
    assert predict_accuracy(one, 30, reference=SLOW) < predict_accuracy(one, 40, reference=SLOW)
    assert predict_accuracy(one, 400, reference=SLOW) == predict_accuracy(one, 40, reference=SLOW)
    assert predict_accuracy(one, 0.0, reference=SLOW) == 0.0
    # two runs at the same epochs count as their mean, wherever they sit among the points
    rerun = Rung("rerun", (48,), 48, (*SLOW.measured, (20, 0.63, "t2")))
    assert predict_accuracy(rerun, 20, reference=rerun) == pytest.approx((0.65 + 0.63) / 2)
    assert predict_accuracy(rerun, 40, reference=rerun) == pytest.approx(0.68)
    assert predict_accuracy(rerun, mid, reference=rerun) == pytest.approx((0.58 + 0.64) / 2)
    # the shipped ladder: every rung without progressive resizing has measured points, the
    # reference increases with epochs
    assert all(r.measured for r in RUNGS if not r.progressive)
    curve = [predict_accuracy(REF, e) for e in (2, 5, 10, 20, 40)]
    assert curve == sorted(curve)


def test_a_rung_without_points_is_chosen_only_when_no_rung_has_any():
    new = Rung("new", (48,), 48)  # predicted as the reference curve, which is optimistic
    speeds = {**_speeds(80.0, 320.0), "new": (1000.0, 3000.0)}
    choice = choose_rung(speeds, 3000.0, N_TRAIN, N_EVAL, rungs=(SLOW, FAST, new))
    row = {r["rung"]: r for r in choice.rows}
    assert row["new"]["predicted"] > row["fast"]["predicted"]
    assert choice.rung.name == "fast"  # still the best rung with measured points
    forced = choose_rung({"new": (1000.0, 3000.0)}, 3000.0, N_TRAIN, rungs=(SLOW, FAST, new))
    assert forced.rung.name == "new"


def test_a_rungs_throughput_is_measured_with_the_recipes_own_fit():
    vgg32 = next(r for r in RUNGS if r.name == "vgg32@40")
    settings = rung_settings(SETTINGS["smoke"], vgg32)
    assert settings["architecture_params"]["widths"] == vgg32.widths
    assert settings["input_size"] == 40 and settings["progressive_resize"] is None
    train_ips, infer_ips, params = measure_rung(SETTINGS["smoke"], vgg32, n=64)
    assert train_ips > 0 and infer_ips > train_ips and params > 100_000


def test_a_progressive_rung_trains_small_first_and_is_timed_at_each_size():
    rung = next(r for r in RUNGS if r.progressive)
    assert rung.size_shares() == [(40, 0.75), (48, pytest.approx(0.25))]
    settings = rung_settings(SETTINGS["smoke"], rung)
    assert settings["progressive_resize"] == ((0.75, 40),) and settings["input_size"] is None
    toy = Rung("toy", (8, 8, 8, 8), 48, progressive=((0.5, 24),))
    train_ips, infer_ips, params = measure_rung(SETTINGS["smoke"], toy, n=64)
    assert train_ips > 0 and infer_ips > 0 and params > 0


def test_a_separable_rung_builds_the_separable_network():
    rung = next(r for r in RUNGS if r.separable)
    settings = rung_settings(SETTINGS["smoke"], rung)
    assert settings["architecture_params"]["separable"] is True
    plain = rung_settings(SETTINGS["smoke"], next(r for r in RUNGS if not r.separable))
    assert plain["architecture_params"]["separable"] is False
    toy = Rung("toy", (8, 16, 16, 16), 48, separable=True)
    *_, params = measure_rung(SETTINGS["smoke"], toy, n=64)
    dense = Rung("toy", (8, 16, 16, 16), 48)
    assert params < measure_rung(SETTINGS["smoke"], dense, n=64)[2]
