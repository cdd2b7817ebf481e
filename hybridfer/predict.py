"""Saved pipelines: the metadata they carry, loading them, and predicting new images with them.

A pipeline saved by ``hybridfer tune`` or ``hybridfer evaluate`` (or by :func:`save_pipeline`)
is a plain scikit-learn pipeline pickled with joblib; its metadata rides on it as the attribute
``hybridfer_metadata_`` (so ``joblib.load(path).predict(X)`` keeps working): the classes, the
images it expects (size, color, whether it resizes), the toolkit version, a summary of its
training data and its scores. :func:`load_pipeline` also reads a bare pipeline (a recipe's
``pipeline.joblib``), whose expectations are then read from the fitted steps themselves, and
the ``{"pipeline": model, "metadata": {...}}`` form.

:func:`predict_to_csv` applies a pipeline to image files (folders are searched recursively) or
to a FER2013 CSV, batch by batch, and writes one CSV row per image: where it came from, the
predicted label and one column per class probability. An image that cannot be read becomes a
row with its ``error`` and no prediction; the run goes on.
"""

from __future__ import annotations

import csv
import datetime as _dt
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hybridfer._messages import plain_repr

__all__ = [
    "METADATA_ATTR",
    "PipelineFileError",
    "PredictInputError",
    "PredictReport",
    "attach_metadata",
    "collect_inputs",
    "format_info",
    "load_pipeline",
    "pipeline_info",
    "pipeline_metadata",
    "predict_to_csv",
    "save_pipeline",
]

#: The attribute of a saved pipeline that holds its metadata dict.
METADATA_ATTR = "hybridfer_metadata_"
_FORMAT = 1
#: Recursion limit while pickling (see :func:`save_pipeline`).
_PICKLE_RECURSION_LIMIT = 20_000


class PipelineFileError(ValueError):
    """A pipeline file that is missing or is not a pipeline; the message names the file."""


class PredictInputError(ValueError):
    """Inputs that cannot be predicted (missing, none found, a size the pipeline refuses);
    the message names the input."""


# --------------------------------------------------------------------------------------------
# metadata
# --------------------------------------------------------------------------------------------


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
    """
    from hybridfer import __version__

    inferred = _inspect(model)
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
        "scores": {k: _jsonable(v) for k, v in (scores or {}).items()},
    }
    if extra:
        meta.update({k: _jsonable(v) for k, v in extra.items()})
    return meta


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def attach_metadata(model: Any, metadata: Mapping[str, Any]) -> Any:
    """Set ``model.hybridfer_metadata_`` (saved with it by joblib); returns the model."""
    setattr(model, METADATA_ATTR, dict(metadata))
    return model


def save_pipeline(
    model: Any, path: str | os.PathLike, metadata: Mapping[str, Any] | None = None
) -> Path:
    """Write ``model`` (with ``metadata`` attached, if given) to ``path`` with joblib,
    atomically; returns the path."""
    import joblib

    from hybridfer._io import atomic_path

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
    ``{"pipeline": model, "metadata": {...}}``. Raises :class:`PipelineFileError`, naming
    ``what`` and the path, when the file is missing, unreadable or holds something else.
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


def _image_steps(model: Any) -> list[Any]:
    """The transformers that receive the images: the first step of (nested) pipelines, the
    parts of feature unions."""
    from sklearn.pipeline import FeatureUnion, Pipeline

    if isinstance(model, Pipeline):
        return _image_steps(model.steps[0][1])
    if isinstance(model, FeatureUnion):
        return [leaf for _, t in model.transformer_list for leaf in _image_steps(t)]
    return [model]


def _step_names(model: Any) -> str:
    from sklearn.pipeline import FeatureUnion, Pipeline

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


def _inspect(model: Any) -> dict[str, Any]:
    """What a fitted pipeline itself tells: classes, probabilities, the images it takes."""
    classes = getattr(model, "classes_", None)
    leaves = _image_steps(model)
    resizing, fixed_shapes = [], []
    input_size = None
    for leaf in leaves:
        if "input_size" in getattr(leaf, "__dict__", {}):  # a deep extractor
            size = _size_pair(leaf.input_size)
            if size is not None:  # resizes every image to input_size
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
        "classes": None if classes is None else [_jsonable(c) for c in classes],
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
    itself tells. ``"saved_metadata"`` says whether metadata was saved with it."""
    inferred = _inspect(model)
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


def format_info(info: Mapping[str, Any], path: str | os.PathLike | None = None) -> str:
    """A readable listing of :func:`pipeline_info` (what ``hybridfer predict --info`` prints)."""
    lines = []
    if path is not None:
        lines.append(f"pipeline file: {os.fspath(path)}")
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


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------


@dataclass
class _Inputs:
    """What to predict: image files, or the rows of a FER2013 CSV."""

    paths: list[str] = field(default_factory=list)
    csv: str | None = None
    images: np.ndarray | None = None  # the CSV's images
    rows: np.ndarray | None = None  # their 0-based data row numbers
    usage: np.ndarray | None = None
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.paths) if self.csv is None else len(self.rows)


