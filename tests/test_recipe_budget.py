"""The whole-run budget of a recipe: the plan is a pure function of the measured costs and
the budget, and predictions scale as stated."""

from __future__ import annotations

import time

import pytest

from hybridfer.recipes.budget import plan_budget, predict_fit_seconds

COSTS = {"saved": 120.0, "cheap": 10.0, "mid": 300.0, "slow": 600.0}


def _plan(budget_s, spent_s=30.0, fixed_s=100.0, **kw):
    return plan_budget(budget_s, spent_s, fixed_s, COSTS, required=("saved",), start=0.0, **kw)


def test_the_plan_is_a_pure_function_of_costs_and_budget():
    a, b = _plan(3600.0), _plan(3600.0)
    assert (a.train_s, a.reserve_s, a.heads, a.skipped) == (
        b.train_s,
        b.reserve_s,
        b.heads,
        b.skipped,
    )
    # a long budget keeps every head and trains for the rest
    assert a.heads == ("saved", "cheap", "mid", "slow") and a.skipped == ()
    assert a.reserve_s == pytest.approx(1.25 * (100 + 120 + 10 + 300 + 600))
    assert a.train_s == pytest.approx(3600 - 30 - a.reserve_s)
    assert a.deadline == 3600.0


def test_a_short_budget_drops_the_lowest_priority_heads_first():
    plan = _plan(1480.0)  # 1450 s left; all heads reserve 1412.5 s: training would get < 60 s
    assert plan.heads == ("saved", "cheap", "mid") and plan.skipped == ("slow",)
    assert plan.train_s == pytest.approx(1450 - 1.25 * 530)
    tiny = _plan(200.0)  # less than the required work: the saved head stays, training 1 s
    assert tiny.heads == ("saved",) and tiny.skipped == ("cheap", "mid", "slow")
    assert tiny.train_s == 1.0
    assert "left out to fit the budget: cheap, mid, slow" in tiny.describe()
    with pytest.raises(ValueError, match="budget must be positive"):
        _plan(0.0)


def test_fits_asks_the_clock_and_records_late_heads():
    plan = plan_budget(1000.0, 0.0, 0.0, {"a": 10.0, "b": 10_000.0}, start=time.perf_counter())
    assert plan.fits("a") and not plan.fits("b")
    assert plan.late == ["b"] and "short of time: b" in plan.describe()


class _Sleeper:
    def __init__(self, seconds):
        self.seconds = seconds

    def fit(self, X, y):
        assert X.shape[1] == 16 and set(y.tolist()) <= {0, 1, 2}
        time.sleep(self.seconds)
        return self


def test_predicted_fit_seconds_scale_with_the_rows():
    linear = predict_fit_seconds(lambda: _Sleeper(0.02), 4000, 16, 3, exponent=1, sample=400)
    square = predict_fit_seconds(lambda: _Sleeper(0.02), 4000, 16, 3, exponent=2, sample=400)
    assert 0.2 <= linear < 0.6  # 0.02 s x 10
    assert 2.0 <= square < 6.0  # 0.02 s x 100
