"""Tests for hybridfer.evaluation (reports, confusion matrices, leakage audit) and hybridfer._io."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.fft import dctn
from sklearn.metrics import classification_report

from hybridfer._io import atomic_path, atomic_write_bytes, atomic_write_text
from hybridfer.evaluation import (
    ClassificationReport,
    LeakageReport,
    classification_report_frame,
    confusion_matrix_frame,
    evaluate_predictions,
    leakage_audit,
    perceptual_hash,
    plot_confusion_matrix,
    report_markdown,
)
from hybridfer.evaluation import leakage as leakage_mod

# A 3-class case worked out by hand:
#   a: predicted a twice (both right)              -> P 2/2, R 2/3, F1 0.8
#   b: predicted b twice (one right), support 2    -> P 1/2, R 1/2, F1 0.5
#   c: predicted c twice (one right), support 1    -> P 1/2, R 1/1, F1 2/3
Y_TRUE = ["a", "a", "a", "b", "b", "c"]
Y_PRED = ["a", "a", "b", "b", "c", "c"]


# --------------------------------------------------------------------------- report


def test_report_matches_hand_computed_numbers():
    frame = classification_report_frame(Y_TRUE, Y_PRED)
    assert list(frame.index) == ["a", "b", "c", "macro avg", "weighted avg", "accuracy"]
    assert list(frame.columns) == ["precision", "recall", "f1", "support"]
    expected = {
        "a": (1.0, 2 / 3, 0.8, 3),
        "b": (0.5, 0.5, 0.5, 2),
        "c": (0.5, 1.0, 2 / 3, 1),
        "macro avg": (2 / 3, (2 / 3 + 0.5 + 1) / 3, (0.8 + 0.5 + 2 / 3) / 3, 6),
        "weighted avg": (
            (3 * 1.0 + 2 * 0.5 + 0.5) / 6,
            (3 * 2 / 3 + 2 * 0.5 + 1) / 6,
            (3 * 0.8 + 2 * 0.5 + 2 / 3) / 6,
            6,
        ),
    }
    for row, (p, r, f, s) in expected.items():
        np.testing.assert_allclose(frame.loc[row, ["precision", "recall", "f1"]], [p, r, f])
        assert frame.loc[row, "support"] == s
    assert frame.loc["accuracy", "f1"] == pytest.approx(4 / 6)
    assert frame.loc["accuracy", "support"] == 6
    assert frame.loc["accuracy", ["precision", "recall"]].isna().all()
    assert frame["support"].dtype.kind == "i"


def test_report_equals_sklearn_classification_report():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, 200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 5, 200))
    frame = classification_report_frame(y_true, y_pred)
    ref = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    for label in range(5):
        got = frame.loc[label]
        want = ref[str(label)]
        np.testing.assert_allclose(
            [got["precision"], got["recall"], got["f1"], got["support"]],
            [want["precision"], want["recall"], want["f1-score"], want["support"]],
        )
    for row in ("macro avg", "weighted avg"):
        np.testing.assert_allclose(frame.loc[row, "f1"], ref[row]["f1-score"])
    assert frame.loc["accuracy", "f1"] == pytest.approx(ref["accuracy"])


def test_report_label_order_and_absent_classes():
    labels = ["c", "b", "a", "zzz"]
    frame = classification_report_frame(Y_TRUE, Y_PRED, labels=labels, digits=3)
    assert list(frame.index[:4]) == labels
    assert frame.loc["zzz", "support"] == 0
    assert frame.loc["zzz", ["precision", "recall", "f1"]].tolist() == [0.0, 0.0, 0.0]
    assert frame.loc["a", "recall"] == 0.667  # rounded to 3 digits
    # the empty class counts in the macro average (as in sklearn with labels=)
    assert frame.loc["macro avg", "f1"] == pytest.approx(round((0.8 + 0.5 + 2 / 3) / 4, 3))


def test_report_integer_labels_and_pandas_input():
    y_true = pd.Series([0, 0, 1, 2])
    y_pred = np.array([0, 1, 1, 2])
    frame = classification_report_frame(y_true, y_pred, labels=[2, 1, 0])
    assert list(frame.index[:3]) == [2, 1, 0]
    assert frame.loc[1, "precision"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "labels", "message"),
    [
        ([], [], None, "y_true is empty"),
        (["a", "b"], ["a"], None, "same length, got 2 and 1"),
        (["a", "x", "y"], ["a", "a", "a"], ["a", "b"], r"y_true holds labels .*\['x', 'y'\]"),
        (["a", "b"], ["a", "q"], ["a", "b"], r"y_pred holds labels .*\['q'\]"),
        (["a", "b"], ["a", "b"], ["a", "a", "b"], "repeated"),
        ([0, 1], ["a", "b"], None, "one kind"),  # sklearn's type mix error, re-raised
        ([[1, 2]], [[1, 2]], None, "1-D"),
    ],
)
def test_report_input_errors(y_true, y_pred, labels, message):
    with pytest.raises(ValueError, match=message):
        classification_report_frame(y_true, y_pred, labels=labels)


def test_report_accepts_column_vectors():
    frame = classification_report_frame([["a"], ["b"]], np.array([["a"], ["a"]]))
    assert list(frame.index) == ["a", "b", "macro avg", "weighted avg", "accuracy"]


def test_report_rejects_class_named_like_summary_row():
    with pytest.raises(ValueError, match="clash"):
        classification_report_frame(["accuracy", "b"], ["b", "b"])


def test_report_markdown_has_header_and_rows():
    text = report_markdown(classification_report_frame(Y_TRUE, Y_PRED))
    lines = text.splitlines()
    assert lines[0].replace(" ", "") == "|class|precision|recall|f1|support|"
    assert set(lines[1]) <= {"|", "-", ":"}
    assert len(lines) == 2 + 6
    row_a = next(line for line in lines if line.startswith("| a "))
    assert "1.0000" in row_a and "0.6667" in row_a and "0.8000" in row_a and "| 3 " in row_a
    row_acc = next(line for line in lines if line.startswith("| accuracy"))
    assert "nan" not in row_acc and "0.6667" in row_acc
    with pytest.raises(TypeError, match="DataFrame"):
        report_markdown({"a": 1})


def test_evaluate_predictions_bundles_scores():
    rep = evaluate_predictions(Y_TRUE, Y_PRED, labels=["a", "b", "c"])
    assert isinstance(rep, ClassificationReport)
    assert rep.accuracy == pytest.approx(4 / 6)
    assert rep.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert rep.weighted_f1 == pytest.approx((3 * 0.8 + 2 * 0.5 + 2 / 3) / 6)
    assert rep.macro_precision == pytest.approx(2 / 3)
    assert rep.labels == ("a", "b", "c")
    assert rep.n_samples == 6
    assert rep.confusion.to_numpy().tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert set(rep.scores()) == {
        "accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1", "n_samples"
    }  # fmt: skip
    assert "accuracy 0.6667" in rep.summary()
    md = rep.to_markdown()
    assert "| true a " in md and "Confusion matrix" in md


# --------------------------------------------------------------------------- confusion


def test_confusion_matrix_counts_and_normalisations():
    labels = ["a", "b", "c", "d"]
    counts = confusion_matrix_frame(Y_TRUE, Y_PRED, labels=labels)
    assert counts.index.name == "true" and counts.columns.name == "predicted"
    assert list(counts.index) == labels and list(counts.columns) == labels
    assert counts.to_numpy().tolist() == [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    true = confusion_matrix_frame(Y_TRUE, Y_PRED, labels=labels, normalize="true").to_numpy()
    np.testing.assert_allclose(true.sum(axis=1), [1, 1, 1, 0])  # class d has no samples
    np.testing.assert_allclose(true[0], [2 / 3, 1 / 3, 0, 0])
    pred = confusion_matrix_frame(Y_TRUE, Y_PRED, labels=labels, normalize="pred").to_numpy()
    np.testing.assert_allclose(pred.sum(axis=0), [1, 1, 1, 0])
    every = confusion_matrix_frame(Y_TRUE, Y_PRED, normalize="all").to_numpy()
    assert every.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="normalize must be one of"):
        confusion_matrix_frame(Y_TRUE, Y_PRED, normalize="rows")


def _tmp_leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".tmp" in p.name]


def test_plot_confusion_matrix_writes_png(tmp_path):
    path = tmp_path / "plots" / "cm.png"
    fig = plot_confusion_matrix(Y_TRUE, Y_PRED, path=path, title="demo")
    assert path.is_file()
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size[0] > 100 and im.size[1] > 100
    assert _tmp_leftovers(path.parent) == []
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert "0.67\n(2)" in texts and "0.33\n(1)" in texts and "0.00\n(0)" in texts
    assert len(texts) == 9
    assert ax.get_title() == "demo"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]


def test_plot_confusion_matrix_counts_on_given_axes_and_suffixless_path(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    out = plot_confusion_matrix(Y_TRUE, Y_PRED, normalize=None, ax=ax, path=tmp_path / "cm")
    assert out is fig
    assert [t.get_text() for t in ax.texts] == ["2", "1", "0", "0", "1", "1", "0", "0", "1"]
    with Image.open(tmp_path / "cm") as im:
        assert im.format == "PNG"
    assert _tmp_leftovers(tmp_path) == []


# --------------------------------------------------------------------------- atomic files


def test_atomic_writes_replace_content(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    atomic_write_text(target, "first")
    assert target.read_text() == "first"
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert _tmp_leftovers(target.parent) == []
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_atomic_path_keeps_old_file_when_writer_raises(tmp_path):
    target = tmp_path / "result.npy"
    np.save(target, np.arange(3))
    os.chmod(target, 0o640)
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".npy" and tmp.exists()
            np.save(tmp, np.arange(10))
            raise RuntimeError("boom")
    np.testing.assert_array_equal(np.load(target), np.arange(3))
    assert _tmp_leftovers(tmp_path) == []
    with atomic_path(target, durable=True) as tmp:
        np.save(tmp, np.arange(5))
    np.testing.assert_array_equal(np.load(target), np.arange(5))
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # permissions of the replaced file kept


def test_atomic_write_errors(tmp_path):
    with pytest.raises(IsADirectoryError):
        atomic_write_text(tmp_path, "x")
    with pytest.raises(TypeError, match="bytes"):
        atomic_write_bytes(tmp_path / "a", "text")
    with pytest.raises(TypeError, match="str"):
        atomic_write_text(tmp_path / "a", b"bytes")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- leakage


def smooth_images(n: int, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """Natural-looking random images: 8x8 noise upsampled, on [30, 220] (room to shift)."""
    out = np.empty((n, size, size), np.uint8)
    for k in range(n):
        low = rng.normal(size=(8, 8)).astype(np.float32)
        img = np.asarray(Image.fromarray(low).resize((size, size), Image.Resampling.BICUBIC))
        img = (img - img.min()) / np.ptp(img)
        out[k] = np.round(30 + 190 * img).astype(np.uint8)
    return out


def jpeg_roundtrip(image: np.ndarray, quality: int = 75) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("L"))


@pytest.fixture
def leaky_sets(rng):
    """30 train and 12 test images; test 0-5 are copies of train images, the rest unrelated."""
    images = smooth_images(42, rng)
    train, test = images[:30].copy(), images[30:].copy()
    noise = rng.normal(0, 4, size=test[0].shape)
    test[0] = train[3]  # exact
    test[1] = np.clip(train[5] + noise, 0, 255).astype(np.uint8)  # noised
    test[2] = np.clip(train[7].astype(int) + 30, 0, 255).astype(np.uint8)  # brighter
    test[3] = jpeg_roundtrip(train[9])  # JPEG re-encode
    test[4] = np.round(train[11] * 0.8 + 10).astype(np.uint8)  # lower contrast
    test[5] = train[13][:, ::-1]  # mirrored
    expected = {0: (3, "exact"), 1: (5, "near"), 2: (7, "near"), 3: (9, "near"), 4: (11, "near")}
    return train, test, expected


def _pair_map(report: LeakageReport) -> dict[int, tuple[int, str]]:
    return {int(r.test_index): (int(r.train_index), r.kind) for r in report.pairs.itertuples()}


def test_leakage_finds_exact_and_near_copies_only(leaky_sets):
    train, test, expected = leaky_sets
    report = leakage_audit(train, test)
    assert _pair_map(report) == expected  # unrelated and mirrored images are not matched
    assert (report.pairs["flipped"] == False).all()  # noqa: E712
    near = report.pairs[report.pairs["kind"] == "near"]
    assert (near["correlation"] >= 0.93).all() and (near["hamming"] <= 12).all()
    exact = report.pairs[report.pairs["kind"] == "exact"]
    assert exact["hamming"].tolist() == [0] and exact["correlation"].tolist() == [pytest.approx(1)]
    assert (report.n_exact, report.n_near, report.n_test_images_with_a_match) == (1, 4, 5)
    assert report.fraction == pytest.approx(5 / 12)
    np.testing.assert_array_equal(report.matched_test_indices, [0, 1, 2, 3, 4])
    assert report.clean_test_mask().tolist() == [False] * 5 + [True] * 7
    assert len(report.within_train) == 0 and len(report.within_test) == 0


def test_leakage_flipped_copies_need_check_flips(leaky_sets):
    train, test, expected = leaky_sets
    report = leakage_audit(train, test, check_flips=True)
    assert _pair_map(report) == {**expected, 5: (13, "exact")}
    flipped = report.pairs.set_index("test_index")["flipped"]
    assert bool(flipped[5]) and not flipped.drop(5).any()
    assert report.counts()["n_flipped_pairs"] == 1
    assert "mirrored copies checked" in report.summary()


def test_leakage_strict_thresholds_drop_near_pairs(leaky_sets):
    train, test, _ = leaky_sets
    report = leakage_audit(train, test, near_threshold=0, min_correlation=0.9999)
    # affine intensity changes without clipping (brightness, contrast) keep the pHash and a
    # correlation of 1; noise and JPEG re-encoding do not
    assert _pair_map(report) == {0: (3, "exact"), 2: (7, "near"), 4: (11, "near")}


def test_leakage_within_set_duplicates(leaky_sets):
    train, test, _ = leaky_sets
    train = np.concatenate([train, train[[2]], jpeg_roundtrip(train[4])[None]])
    report = leakage_audit(train, test)
    within = report.within_train
    assert within[["index_a", "index_b", "kind"]].values.tolist() == [
        [2, 30, "exact"],
        [4, 31, "near"],
    ]
    counts = report.counts()
    assert counts["n_within_train_exact_pairs"] == 1
    assert counts["n_within_train_near_pairs"] == 1
    assert counts["n_train_images_in_within_pairs"] == 4
    assert "within train: 1 exact and 1 near" in report.summary()
    assert leakage_audit(train, test, check_within=False).within_train is None


def test_leakage_paths_and_arrays_agree(leaky_sets, tmp_path):
    train, test, expected = leaky_sets
    train_paths, test_paths = [], []
    for name, images, paths in (("train", train, train_paths), ("test", test, test_paths)):
        for k, img in enumerate(images):
            paths.append(str(tmp_path / f"{name}_{k:02d}.png"))
            Image.fromarray(img).save(paths[-1])
    # a test file of another size and in RGB: train[15] upscaled to 64x64
    big = Image.fromarray(train[15]).resize((64, 64), Image.Resampling.BICUBIC).convert("RGB")
    big.save(tmp_path / "test_big.png")
    test_paths.append(str(tmp_path / "test_big.png"))

    from_arrays = leakage_audit(train, test)
    from_paths = leakage_audit(train_paths, test_paths)
    cols = ["test_index", "train_index", "kind", "flipped", "hamming"]
    pd.testing.assert_frame_equal(from_paths.pairs[cols].iloc[:-1], from_arrays.pairs[cols])
    np.testing.assert_allclose(
        from_paths.pairs["correlation"].iloc[:-1], from_arrays.pairs["correlation"], rtol=1e-5
    )
    last = from_paths.pairs.iloc[-1]
    assert (last.test_index, last.train_index, last.kind) == (12, 15, "near")
    for r in from_paths.pairs.itertuples():
        assert r.test_path == test_paths[r.test_index]
        assert r.train_path == train_paths[r.train_index]
    assert "test_path" not in from_arrays.pairs


def test_leakage_canonical_form_equates_dtypes_and_gray_rgb(leaky_sets):
    train, test, _ = leaky_sets
    as_float = test.astype(np.float64) / 255.0
    as_rgb = np.repeat(test[..., None], 3, axis=-1)
    base = leakage_audit(train, test, check_within=False).pairs
    for variant in (as_float, as_rgb):
        pairs = leakage_audit(train, variant, check_within=False).pairs
        pd.testing.assert_frame_equal(
            pairs[["test_index", "train_index", "kind"]],
            base[["test_index", "train_index", "kind"]],
        )


def test_leakage_with_datasets_adds_labels(leaky_sets):
    from hybridfer.data import FERDataset

    train, test, _ = leaky_sets
    classes = ("x", "y")
    train_ds = FERDataset(images=train, labels=np.array(["x"] * 30), classes=classes)
    test_ds = FERDataset(images=test, labels=np.array(["x", "y"] * 6), classes=classes)
    report = leakage_audit(train_ds, test_ds)
    assert (report.pairs["train_label"] == "x").all()
    assert report.pairs["test_label"].tolist() == ["x", "y", "x", "y", "x"]
    assert report.counts()["n_pairs_with_different_labels"] == 2
    assert "labels differ: 2" in report.summary()


def test_leakage_report_markdown(leaky_sets):
    train, test, _ = leaky_sets
    report = leakage_audit(train, test)
    text = report.to_markdown(max_pairs=3)
    assert "| n_test_images_with_a_match" in text and "| 5 " in text
    assert "First 3 of 5 pairs" in text
    assert text.count("| exact ") + text.count("| near ") == 3
    assert set(report.timings) == {
        "fingerprint_train_s", "fingerprint_test_s", "compare_s", "within_s"
    }  # fmt: skip


def test_leakage_no_match_and_blank_images(rng):
    train = smooth_images(10, rng)
    test = smooth_images(4, rng)
    test[1] = 128  # a blank image matches nothing but an identical blank image
    report = leakage_audit(train, test)
    assert len(report.pairs) == 0 and report.n_exact == 0 and report.fraction == 0
    assert list(report.pairs.columns)[:6] == [
        "test_index", "train_index", "kind", "flipped", "hamming", "correlation"
    ]  # fmt: skip
    train[0] = 128
    train[1] = 127
    report = leakage_audit(train, test)
    assert _pair_map(report) == {1: (0, "exact")}  # exact pairs need no correlation
    assert report.pairs["correlation"].tolist() == [0.0]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"near_threshold": -1}, ValueError, "near_threshold"),
        ({"near_threshold": 65}, ValueError, "near_threshold"),
        ({"near_threshold": 2.5}, TypeError, "near_threshold"),
        ({"hash_size": 1}, ValueError, "hash_size"),
        ({"min_correlation": 1.5}, ValueError, "min_correlation"),
        ({"batch_size": 0}, ValueError, "batch_size"),
    ],
)
def test_leakage_parameter_errors(leaky_sets, kwargs, error, message):
    train, test, _ = leaky_sets
    with pytest.raises(error, match=message):
        leakage_audit(train, test, **kwargs)


def test_leakage_input_errors(leaky_sets, tmp_path):
    train, _, _ = leaky_sets
    with pytest.raises(ValueError, match="test contains 0 images"):
        leakage_audit(train, np.empty((0, 48, 48), np.uint8))
    with pytest.raises(FileNotFoundError, match="train"):
        leakage_audit([str(tmp_path / "missing.png")], train)


def test_small_batches_and_large_hashes_give_same_matches(leaky_sets):
    train, test, expected = leaky_sets
    report = leakage_audit(train, test, batch_size=7, hash_size=16, near_threshold=48)
    assert _pair_map(report) == expected


def test_popcount_and_hamming_agree_with_bit_counting(rng):
    words = rng.integers(0, 2**63, size=(40, 3), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    naive = np.array([[bin(int(w)).count("1") for w in row] for row in words])
    np.testing.assert_array_equal(leakage_mod._popcount(words), naive)
    np.testing.assert_array_equal(leakage_mod._popcount_lut(words), naive)
    dist = leakage_mod._hamming_block(words[:10], words[10:])
    naive_dist = [
        [sum(bin(int(a ^ b)).count("1") for a, b in zip(x, y, strict=True)) for y in words[10:]]
        for x in words[:10]
    ]
    np.testing.assert_array_equal(dist, naive_dist)


def test_fingerprints_match_reference_formulations(rng):
    """The matrix forms equal Pillow's resize and scipy's dctn pHash."""
    images = [smooth_images(1, rng, size=s)[0] for s in (48, 48, 57, 20)]
    images[2] = images[2][:, :40]  # a non-square one
    small = leakage_mod._small_gray(images)
    for img, got in zip(images, small, strict=True):
        ref = Image.fromarray(img.astype(np.float32) / 255).resize(
            (32, 32), Image.Resampling.BILINEAR
        )
        np.testing.assert_allclose(got, np.asarray(ref), atol=1e-5)
    bits = leakage_mod._phash_bits(small, 8)
    block = dctn(small.astype(np.float64), type=2, axes=(1, 2))[:, :8, :8].reshape(4, -1)
    np.testing.assert_array_equal(bits, block > np.median(block, axis=1, keepdims=True))
    hashes = perceptual_hash(np.stack(images[:2]))
    assert hashes.shape == (2, 1) and hashes.dtype == np.uint64
    assert perceptual_hash(np.stack(images[:2]), hash_size=16).shape == (2, 4)
    assert int(leakage_mod._popcount(hashes).max()) == 32  # median split: half the bits set


@pytest.mark.realdata
def test_leakage_audit_on_fer2013_slice(fer2013_root):
    train_paths = sorted(str(p) for p in (fer2013_root / "train").glob("*/*.jpg"))[::9][:3000]
    test_paths = sorted(str(p) for p in (fer2013_root / "test").glob("*/*.jpg"))
    assert len(train_paths) == 3000 and len(test_paths) == 3589
    report = leakage_audit(train_paths, test_paths)
    pairs = report.pairs
    assert report.n_train == 3000 and report.n_test == 3589
    assert set(pairs["kind"]) <= {"exact", "near"}
    assert pairs["test_index"].between(0, 3588).all()
    assert pairs["train_index"].between(0, 2999).all()
    assert not pairs.duplicated(["test_index", "train_index"]).any()
    near = pairs[pairs["kind"] == "near"]
    assert (near["correlation"] >= 0.93).all() and (near["hamming"] <= 12).all()
    # FER2013 is known to hold duplicates across its splits; a 3,000-image slice finds some
    assert 0 < report.n_test_images_with_a_match < 0.2 * report.n_test
    assert report.n_exact + report.n_near == report.n_test_images_with_a_match
    exact = pairs[pairs["kind"] == "exact"].head(5)
    assert len(exact) > 0
    for r in exact.itertuples():  # exact pairs really hold identical pixels
        a = np.asarray(Image.open(r.test_path).convert("L"))
        b = np.asarray(Image.open(r.train_path).convert("L"))
        np.testing.assert_array_equal(a, b)
    assert report.within_train is not None and "path_a" in report.within_train
    assert sum(report.timings.values()) < 60


# --------------------------------------------------------------------------- profiling


def _sleeper_model(ms: float):
    """A tiny torch model whose forward sleeps ``ms``, so its latency is known from below."""
    import time

    from torch import nn

    class Sleeper(nn.Linear):
        def forward(self, x):
            time.sleep(ms / 1000)
            return super().forward(x)

    return Sleeper(4, 2)


def test_parameter_and_flop_counts_by_hand():
    torch = pytest.importorskip("torch")
    from hybridfer.evaluation import count_flops, count_parameters, parameter_counts

    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(), torch.nn.Linear(144, 5)
    )
    model[0].requires_grad_(False)
    n_conv, n_linear = 4 * 9 + 4, 144 * 5 + 5
    assert parameter_counts(model) == {
        "total": n_conv + n_linear, "trainable": n_linear, "frozen": n_conv
    }  # fmt: skip
    assert count_parameters(model) == n_conv + n_linear
    # conv: 2 * (6*6*4 outputs) * (1*3*3) ; linear: 2 * 144 * 5 ; batch of 2 doubles both
    assert count_flops(model, (2, 1, 8, 8)) == 2 * (2 * 6 * 6 * 4 * 9 + 2 * 144 * 5)
    model.train()
    count_flops(model, (1, 1, 8, 8))
    assert model.training  # mode restored


def test_flops_agree_with_torchvision_metadata():
    pytest.importorskip("torch")
    from torchvision.models import MobileNet_V2_Weights, mobilenet_v2

    from hybridfer.evaluation import count_flops

    flops = count_flops(mobilenet_v2(), (1, 3, 224, 224))
    # torchvision's "_ops" are GFLOPs counted as multiply-adds (one per MAC)
    assert flops / 2e9 == pytest.approx(MobileNet_V2_Weights.IMAGENET1K_V1.meta["_ops"], abs=1e-3)


def test_measure_latency_reports_timings():
    torch = pytest.importorskip("torch")
    from hybridfer.evaluation import measure_latency

    model = _sleeper_model(ms=3.0)
    model.train()
    result = measure_latency(model, (2, 4), n_runs=5, warmup=1, device="cpu")
    assert result["n_runs"] == 5 and result["batch_size"] == 2 and result["device"] == "cpu"
    assert 3.0 <= result["min_ms"] <= result["median_ms"] and result["mean_ms"] >= 3.0
    assert result["std_ms"] >= 0 and result["per_sample_ms"] == pytest.approx(result["mean_ms"] / 2)
    assert model.training and next(model.parameters()).device == torch.device("cpu")
    with pytest.raises(ValueError, match="n_runs"):
        measure_latency(model, (2, 4), n_runs=1, device="cpu")
    with pytest.raises(ValueError, match="input_shape"):
        measure_latency(model, (2, 0), device="cpu")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        measure_latency(lambda x: x, (2, 4), device="cpu")
