"""Estimators pickled by an earlier hybridfer keep working after a parameter is added.

An estimator saved with ``joblib.dump`` before a parameter existed has no attribute for it;
:class:`FillDefaultsOnUnpickleMixin` sets every missing ``__init__`` parameter to its default
when the estimator is unpickled, which is the behaviour it had when it was saved.
"""

from __future__ import annotations

import inspect

__all__ = ["FillDefaultsOnUnpickleMixin", "NewParametersMixin"]


class FillDefaultsOnUnpickleMixin:
    """Gives an unpickled estimator the default of each ``__init__`` parameter it lacks.

    Mix it in before :class:`sklearn.base.BaseEstimator`.
    """

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)  # type: ignore[misc]
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if param.default is not inspect.Parameter.empty:
                self.__dict__.setdefault(name, param.default)


#: The former name of :class:`FillDefaultsOnUnpickleMixin`.
NewParametersMixin = FillDefaultsOnUnpickleMixin