def collect_inputs(inputs: Sequence[str | os.PathLike], usage: Sequence[str] | None = None):
    """Image files from folders (searched recursively), files, or one FER2013 CSV.

    Raises :class:`PredictInputError` for a missing input, a CSV given with other inputs, or
    when no image is found.
    """
    from hybridfer.images import IMAGE_SUFFIXES

    if not inputs:
        raise PredictInputError("no inputs given: pass image folders, image files or a CSV")
    csvs = [os.fspath(p) for p in inputs if os.fspath(p).lower().endswith(".csv")]
    if csvs and len(inputs) > 1:
        raise PredictInputError(
            f"input {csvs[0]!r}: a FER2013 CSV must be the only input (got {len(inputs)} inputs)"
        )
    if usage and not csvs:
        raise PredictInputError("--usage applies to a FER2013 CSV input only")
    out = _Inputs()
    for item in inputs:
        p = Path(item)
        if not p.exists():
            raise PredictInputError(f"input {os.fspath(p)!r}: no such file or folder")
        if p.is_dir():
            found = sorted(
                os.fspath(f)
                for f in p.rglob("*")
                if f.suffix.lower() in IMAGE_SUFFIXES
                and f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            out.paths.extend(found)
        elif os.fspath(p).lower().endswith(".csv"):
            _read_csv_input(out, p, usage)
        else:
            out.paths.append(os.fspath(p))
    if not len(out):
        where = ", ".join(repr(os.fspath(p)) for p in inputs)
        raise PredictInputError(
            f"no input images found in {where} (looked for {', '.join(IMAGE_SUFFIXES)} files, "
            "recursively)" + (f" with usage {list(usage)}" if usage else "")
        )
    return out


def _read_csv_input(out: _Inputs, path: Path, usage: Sequence[str] | None) -> None:
    from hybridfer.data import load_fer2013

    try:
        ds = load_fer2013(path)
    except ValueError as exc:
        raise PredictInputError(str(exc)) from None
    rows = np.arange(len(ds))
    if usage:
        present = sorted(set(ds.usage.tolist()))
        unknown = [u for u in usage if u not in present]
        if unknown:
            raise PredictInputError(
                f"--usage {unknown}: not in {os.fspath(path)!r}, whose usages are {present}"
            )
        rows = np.flatnonzero(np.isin(ds.usage, list(usage)))
    out.csv = os.fspath(path)
    out.rows = rows
    out.images = ds.images[rows]
    out.usage = ds.usage[rows]
    out.labels = ds.labels[rows]


# --------------------------------------------------------------------------------------------
# predicting
# --------------------------------------------------------------------------------------------


@dataclass
class PredictReport:
    """What :func:`predict_to_csv` did."""

    output: Path
    n_images: int
    n_predicted: int
    n_failed: int
    probabilities: bool
    classes: list
    seconds: float
    first_error: str | None = None
    accuracy: float | None = None  # against a FER2013 CSV's own labels

    def summary(self) -> str:
        """One or two lines for the end of a run."""
        text = (
            f"predicted {self.n_predicted} of {self.n_images} images in {self.seconds:.1f} s: "
            f"{os.fspath(self.output)}"
        )
        if self.accuracy is not None:
            text += f"\naccuracy against the CSV's own labels: {self.accuracy:.4f}"
        if self.n_failed:
            text += (
                f"\n{self.n_failed} image{'s' if self.n_failed > 1 else ''} could not be "
                f"read (see the error column), first: {self.first_error}"
            )
        return text


def _decode(path: str, color: str) -> tuple[np.ndarray | None, str | None]:
    from hybridfer.images import read_image

    try:
        return read_image(path, color), None
    except (OSError, ValueError) as exc:  # FileNotFoundError, ImageReadError, ...
        return None, " ".join(str(exc).split())


def _batches(n: int, size: int) -> Iterator[range]:
    for start in range(0, n, size):
        yield range(start, min(start + size, n))


def predict_to_csv(
    model: Any,
    inputs: Sequence[str | os.PathLike] | _Inputs,
    output: str | os.PathLike,
    *,
    metadata: Mapping[str, Any] | None = None,
    batch_size: int = 256,
    progress: bool = False,
    usage: Sequence[str] | None = None,
    n_jobs: int | None = None,
) -> PredictReport:
    """Predict every input image with ``model`` and write one CSV row per image.

    Parameters
    ----------
    model : fitted pipeline
    inputs : sequence of paths
        Image folders (searched recursively), image files, or one FER2013 CSV.
    output : path
        The CSV to write (atomically: readers never see a partial file).
    metadata : mapping, optional
        The pipeline's saved metadata (see :func:`load_pipeline`): how to decode files
        (gray or RGB) and what image size to expect.
    batch_size : int, default=256
        Images decoded and predicted at once (memory stays bounded by it).
    progress : bool, default=False
        A tqdm progress bar on stderr (when stderr is a terminal).
    usage : sequence of str, optional
        For a FER2013 CSV: only the rows of these usages (e.g. ``["PrivateTest"]``).
    n_jobs : int, optional
        Decoding threads (default: up to 8).

    Columns: ``path`` (files) or ``row``, ``usage`` and ``true_label`` (a CSV: its 0-based
    data row, header not counted), then ``label``, then ``proba_<class>`` per class when the
    pipeline has ``predict_proba`` (the label is then the most probable class), and
    ``error`` (empty, or why the image could not be read; such rows have no prediction).

    Raises
    ------
    PredictInputError
        Missing inputs, no image found, or an image of a size the pipeline refuses (named).
    """
    from tqdm.auto import tqdm

    from hybridfer._io import atomic_path

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {plain_repr(batch_size)}")
    src = inputs if isinstance(inputs, _Inputs) else collect_inputs(inputs, usage)
    info = pipeline_info(model, metadata)
    color = info["image"].get("color") or "gray"
    expected = None if info["image"]["resizes"] else info["image"].get("shape")
    proba = bool(info["probabilities"])
    classes = info["classes"]
    if proba and classes is None:
        proba = False
    head = ["path"] if src.csv is None else ["row", "usage", "true_label"]
    header = head + ["label"] + ([f"proba_{c}" for c in classes] if proba else []) + ["error"]
    n_jobs = n_jobs or min(8, os.cpu_count() or 1)
    n_ok = n_failed = 0
    correct = 0
    first_error = None
    start = time.perf_counter()
    out_path = Path(output)
    # shown on a terminal only (None: tqdm leaves it out when stderr is redirected)
    bar = tqdm(
        total=len(src), unit="img", desc="predict", leave=False, disable=None if progress else True
    )
    pool = ThreadPoolExecutor(max_workers=n_jobs) if src.csv is None and n_jobs > 1 else None
    try:
        with atomic_path(out_path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for batch in _batches(len(src), batch_size):
                if src.csv is None:
                    names = [src.paths[i] for i in batch]
                    decoded = (
                        list(pool.map(lambda p: _decode(p, color), names))
                        if pool is not None
                        else [_decode(p, color) for p in names]
                    )
                    heads = [[n] for n in names]
                else:
                    images = src.images[batch.start : batch.stop]
                    if color == "rgb":
                        images = np.repeat(images[..., None], 3, axis=-1)
                    names = [f"{src.csv} row {src.rows[i]}" for i in batch]
                    decoded = [(img, None) for img in images]
                    heads = [[int(src.rows[i]), src.usage[i], src.labels[i]] for i in batch]
                results = _predict_batch(model, decoded, names, expected, proba, classes)
                for head_k, (label, probs, error) in zip(heads, results, strict=True):
                    if error is not None:
                        n_failed += 1
                        first_error = first_error or error
                        row = [*head_k, ""] + ([""] * len(classes) if proba else []) + [error]
                    else:
                        n_ok += 1
                        if src.csv is not None and label == head_k[2]:
                            correct += 1
                        row = [*head_k, label]
                        if proba:
                            row += [f"{p:.6g}" for p in probs]
                        row.append("")
                    writer.writerow(row)
                bar.update(len(batch))
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown()
    return PredictReport(
        output=out_path,
        n_images=len(src),
        n_predicted=n_ok,
        n_failed=n_failed,
        probabilities=proba,
        classes=list(classes) if classes is not None else [],
        seconds=time.perf_counter() - start,
        first_error=first_error,
        accuracy=(correct / n_ok) if src.csv is not None and n_ok else None,
    )


def _predict_batch(
    model: Any,
    decoded: list[tuple[np.ndarray | None, str | None]],
    names: list[str],
    expected: Sequence[int] | None,
    proba: bool,
    classes: Sequence[Any] | None,
) -> list[tuple[Any, np.ndarray | None, str | None]]:
    """``(label, probabilities, error)`` per image; images of one shape are predicted
    together (a pipeline that resizes takes any size, but one array holds one size)."""
    results: list[Any] = [None] * len(decoded)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, (img, error) in enumerate(decoded):
        if error is not None:
            results[i] = (None, None, error)
            continue
        if expected is not None and list(img.shape[:2]) != list(expected[:2]):
            raise PredictInputError(
                f"image {names[i]!r} is {img.shape[0]}x{img.shape[1]} but the pipeline "
                f"expects {expected[0]}x{expected[1]} images and does not resize them; "
                "resize the inputs (or use a pipeline that resizes, e.g. a deep extractor "
                "with input_size)"
            )
        by_shape.setdefault(tuple(img.shape), []).append(i)
    for idx in by_shape.values():
        X = np.stack([decoded[i][0] for i in idx])
        try:
            if proba:
                P = np.asarray(model.predict_proba(X), dtype=float)
                labels = np.asarray(classes, dtype=object)[P.argmax(axis=1)]
            else:
                P = None
                labels = np.asarray(model.predict(X), dtype=object)
        except ValueError as exc:
            raise PredictInputError(
                f"image {names[idx[0]]!r}: the pipeline cannot predict it "
                f"({' '.join(str(exc).split())})"
            ) from None
        for k, i in enumerate(idx):
            results[i] = (_jsonable(labels[k]), None if P is None else P[k], None)
    return results
