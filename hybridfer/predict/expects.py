"""What a fitted pipeline expects and predicts: its classes, the images it takes, its steps.

Read from the fitted steps themselves (a deep extractor's ``input_size``, a handcrafted
extractor's fitted ``image_shape_``) and completed by the metadata saved with the pipeline
(:mod:`hybridfer.predict.saved`). :func:`format_info` is what ``hybridfer predict --info``
prints.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hybridfer._messages import plain_json

__all__ = ["format_info", "inspect_pipeline", "pipeline_info"]


def _image_steps(model: Any) -> list[Any]:
    """The transformers that receive the images: the first step of (nested) pipelines, the
    parts of feature unions, what a FrozenEstimator wraps."""
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import FeatureUnion, Pipeline

    if isinstance(model, FrozenEstimator):
        return _image_steps(model.estimator)
    if isinstance(model, Pipeline):
        return _image_steps(model.steps[0][1])
    if isinstance(model, FeatureUnion):
        return [leaf for _, t in model.transformer_list for leaf in _image_steps(t)]
    return [model]


def _step_names(model: Any) -> str:
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import FeatureUnion, Pipeline

    if isinstance(model, FrozenEstimator):
        return f"FrozenEstimator({_step_names(model.estimator)})"
    if isinstance(model, Pipeline):
        return " -> ".join(_step_names(s) for _, s in model.steps)
    if isinstance(model, FeatureUnion):
        return "+".join(_step_names(t) for _, t in model.transformer_list)
    return type(model).__name__


def _size_pair(value: Any) -> list[int] | None:
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return [int(value), int(value)]
    try:
        pair = [int(v) for v in value]
    except (TypeError, ValueError):
        return None
    return pair[:2] if len(pair) >= 2 else None


def inspect_pipeline(model: Any) -> dict[str, Any]:
    """What a fitted pipeline itself tells: classes, probabilities, the images it takes.

    Returns
    -------
    dict
        ``classes`` (list or None), ``probabilities`` (whether it has ``predict_proba``),
        ``resizes`` (whether every image step resizes to its ``input_size``), ``shape`` (the
        fitted ``[H, W]`` of a step that does not resize, or None), ``input_size``, ``color``
        (``"gray"`` or ``"rgb"``), ``color_known`` (whether a fitted image shape tells the
        color) and ``steps`` (the step names, e.g. ``"HOGFeatures -> LogisticRegression"``).
    """
    classes = getattr(model, "classes_", None)
    leaves = _image_steps(model)
    resizing, fixed_shapes = [], []
    input_size = None
    for leaf in leaves:
        if "input_size" in getattr(leaf, "__dict__", {}):  # a deep extractor
            size = _size_pair(leaf.input_size)
            if size is None and getattr(leaf, "model_card_", None):  # a shipped model
                size = _size_pair(getattr(leaf, "input_size_", None))
            if size is not None:  # resizes every image to input_size (a shipped model's)
                resizing.append(leaf)
                input_size = input_size or size
                continue
            native = _size_pair(getattr(leaf, "input_size_", None))  # its fitted native size
            if native is not None:
                fixed_shapes.append(native)
        elif getattr(leaf, "image_shape_", None) is not None:  # handcrafted: fitted shape
            fixed_shapes.append([int(s) for s in leaf.image_shape_[:2]])
    resizes = bool(leaves) and len(resizing) == len(leaves)
    shape = fixed_shapes[0] if fixed_shapes else None
    fixed = [leaf for leaf in leaves if getattr(leaf, "image_shape_", None) is not None]
    color_known = bool(fixed)  # a fitted image shape tells the color the step was fitted on
    if fixed:
        color = "rgb" if len(fixed[0].image_shape_) == 3 else "gray"
    else:
        colors = [getattr(leaf, "color", None) for leaf in leaves]
        color = next((c for c in colors if c in ("gray", "rgb")), "gray")
    return {
        "classes": None if classes is None else [plain_json(c) for c in classes],
        "probabilities": hasattr(model, "predict_proba"),
        "resizes": resizes,
        "shape": shape,
        "input_size": input_size,
        "color": color,
        "color_known": color_known,
        "steps": _step_names(model),
    }


def pipeline_info(model: Any, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a pipeline expects and predicts: its saved ``metadata`` where given, completed
    (and, for classes, probabilities and resizing, overridden) by what the fitted pipeline
    itself tells (:func:`inspect_pipeline`).

    Parameters
    ----------
    model : fitted estimator
    metadata : mapping, optional
        The metadata saved with it (see :func:`hybridfer.predict.load_pipeline`).

    Returns
    -------
    dict
        The entries of ``metadata``, with ``pipeline``, ``steps``, ``classes``,
        ``probabilities``, ``image`` (``shape``, ``color``, ``resizes``, ``input_size``) and
        ``saved_metadata`` (whether metadata was saved with it).
    """
    inferred = inspect_pipeline(model)
    meta = dict(metadata or {})
    image = dict(meta.get("image") or {})
    image["shape"] = inferred["shape"] or image.get("shape")  # the fitted steps decide
    if inferred["color_known"] or not image.get("color"):
        image["color"] = inferred["color"]
    image["resizes"] = inferred["resizes"]
    image["input_size"] = inferred["input_size"]
    return {
        **meta,
        "saved_metadata": metadata is not None,
        "pipeline": meta.get("pipeline") or inferred["steps"],
        "steps": inferred["steps"],
        "classes": inferred["classes"] if inferred["classes"] is not None else meta.get("classes"),
        "probabilities": inferred["probabilities"],
        "image": image,
    }


