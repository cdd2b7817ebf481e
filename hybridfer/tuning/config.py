"""TOML configuration of the ``hybridfer`` command, validated on load.

Every table and key is checked when the file is read: an unknown key, a value of the wrong
type, or an unknown component name is a :class:`ConfigError` that names the file, the key and
the valid choices. Relative paths in ``[data]`` and ``[output]`` are relative to the config
file's folder; ``study.storage`` and ``cache.path`` are relative to the working folder. ``"None"``
stands for Python's None (TOML has no null), and ``${VAR}`` in paths is taken from the
environment (e.g. ``path = "${HYBRIDFER_DATA}/fer2013"``).

Example::

    [data]
    source = "fer2013"            # synthetic | folder | auto | a name of `hybridfer datasets`
    path = "${HYBRIDFER_DATA}/fer2013"
    subsample = 3000              # stratified subsample of the training split (0: all)

    [pipeline]
    features = ["hog", "lbp", "hog+lbp"]
    classifiers = ["wnxgb", "svm"]

    [params.wnxgb]                # fixed parameters of a component
    n_estimators = 150

    [space.svm]                   # search-space overrides (tune only)
    C = {low = 0.1, high = 100.0, log = true}

    [cv]
    n_splits = 5

    [study]
    name = "fer-hog-lbp"
    storage = "study.db"          # SQLite file, journal file (*.log) or a database URL
    n_trials = 40
    metric = "f1_macro"

    [ablation]
    baseline = "hog/svm"
"""

from __future__ import annotations

import dataclasses
import os
import sys
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hybridfer._messages import one_line, plain_repr

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "DATA_SOURCES",
    "AblationSection",
    "CVSection",
    "CacheSection",
    "Config",
    "ConfigError",
    "DataSection",
    "PipelineSection",
    "StudySection",
    "load_config",
    "check_folds",
    "load_data",
    "parse_config",
]

#: ``[data] source`` values: synthetic faces, every registered data set
#: (:data:`hybridfer.data.DATASETS`) and ``"auto"`` (told from the path's layout).
DATA_SOURCES = (
    "synthetic",
    "folder",
    "fer2013",
    "ckplus48",
    "ferplus",
    "rafdb",
    "affectnet",
    "expw",
    "kdef",
    "ckplus",
    "jaffe",
    "auto",
)
#: The official (train, test) usages of the registered sets that have them, used when the
#: config's ``train_usage``/``test_usage`` (FER2013's names by default) are not the set's.
OFFICIAL_USAGES = {
    "fer2013": ("Training", "PublicTest"),
    "ferplus": ("Training", "PublicTest"),
    "rafdb": ("train", "test"),
    "affectnet": ("train", "val"),
}


class ConfigError(ValueError):
    """An invalid configuration file; the message says where and what is valid."""


@dataclass
class DataSection:
    """``[data]``: where the images come from and how they are split."""

    source: str = "synthetic"
    path: str | None = None
    n_samples: int = 1000
    image_size: int = 48
    classes: list[str] | None = None
    group_pattern: str | None = None
    color: str = "gray"
    lazy: bool = False
    train_usage: str = "Training"
    test_usage: str = "PublicTest"
    test_size: float = 0.2
    subsample: int = 0
    test_subsample: int = 0
    random_state: int = 0


@dataclass
class PipelineSection:
    """``[pipeline]``: the feature sets and classifiers a study chooses among."""

    features: list[str] = field(default_factory=lambda: ["hog"])
    classifiers: list[str] = field(default_factory=lambda: ["wnxgb"])


@dataclass
class CVSection:
    """``[cv]``: stratified K-fold, subject-grouped when the data has groups."""

    n_splits: int = 5
    group: bool = True
    resample: str = "none"
    random_state: int = 0


@dataclass
class StudySection:
    """``[study]``: the Optuna study."""

    name: str = "hybridfer"
    storage: str = "study.db"
    n_trials: int = 20
    timeout: float = 0.0
    metric: str = "f1_macro"
    sampler: str = "tpe"
    pruner: str = "median"
    random_state: int = 0
    heartbeat_interval: int = 10
    grace_period: int = 0
    max_retry: int = 3


