"""Saved pipelines: the metadata they carry, saving and loading them.

A pipeline saved by ``hybridfer tune`` or ``hybridfer evaluate`` (or by :func:`save_pipeline`)
is a plain scikit-learn pipeline pickled with joblib; its metadata rides on it as the attribute
``hybridfer_metadata_`` (so ``joblib.load(path).predict(X)`` keeps working): the classes, the
images it expects (size, color, whether it resizes), the toolkit version, a summary of its
training data and its scores. :func:`load_pipeline` also reads a bare pipeline (a recipe's
``pipeline.joblib``) and the ``{"pipeline": model, "metadata": {...}}`` form.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hybridfer._messages import plain_json
from hybridfer.predict.expects import inspect_pipeline

__all__ = [
    "METADATA_ATTR",
    "PipelineFileError",
    "attach_metadata",
    "load_pipeline",
    "load_predictor",
    "pipeline_metadata",
    "save_pipeline",
]

#: The attribute of a saved pipeline that holds its metadata dict.
METADATA_ATTR = "hybridfer_metadata_"
_FORMAT = 1
#: Recursion limit while pickling (see :func:`save_pipeline`).
_PICKLE_RECURSION_LIMIT = 20_000


class PipelineFileError(ValueError):
    """A pipeline file that is missing or is not a pipeline; the message names the file."""


def _image_shape_and_color(X: Any, color: str | None) -> tuple[list[int] | None, str]:
    """The (H, W) of the first training image and its color, as the pipeline saw them."""
    from hybridfer.images import read_image

    if isinstance(X, np.ndarray) and X.dtype.kind in "uifb" and X.ndim in (3, 4):
        rgb = X.ndim == 4 and X.shape[-1] == 3
        return [int(X.shape[1]), int(X.shape[2])], "rgb" if rgb else "gray"
    try:
        first = X[0]
    except (TypeError, IndexError, KeyError):
        return None, color or "gray"
    if isinstance(first, (str, os.PathLike)):
        try:
            img = read_image(first, color)
        except (OSError, ValueError):
            return None, color or "gray"
        return [int(img.shape[0]), int(img.shape[1])], "rgb" if img.ndim == 3 else "gray"
    return None, color or "gray"


def pipeline_metadata(
    model: Any,
    X: Any = None,
    y: Any = None,
    *,
    data_name: str | None = None,
    data_source: str | None = None,
    color: str | None = None,
    scores: Mapping[str, Any] | None = None,
    label: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The metadata saved with a fitted pipeline.

    Parameters
    ----------
    model : fitted estimator
    X, y : training images (array or paths) and labels, optional
        Summarised: number of images, class counts, image size and color.
    data_name, data_source : str, optional
        What the training data was (e.g. ``"fer2013[Training]"``, ``"data.path = ..."``).
    color : {"gray", "rgb"}, optional
        How image files were decoded for training (read from ``X`` when it holds arrays).
    scores : mapping, optional
        Scores known for the pipeline, e.g. ``{"cv f1_macro": 0.71, "test accuracy": 0.69}``.
    label : str, optional
        A short name of the pipeline, e.g. ``"hog+lbp/svm"``.
    extra : mapping, optional
        More JSON-able entries.

    Returns
    -------
    dict
        ``format``, ``hybridfer_version``, ``saved`` (UTC time), ``pipeline``, ``classes``,
        ``image`` (``shape``, ``color``, ``resizes``, ``input_size``), ``probabilities``,
        ``training_data``, ``scores``, and the entries of ``extra``; values are JSON-plain
        (:func:`hybridfer._messages.plain_json`).
    """
    from hybridfer import __version__

    inferred = inspect_pipeline(model)
    shape, seen_color = (None, color or inferred["color"])
    if X is not None:
        shape, seen_color = _image_shape_and_color(X, color)
    training: dict[str, Any] = {}
    if data_name:
        training["name"] = data_name
    if data_source:
        training["source"] = data_source
    if y is not None:
        counts = Counter(np.asarray(y).tolist())
        order = [c for c in inferred["classes"] or [] if c in counts]
        order += sorted((c for c in counts if c not in order), key=str)
        training["n_images"] = int(len(y))
        training["class_counts"] = {str(c): int(counts[c]) for c in order}
    meta = {
        "format": _FORMAT,
        "hybridfer_version": __version__,
        "saved": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "pipeline": label or inferred["steps"],
        "classes": inferred["classes"],
        "image": {
            "shape": shape or inferred["shape"],
            "color": seen_color,
            "resizes": inferred["resizes"],
            "input_size": inferred["input_size"],
        },
        "probabilities": inferred["probabilities"],
        "training_data": training,
        "scores": {k: plain_json(v) for k, v in (scores or {}).items()},
    }
    if extra:
        meta.update({k: plain_json(v) for k, v in extra.items()})
    return meta


def attach_metadata(model: Any, metadata: Mapping[str, Any]) -> Any:
    """Set ``model.hybridfer_metadata_`` (saved with it by joblib); returns the model."""
    setattr(model, METADATA_ATTR, dict(metadata))
    return model


