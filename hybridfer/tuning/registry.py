"""Components by name: feature extractors and classifiers, each with a default search space.

A :class:`Component` names an estimator class by its import path; the module is imported
only when the component is used, so the registry lists everything the toolkit knows while
each entry works as soon as (and only if) its module imports. Feature sets are unions of
feature components written with ``+``: ``"resnet50+hog+lbp"``.

Every component has fixed ``defaults`` (applied when built) and a default search ``space``
(see :mod:`hybridfer.tuning.spaces` for the format); both can be overridden per parameter.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler

from hybridfer._messages import plain_repr

__all__ = [
    "COMPONENTS",
    "Component",
    "ComponentError",
    "available_components",
    "build_classifier",
    "build_features",
    "component_names",
    "get_component",
    "register_component",
    "split_feature_set",
]

FEATURES = "features"
CLASSIFIER = "classifier"


class ComponentError(ValueError):
    """An unknown or unavailable component, or a parameter it does not take."""


@dataclass(frozen=True)
class Component:
    """One named building block of a pipeline.

    Parameters
    ----------
    name : str
        Registry name (``"resnet50"``, ``"svm"``).
    kind : {"features", "classifier"}
        What it is.
    target : str
        ``"module:ClassName"`` of the estimator, imported on first use.
    description : str
        One line for listings.
    defaults : mapping
        Fixed parameters applied when the component is built (overridable).
    space : mapping
        Default search space ``{param: spec}`` (see :mod:`hybridfer.tuning.spaces`).
    per_image : bool
        Features only: the output for an image depends on that image alone, not on the
        training data (true for handcrafted features and for frozen backbones). Such features
        are computed once per study for every image; the others (a CNN trained in ``fit``)
        are fitted inside each training fold.
    scaled : bool
        Classifiers only: build ``Pipeline([("scale", StandardScaler()), (name, estimator)])``
        (for SVMs and linear models, which need standardized features).
    """

    name: str
    kind: str
    target: str
    description: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    space: Mapping[str, Any] = field(default_factory=dict)
    per_image: bool = True
    scaled: bool = False

    def estimator_class(self) -> type:
        """Import and return the estimator class (raises ComponentError if unavailable)."""
        module_name, _, attr = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
            return getattr(module, attr)
        except (ImportError, AttributeError) as exc:
            raise ComponentError(
                f"component {self.name!r} needs {module_name}.{attr}, which is not available "
                f"here ({type(exc).__name__}: {exc})"
            ) from exc

    def available(self) -> bool:
        """True when the estimator class can be imported."""
        try:
            self.estimator_class()
        except ComponentError:
            return False
        return True

    def param_names(self) -> list[str]:
        """Names of the estimator's constructor parameters."""
        cls = self.estimator_class()
        if hasattr(cls, "_get_param_names"):
            return list(cls._get_param_names())
        return [p for p in inspect.signature(cls).parameters if p not in ("self", "args", "kwargs")]

    def check_params(self, names: Iterable[str], where: str) -> None:
        """Raise ComponentError if any of ``names`` is not a parameter of the estimator."""
        valid = self.param_names()
        unknown = sorted(set(names) - set(valid))
        if unknown and not self._takes_extra_kwargs():
            raise ComponentError(
                f"{where}: {self.name!r} ({self.target.replace(':', '.')}) has no parameter(s) "
                f"{unknown}; valid parameters are {sorted(valid)}"
            )

    def check_values(self, params: Mapping[str, Any], where: str) -> None:
        """Raise ComponentError if the estimator's own validation (scikit-learn's
        ``_parameter_constraints``) rejects ``params`` over ``defaults``: a wrong type or
        an out-of-range value fails here, before any trial runs."""
        cls = self.estimator_class()
        if not getattr(cls, "_parameter_constraints", None) or not hasattr(cls, "_validate_params"):
            return
        kwargs = {**self.defaults, **params}
        names = set(self.param_names())
        try:
            estimator = cls(**{k: v for k, v in kwargs.items() if k in names})
            estimator._validate_params()
        except (TypeError, ValueError) as exc:
            raise ComponentError(f"{where}: {str(exc).strip()}") from None

    def _takes_extra_kwargs(self) -> bool:
        """True for estimators that pass unknown keywords on (LightGBM's ``**kwargs``)."""
        params = inspect.signature(self.estimator_class().__init__).parameters.values()
        return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)

    def build(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        cache: Any = None,
        random_state: int | None = None,
    ) -> BaseEstimator:
        """A new, unfitted estimator with ``defaults`` updated by ``params``.

        ``cache`` is passed to estimators that take a ``cache`` parameter and
        ``random_state`` to those that take one (unless ``params`` sets it).
        """
        cls = self.estimator_class()
        kwargs = {**self.defaults, **(params or {})}
        self.check_params(kwargs, f"parameters of {self.name!r}")
        names = self.param_names()
        if "cache" in names and "cache" not in kwargs:
            kwargs["cache"] = cache
        if "random_state" in names and "random_state" not in kwargs and random_state is not None:
            kwargs["random_state"] = random_state
        estimator = cls(**kwargs)
        if self.scaled:
            return Pipeline([("scale", StandardScaler()), (self.name, estimator)])
        return estimator