@dataclass
class AblationSection:
    """``[ablation]``: the grid compared on identical folds (default: the pipeline's)."""

    features: list[str] | None = None
    classifiers: list[str] | None = None
    metrics: list[str] = field(default_factory=lambda: ["accuracy", "f1_macro"])
    baseline: str | None = None
    test: bool = False
    name: str | None = None


@dataclass
class CacheSection:
    """``[cache]``: the on-disk feature cache and in-study feature reuse."""

    path: str = "feature-cache"
    reuse: bool = True


@dataclass
class OutputSection:
    """``[output]``: the working folder for studies, pipelines, reports and charts."""

    workdir: str = "hybridfer-work"


@dataclass
class Config:
    """A whole configuration (see the module docstring)."""

    data: DataSection = field(default_factory=DataSection)
    pipeline: PipelineSection = field(default_factory=PipelineSection)
    cv: CVSection = field(default_factory=CVSection)
    study: StudySection = field(default_factory=StudySection)
    ablation: AblationSection = field(default_factory=AblationSection)
    cache: CacheSection = field(default_factory=CacheSection)
    output: OutputSection = field(default_factory=OutputSection)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    space: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "<dict>"
    base_dir: Path = field(default_factory=Path.cwd)

    # ---- derived ------------------------------------------------------------------------
    @property
    def workdir(self) -> Path:
        return _resolve(self.output.workdir, self.base_dir)

    def storage_url(self, workdir: Path | None = None) -> str:
        """The study storage, relative files placed in the working folder."""
        from hybridfer.tuning.storage import parse_storage_url

        storage = parse_storage_url(os.path.expandvars(self.study.storage))
        return storage.in_folder(workdir or self.workdir)

    def cache_path(self, workdir: Path | None = None) -> Path | None:
        if not self.cache.path:
            return None
        return _resolve(self.cache.path, workdir or self.workdir)

    def tune_space(self):
        """The study's :class:`~hybridfer.tuning.spaces.PipelineSpace` (checks parameters)."""
        from hybridfer.tuning.spaces import PipelineSpace

        return self._wrap(
            lambda: PipelineSpace(
                self.pipeline.features,
                self.pipeline.classifiers,
                space=self.space,
                params=self.params,
            )
        )

    def ablation_space(self):
        """The ablation grid as a fixed-settings PipelineSpace (checks parameters)."""
        from hybridfer.tuning.spaces import PipelineSpace

        space = {
            k: {p: v for p, v in t.items() if not isinstance(v, Mapping)}
            for k, t in self.space.items()
        }
        return self._wrap(
            lambda: PipelineSpace(
                self.ablation_features,
                self.ablation_classifiers,
                space=space,
                params=self.params,
                tune=False,
            )
        )

    def fixed_params(self) -> dict[str, dict[str, Any]]:
        """``[params]`` plus the fixed values of ``[space]``: every component's settings when
        nothing is tuned (ablations, ``evaluate --pair``, ``extract``)."""
        out = {k: dict(v) for k, v in self.params.items()}
        for comp, table in self.space.items():
            for k, v in table.items():
                if not isinstance(v, Mapping):
                    out.setdefault(comp, {})[k] = v
        return out

    @property
    def ablation_features(self) -> list[str]:
        return self.ablation.features or self.pipeline.features

    @property
    def ablation_classifiers(self) -> list[str]:
        return self.ablation.classifiers or self.pipeline.classifiers

    def _wrap(self, build):
        from hybridfer.tuning.registry import ComponentError
        from hybridfer.tuning.spaces import SpaceError

        try:
            return build()
        except (ComponentError, SpaceError) as exc:
            raise ConfigError(f"{self.source}: {exc}") from exc


_SECTIONS = {f.name: f for f in dataclasses.fields(Config) if f.name not in ("source", "base_dir")}
_COMPONENT_TABLES = ("params", "space")


