"""The training engine: callbacks that stop, time-budgeted schedules, checkpoints and resume,
test-time augmentation, batched augmentation and the bf16 / channels-last rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn

from hybridfer.classifiers import FERNetClassifier
from hybridfer.extractors import CNNFeatures
from hybridfer.nn.augment import BatchAugmentation, make_augmentation
from hybridfer.nn.callbacks import Callback
from hybridfer.nn.devices import cpu_has_native_bf16, resolve_precision, use_channels_last
from hybridfer.nn.training import TrainConfig, fit_module, seeded, tta_views


def _blobs(n=96, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.0, size=(k, d))
    y = rng.integers(0, k, n)
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


def _mlp(seed=0):
    with seeded(seed):
        return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))


def _images(n=40, size=24, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.integers(0, 60, (n, size, size)).astype(np.uint8)
    X[y == 1, :, : size // 2] += 150  # class 1: bright left half
    return X, y


# -- callbacks and budgets ------------------------------------------------------------------
class StopAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch
        self.seen = []

    def on_epoch_end(self, state, record):
        self.seen.append(record["epoch"])
        return record["epoch"] >= self.epoch


def test_a_callback_stops_training():
    X, y = _blobs()
    stopper = StopAt(3)
    records = []
    result = fit_module(
        _mlp(),
        X,
        y,
        TrainConfig(epochs=20, batch_size=16, random_state=0),
        callbacks=[stopper, records.append],
    )
    assert result.n_epochs == 3 and stopper.seen == [1, 2, 3]
    assert result.stop_reason == "callback"
    assert [r["epoch"] for r in records] == [1, 2, 3]  # plain functions still see each epoch


@pytest.mark.parametrize("schedule", ["cosine", "warmup_cosine", "onecycle"])
def test_a_budgeted_run_ends_at_min_lr(schedule):
    # far more epochs than the budget allows: the schedule anneals over the budget instead
    X, y = _blobs(n=64)  # 4 steps an epoch: many epochs fit in the budget even under load
    config = TrainConfig(
        epochs=10_000,
        batch_size=16,
        learning_rate=0.1,
        lr_schedule=schedule,
        min_lr=1e-4,
        max_time=1.0,
        random_state=0,
        precision="float32",
    )
    result = fit_module(_mlp(), X, y, config)
    lrs = [h["lr"] for h in result.history]
    assert result.stop_reason == "max_time"
    assert 1 < result.n_epochs < 10_000
    assert lrs[-1] == pytest.approx(1e-4)  # ends annealed, not at a high rate
    assert max(lrs) > 1e-3  # and was higher before
    assert result.history[-1]["elapsed"] >= 1.0


def test_epoch_schedule_ends_at_min_lr_without_a_budget():
    X, y = _blobs()
    config = TrainConfig(
        epochs=5, batch_size=16, learning_rate=0.1, lr_schedule="cosine", min_lr=1e-3
    )
    lrs = [h["lr"] for h in fit_module(_mlp(), X, y, config).history]
    assert lrs[-1] == pytest.approx(1e-3) and all(np.diff(lrs) < 0)


# -- checkpoints ----------------------------------------------------------------------------
class Kill(Callback):
    """Simulates a kill right after the checkpoint of epoch ``epoch`` was written."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_train_begin(self, state):
        # run after the checkpoint callback, like a kill that lands after the file is written
        state.callbacks.remove(self)
        state.callbacks.append(self)

    def on_epoch_end(self, state, record):
        if record["epoch"] == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("ema", [None, 0.9])