_LOG = {"log": True}

# Frozen backbones: every setting is one embedding pass over the images (cached per setting),
# so the default space is kept small: how each tapped stage is pooled.
_DEEP_SPACE = {"pooling": {"choices": ["avg", "max"]}}

COMPONENTS: dict[str, Component] = {}


def register_component(component: Component, *, replace: bool = False) -> Component:
    """Add a component to the registry (``replace=True`` to redefine a name)."""
    if component.kind not in (FEATURES, CLASSIFIER):
        raise ValueError(
            f"kind must be {FEATURES!r} or {CLASSIFIER!r}, got {plain_repr(component.kind)}"
        )
    if "+" in component.name or "/" in component.name or not component.name:
        raise ValueError(
            f"component names may not be empty or contain '+' or '/': {component.name!r}"
        )
    if component.name in COMPONENTS and not replace:
        raise ValueError(f"component {component.name!r} is already registered")
    COMPONENTS[component.name] = component
    return component


for _c in (
    # ---- deep features (frozen backbones: per-image, cached per image) ----
    Component(
        "resnet50",
        FEATURES,
        "hybridfer.extractors:ResNet50Features",
        "ResNet50 multi-level pooled stage features",
        space=_DEEP_SPACE,
    ),
    Component(
        "mobilenetv3_large",
        FEATURES,
        "hybridfer.extractors:MobileNetV3Features",
        "MobileNetV3-Large pooled features",
        space=_DEEP_SPACE,
        defaults={"variant": "large"},
    ),
    Component(
        "mobilenetv3_small",
        FEATURES,
        "hybridfer.extractors:MobileNetV3Features",
        "MobileNetV3-Small pooled features",
        space=_DEEP_SPACE,
        defaults={"variant": "small"},
    ),
    Component(
        "mobilenetv2",
        FEATURES,
        "hybridfer.extractors:MobileNetV2Features",
        "MobileNetV2 pooled features",
        space=_DEEP_SPACE,
    ),
    Component(
        "convnext_tiny",
        FEATURES,
        "hybridfer.extractors:ConvNeXtTinyFeatures",
        "ConvNeXt-Tiny pooled stage features",
        space=_DEEP_SPACE,
    ),
    Component(
        "cnn",
        FEATURES,
        "hybridfer.extractors:CNNFeatures",
        "small CNN trained in fit (supervised), penultimate features; fitted per fold",
        per_image=False,
        space={"learning_rate": {"low": 3e-4, "high": 3e-3, **_LOG}},
    ),
    # ---- handcrafted ----
    Component(
        "hog",
        FEATURES,
        "hybridfer.handcrafted:HOGFeatures",
        "histogram of oriented gradients",
        space={
            "orientations": {"low": 6, "high": 12},
            "pixels_per_cell": {"choices": [[6, 6], [8, 8]]},
            "cells_per_block": {"choices": [[2, 2], [3, 3]]},
        },
    ),
    Component(
        "lbp",
        FEATURES,
        "hybridfer.handcrafted:LBPFeatures",
        "uniform local binary pattern histograms over a grid of cells",
        space={"R": {"low": 1, "high": 3}, "grid": {"choices": [[4, 4], [6, 6]]}},
    ),
    # ---- classifiers ----
    Component(
        "wnxgb",
        CLASSIFIER,
        "hybridfer.classifiers:WNXGBClassifier",
        "weight-normalized XGBoost (feature norm, class weights, normalized gradients)",
        space={
            "n_estimators": {"low": 50, "high": 400, **_LOG},
            "learning_rate": {"low": 0.03, "high": 0.3, **_LOG},
            "max_depth": {"low": 2, "high": 8},
            "subsample": {"low": 0.6, "high": 1.0},
            "colsample_bytree": {"low": 0.3, "high": 1.0},
            "reg_lambda": {"low": 1e-3, "high": 10.0, **_LOG},
            "feature_norm": {"choices": ["none", "l2"]},
            "class_weight": {"choices": [None, "balanced"]},
            "normalized_gradient": {"choices": [False, True]},
        },
    ),
    Component(
        "xgb",
        CLASSIFIER,
        "hybridfer.classifiers:WNXGBClassifier",
        "plain XGBoost (WNXGBClassifier with every normalization off: string labels work)",
        defaults={"feature_norm": "none", "class_weight": None, "normalized_gradient": False},
        space={
            "n_estimators": {"low": 50, "high": 400, **_LOG},
            "learning_rate": {"low": 0.03, "high": 0.3, **_LOG},
            "max_depth": {"low": 2, "high": 8},
            "subsample": {"low": 0.6, "high": 1.0},
            "colsample_bytree": {"low": 0.3, "high": 1.0},
            "reg_lambda": {"low": 1e-3, "high": 10.0, **_LOG},
        },
    ),
    Component(
        "lgbm",
        CLASSIFIER,
        "lightgbm:LGBMClassifier",
        "LightGBM gradient boosting",
        defaults={"verbosity": -1},
        space={
            "n_estimators": {"low": 50, "high": 400, **_LOG},
            "learning_rate": {"low": 0.03, "high": 0.3, **_LOG},
            "num_leaves": {"low": 8, "high": 128, **_LOG},
            "min_child_samples": {"low": 5, "high": 50},
            "colsample_bytree": {"low": 0.3, "high": 1.0},
            "reg_lambda": {"low": 1e-3, "high": 10.0, **_LOG},
            "class_weight": {"choices": [None, "balanced"]},
        },
    ),
    Component(
        "svm",
        CLASSIFIER,
        "hybridfer.classifiers:GramSVC",
        "RBF support vector machine on standardized features (sklearn's SVC, BLAS kernel)",
        scaled=True,
        space={
            "C": {"low": 1e-2, "high": 1e2, **_LOG},
            "class_weight": {"choices": [None, "balanced"]},
        },
    ),
    Component(
        "rf",
        CLASSIFIER,
        "sklearn.ensemble:RandomForestClassifier",
        "random forest",
        space={
            "n_estimators": {"low": 100, "high": 500, **_LOG},
            "max_features": {"choices": ["sqrt", "log2"]},
            "min_samples_leaf": {"low": 1, "high": 8},
            "class_weight": {"choices": [None, "balanced"]},
        },
    ),
    Component(
        "logreg",
        CLASSIFIER,
        "sklearn.linear_model:LogisticRegression",
        "multinomial logistic regression on standardized features",
        scaled=True,
        defaults={"max_iter": 2000},
        space={
            "C": {"low": 1e-3, "high": 1e2, **_LOG},
            "class_weight": {"choices": [None, "balanced"]},
        },
    ),
    Component(
        "lstm",
        CLASSIFIER,
        "hybridfer.classifiers:LSTMHeadClassifier",
        "LSTM head over feature tokens (spatial cells, frames, or one vector)",
        space={
            "hidden_size": {"choices": [64, 128, 256]},
            "dropout": {"low": 0.0, "high": 0.5},
            "learning_rate": {"low": 3e-4, "high": 3e-3, **_LOG},
        },
    ),
):
    register_component(_c)
