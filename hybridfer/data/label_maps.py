"""Label maps as data: every data set's classes against one canonical set, and
:func:`map_labels`, which relabels a data set into another's classes.

The canonical set (:data:`CANONICAL_CLASSES`) is FER2013's seven classes plus contempt. Each
loader's classes map onto it through :data:`LABEL_MAPS` (its own spelling on the left, the
canonical name on the right). What has no counterpart is dropped, never guessed:

- **contempt** (CK+, CK+48, FERPlus, AffectNet) has none among FER2013's, JAFFE's, RAF-DB's,
  ExpW's or KDEF's seven: its images are dropped, or merged into a class with
  ``merge={"contempt": "disgust"}`` (a choice some papers make; say so when you do);
- **neutral** has none in CK+48 (its frames are the sequences' peaks): a model trained with a
  neutral class keeps predicting it there, and those predictions count as errors unless the
  scores are restricted to the shared classes (:func:`hybridfer.evaluation.cross_dataset_report`);
- FERPlus' **unknown** and **NF** (not a face) votes are not classes: its loader drops those rows.

A class folder of an unregistered data set maps by its name when that name (or a common
synonym: ``anger``, ``happiness``, ``sadness``, ``surprised``, ``afraid``, ``fearful``,
``disgusted``) is a canonical class.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np

from hybridfer._messages import plain_repr
from hybridfer.data.dataset import FERDataset
from hybridfer.data.fer2013 import FER2013_CLASSES

__all__ = [
    "CANONICAL_CLASSES",
    "LABEL_MAPS",
    "SYNONYMS",
    "LabelMapping",
    "canonical_map",
    "label_map_table",
    "map_labels",
]

#: FER2013's seven classes, in its order, then contempt.
CANONICAL_CLASSES: tuple[str, ...] = (*FER2013_CLASSES, "contempt")

#: Common spellings of the canonical classes in data set releases and class folders.
SYNONYMS: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "afraid": "fear",
    "fearful": "fear",
    "happy": "happy",
    "happiness": "happy",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
    "contempt": "contempt",
}

_SEVEN = {c: c for c in FER2013_CLASSES}

#: Each registered data set's classes (its loader's own spelling, in its order) -> canonical.
LABEL_MAPS: dict[str, dict[str, str]] = {
    "fer2013": dict(_SEVEN),
    "jaffe": dict(_SEVEN),
    "expw": dict(_SEVEN),
    "ferplus": {
        "neutral": "neutral",
        "happiness": "happy",
        "surprise": "surprise",
        "sadness": "sad",
        "anger": "angry",
        "disgust": "disgust",
        "fear": "fear",
        "contempt": "contempt",
    },
    "rafdb": {
        "surprise": "surprise",
        "fear": "fear",
        "disgust": "disgust",
        "happiness": "happy",
        "sadness": "sad",
        "anger": "angry",
        "neutral": "neutral",
    },
    "affectnet": {
        "neutral": "neutral",
        "happy": "happy",
        "sad": "sad",
        "surprise": "surprise",
        "fear": "fear",
        "disgust": "disgust",
        "anger": "angry",
        "contempt": "contempt",
    },
    "kdef": {
        "afraid": "fear",
        "angry": "angry",
        "disgusted": "disgust",
        "happy": "happy",
        "neutral": "neutral",
        "sad": "sad",
        "surprised": "surprise",
    },
    "ckplus48": {
        "anger": "angry",
        "contempt": "contempt",
        "disgust": "disgust",
        "fear": "fear",
        "happy": "happy",
        "sadness": "sad",
        "surprise": "surprise",
    },
    "ckplus": {
        "neutral": "neutral",
        "anger": "angry",
        "contempt": "contempt",
        "disgust": "disgust",
        "fear": "fear",
        "happy": "happy",
        "sadness": "sad",
        "surprise": "surprise",
    },
}


def _base_name(name: str) -> str:
    """A data set's registry name from its ``name``: ``"fer2013[Training]"`` -> ``"fer2013"``;
    a relabelled set, ``"ckplus48->fer2013"``, carries its target's classes."""
    return name.rsplit("->", 1)[-1].split("[", 1)[0].strip().lower()


def canonical_map(ds_or_name: Any, classes: Sequence[str] | None = None) -> dict[str, str]:
    """Own class -> canonical class for a data set (a :class:`FERDataset` or a name).

    Registered names use :data:`LABEL_MAPS`; otherwise each class maps by :data:`SYNONYMS`.
    Classes without a canonical counterpart are left out of the result.
    """
    if isinstance(ds_or_name, str):
        name, own = _base_name(ds_or_name), classes
    else:
        name, own = _base_name(ds_or_name.name), classes or ds_or_name.classes
    if name in LABEL_MAPS:
        table = LABEL_MAPS[name]
        if own is None:
            return dict(table)
        return {c: table[c] for c in own if c in table}
    if own is None:
        raise ValueError(
            f"no label map is registered for {plain_repr(name)} (registered: "
            f"{sorted(LABEL_MAPS)}); pass its classes"
        )
    return {c: SYNONYMS[c.lower()] for c in own if c.lower() in SYNONYMS}