def test_killed_and_resumed_run_matches_an_uninterrupted_one(tmp_path, ema):
    X, y = _blobs()
    kw = dict(
        epochs=6,
        batch_size=16,
        lr_schedule="cosine",
        ema_decay=ema,
        early_stopping=True,
        patience=100,
        random_state=0,
        precision="float32",
    )
    full = _mlp()
    reference = fit_module(full, X, y, TrainConfig(**kw))

    ckpt = tmp_path / "run.ckpt"
    killed = _mlp()
    with pytest.raises(KeyboardInterrupt):
        fit_module(killed, X, y, TrainConfig(checkpoint=str(ckpt), **kw), callbacks=[Kill(3)])
    assert ckpt.exists() and not list(tmp_path.glob(".*tmp*"))  # atomic: no temporary left
    resumed_model = _mlp(seed=1)  # different init: everything comes from the checkpoint
    resumed = fit_module(resumed_model, X, y, TrainConfig(checkpoint=str(ckpt), resume=True, **kw))
    assert resumed.resumed_from == 3
    assert [h["epoch"] for h in resumed.history] == list(range(1, 7))
    assert resumed.best_epoch == reference.best_epoch
    for a, b in zip(reference.history, resumed.history, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
        assert a["lr"] == pytest.approx(b["lr"])
    for (k, a), b in zip(
        full.state_dict().items(), resumed_model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=k)


def test_resume_refuses_another_runs_checkpoint(tmp_path):
    X, y = _blobs()
    ckpt = str(tmp_path / "run.ckpt")
    fit_module(_mlp(), X, y, TrainConfig(epochs=2, checkpoint=ckpt, random_state=0))
    with pytest.raises(ValueError, match="different training run"):
        fit_module(
            _mlp(),
            X,
            y,
            TrainConfig(epochs=2, learning_rate=0.5, checkpoint=ckpt, resume=True, random_state=0),
        )
    with pytest.raises(ValueError, match="needs a checkpoint"):
        fit_module(_mlp(), X, y, TrainConfig(epochs=2, resume=True))


def test_estimator_checkpoint_and_resume(tmp_path):
    X, y = _images()
    ckpt = tmp_path / "net.ckpt"
    kw = dict(
        architecture="cnnlstm_model1",
        epochs=2,
        batch_size=8,
        random_state=0,
        precision="float32",
        checkpoint=ckpt,
    )
    first = CNNFeatures(**kw).fit(X, y)
    assert ckpt.exists() and first.n_epochs_ == 2
    again = CNNFeatures(resume=True, **kw).fit(X, y)  # finished run: nothing left to train
    np.testing.assert_allclose(again.transform(X), first.transform(X), rtol=1e-5, atol=1e-6)


# -- test-time augmentation -----------------------------------------------------------------
def test_tta_views():
    batch = torch.rand(3, 1, 12, 10)
    assert len(tta_views(batch, None)) == 1
    flip = tta_views(batch, "flip")
    assert len(flip) == 2 and torch.equal(flip[1], batch.flip(-1))
    crops = tta_views(batch, "crops", padding=2)
    assert len(crops) == 10 and all(v.shape == batch.shape for v in crops)
    assert torch.equal(crops[0], batch) and torch.equal(crops[5], batch.flip(-1))
    # a corner crop is the batch shifted by the padding, zeros moved in
    assert torch.equal(crops[1][..., 2:, 2:], batch[..., :-2, :-2])
    assert (crops[1][..., :2, :] == 0).all() and torch.equal(
        crops[4][..., :-2, :-2], batch[..., 2:, 2:]
    )
    with pytest.raises(ValueError, match="tta"):
        tta_views(batch, "rotate")


def test_tta_shapes_and_flip_of_a_symmetric_image():
    X, y = _images(n=32)
    sym = X.copy()
    sym[:, :, 12:] = sym[:, :, :12][:, :, ::-1]  # left-right symmetric images
    common = dict(architecture="cnnlstm_model1", epochs=1, batch_size=8, random_state=0)
    net = FERNetClassifier(backbone="cnnlstm_model1", epochs=1, batch_size=8, random_state=0)
    net.fit(X, y)
    plain = net.predict_proba(sym)
    for tta in ("flip", "crops"):
        net.set_params(tta=tta)
        proba = net.predict_proba(sym)
        assert proba.shape == (len(sym), 2)
        np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
        if tta == "flip":
            np.testing.assert_allclose(proba, plain, rtol=1e-5, atol=1e-6)
    feats = CNNFeatures(**common).fit(X, y)
    emb = feats.transform(sym)
    feats.set_params(tta="flip")
    np.testing.assert_allclose(feats.transform(sym), emb, rtol=1e-5, atol=1e-6)
    feats.set_params(tta="crops")
    assert feats.transform(X).shape == emb.shape
    assert feats.network_predict_proba(X).shape == (len(X), 2)


# -- augmentation ---------------------------------------------------------------------------
def _still():
    return dict(hflip=0.0, degrees=0, translate=0, scale=None, shear=0)


def test_batched_affine_matches_exact_transforms():
    batch = torch.rand(4, 2, 16, 16)
    assert torch.equal(BatchAugmentation(**_still())(batch), batch)
    rot = BatchAugmentation(**{**_still(), "degrees": 90})
    # degrees=90 draws angles in [-90, 90]; force exactly 90 by drawing from a 1-point range
    rot._draw = lambda n, dev: {
        **BatchAugmentation(**_still())._draw(n, dev),
        "angle": torch.full((n,), 90.0),
    }
    out = rot(batch)
    turned = torch.rot90(batch, k=1, dims=(2, 3))
    turned_other = torch.rot90(batch, k=-1, dims=(2, 3))
    err = min((out - turned).abs().max(), (out - turned_other).abs().max())
    assert err < 1e-4  # a quarter turn resamples pixel centres exactly


def test_crop_padding_is_a_whole_pixel_shift_per_image():
    torch.manual_seed(0)
    batch = torch.rand(16, 1, 12, 12) + 0.1
    out = BatchAugmentation(**{**_still(), "crop_padding": 2})(batch)
    padded = nn.functional.pad(batch, (2, 2, 2, 2))
    shifts = set()
    for i in range(len(batch)):
        found = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if torch.allclose(padded[i, :, dy : dy + 12, dx : dx + 12], out[i], atol=1e-5)
        ]
        assert len(found) == 1
        shifts.add(found[0])
    assert len(shifts) > 3  # drawn per image


