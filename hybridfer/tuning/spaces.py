"""Search spaces written as data: fixed values and Optuna distributions, per component.

A component's space maps each parameter name to either a **fixed value** or a
**distribution**, written the same way in Python and in TOML config files:

- ``{low = 1e-3, high = 10.0, log = true}``: a float (``step`` optional);
- ``{low = 2, high = 8}``: an integer (both bounds integers; ``log``/``step`` optional);
- ``{choices = ["rbf", "linear"]}``: a categorical choice (choices that are lists, such as
  ``[[6, 6], [8, 8]]``, are stored in the study as JSON text and decoded back);
- ``{type = "float", low = 1, high = 5}``: ``type`` forces ``"float"``, ``"int"`` or
  ``"categorical"``;
- anything else (a number, a string, a list, a bool) is a fixed value.

TOML has no null, so the string ``"None"`` stands for Python's ``None`` everywhere.
Trials name the parameters ``"<component>.<param>"`` (e.g. ``"svm.C"``), so a parameter
shared by several branches of a conditional space is one Optuna parameter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hybridfer._messages import plain_repr

__all__ = [
    "NONE_TOKEN",
    "PipelineChoice",
    "PipelineSpace",
    "SpaceError",
    "decode_value",
    "format_space",
    "is_tunable",
    "merge_spaces",
    "parse_param",
    "parse_space",
    "space_to_jsonable",
    "suggest_params",
]

#: The TOML spelling of Python's None.
NONE_TOKEN = "None"

_SPEC_KEYS = ("low", "high", "log", "step", "choices", "type")
_TYPES = ("float", "int", "categorical")


class SpaceError(ValueError):
    """A search-space entry that cannot be read; the message names where it is."""


def decode_value(value: Any) -> Any:
    """Turn config spellings into Python values: ``"None"`` -> None, lists -> tuples kept as lists."""
    if isinstance(value, str) and value == NONE_TOKEN:
        return None
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if isinstance(value, dict):
        return {k: decode_value(v) for k, v in value.items()}
    return value


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@dataclass(frozen=True)
class _JSONChoices:
    """Categorical over non-primitive choices (lists), stored as JSON strings in the study."""

    choices: tuple[str, ...]


def is_tunable(spec: Any) -> bool:
    """True when a parsed space entry is sampled (a distribution), False when fixed."""
    return isinstance(spec, (BaseDistribution, _JSONChoices))


def _encode_choice(choice: Any) -> Any:
    if isinstance(choice, (list, tuple, dict)):
        return json.dumps(choice)
    return choice


def parse_param(spec: Any, where: str) -> BaseDistribution | Any:
    """Read one space entry: a fixed value, or an Optuna distribution.

    Parameters
    ----------
    spec : object
        A fixed value, or a mapping with ``low``/``high`` (``log``, ``step``, ``type``) or
        ``choices`` (see the module docstring).
    where : str
        Where the entry comes from (e.g. ``"space.svm.C"``), used in error messages.

    Returns
    -------
    optuna.distributions.BaseDistribution or object
        A distribution to sample, or the fixed value (``"None"`` decoded to None).
    """
    if isinstance(spec, BaseDistribution):
        return spec
    if not isinstance(spec, Mapping):
        return decode_value(spec)
    unknown = sorted(set(spec) - set(_SPEC_KEYS))
    if unknown:
        raise SpaceError(
            f"{where}: unknown key(s) {unknown} in a distribution; valid keys are "
            f"{list(_SPEC_KEYS)} (e.g. {{low = 0.1, high = 10, log = true}} or "
            f"{{choices = [...]}})"
        )
    kind = spec.get("type")
    if kind is not None and kind not in _TYPES:
        raise SpaceError(f"{where}: type must be one of {list(_TYPES)}, got {plain_repr(kind)}")
    if "choices" in spec or kind == "categorical":
        extra = sorted(set(spec) - {"choices", "type"})
        if extra:
            raise SpaceError(f"{where}: a categorical entry takes only 'choices', not {extra}")
        choices = spec.get("choices")
        if not isinstance(choices, (list, tuple)) or len(choices) == 0:
            raise SpaceError(
                f"{where}: choices must be a non-empty list, got {plain_repr(choices)}"
            )
        choices = [decode_value(c) for c in choices]
        if any(isinstance(c, (list, tuple, dict)) for c in choices):
            return _JSONChoices(tuple(_encode_choice(c) for c in choices))
        if len(set(map(repr, choices))) != len(choices):
            raise SpaceError(f"{where}: choices {choices} contain duplicates")
        return CategoricalDistribution(choices)
    if "low" not in spec or "high" not in spec:
        raise SpaceError(
            f"{where}: a distribution needs both 'low' and 'high' (or 'choices'); got {dict(spec)}"
        )
    low, high = spec["low"], spec["high"]
    log = spec.get("log", False)
    step = spec.get("step")
    if not (_is_number(low) and _is_number(high)):
        raise SpaceError(
            f"{where}: low and high must be numbers, got {plain_repr(low)} and {plain_repr(high)}"
        )
    if not isinstance(log, bool):
        raise SpaceError(f"{where}: log must be true or false, got {plain_repr(log)}")
    if low > high:
        raise SpaceError(f"{where}: low={low} is greater than high={high}")
    if log and low <= 0:
        raise SpaceError(f"{where}: a log scale needs low > 0, got low={low}")
    if step is not None and not _is_number(step):
        raise SpaceError(f"{where}: step must be a number, got {plain_repr(step)}")
    if log and step is not None:
        raise SpaceError(f"{where}: step and log=true cannot be combined")
    as_int = kind == "int" or (
        kind is None and _is_int(low) and _is_int(high) and (step is None or _is_int(step))
    )
    try:
        if as_int:
            if not (float(low).is_integer() and float(high).is_integer()):
                raise SpaceError(f"{where}: an int distribution needs integer low and high")
            return IntDistribution(int(low), int(high), log=log, step=int(step or 1))
        return FloatDistribution(
            float(low), float(high), log=log, step=None if step is None else float(step)
        )
    except ValueError as exc:
        if isinstance(exc, SpaceError):
            raise
        raise SpaceError(f"{where}: {exc}") from exc


def parse_space(space: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """Read a whole component space ``{param: spec}`` (see :func:`parse_param`)."""
    if space is None:
        return {}
    if not isinstance(space, Mapping):
        raise SpaceError(f"{where} must be a table of parameters, got {type(space).__name__}")
    return {str(k): parse_param(v, f"{where}.{k}") for k, v in space.items()}


def merge_spaces(*spaces: Mapping[str, Any] | None) -> dict[str, Any]:
    """Later spaces override earlier ones, parameter by parameter."""
    out: dict[str, Any] = {}
    for s in spaces:
        if s:
            out.update(s)
    return out


def suggest_params(trial: optuna.trial.BaseTrial, prefix: str, space: Mapping[str, Any]) -> dict:
    """Draw every parameter of ``space`` from ``trial`` as ``"<prefix>.<param>"``.

    Fixed values are returned as they are; lists become tuples for estimators that expect
    pairs (e.g. ``pixels_per_cell``).
    """
    out = {}
    for name, spec in space.items():
        key = f"{prefix}.{name}"
        if isinstance(spec, _JSONChoices):
            value = _tuplify(json.loads(trial.suggest_categorical(key, spec.choices)))
        elif isinstance(spec, CategoricalDistribution):
            value = trial.suggest_categorical(key, spec.choices)
        elif isinstance(spec, IntDistribution):
            value = trial.suggest_int(key, spec.low, spec.high, step=spec.step, log=spec.log)
        elif isinstance(spec, FloatDistribution):
            value = trial.suggest_float(key, spec.low, spec.high, step=spec.step, log=spec.log)
        elif isinstance(spec, BaseDistribution):
            raise SpaceError(f"{key}: unsupported distribution {spec!r}")
        else:
            value = _tuplify(spec)
        out[name] = value
    return out


def _tuplify(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


def format_space(space: Mapping[str, Any]) -> dict[str, str]:
    """A readable one-line description of each entry (for listings and summaries)."""
    out = {}
    for name, spec in space.items():
        if isinstance(spec, _JSONChoices):
            out[name] = "choice of " + ", ".join(spec.choices)
        elif isinstance(spec, CategoricalDistribution):
            out[name] = "choice of " + ", ".join(map(repr, spec.choices))
        elif isinstance(spec, (IntDistribution, FloatDistribution)):
            kind = "int" if isinstance(spec, IntDistribution) else "float"
            scale = ", log" if spec.log else ""
            step = f", step {spec.step}" if spec.step not in (None, 1) else ""
            out[name] = f"{kind} in [{spec.low}, {spec.high}]{scale}{step}"
        else:
            out[name] = f"fixed {spec!r}"
    return out


def space_to_jsonable(space: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-able form of a parsed space (stored with a study to detect changed spaces)."""
    out: dict[str, Any] = {}
    for name, spec in space.items():
        if isinstance(spec, _JSONChoices):
            out[name] = {"json_choices": list(spec.choices)}
        elif isinstance(spec, BaseDistribution):
            out[name] = optuna.distributions.distribution_to_json(spec)
        else:
            out[name] = json.loads(json.dumps(spec, default=repr))
    return out


