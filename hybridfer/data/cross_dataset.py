"""Cross-dataset evaluation as a protocol: train on one data set, test on another.

:func:`cross_dataset` relabels the test set into the training set's classes
(:func:`hybridfer.data.map_labels`), drops the test classes with no counterpart (CK+'s
contempt for a FER2013 model) and records what it dropped, and which training classes the test
set lacks (neutral, for CK+48): a model keeps predicting those, and such predictions are
errors unless the scores are restricted to the shared classes
(:func:`hybridfer.evaluation.cross_dataset_report`). Nothing is split: every kept test image is
scored, the whole training set is fitted on. Images the two sets share (FERPlus is FER2013
relabelled; web-crawled sets overlap) are found by content with
:func:`hybridfer.evaluation.leakage_audit`, not by row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from hybridfer.data.dataset import FERDataset
from hybridfer.data.label_maps import map_labels
from hybridfer.data.protocols import ProtocolSplit

__all__ = ["CrossDatasetSplit", "cross_dataset"]


@dataclass
class CrossDatasetSplit(ProtocolSplit):
    """A training set and another data set relabelled into its classes.

    Attributes
    ----------
    train, test : FERDataset
        ``test`` holds the kept images, labelled in ``train``'s classes.
    train_index, test_index : ndarray of int
        All rows of the training set; the rows of the original test set that were kept.
    dropped : dict of str to int
        Test class (its own name) -> images dropped for want of a counterpart.
    mapping : dict of str to str
        Test class (its own name) -> training class.
    shared_classes : tuple of str
        Training classes that occur in the test set, in the training set's order.
    train_only_classes : tuple of str
        Training classes with no test image (a model may still predict them).
    n_missing : int
        Test pictures in which no face was found (set by
        :func:`hybridfer.evaluation.open_cross_data` when it crops faces).
    """

    dropped: dict[str, int] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)
    shared_classes: tuple[str, ...] = ()
    train_only_classes: tuple[str, ...] = ()
    n_missing: int = 0

    def n_test_sharing_a_source(self) -> int:
        """0: the two parts come from different data sets (shared images are found by
        content, with :func:`hybridfer.evaluation.leakage_audit`)."""
        return 0

    def describe(self) -> str:
        """What was trained on, what was tested, and which classes were dropped or missing."""
        renamed = ", ".join(f"{a} -> {b}" for a, b in self.mapping.items() if a != b)
        dropped = ", ".join(f"{c} ({n} images)" for c, n in self.dropped.items()) or "none"
        missing = ", ".join(self.train_only_classes) or "none"
        missing_faces = (
            f"; no face found in {self.n_missing} (read whole)" if self.n_missing else ""
        )
        return (
            f"cross-dataset: trained on {self.train.name} ({len(self.train)} images), tested "
            f"on {self.test.name} ({len(self.test)} images); labels mapped "
            f"{renamed or 'as they are'}; test classes dropped: {dropped}; training classes "
            f"absent from the test set: {missing}{missing_faces}"
        )


def cross_dataset(
    train: FERDataset,
    test: FERDataset,
    *,
    merge: Mapping[str, str] | None = None,
    drop: Sequence[str] = (),
) -> CrossDatasetSplit:
    """Pair a training set with another data set, relabelled into the training classes.

    Parameters
    ----------
    train : FERDataset
        What the model is fitted on (all of it).
    test : FERDataset
        The other data set; its ``name`` selects its label map
        (:data:`hybridfer.data.LABEL_MAPS`).
    merge, drop
        As in :func:`hybridfer.data.map_labels` (e.g. ``merge={"contempt": "disgust"}``).

    Returns
    -------
    CrossDatasetSplit
    """
    mapped = map_labels(test, to=train, merge=merge, drop=drop)
    kept = np.flatnonzero(np.isin(test.labels, list(mapped.mapping)))
    present = set(mapped.dataset.labels.tolist())
    trained = set(train.labels.tolist())
    shared = tuple(c for c in train.classes if c in present)
    train_only = tuple(c for c in train.classes if c in trained and c not in present)
    return CrossDatasetSplit(
        train=train,
        test=mapped.dataset,
        train_index=np.arange(len(train)),
        test_index=kept,
        dropped=mapped.dropped,
        mapping=mapped.mapping,
        shared_classes=shared,
        train_only_classes=train_only,
    )