def test_erasing_and_mixing():
    torch.manual_seed(0)
    batch = torch.rand(64, 1, 20, 20) + 0.5
    erased = BatchAugmentation(**{**_still(), "erasing": 0.5})(batch)
    zero_frac = (erased == 0).flatten(1).float().mean(1)
    hit = zero_frac > 0
    assert 0.25 < hit.float().mean() < 0.75  # about half the images
    assert (zero_frac[hit] >= 0.02 * 0.5).all() and (zero_frac <= 0.25).all()
    mixer = BatchAugmentation(**{**_still(), "mixup": 0.4, "cutmix": 1.0, "mix_prob": 1.0})
    assert mixer.mixes_labels and not BatchAugmentation().mixes_labels
    mixed, partner, lam = mixer.mix(batch)
    assert mixed.shape == batch.shape and partner.shape == lam.shape == (64,)
    assert ((lam >= 0) & (lam <= 1)).all() and (lam < 1).float().mean() > 0.5
    # each output is lam * own + (1 - lam) * partner in total mass (mixup and CutMix alike)
    mass = mixed.flatten(1).sum(1)
    expect = lam * batch.flatten(1).sum(1) + (1 - lam) * batch[partner].flatten(1).sum(1)
    # CutMix mixes by area, so compare on a constant-per-image batch
    const = torch.arange(1, 65, dtype=torch.float32).view(64, 1, 1, 1).expand(64, 1, 20, 20)
    m2, p2, l2 = mixer.mix(const.clone())
    torch.testing.assert_close(
        m2.flatten(1).mean(1),
        l2 * const.flatten(1).mean(1) + (1 - l2) * const[p2].flatten(1).mean(1),
        rtol=1e-4,
        atol=1e-4,
    )
    assert mass.shape == expect.shape