def _resolve(path: str | os.PathLike, base: Path) -> Path:
    p = Path(os.path.expandvars(os.fspath(path))).expanduser()
    return p if p.is_absolute() else base / p


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _check_value(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against a simple annotation (int, float, str, bool, list[str], X|None)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value == "None" and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _check_value(value, a, where)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {plain_repr(value)}")
        return [_check_value(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {plain_repr(value)}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {plain_repr(value)}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {plain_repr(value)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {plain_repr(value)}")
        return value
    raise ConfigError(f"{where}: unsupported type {_type_name(tp)}")  # pragma: no cover


def _section(cls: type, table: Any, where: str) -> Any:
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{where}] must be a table, got {plain_repr(table)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in [{where}]; valid keys are {sorted(fields)}")
    values = {k: _check_value(v, hints[k], f"{where}.{k}") for k, v in table.items()}
    return cls(**values)


def _check_component_table(table: str, name: str, entries: Mapping[str, Any]) -> None:
    """Check ``[params.X]``/``[space.X]`` up front, even when X is not used by this command."""
    from hybridfer.tuning import registry
    from hybridfer.tuning.spaces import parse_space

    comp = registry.COMPONENTS[name]
    space = parse_space(entries, f"{table}.{name}")
    if table == "params":
        tuned = [k for k, v in entries.items() if isinstance(v, Mapping)]
        if tuned:
            raise ConfigError(
                f"[params.{name}]: {tuned} are distributions; params are fixed "
                f"values: put distributions in [space.{name}]"
            )
    if comp.available():  # an unavailable component is reported when (and if) it is used
        comp.check_params(space, f"[{table}.{name}]")


def _check_component_values(name: str, params: Mapping, space: Mapping) -> None:
    """Build the estimator with the fixed values and with each end of every range (each
    choice), so that its own parameter validation rejects a wrong type or range at load."""
    from optuna.distributions import BaseDistribution, CategoricalDistribution
    from optuna.trial import FixedTrial

    from hybridfer.tuning import registry
    from hybridfer.tuning.spaces import merge_spaces, parse_space, suggest_params

    comp = registry.COMPONENTS[name]
    if not comp.available():
        return
    merged = merge_spaces(
        parse_space(params, f"params.{name}"), parse_space(space, f"space.{name}")
    )
    dists = {k: d for k, d in merged.items() if isinstance(d, BaseDistribution)}

    def candidates(d):
        return list(d.choices) if isinstance(d, CategoricalDistribution) else [d.low, d.high]

    base = {f"{name}.{k}": candidates(d)[0] for k, d in dists.items()}
    draws = [base] + [
        {**base, f"{name}.{k}": v} for k, d in dists.items() for v in candidates(d)[1:]
    ]
    where = f"[params.{name}]" if not dists else f"[params.{name}]/[space.{name}]"
    for values in draws:
        comp.check_values(suggest_params(FixedTrial(values), name, merged), where)


def _check_choice(value: Any, valid: tuple | list, where: str) -> None:
    if value not in valid:
        raise ConfigError(f"{where} = {value!r} is not valid; choose one of {list(valid)}")


def parse_config(
    raw: Mapping[str, Any], source: str = "<dict>", base_dir: str | os.PathLike | None = None
) -> Config:
    """Validate a configuration given as a mapping (what a TOML file parses to).

    Raises
    ------
    ConfigError
        With the source name, the offending key and the valid keys or names.
    """
    from hybridfer.tuning import registry
    from hybridfer.tuning.objective import RESAMPLERS, check_scoring
    from hybridfer.tuning.samplers import PRUNERS, SAMPLERS

    try:
        unknown = sorted(set(raw) - set(_SECTIONS))
        if unknown:
            raise ConfigError(f"unknown table(s) {unknown}; valid tables are {sorted(_SECTIONS)}")
        kwargs: dict[str, Any] = {}
        for name, f in _SECTIONS.items():
            if name not in raw:
                continue
            if name in _COMPONENT_TABLES:
                table = raw[name]
                if not isinstance(table, Mapping):
                    raise ConfigError(
                        f"[{name}] must hold one table per component, e.g. [{name}.svm]"
                    )
                for comp, entries in table.items():
                    if comp not in registry.COMPONENTS:
                        raise ConfigError(
                            f"[{name}.{comp}]: unknown component {comp!r}; valid "
                            f"names are {registry.component_names()}"
                        )
                    if not isinstance(entries, Mapping):
                        raise ConfigError(f"[{name}.{comp}] must be a table of parameters")
                kwargs[name] = {k: dict(v) for k, v in table.items()}
                for comp, entries in table.items():
                    _check_component_table(name, comp, entries)
            else:
                kwargs[name] = _section(f.default_factory, raw[name], name)
        for comp in sorted(set(kwargs.get("params", {})) | set(kwargs.get("space", {}))):
            _check_component_values(
                comp,
                kwargs.get("params", {}).get(comp, {}),
                kwargs.get("space", {}).get(comp, {}),
            )
        cfg = Config(
            **kwargs, source=source, base_dir=Path(base_dir) if base_dir is not None else Path.cwd()
        )
        d = cfg.data
        _check_choice(d.source, DATA_SOURCES, "data.source")
        if d.source != "synthetic" and not d.path:
            raise ConfigError(f"data.path is required for data.source = {d.source!r}")
        if d.source == "synthetic" and d.path:
            raise ConfigError("data.path is not used by data.source = 'synthetic'; remove it")
        _check_choice(d.color, ("gray", "rgb"), "data.color")
        if not 0 <= d.test_size < 1:
            raise ConfigError(f"data.test_size must be in [0, 1), got {d.test_size}")
        for key in ("subsample", "test_subsample", "n_samples", "image_size"):
            if getattr(d, key) < 0:
                raise ConfigError(f"data.{key} must be >= 0, got {getattr(d, key)}")
        for key, kind in (("features", registry.FEATURES), ("classifiers", registry.CLASSIFIER)):
            for where, names in (
                (f"pipeline.{key}", getattr(cfg.pipeline, key)),
                (f"ablation.{key}", getattr(cfg.ablation, key)),
            ):
                if names is None:
                    continue
                if not names:
                    raise ConfigError(f"{where} must list at least one name")
                for n in names:
                    if kind == registry.FEATURES:
                        registry.split_feature_set(n, where=where)
                    else:
                        registry.get_component(n, kind, where=where)
        if cfg.cv.n_splits < 2:
            raise ConfigError(f"cv.n_splits must be >= 2, got {cfg.cv.n_splits}")
        _check_choice(cfg.cv.resample, RESAMPLERS, "cv.resample")
        s = cfg.study
        _check_choice(s.sampler, SAMPLERS, "study.sampler")
        _check_choice(s.pruner, PRUNERS, "study.pruner")
        if s.n_trials < 1:
            raise ConfigError(f"study.n_trials must be >= 1, got {s.n_trials}")
        if s.timeout < 0 or s.heartbeat_interval < 1 or s.grace_period < 0 or s.max_retry < 0:
            raise ConfigError(
                "study.timeout, study.grace_period and study.max_retry must be "
                ">= 0 and study.heartbeat_interval >= 1"
            )
        if s.grace_period and s.grace_period <= s.heartbeat_interval:
            raise ConfigError(
                f"study.grace_period ({s.grace_period}) must exceed "
                f"study.heartbeat_interval ({s.heartbeat_interval})"
            )
        check_scoring(s.metric, "study.metric")
        for m in cfg.ablation.metrics:
            check_scoring(m, "ablation.metrics")
        if cfg.ablation.baseline is not None:
            pairs = [f"{f}/{c}" for f in cfg.ablation_features for c in cfg.ablation_classifiers]
            if cfg.ablation.baseline not in pairs:
                raise ConfigError(
                    f"ablation.baseline = {cfg.ablation.baseline!r} is not a pair "
                    f"of the grid; choose one of {pairs}"
                )
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except (registry.ComponentError, ValueError) as exc:  # SpaceError is a ValueError
        raise ConfigError(f"{source}: {exc}") from None
    return cfg


def load_config(path: str | os.PathLike) -> Config:
    """Read and validate a TOML configuration file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {os.fspath(path)!r} does not exist")
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(raw, source=os.fspath(path), base_dir=path.resolve().parent)


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def _holdout(ds, test_size: float, random_state: int):
    from hybridfer.data import holdout_split

    try:
        return holdout_split(ds, test_size, random_state)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def load_data(cfg: Config | DataSection, base_dir: Path | None = None):
    """The training and test datasets a configuration describes.

    Returns
    -------
    (train, test) : FERDataset, FERDataset or None
        FER2013: its official usages (``train_usage``/``test_usage``). Other sources: a
        stratified, subject-grouped hold-out of ``test_size`` (None when it is 0). Then the
        stratified subsamples ``subsample``/``test_subsample`` when set.
    """
    if isinstance(cfg, Config):
        d, base_dir = cfg.data, cfg.base_dir
    else:
        d = cfg
    base_dir = base_dir or Path.cwd()
    path = _resolve(d.path, base_dir) if d.path else None
    if path is not None and not path.exists():
        raise ConfigError(f"data.path {os.fspath(path)!r} does not exist")
    where = f"data.path {os.fspath(path)!r}" if path is not None else f"data.source {d.source!r}"
    try:
        train, test = _load_splits(d, path)
    except ConfigError:
        raise
    except (OSError, ValueError) as exc:  # unreadable or corrupt files, a split it cannot make
        raise ConfigError(f"{where}: {one_line(exc)}") from exc
    _check_classes(train, where)
    return train, test


def _check_classes(ds, where: str) -> None:
    classes = np.unique(np.asarray(ds.labels))
    if len(classes) < 2:
        found = f"only {str(classes[0])!r}" if len(classes) else "none"
        raise ConfigError(
            f"{where}: {ds.name} has {len(classes)} class ({found}); a classifier needs images "
            "of at least two classes"
        )


def check_folds(cfg: Config, train) -> None:
    """cv.n_splits must leave every class (and, grouped, every fold) something to hold out."""
    k = cfg.cv.n_splits
    classes, counts = np.unique(np.asarray(train.labels), return_counts=True)
    if counts.min() < k:
        small = str(classes[counts.argmin()])
        raise ConfigError(
            f"{cfg.source}: cv.n_splits = {k} needs at least {k} training images of every "
            f"class, but {small!r} has {counts.min()} in {train.name}: lower cv.n_splits or "
            "use more data"
        )
    if cfg.cv.group and train.groups is not None:
        n_groups = len(np.unique(train.groups))
        if n_groups < k:
            raise ConfigError(
                f"{cfg.source}: cv.n_splits = {k} subject-grouped folds need at least {k} "
                f"subjects, but {train.name} has {n_groups}: lower cv.n_splits or set "
                "cv.group = false"
            )


def _load_splits(d: DataSection, path: Path | None):
    from hybridfer import data

    if d.source == "synthetic":
        ds = data.make_faces(
            n_samples=d.n_samples, image_size=d.image_size, random_state=d.random_state
        )
        train, test = _holdout(ds, d.test_size, d.random_state)
    elif d.source == "folder":
        ds = data.load_image_folder(
            path, classes=d.classes, color=d.color, group_pattern=d.group_pattern, lazy=d.lazy
        )
        train, test = _holdout(ds, d.test_size, d.random_state)
    elif d.source == "ckplus48":
        ds = data.load_ckplus48(path, classes=tuple(d.classes) if d.classes else None, lazy=d.lazy)
        train, test = _holdout(ds, d.test_size, d.random_state)
    elif d.source == "fer2013":
        ds = data.load_fer2013(path, usages=[d.train_usage, d.test_usage], lazy=d.lazy)
        train, test = data.usage_split(ds, train=d.train_usage, test=d.test_usage)
    else:  # another registered data set: its official split where it has one
        source = data.detect_dataset(path) if d.source == "auto" else d.source
        ds = data.load_dataset(source, path, lazy=d.lazy)
        if d.classes:
            ds = ds.subset(np.isin(ds.labels, d.classes))
        present = set() if ds.usage is None else set(ds.usage.tolist())
        pair = (d.train_usage, d.test_usage)
        if not set(pair) <= present:
            pair = OFFICIAL_USAGES.get(source, pair)
        if set(pair) <= present:
            train, test = data.usage_split(ds, train=pair[0], test=pair[1])
        else:
            train, test = _holdout(ds, d.test_size, d.random_state)
    train = data.stratified_subsample(train, d.subsample, d.random_state)
    if test is not None:
        test = data.stratified_subsample(test, d.test_subsample, d.random_state)
    return train, test