def _size_text(pair: Sequence[int] | None) -> str:
    return "?" if not pair else f"{pair[0]}x{pair[1]}"


def format_info(
    info: Mapping[str, Any], path: str | os.PathLike | None = None, what: str = "pipeline file"
) -> str:
    """A readable listing of :func:`pipeline_info` (what ``hybridfer predict --info`` prints);
    ``path`` is named as ``what`` (``"model"`` for a shipped model)."""
    lines = []
    if path is not None:
        lines.append(f"{what}: {os.fspath(path)}")
    lines.append(f"pipeline: {info['pipeline']}")
    if info.get("steps") and info["steps"] != info["pipeline"]:
        lines.append(f"steps: {info['steps']}")
    classes = info.get("classes")
    lines.append(
        f"classes ({len(classes)}): {', '.join(map(str, classes))}" if classes else "classes: ?"
    )
    image = info["image"]
    color = image.get("color") or "gray"
    if image.get("resizes"):
        to = image.get("input_size")
        trained = f"; trained on {_size_text(image.get('shape'))}" if image.get("shape") else ""
        lines.append(
            f"images: {color}, any size (the pipeline resizes them"
            + (f" to {_size_text(to)}" if to else "")
            + f"){trained}"
        )
    else:
        lines.append(
            f"images: {_size_text(image.get('shape'))} {color} (the pipeline does not resize: "
            "other sizes are refused)"
        )
    lines.append(
        "probabilities: " + ("yes (predict_proba)" if info["probabilities"] else "no (labels only)")
    )
    if not info["saved_metadata"]:
        lines.append(
            "metadata: none saved with this pipeline (a bare pipeline, e.g. a recipe's); the "
            "lines above are read from the fitted pipeline"
        )
        return "\n".join(lines)
    lines.append(f"hybridfer version: {info.get('hybridfer_version', '?')}")
    if info.get("saved"):
        lines.append(f"saved: {info['saved']}")
    training = info.get("training_data") or {}
    if training:
        what = training.get("name") or "?"
        if training.get("source"):
            what += f" ({training['source']})"
        counts = training.get("class_counts") or {}
        count_text = ", ".join(f"{k} {v}" for k, v in counts.items())
        n = training.get("n_images")
        lines.append(
            f"training data: {what}"
            + (f", {n} images" if n is not None else "")
            + (f": {count_text}" if count_text else "")
        )
    scores = info.get("scores") or {}
    if scores:
        lines.append(
            "scores: "
            + ", ".join(
                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in scores.items()
            )
        )
    for key in sorted(set(info) - _KNOWN_KEYS):
        lines.append(f"{key}: {info[key]}")
    return "\n".join(lines)


_KNOWN_KEYS = {
    "format",
    "hybridfer_version",
    "saved",
    "pipeline",
    "steps",
    "classes",
    "image",
    "probabilities",
    "training_data",
    "scores",
    "saved_metadata",
}