def test_mixup_trains_through_fit_module():
    X, y = _images(n=48)
    est = CNNFeatures(
        architecture="cnnlstm_model1",
        epochs=3,
        batch_size=8,
        random_state=0,
        augment="fer_mix",
        learning_rate=3e-3,
    )
    est.fit(X, y)
    assert all(math.isfinite(h["loss"]) for h in est.history_)
    with pytest.raises(ValueError, match="preset"):
        make_augmentation("strong")


# -- precision and memory format ------------------------------------------------------------
def test_auto_precision_and_channels_last_follow_the_cpu():
    cpu = torch.device("cpu")
    native = cpu_has_native_bf16()
    assert resolve_precision("auto", cpu) == (torch.bfloat16 if native else torch.float32)
    assert resolve_precision("float32", cpu) == torch.float32  # a user can force any
    X, y = _images(n=24)
    est = CNNFeatures(
        architecture="fer_vgg",
        epochs=1,
        batch_size=8,
        random_state=0,
        architecture_params={"widths": (8, 16)},
    ).fit(X, y)
    assert np.isfinite(est.transform(X)).all()
    # channels-last for float32 and for native bf16: either way on a CPU
    assert use_channels_last("auto", cpu, resolve_precision("auto", cpu))
    assert use_channels_last("auto", cpu, torch.bfloat16) == native


@pytest.mark.parametrize(
    "cap, native",
    [
        (None, True),
        ("AVX2", False),
        ("avx2", False),
        ("AVX512_CORE", False),
        ("avx512_core_bf16", True),
        ("AVX512_CORE_AMX", True),
    ],
)
def test_a_onednn_cap_below_bf16_makes_auto_choose_float32(monkeypatch, cap, native):
    """ONEDNN_MAX_CPU_ISA=AVX2 on a bf16 CPU leaves bf16 emulated (about 30x slower than
    float32): auto precision and memory format then follow the capped kernels, not the CPU's
    flags."""
    from hybridfer.nn import devices

    monkeypatch.setattr(devices, "_hardware_bf16", lambda: True)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    if cap is None:
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    else:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    cpu = torch.device("cpu")
    assert devices.cpu_has_native_bf16() is native
    assert resolve_precision("auto", cpu) == (torch.bfloat16 if native else torch.float32)
    assert use_channels_last("auto", cpu, resolve_precision("auto", cpu)) is True
    assert use_channels_last("auto", cpu, torch.bfloat16) is native  # not emulated bf16
    assert f"oneDNN {cap.upper() if cap else 'uncapped'}" in devices.cpu_capability()
    monkeypatch.setattr(devices, "_hardware_bf16", lambda: False)
    assert devices.cpu_has_native_bf16() is False


def test_training_from_files_equals_training_from_arrays(tmp_path):
    from PIL import Image

    X, y = _images(n=24)
    paths = []
    for i, img in enumerate(X):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(img).save(paths[-1])
    kw = dict(
        architecture="cnnlstm_model1",
        epochs=2,
        batch_size=8,
        random_state=0,
        precision="float32",
        augment="fer",
    )
    from_arrays = CNNFeatures(**kw).fit(X, y)
    from_files = CNNFeatures(**kw).fit(paths, y)  # decoded by DataLoader workers
    np.testing.assert_allclose(
        from_files.transform(X), from_arrays.transform(X), rtol=1e-5, atol=1e-6
    )
    assert [h["loss"] for h in from_files.history_] == pytest.approx(
        [h["loss"] for h in from_arrays.history_], rel=1e-5
    )


