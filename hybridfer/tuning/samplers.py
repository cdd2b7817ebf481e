"""Samplers and pruners of hybridfer studies, by name.

:func:`make_sampler` returns a sampler reseeded per trial number
(:class:`TrialSeededSampler`): one worker with a seed repeats itself, several workers on one
study never draw the same parameters. :func:`make_pruner` returns a fold-aware pruner (steps
are CV folds).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import optuna
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial

from hybridfer._messages import plain_repr

__all__ = ["PRUNERS", "SAMPLERS", "TrialSeededSampler", "make_pruner", "make_sampler"]

SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "hyperband", "none")


class TrialSeededSampler(BaseSampler):
    """A sampler reseeded per trial number: reproducible alone, distinct across workers.

    Workers that share a study must not draw the same parameters, yet one worker with a seed
    should repeat itself. Each trial gets a fresh inner sampler seeded with
    ``seed + trial.number``; trial numbers are unique in a study, and the inner samplers
    (TPE, random) keep no state but their random generator, so nothing else changes.

    Parameters
    ----------
    factory : callable
        ``factory(seed) -> BaseSampler``.
    seed : int or None
        Base seed (None: fresh entropy for every trial).
    """

    def __init__(self, factory: Callable[[int | None], BaseSampler], seed: int | None) -> None:
        self.factory = factory
        self.seed = seed
        self._inner: dict[int, BaseSampler] = {}

    def _for(self, trial: FrozenTrial) -> BaseSampler:
        sampler = self._inner.get(trial.number)
        if sampler is None:
            seed = None if self.seed is None else (self.seed + trial.number) % (2**32)
            sampler = self._inner[trial.number] = self.factory(seed)
        return sampler

    def infer_relative_search_space(self, study, trial):  # noqa: D102
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):  # noqa: D102
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):  # noqa: D102
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial):  # noqa: D102
        self._for(trial).before_trial(study, trial)

    def after_trial(self, study, trial, state, values):  # noqa: D102
        sampler = self._for(trial)
        try:
            sampler.after_trial(study, trial, state, values)
        finally:
            self._inner.pop(trial.number, None)

    def reseed_rng(self) -> None:  # noqa: D102
        self.seed = None


def make_sampler(sampler: str | BaseSampler = "tpe", seed: int | None = 0) -> BaseSampler:
    """``"tpe"`` (multivariate, conditional-aware, constant liar for parallel workers) or
    ``"random"``, reseeded per trial (:class:`TrialSeededSampler`); or a sampler as given."""
    if isinstance(sampler, BaseSampler):
        return sampler
    if sampler == "tpe":

        def factory(s):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.samplers.TPESampler(
                    seed=s, multivariate=True, group=True, constant_liar=True, n_startup_trials=5
                )
    elif sampler == "random":

        def factory(s):
            return optuna.samplers.RandomSampler(seed=s)
    else:
        raise ValueError(
            f"sampler must be one of {list(SAMPLERS)} or an Optuna sampler, got {plain_repr(sampler)}"
        )
    return TrialSeededSampler(factory, seed)


def make_pruner(
    pruner: str | optuna.pruners.BasePruner | None = "median",
    n_folds: int = 5,
    n_startup_trials: int = 5,
) -> optuna.pruners.BasePruner:
    """A fold-aware pruner: steps are folds, values the running mean score.

    ``"median"``: stop a trial whose running mean after a fold is below the median of earlier
    trials at that fold (after ``n_startup_trials`` trials). ``"hyperband"``: Hyperband with
    folds as the resource (1 to ``n_folds``). ``"none"``/None: never prune.
    """
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner is None or pruner == "none":
        return optuna.pruners.NopPruner()
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=0)
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=max(n_folds, 1), reduction_factor=3
        )
    raise ValueError(
        f"pruner must be one of {list(PRUNERS)} or an Optuna pruner, got {plain_repr(pruner)}"
    )