class LabelMapping(NamedTuple):
    """What :func:`map_labels` returns: the relabelled data set and what it did."""

    dataset: FERDataset
    #: Source class -> number of images dropped (no counterpart in the target classes).
    dropped: dict[str, int]
    #: Source class -> the target class it was renamed or merged into.
    mapping: dict[str, str]

    def describe(self) -> str:
        """One line: the renames, and what was dropped."""
        moved = ", ".join(f"{a} -> {b}" for a, b in self.mapping.items() if a != b)
        dropped = ", ".join(f"{n} {c}" for c, n in self.dropped.items())
        return (
            f"{self.dataset.name}: {len(self.dataset)} images; "
            f"{'renamed ' + moved if moved else 'no class renamed'}; "
            f"{'dropped ' + dropped + ' (no counterpart)' if dropped else 'nothing dropped'}"
        )


def _target(to: Any) -> tuple[tuple[str, ...], dict[str, str], str]:
    """Target classes (in order), canonical -> target class, and the target's name."""
    if isinstance(to, str):
        key = _base_name(to)
        if key == "canonical":
            return CANONICAL_CLASSES, {c: c for c in CANONICAL_CLASSES}, "canonical"
        if key not in LABEL_MAPS:
            raise ValueError(
                f"to={plain_repr(to)} is not a registered data set; expected one of "
                f"{['canonical', *sorted(LABEL_MAPS)]}, a FERDataset, or a list of class names"
            )
        table = LABEL_MAPS[key]
        return tuple(table), {v: k for k, v in table.items()}, key
    if hasattr(to, "classes") and hasattr(to, "name"):
        own = canonical_map(to)
        return tuple(to.classes), {v: k for k, v in own.items()}, _base_name(to.name)
    classes = tuple(str(c) for c in to)
    if not classes:
        raise ValueError("to= names no classes")
    unknown = [c for c in classes if c not in CANONICAL_CLASSES]
    if unknown:
        raise ValueError(
            f"to= lists {unknown}, which are not canonical classes {list(CANONICAL_CLASSES)}"
        )
    return classes, {c: c for c in classes}, "classes"


def map_labels(
    ds: FERDataset,
    to: str | FERDataset | Sequence[str] = "fer2013",
    *,
    merge: Mapping[str, str] | None = None,
    drop: Sequence[str] = (),
) -> LabelMapping:
    """Relabel ``ds`` into another data set's classes through the canonical set.

    Parameters
    ----------
    ds : FERDataset
        A loader's data set; its ``name`` selects the row of :data:`LABEL_MAPS`.
    to : str, FERDataset or sequence of str, default="fer2013"
        The target: a registered data set's name (its classes, in its order),
        ``"canonical"`` (:data:`CANONICAL_CLASSES`), a data set, or canonical class names.
    merge : dict, optional
        Source class -> target class for classes with no counterpart (or to override one),
        e.g. ``{"contempt": "disgust"}``.
    drop : sequence of str
        Source classes to drop although they have a counterpart.

    Returns
    -------
    LabelMapping
        ``dataset`` (labels and ``classes`` those of the target; ``soft_labels`` columns
        summed into their target class and renormalised), ``dropped`` (source class ->
        images dropped) and ``mapping`` (source class -> target class).

    Raises
    ------
    ValueError
        If ``merge`` or ``drop`` names an unknown class, or nothing is left.
    """
    classes, from_canonical, target_name = _target(to)
    own = canonical_map(ds)
    merge = dict(merge or {})
    for name, value in (("merge", list(merge)), ("drop", list(drop))):
        unknown = [c for c in value if c not in ds.classes]
        if unknown:
            raise ValueError(
                f"{name} names {unknown}, which are not classes of {ds.name}: {list(ds.classes)}"
            )
    bad = {a: b for a, b in merge.items() if b not in classes}
    if bad:
        raise ValueError(f"merge targets {sorted(set(bad.values()))} are not among {list(classes)}")
    mapping: dict[str, str] = {}
    for c in ds.classes:
        if c in drop:
            continue
        if c in merge:
            mapping[c] = merge[c]
        elif c in own and own[c] in from_canonical:
            mapping[c] = from_canonical[own[c]]
    keep = np.isin(ds.labels, list(mapping))
    counts = Counter(ds.labels[~keep].tolist())
    dropped = {c: counts[c] for c in ds.classes if counts.get(c)}
    if not keep.any():
        raise ValueError(
            f"no image of {ds.name} has a class in {target_name} {list(classes)}; its classes "
            f"are {list(ds.classes)}"
        )
    kept = ds.subset(keep)
    labels = np.array([mapping[c] for c in kept.labels.tolist()], dtype=str)
    soft = None
    if kept.soft_labels is not None:
        soft = np.zeros((len(kept), len(classes)), dtype=np.float32)
        position = {c: i for i, c in enumerate(classes)}
        for j, c in enumerate(ds.classes):
            if c in mapping:
                soft[:, position[mapping[c]]] += kept.soft_labels[:, j]
        total = soft.sum(axis=1, keepdims=True)
        soft = soft / np.where(total > 0, total, 1)
        empty = total[:, 0] <= 0
        soft[empty, _columns(labels[empty], position)] = 1.0
    out = replace(
        kept,
        labels=labels,
        classes=classes,
        soft_labels=soft,
        name=f"{kept.name}->{target_name}",
    )
    return LabelMapping(out, dropped, mapping)


def _columns(labels: np.ndarray, position: dict[str, int]) -> np.ndarray:
    """Column of each label in a class order (``position``: class -> column)."""
    return np.array([position[c] for c in labels.tolist()], dtype=np.int64)


def label_map_table() -> list[dict[str, str]]:
    """The label maps as rows (``dataset``, ``class``, ``canonical``), for docs and the CLI."""
    return [
        {"dataset": name, "class": own, "canonical": canon}
        for name, table in LABEL_MAPS.items()
        for own, canon in table.items()
    ]