@pytest.mark.parametrize("workers", [0, 2])
def test_fit_module_from_files_with_and_without_workers(tmp_path, workers):
    from PIL import Image

    from hybridfer.images import as_image_source

    X, y = _images(n=20, size=16)
    paths = []
    for i, img in enumerate(X):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(img).save(paths[-1])

    def fit(data):
        with seeded(0):
            model = nn.Sequential(nn.Flatten(), nn.Linear(256, 2))
        config = TrainConfig(
            epochs=2, batch_size=6, num_workers=workers, random_state=0, precision="float32"
        )
        result = fit_module(model, data, y, config, prepare=lambda b: b.float().div(255))
        return model, result

    m_files, r_files = fit(as_image_source(paths, None, color="gray", name="X"))
    m_arrays, r_arrays = fit(X)
    assert [h["loss"] for h in r_files.history] == pytest.approx(
        [h["loss"] for h in r_arrays.history], rel=1e-6
    )
    torch.testing.assert_close(m_files[1].weight, m_arrays[1].weight)


# -- progressive resizing -------------------------------------------------------------------
class _SizeRecorder(nn.Module):
    """A tiny conv net that records the side of every training batch it sees."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)
        self.sides: list[tuple[bool, int]] = []

    def forward(self, x):
        self.sides.append((self.training, int(x.shape[-1])))
        return self.fc(self.conv(x).mean(dim=(2, 3)))


def _prepare(raw):
    return raw.float().unsqueeze(1) / 255.0


def test_progressive_resize_trains_small_first_and_validates_at_full_size():
    X, y = _images(n=32, size=24)
    model = _SizeRecorder()
    config = TrainConfig(
        epochs=4,
        batch_size=8,
        lr_schedule="cosine",
        progressive_resize=[(0.5, 12), (0.75, 16)],
        early_stopping=True,
        validation_fraction=0.25,
        patience=10,
        random_state=0,
        precision="float32",
    )
    result = fit_module(model, X, y, config, prepare=_prepare)
    # 24 training rows: 3 steps an epoch, 12 planned; progress after step k is k/12
    train_sides = [s for training, s in model.sides if training]
    assert train_sides == [12] * 6 + [16] * 3 + [24] * 3
    evals = [s for training, s in model.sides if not training]
    assert evals[:2] == [12, 16]  # the check that the network takes both sizes
    assert len(evals) > 2 and set(evals[2:]) == {24}  # validation, every epoch
    assert [h["train_size"] for h in result.history] == [12, 12, 16, 24]


def test_progressive_resize_through_an_estimator_keeps_predictions_at_input_size():
    X, y = _images(n=24, size=24)
    est = CNNFeatures(
        architecture="fer_vgg",
        architecture_params={"widths": (4, 8, 8, 8)},
        input_size=32,
        progressive_resize=((0.5, 24),),
        epochs=2,
        batch_size=8,
        random_state=0,
        precision="float32",
    ).fit(X, y)
    assert [h["train_size"] for h in est.history_] == [24, 32]
    assert est.input_size_ == (32, 32)
    assert est.transform(X).shape == (24, est.n_features_out_)
    assert clone(est).progressive_resize == ((0.5, 24),)


@pytest.mark.parametrize(
    "bad",
    [[(0.0, 40)], [(0.5, 40), (0.4, 44)], [(1.5, 40)], [(0.5, 0)], [(0.5, 40.0)], [0.5], []],
)
def test_bad_progressive_resize_is_refused_naming_it(bad):
    X, y = _blobs()
    with pytest.raises(ValueError, match="progressive_resize"):
        fit_module(_mlp(), X, y, TrainConfig(epochs=1, progressive_resize=bad))


def test_progressive_resize_refuses_a_network_of_fixed_input_size():
    X, y = _images(n=16, size=24)
    est = CNNFeatures(architecture="cnnlstm_model1", progressive_resize=[(0.5, 16)], epochs=1)
    with pytest.raises(ValueError, match="progressive_resize size 16: the network cannot take"):
        est.fit(X, y)