# --------------------------------------------------------------------------------------------
# The space of whole pipelines: feature set x classifier x their parameters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineChoice:
    """One point of a :class:`PipelineSpace`: a feature set, a classifier and their parameters."""

    features: str
    classifier: str
    params: dict[str, dict[str, Any]]

    @property
    def label(self) -> str:
        """``"features/classifier"``, as used in ablation tables."""
        return f"{self.features}/{self.classifier}"


class PipelineSpace:
    """The conditional space a study searches: which features, which classifier, which settings.

    A trial chooses the feature set (``"features"``) and the classifier (``"classifier"``)
    together, then the parameters of the chosen components only (``"hog.orientations"``).
    A list with one element is not a choice and does not appear among the trial's parameters.

    Parameters
    ----------
    features : sequence of str
        Feature sets to choose from (registry names or unions such as ``"resnet50+hog"``).
    classifiers : sequence of str
        Classifier names.
    space : mapping, optional
        Search-space overrides per component, ``{"svm": {"C": {"low": 0.1, "high": 10}}}``;
        they replace the registry's default entries parameter by parameter.
    params : mapping, optional
        Fixed parameters per component (``{"resnet50": {"weights": None}}``); they pin the
        parameter in every trial, replacing its default distribution.
    tune : bool, default=True
        False drops every distribution: each component gets its defaults plus ``params``
        (ablations compare components at fixed settings). A distribution in ``space`` is
        then an error.
    """

    def __init__(
        self,
        features: Any,
        classifiers: Any,
        space: Mapping[str, Mapping[str, Any]] | None = None,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        tune: bool = True,
    ) -> None:
        from hybridfer.tuning import registry

        self.features = _as_name_tuple(features, "features")
        self.classifiers = _as_name_tuple(classifiers, "classifiers")
        self.tune = tune
        parts: list[str] = []
        for fs in self.features:
            for p in registry.split_feature_set(fs, where="features"):
                if p not in parts:
                    parts.append(p)
        for c in self.classifiers:
            registry.get_component(c, registry.CLASSIFIER, where="classifiers")
        self.components = (*parts, *self.classifiers)
        space = dict(space or {})
        params = dict(params or {})
        for section, table in (("space", space), ("params", params)):
            for name in table:
                if name not in registry.COMPONENTS:
                    raise registry.ComponentError(
                        f"{section}: unknown component {name!r}; valid names are "
                        f"{registry.component_names()}"
                    )
        self.spaces: dict[str, dict[str, Any]] = {}
        for name in self.components:
            comp = registry.COMPONENTS[name]
            user_space = parse_space(space.get(name), f"space.{name}")
            user_params = {k: decode_value(v) for k, v in (params.get(name) or {}).items()}
            for k, v in user_params.items():
                if isinstance(v, Mapping):
                    raise SpaceError(
                        f"params.{name}.{k}: params are fixed values; put "
                        f"distributions in space.{name}"
                    )
            if tune:
                merged = merge_spaces(
                    comp.defaults, parse_space(comp.space, name), user_params, user_space
                )
            else:
                bad = [k for k, v in user_space.items() if is_tunable(v)]
                if bad:
                    raise SpaceError(
                        f"space.{name}: {bad} are distributions, but this run "
                        "compares components at fixed settings; give values"
                    )
                merged = merge_spaces(comp.defaults, user_params, user_space)
            comp.check_params(merged, f"space/params of {name!r}")
            self.spaces[name] = merged

    def __repr__(self) -> str:
        return (
            f"PipelineSpace(features={list(self.features)}, "
            f"classifiers={list(self.classifiers)}, tune={self.tune})"
        )

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """Every (feature set, classifier) pair, feature sets outermost."""
        return [(f, c) for f in self.features for c in self.classifiers]

    def suggest(self, trial: optuna.trial.BaseTrial) -> PipelineChoice:
        """Draw a pipeline from ``trial`` (conditional: only the chosen components' params)."""
        from hybridfer.tuning.registry import split_feature_set

        features = (
            trial.suggest_categorical("features", list(self.features))
            if len(self.features) > 1
            else self.features[0]
        )
        classifier = (
            trial.suggest_categorical("classifier", list(self.classifiers))
            if len(self.classifiers) > 1
            else self.classifiers[0]
        )
        params = {
            p: suggest_params(trial, p, self.spaces[p])
            for p in (*split_feature_set(features), classifier)
        }
        return PipelineChoice(features, classifier, params)

    def choice(self, features: str, classifier: str) -> PipelineChoice:
        """The fixed-parameter choice of one pair (only valid when nothing is tuned)."""
        from hybridfer.tuning.registry import split_feature_set

        if features not in self.features or classifier not in self.classifiers:
            raise ValueError(
                f"{features}/{classifier} is not in this space: features "
                f"{list(self.features)}, classifiers {list(self.classifiers)}"
            )
        params = {}
        for p in (*split_feature_set(features), classifier):
            tuned = [k for k, v in self.spaces[p].items() if is_tunable(v)]
            if tuned:
                raise ValueError(
                    f"{p} has tuned parameters {tuned}; use suggest() or from_params()"
                )
            params[p] = suggest_params(optuna.trial.FixedTrial({}), p, self.spaces[p])
        return PipelineChoice(features, classifier, params)

    def from_params(self, trial_params: Mapping[str, Any]) -> PipelineChoice:
        """Rebuild the choice of a finished trial from its parameters (``trial.params``)."""
        return self.suggest(optuna.trial.FixedTrial(dict(trial_params)))

    def build_pipeline(
        self, choice: PipelineChoice, *, cache: Any = None, random_state: int | None = None
    ) -> Any:
        """``Pipeline([("features", ...), ("classifier", ...)])`` for ``choice``, unfitted."""
        from sklearn.pipeline import Pipeline

        from hybridfer.tuning.registry import build_classifier, build_features

        return Pipeline(
            [
                (
                    "features",
                    build_features(
                        choice.features, choice.params, cache=cache, random_state=random_state
                    ),
                ),
                (
                    "classifier",
                    build_classifier(
                        choice.classifier,
                        choice.params[choice.classifier],
                        random_state=random_state,
                    ),
                ),
            ]
        )

    def to_jsonable(self) -> dict[str, Any]:
        """A JSON-able description, stored with a study to detect a changed space on resume."""
        return {
            "features": list(self.features),
            "classifiers": list(self.classifiers),
            "tune": self.tune,
            "spaces": {k: space_to_jsonable(v) for k, v in self.spaces.items()},
        }

    def describe(self) -> str:
        """A readable listing of the space."""
        lines = [
            f"features: {', '.join(self.features)}",
            f"classifiers: {', '.join(self.classifiers)}",
        ]
        for name in self.components:
            entries = format_space(self.spaces[name])
            body = "; ".join(f"{k}: {v}" for k, v in entries.items()) or "(defaults)"
            lines.append(f"  {name}: {body}")
        return "\n".join(lines)


def _as_name_tuple(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    try:
        names = tuple(value)
    except TypeError:
        raise SpaceError(
            f"{what} must be a name or a list of names, got {plain_repr(value)}"
        ) from None
    if not names or not all(isinstance(n, str) for n in names):
        raise SpaceError(f"{what} must be a non-empty list of names, got {plain_repr(value)}")
    if len(set(names)) != len(names):
        raise SpaceError(f"{what} lists a name twice: {list(names)}")
    return names
