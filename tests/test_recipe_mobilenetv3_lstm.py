"""The mobilenetv3-lstm-pain recipe at smoke scale on a tiny CK+48-like folder (8 subjects, 3
sequences each, 3 near-copy frames per sequence): per-frame token and pooled modes and the
sequence mode; the paper's random split of frames leaks, the subject-grouped folds do not."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import N_FRAMES, N_SEQ, N_SUBJECTS

from hybridfer.recipes import RecipeError, get_recipe, run_recipe


def test_registered_with_the_papers_claims():
    recipe = get_recipe("mobilenetv3-lstm-pain")
    assert recipe.claims["MobileNetV3Large-LSTM test accuracy (PEMF, 3 classes)"] == 0.931
    assert "Phasic and Tonic" in recipe.source
    assert {"mode", "variant", "window", "frozen_epochs"} <= set(recipe.options)


def test_tokens_mode_paper_split_leaks_the_honest_folds_do_not(tiny_ckplus, tmp_path):
    work = tmp_path / "work"
    result = run_recipe(
        "mobilenetv3-lstm-pain", tiny_ckplus, scale="smoke", workdir=work, verbose=0
    )
    rows = {r["protocol"]: r for r in result.rows}
    paper, honest = rows["paper"], rows["honest"]
    n_frames = N_SUBJECTS * N_SEQ * N_FRAMES
    assert abs(paper["n test"] - 0.1 * n_frames) <= 1 and paper["n train"] < 0.9 * n_frames
    assert paper["test with near copy only"] > 0 and paper["subjects on both sides"] > 0
    assert honest["folds"] == 2 and honest["n test"] == n_frames
    assert honest["test with near copy only"] == 0 and honest["subjects on both sides"] == 0
    for r in result.rows:
        assert r["claimed acc"] == 0.931 and r["epochs"] == 2
    clf = result.details["settings"]
    assert clf["mode"] == "tokens" and clf["variant"] == "large" and clf["input_size"] == 32
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
    md = (work / "report.md").read_text()
    assert "random_split_91 (LEAKY paper protocol)" in md and "## Data" in md
    assert "CK+48 stands in for the paper's PEMF pain frames" in md


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
    row = seq.rows[0]
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

    pooled = run_recipe(
        "mobilenetv3-lstm-pain",
        tiny_ckplus,
        scale="smoke",
        workdir=tmp_path / "pooled",
        mode="pooled",
        protocol="paper",
        verbose=0,
    )
    assert pooled.details["settings"]["window"] == 1  # a sequence of one pooled frame
    assert pooled.details["n_samples"] == N_SUBJECTS * N_SEQ * N_FRAMES
    assert pooled.rows[0]["test with near copy only"] > 0


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
    net = joblib.load(result.paths["model paper"])
    assert (net.freeze, net.frozen_epochs, net.unfreeze_lr) == ("backbone", 1, 1e-4)
    assert not any("one stage" in r for r in result.reductions)