del _c


def component_names(kind: str | None = None) -> list[str]:
    """Registered names (of one kind when given), whether or not their module imports."""
    return [n for n, c in COMPONENTS.items() if kind is None or c.kind == kind]


def available_components(kind: str | None = None) -> list[str]:
    """Registered names whose estimator class imports here."""
    return [n for n in component_names(kind) if COMPONENTS[n].available()]


def get_component(name: str, kind: str | None = None, where: str = "component") -> Component:
    """Look a component up by name; unknown names raise ComponentError listing valid ones."""
    comp = COMPONENTS.get(name)
    if comp is None or (kind is not None and comp.kind != kind):
        valid = component_names(kind)
        what = {FEATURES: "feature component", CLASSIFIER: "classifier"}.get(kind, "component")
        raise ComponentError(f"{where}: unknown {what} {name!r}; valid names are {valid}")
    return comp


def split_feature_set(feature_set: str, where: str = "feature set") -> tuple[str, ...]:
    """``"resnet50+hog"`` -> ``("resnet50", "hog")``, each checked against the registry."""
    if not isinstance(feature_set, str) or not feature_set.strip():
        raise ComponentError(
            f"{where}: a feature set must be a non-empty string like "
            f"'hog' or 'resnet50+hog', got {plain_repr(feature_set)}"
        )
    parts = tuple(p.strip() for p in feature_set.split("+"))
    for p in parts:
        get_component(p, FEATURES, where=f"{where} {feature_set!r}")
    if len(set(parts)) != len(parts):
        raise ComponentError(f"{where}: {feature_set!r} names a component twice")
    return parts


def build_features(
    feature_set: str,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    cache: Any = None,
    random_state: int | None = None,
) -> BaseEstimator:
    """The transformer for a feature set: one component, or a FeatureUnion of several.

    Parameters
    ----------
    feature_set : str
        ``"hog"`` or a union such as ``"resnet50+hog+lbp"``.
    params : mapping of component name to parameters, optional
        Parameters per component (on top of the component defaults).
    cache : path, FeatureCache or None
        Passed to the components that take a ``cache`` (the deep extractors).
    random_state : int or None
        Passed to components that take one.
    """
    params = params or {}
    parts = split_feature_set(feature_set)
    built = [
        (p, COMPONENTS[p].build(params.get(p), cache=cache, random_state=random_state))
        for p in parts
    ]
    if len(built) == 1:
        return built[0][1]
    return FeatureUnion(built)


def build_classifier(
    name: str, params: Mapping[str, Any] | None = None, *, random_state: int | None = None
) -> BaseEstimator:
    """A new classifier by registry name (standardized first for ``svm`` and ``logreg``)."""
    return get_component(name, CLASSIFIER).build(params, random_state=random_state)