def save_pipeline(
    model: Any,
    path: str | os.PathLike,
    metadata: Mapping[str, Any] | None = None,
    **describe: Any,
) -> Path:
    """Write ``model`` to ``path`` with joblib, atomically, with its metadata attached.

    Parameters
    ----------
    model : fitted estimator
    path : path
        The file to write (its folders are created).
    metadata : mapping, optional
        The metadata to attach (see :func:`pipeline_metadata`); None attaches none, unless
        ``describe`` is given.
    **describe
        Keywords of :func:`pipeline_metadata` (``X``, ``y``, ``data_name``, ``data_source``,
        ``color``, ``scores``, ``label``, ``extra``): attach
        ``pipeline_metadata(model, **describe)``. Not together with ``metadata``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import joblib

    from hybridfer._io import atomic_path

    if describe:
        if metadata is not None:
            raise TypeError("save_pipeline takes metadata or pipeline_metadata keywords, not both")
        metadata = pipeline_metadata(model, **describe)
    if metadata is not None:
        attach_metadata(model, metadata)
    # joblib pickles in pure Python, which recurses once per link of a torch.fx graph's node
    # list (a fitted deep extractor's model_): ResNet50's needs more than the default 1,000
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, _PICKLE_RECURSION_LIMIT))
    try:
        with atomic_path(path) as tmp:
            joblib.dump(model, tmp)
    finally:
        sys.setrecursionlimit(limit)
    return Path(path)


def load_pipeline(
    path: str | os.PathLike, what: str = "pipeline file"
) -> tuple[Any, dict[str, Any] | None]:
    """A saved pipeline and its metadata (None for a bare pipeline without any).

    Accepts a pipeline (with or without ``hybridfer_metadata_``) or a dict
    ``{"pipeline": model, "metadata": {...}}``.

    Parameters
    ----------
    path : path
        The joblib file.
    what : str, default="pipeline file"
        How error messages name the file (e.g. ``"--pipeline"``).

    Returns
    -------
    model : estimator
    metadata : dict or None

    Raises
    ------
    PipelineFileError
        Naming ``what`` and the path, when the file is missing, unreadable or holds something
        else.
    """
    import joblib

    p = Path(path)
    if not p.is_file():
        raise PipelineFileError(
            f"{what} {os.fspath(p)!r}: "
            + ("is a folder; expected a file" if p.is_dir() else "no such file")
        )
    try:
        obj = joblib.load(p)
    except Exception as exc:  # any unpickling error: the file is not what it should be
        raise PipelineFileError(
            f"{what} {os.fspath(p)!r}: not a pipeline saved by hybridfer (joblib could not read "
            f"it: {type(exc).__name__}: {exc})"
        ) from None
    metadata = None
    if isinstance(obj, Mapping) and "pipeline" in obj:
        metadata = obj.get("metadata")
        obj = obj["pipeline"]
    if not (hasattr(obj, "fit") and hasattr(obj, "predict")):
        raise PipelineFileError(
            f"{what} {os.fspath(p)!r}: holds a {type(obj).__name__}, not a pipeline "
            "(saved by hybridfer tune, evaluate or a recipe)"
        )
    if metadata is None:
        metadata = getattr(obj, METADATA_ATTR, None)
    return obj, (dict(metadata) if isinstance(metadata, Mapping) else None)


def _model_metadata(card: Any) -> dict[str, Any]:
    """The metadata of a shipped model's classifier, from its card."""
    from hybridfer import __version__

    data = card.data
    training = data.get("training", {})
    return {
        "format": _FORMAT,
        "hybridfer_version": __version__,
        "pipeline": f"shipped model {card.name} (FERNetClassifier, tta={data.get('tta')!r})",
        "model": card.name,
        "weights_sha256": card.sha256,
        "classes": card.classes,
        "image": {
            "shape": list(card.input_size),
            "color": card.input("color"),
            "resizes": True,
            "input_size": list(card.input_size),
        },
        "probabilities": True,
        "training_data": {"name": training.get("data")} if training.get("data") else {},
        "scores": {k: v for k, v in data.get("scores", {}).items() if isinstance(v, (int, float))},
    }


def load_predictor(
    spec: str | os.PathLike, what: str = "pipeline file"
) -> tuple[Any, dict[str, Any] | None]:
    """A pipeline file (:func:`load_pipeline`), or a shipped model by name or card file.

    A shipped model (:mod:`hybridfer.models`; an existing file is a pipeline file unless its
    name ends with ``.json``) becomes :func:`~hybridfer.classifiers.pretrained_classifier`
    with the card's ``tta``, and its metadata is made from the card.

    Returns
    -------
    model : estimator
    metadata : dict or None
    """
    from hybridfer.models import get_model, is_model_spec

    text = os.fspath(spec)
    if is_model_spec(text) and (text.endswith(".json") or not Path(text).exists()):
        from hybridfer.classifiers import pretrained_classifier

        card = get_model(text)
        return pretrained_classifier(card, tta=card.data.get("tta")), _model_metadata(card)
    return load_pipeline(spec, what)
