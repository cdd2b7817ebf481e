"""The mobilenetv3-lstm-pain recipe at smoke scale on a tiny CK+48-like folder (8 subjects, 3
sequences each, 3 near-copy frames per sequence): per-frame token and pooled modes and the
sequence mode, each beside its no-LSTM baseline; the paper's protocol (a balanced test, then a
random 90:10 train:validation of the rest, both scored) leaks, the subject-grouped folds do
not."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _helpers import N_FRAMES, N_SEQ, N_SUBJECTS

from hybridfer.recipes import RecipeError, get_recipe, run_recipe

N_CLASSES = 7  # CK+48's classes; the tiny folder cycles its sequences through them


def test_registered_with_the_papers_claims():
    recipe = get_recipe("mobilenetv3-lstm-pain")
    assert recipe.version == "2"
    assert recipe.claims["MobileNetV3Large-LSTM test accuracy (PEMF, 3 classes)"] == 0.931
    assert recipe.claims["MobileNetV3Large-LSTM validation accuracy (Table 5)"] == 0.85
    assert recipe.claims["MobileNetV3Large validation accuracy, no LSTM (Table 5)"] == 0.68
    assert recipe.claims["MobileNetV3Small validation accuracy, no LSTM (Table 5)"] == 0.75
    assert "Phasic and Tonic" in recipe.source
    assert {"mode", "variant", "window", "frozen_epochs", "baseline", "test_per_class"} <= set(
        recipe.options
    )


def test_paper_protocol_test_is_balanced_and_disjoint_from_validation(tiny_ckplus):
    from hybridfer.data import BalancedTestThenSplit, balanced_test_then_91
    from hybridfer.recipes.paper import load_ckplus

    ds = load_ckplus(tiny_ckplus)
    n = N_SUBJECTS * N_SEQ * N_FRAMES
    assert balanced_test_then_91.test_per_class == 24 and balanced_test_then_91.leaky
    split = balanced_test_then_91.replace(test_per_class=3).split(ds, 0)
    assert set(split.test.class_counts().values()) == {3}  # balanced: 3 of every class
    assert len(split.test) == 3 * N_CLASSES
    rest = n - 3 * N_CLASSES
    assert len(split.val) == math.ceil(0.1 * rest)  # 90:10 train:validation of the rest
    assert len(split.train) == rest - len(split.val)
    parts = (split.train_index, split.val_index, split.test_index)
    assert sorted(np.concatenate(parts).tolist()) == list(range(n))  # each row in one part
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert not np.intersect1d(parts[a], parts[b]).size
    assert split.test.name.endswith("[test]") and split.val.name.endswith("[val]")
    # the same seed draws the same parts; another seed other test frames
    again = balanced_test_then_91.replace(test_per_class=3).split(ds, 0)
    assert np.array_equal(again.test_index, split.test_index)
    other = balanced_test_then_91.replace(test_per_class=3).split(ds, 1)
    assert not np.array_equal(other.test_index, split.test_index)
    # sibling frames of the test frames' sequences sit in training or validation: it leaks
    assert np.intersect1d(split.test.groups, split.train.groups).size
    with pytest.raises(ValueError, match="leaves nothing of the classes"):
        BalancedTestThenSplit(test_per_class=9).split(ds, 0)  # some classes have 9 frames
    with pytest.raises(ValueError, match="test_per_class must be a positive int"):
        BalancedTestThenSplit(test_per_class=0).split(ds, 0)


def test_token_count_is_read_from_the_network():
    from hybridfer.recipes.mobilenetv3_lstm import SETTINGS, _reductions, token_grid

    assert token_grid("mobilenet_v3_large", 224) == (7, 7)
    assert token_grid("mobilenet_v3_large", 112) == (4, 4)  # 112 -> 56 -> 28 -> 14 -> 7 -> 4
    assert token_grid("mobilenet_v3_large", 32) == (1, 1)
    lines = " ".join(_reductions("cpu", SETTINGS["cpu"], 5.5))
    assert "4x4 = 16 tokens instead of 7x7 = 49" in lines and "5.5 minutes" in lines


def test_tokens_mode_beside_its_baseline_paper_leaks_honest_does_not(tiny_ckplus, tmp_path):
    work = tmp_path / "work"
    result = run_recipe(
        "mobilenetv3-lstm-pain", tiny_ckplus, scale="smoke", workdir=work, verbose=0
    )
    rows = {r["protocol"]: r for r in result.rows}
    assert [r["protocol"] for r in result.rows] == [
        "paper",
        "paper, no LSTM",
        "paper (validation)",
        "paper (validation), no LSTM",
        "honest",
        "honest, no LSTM",
    ]
    n_frames = N_SUBJECTS * N_SEQ * N_FRAMES
    # the paper protocol at smoke scale: 2 test frames per class, then 90:10 of the rest
    n_test = 2 * N_CLASSES
    n_val = math.ceil(0.1 * (n_frames - n_test))
    split = result.details["paper_split"]
    assert (split["test_per_class"], split["n_test"], split["n_validation"]) == (2, n_test, n_val)
    assert set(split["test_class_counts"].values()) == {2} and split["parts_disjoint"]
    for suffix in ("", ", no LSTM"):
        test, val = rows[f"paper{suffix}"], rows[f"paper (validation){suffix}"]
        assert (test["n test"], test["n train"]) == (n_test, n_frames - n_test - n_val)
        assert (val["n test"], val["n train"]) == (n_val, test["n train"])
        # sibling frames of test and validation frames sit in training
        assert test["test with near copy only"] > 0 and test["subjects on both sides"] > 0
        assert val["test with near copy only"] > 0
        honest = rows[f"honest{suffix}"]
        assert honest["folds"] == 2 and honest["n test"] == n_frames
        assert honest["test with near copy only"] == 0 and honest["subjects on both sides"] == 0
    counts = result.details["protocols"]["paper"]["folds"][0]["class_counts_test"]
    assert set(counts.values()) == {2}
    # the claims: test 93.1% and validation 85% with the LSTM, 68% validation without it
    assert rows["paper"]["claimed acc"] == rows["honest"]["claimed acc"] == 0.931
    assert rows["paper (validation)"]["claimed acc"] == 0.85
    assert rows["paper (validation), no LSTM"]["claimed acc"] == 0.68
    assert rows["paper, no LSTM"]["claimed acc"] is None
    assert rows["honest, no LSTM"]["claimed acc"] is None
    for r in result.rows:
        assert r["epochs"] == 2  # the same epochs (and time) for both systems
    gain = result.details["lstm_gain"]
    for name in ("paper", "paper (validation)", "honest"):
        assert gain[name]["gain"] == pytest.approx(
            rows[name]["acc"] - rows[f"{name}, no LSTM"]["acc"]
        )
    assert gain["paper_validation_gain"] == pytest.approx(0.17)
    clf = result.details["settings"]
    assert clf["mode"] == "tokens" and clf["variant"] == "large" and clf["input_size"] == 32
    assert clf["baseline"] is True
    import joblib

    net = joblib.load(result.paths["model paper"])
    assert net.backbone == "mobilenet_v3_large" and net.head == "lstm"
    assert (net.loss, net.focal_alpha, net.focal_gamma) == ("focal", 0.25, 2.0)
    assert net.class_weight == "balanced" and net.augment == "pain"
    # random weights at smoke scale: one stage at 1e-3, no frozen stage (stated)
    assert (net.freeze, net.frozen_epochs, net.monitor) == (None, 0, "val_loss")
    assert net.learning_rate == 1e-3 and "one stage at learning rate 1e-3" in " ".join(
        result.reductions
    )
    assert net.normalize == "minus_one_one" and net.hidden_units == ()
    assert net.history_ and "val_loss" in net.history_[0]
    # the baseline: the same network and training with GAP -> dropout -> dense instead
    plain = joblib.load(result.paths["model paper_nolstm"])
    assert plain.head == "linear" and plain.hidden_units == () and plain.head_dropout == 0.5
    for key in ("backbone", "loss", "class_weight", "augment", "epochs", "learning_rate"):
        assert getattr(plain, key) == getattr(net, key)
    assert "model honest_nolstm_fold1" in result.paths
    assert result.details["profile"]["parameters_no_lstm"] < result.details["profile"]["parameters"]
    md = (work / "report.md").read_text()
    assert "balanced_test_then_91 (LEAKY paper protocol)" in md and "## Data" in md
    assert "CK+48 stands in for the paper's PEMF pain frames" in md
    assert "## LSTM gain" in md and "+0.17 (0.85 vs 0.68, Table 5)" in md
    assert "## Paper protocol" in md and f"Balanced test of 2 frames per class ({n_test}" in md
    assert "1x1 = 1 token instead of 7x7 = 49" in md


def test_sequence_and_pooled_modes(tiny_ckplus, tmp_path):
    seq = run_recipe(
        "mobilenetv3-lstm-pain",
        tiny_ckplus,
        scale="smoke",
        workdir=tmp_path / "seq",
        mode="sequence",
        protocol="honest",
        verbose=0,
    )
    assert [r["protocol"] for r in seq.rows] == ["honest", "honest, no LSTM"]
    for row in seq.rows:
        assert row["n test"] == N_SUBJECTS * N_SEQ  # one window of 3 frames per sequence
        assert row["test with near copy only"] == 0 and row["subjects on both sides"] == 0
    assert seq.details["n_samples"] == N_SUBJECTS * N_SEQ and seq.details["settings"]["window"] == 3
    import joblib

    pipe = joblib.load(seq.paths["model honest_fold0"])
    assert [name for name, _ in pipe.steps] == ["frames", "lstm"]
    windows = np.zeros((2, 3, 48, 48), dtype=np.uint8)
    assert pipe.named_steps["frames"].transform(windows).shape == (2, 3, 960)
    assert pipe.predict(windows).shape == (2,)
    assert pipe.named_steps["lstm"].loss == "focal"
    assert pipe.named_steps["frames"].transformer_.n_epochs_ == 2  # the backbone's training
    # the baseline reads frames: trained on the windows' frames, a window's mean probability
    plain = joblib.load(seq.paths["model honest_nolstm_fold0"])
    assert plain.head == "linear"
    assert plain.predict_proba(windows.reshape(-1, 48, 48)).shape == (6, len(plain.classes_))

    pooled = run_recipe(
        "mobilenetv3-lstm-pain",
        tiny_ckplus,
        scale="smoke",
        workdir=tmp_path / "pooled",
        mode="pooled",
        protocol="paper",
        baseline=False,
        verbose=0,
    )
    assert [r["protocol"] for r in pooled.rows] == ["paper", "paper (validation)"]
    assert pooled.details["settings"]["window"] == 1  # a sequence of one pooled frame
    assert pooled.details["n_samples"] == N_SUBJECTS * N_SEQ * N_FRAMES
    assert pooled.rows[0]["test with near copy only"] > 0
    assert pooled.rows[0]["n test"] == 2 * N_CLASSES and pooled.details["lstm_gain"] == {}


def test_bad_options(tiny_ckplus, tmp_path):
    def run(**kw):
        run_recipe("mobilenetv3-lstm-pain", tiny_ckplus, scale="smoke", workdir=tmp_path, **kw)

    with pytest.raises(RecipeError, match="mode must be one of"):
        run(mode="video")
    with pytest.raises(RecipeError, match="variant must be 'large' or 'small'"):
        run(variant="tiny")
    with pytest.raises(RecipeError, match="frozen_epochs must be below epochs"):
        run(frozen_epochs=2)
    with pytest.raises(RecipeError, match="cannot cut CK\\+48 into windows of 9 frames"):
        run(mode="sequence", window=9)
    with pytest.raises(RecipeError, match="baseline must be true or false"):
        run(baseline="yes")
    with pytest.raises(RecipeError, match="test_per_class must be a positive int"):
        run(test_per_class=0)


def test_given_weights_train_in_the_papers_two_stages(tiny_ckplus, tmp_path):
    import joblib
    import torch
    from torchvision.models import mobilenet_v3_small

    path = tmp_path / "mnv3s.pt"
    torch.save(mobilenet_v3_small(weights=None).state_dict(), path)
    result = run_recipe(
        "mobilenetv3-lstm-pain",
        tiny_ckplus,
        scale="smoke",
        workdir=tmp_path / "work",
        protocol="paper",
        variant="small",
        weights=str(path),
        verbose=0,
    )
    for tag in ("paper", "paper_nolstm"):  # the baseline too
        net = joblib.load(result.paths[f"model {tag}"])
        assert (net.freeze, net.frozen_epochs, net.unfreeze_lr) == ("backbone", 1, 1e-4)
    assert not any("one stage" in r for r in result.reductions)
    rows = {r["protocol"]: r for r in result.rows}
    assert rows["paper"]["claimed acc"] == 0.736
    assert rows["paper (validation)"]["claimed acc"] == 0.77
    assert rows["paper (validation), no LSTM"]["claimed acc"] == 0.75
