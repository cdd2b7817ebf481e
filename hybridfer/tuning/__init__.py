"""Tuning: Optuna studies and ablations over whole pipelines (features x classifiers).

- :mod:`~hybridfer.tuning.registry`: components by name (``resnet50``, ``hog``, ``wnxgb``,
  ``svm`` ...), each with a default search space; feature unions as ``"resnet50+hog+lbp"``.
- :mod:`~hybridfer.tuning.spaces`: search spaces as data; :class:`PipelineSpace`, the
  conditional space of feature set x classifier x settings.
- :mod:`~hybridfer.tuning.objective`: :class:`CVObjective` (stratified, subject-grouped
  K-fold, fold-aware pruning) and :class:`FeatureStore` (features computed once per study).
- :mod:`~hybridfer.tuning.study`: creating, joining and repairing studies, their target of
  finished trials; :func:`tune`.
- :mod:`~hybridfer.tuning.worker`: the worker loop many workers share, on Optuna's
  ``ask``/``tell`` (exact target, heartbeats, failed trials replaced, Ctrl-C safe:
  :mod:`~hybridfer.tuning.interrupts`).
- :mod:`~hybridfer.tuning.storage`: storages (SQLite, journal file, PostgreSQL), listing and
  deleting studies; :mod:`~hybridfer.tuning.samplers`: samplers and pruners by name.
- :mod:`~hybridfer.tuning.ablation`: :func:`ablate` and :class:`AblationResult`.
- :mod:`~hybridfer.tuning.config`: TOML configuration files for the ``hybridfer`` command;
  :mod:`~hybridfer.tuning.workflows`: what that command does with one (:class:`RunSetup`,
  :func:`tune_config`, :func:`ablate_config`, :func:`evaluate_config`,
  :func:`extract_features`), callable from Python.
"""

from hybridfer.tuning.ablation import AblationResult, ablate
from hybridfer.tuning.objective import CVObjective, FeatureStore
from hybridfer.tuning.registry import (
    COMPONENTS,
    Component,
    ComponentError,
    available_components,
    build_classifier,
    build_features,
    component_names,
    get_component,
    register_component,
)
from hybridfer.tuning.spaces import PipelineChoice, PipelineSpace, SpaceError
from hybridfer.tuning.study import (
    TuneResult,
    add_trials,
    make_pruner,
    make_sampler,
    make_storage,
    open_study,
    run_worker,
    set_target,
    study_counts,
    tune,
)
from hybridfer.tuning.workflows import (
    RunSetup,
    ablate_config,
    evaluate_config,
    extract_features,
    tune_config,
)

__all__ = [
    "COMPONENTS",
    "AblationResult",
    "CVObjective",
    "Component",
    "ComponentError",
    "FeatureStore",
    "PipelineChoice",
    "PipelineSpace",
    "RunSetup",
    "SpaceError",
    "TuneResult",
    "ablate",
    "ablate_config",
    "add_trials",
    "available_components",
    "build_classifier",
    "build_features",
    "component_names",
    "evaluate_config",
    "extract_features",
    "get_component",
    "make_pruner",
    "make_sampler",
    "make_storage",
    "open_study",
    "register_component",
    "run_worker",
    "set_target",
    "study_counts",
    "tune",
    "tune_config",
]
