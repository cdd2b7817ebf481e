"""Named protocols: the papers' protocols demonstrably leak (exact copies or subjects on both
sides, found by the leakage audit), the honest ones do not."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hybridfer.data import (
    PROTOCOLS,
    FERDataset,
    ProtocolSplit,
    get_protocol,
    load_ckplus48,
    make_faces,
    official_fer2013,
    oversample_indices,
    oversample_then_split,
    random_split,
    random_split_91,
    random_split_811,
    subject_kfold,
)
from hybridfer.evaluation import leakage_audit


@pytest.fixture(scope="module")
def fer_like() -> FERDataset:
    """Imbalanced synthetic faces with FER2013 usages (no duplicate images)."""
    ds = make_faces(
        n_samples=280,
        image_size=32,
        n_subjects=14,
        class_weights={"disgust": 0.15, "happy": 2.0},
        random_state=3,
    )
    rng = np.random.default_rng(0)
    ds.usage = rng.choice(["Training", "PublicTest", "PrivateTest"], len(ds), p=[0.7, 0.15, 0.15])
    return ds


@pytest.fixture(scope="module")
def ckplus_like(tmp_path_factory):
    """A CK+48-like folder: 12 subjects, 1-2 sequences each, 3 frames per sequence."""
    root = tmp_path_factory.mktemp("ck") / "CK+48"
    rng = np.random.default_rng(1)
    classes = ("anger", "happy", "surprise")
    for s in range(12):
        for q in range(1 + s % 2):
            label = classes[(s + q) % 3]
            (root / label).mkdir(parents=True, exist_ok=True)
            for f in range(3):
                img = rng.integers(0, 256, (48, 48), dtype=np.uint8)
                Image.fromarray(img).save(root / label / f"S{s:03d}_{q + 1:03d}_{f:08d}.png")
    return load_ckplus48(root)


def _has_no_duplicates(ds: FERDataset) -> None:
    # synthetic faces of one subject can be near alike; no two are exact copies
    report = leakage_audit(ds.X, ds.X[:1], check_within=True)
    assert (report.within_train["kind"] == "exact").sum() == 0


def test_registry_and_flags():
    assert {"official_fer2013", "subject_kfold", "random_split", "oversample_then_split"} <= set(
        PROTOCOLS
    )
    assert not official_fer2013.leaky and not subject_kfold.leaky
    assert random_split.leaky and oversample_then_split.leaky and random_split_811.leaky
    p = get_protocol("subject_kfold", n_splits=3)
    assert p.n_splits == 3 and subject_kfold.n_splits == 10
    assert "LEAKY" in oversample_then_split.summary() and "honest" in official_fer2013.summary()
    with pytest.raises(ValueError, match="unknown protocol 'nope'"):
        get_protocol("nope")


def test_oversample_indices_balances_with_copies():
    labels = np.array(["a"] * 10 + ["b"] * 3 + ["c"] * 1)
    idx = oversample_indices(labels, 0)
    assert np.array_equal(idx[:14], np.arange(14))
    assert {c: int(np.sum(labels[idx] == c)) for c in "abc"} == {"a": 10, "b": 10, "c": 10}
    assert np.array_equal(oversample_indices(labels, 0), idx)


def test_oversample_then_split_puts_copies_of_training_images_in_test(fer_like):
    _has_no_duplicates(fer_like)
    split = oversample_then_split.split(fer_like, random_state=0)
    assert isinstance(split, ProtocolSplit)
    counts = split.train.class_counts()
    total = {c: counts[c] + split.test.class_counts()[c] for c in counts}
    assert len(set(total.values())) == 1  # every class brought to the majority count
    assert abs(len(split.test) - 0.1 * sum(total.values())) <= 1
    shared = split.n_test_sharing_a_source()
    assert shared > 0
    audit = leakage_audit(split.train, split.test, check_within=False)
    # the data had no duplicates: every exact match is a copy the protocol made
    assert audit.n_exact == shared > 0
    assert audit.n_exact / len(split.test) > 0.2


def test_official_split_makes_no_copy_even_with_resampling(fer_like):
    for protocol in (official_fer2013, official_fer2013.replace(resample="oversample")):
        split = protocol.split(fer_like, random_state=0)
        assert set(split.train.usage) == {"Training"} and set(split.test.usage) == {"PublicTest"}
        assert split.n_test_sharing_a_source() == 0
        audit = leakage_audit(split.train, split.test, check_within=False)
        assert audit.n_exact == 0
    counts = split.train.class_counts()
    assert len(set(counts.values())) == 1  # oversampled inside Training
    assert len(split.test) == int(np.sum(fer_like.usage == "PublicTest"))
    no_usage = FERDataset(images=fer_like.images, labels=fer_like.labels, classes=fer_like.classes)
    with pytest.raises(ValueError, match="usage"):
        official_fer2013.split(no_usage)


def test_random_split_puts_subjects_on_both_sides(fer_like, ckplus_like):
    split = random_split.split(fer_like, random_state=0)
    assert abs(len(split.test) - 0.2 * len(fer_like)) <= 1
    assert len(split.shared_groups()) > 0
    # on CK+-like data: frames of one sequence (one subject) in train and test
    split = random_split_811.split(ckplus_like, random_state=0)
    assert split.val is not None
    assert len(split.train) + len(split.val) + len(split.test) == len(ckplus_like)
    assert not np.intersect1d(split.train_index, split.test_index).size
    assert len(split.shared_groups()) > 0


def test_random_split_91_and_tiny_data(ckplus_like):
    assert PROTOCOLS["random_split_91"] is random_split_91 and random_split_91.leaky
    split = random_split_91.split(ckplus_like, random_state=0)
    assert split.val is None and abs(len(split.test) - 0.1 * len(ckplus_like)) <= 1
    assert len(split.shared_groups()) > 0
    # 4 test images for 7 classes cannot be stratified: a plain random split instead
    tiny = FERDataset(
        images=np.zeros((40, 8, 8), dtype=np.uint8),
        labels=np.array(["a", "b", "c", "d", "e", "f", "g", "a"] * 5),
        classes=tuple("abcdefg"),
    )
    split = random_split_91.split(tiny, random_state=0)
    assert len(split.test) == 4 and len(split.train) == 36


def test_subject_kfold_keeps_subjects_apart(ckplus_like):
    folds = subject_kfold.replace(n_splits=4, resample="oversample").split(ckplus_like, 0)
    assert len(folds) == 4 and [f.fold for f in folds] == [0, 1, 2, 3]
    seen = []
    for f in folds:
        assert len(f.shared_groups()) == 0
        assert f.n_test_sharing_a_source() == 0
        assert len(set(f.train.class_counts()[c] for c in ("anger", "happy", "surprise"))) == 1
        audit = leakage_audit(f.train, f.test, check_within=False)
        assert audit.n_exact == 0
        seen.extend(f.test_index.tolist())
    assert sorted(seen) == list(range(len(ckplus_like)))  # every image tested once
    with pytest.raises(ValueError, match="groups"):
        subject_kfold.split(
            FERDataset(
                images=ckplus_like.images, labels=ckplus_like.labels, classes=ckplus_like.classes
            )
        )


def test_splits_are_seeded(fer_like):
    a = oversample_then_split.split(fer_like, random_state=5)
    b = oversample_then_split.split(fer_like, random_state=5)
    c = oversample_then_split.split(fer_like, random_state=6)
    assert np.array_equal(a.test_index, b.test_index)
    assert not np.array_equal(a.test_index, c.test_index)
