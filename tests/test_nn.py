"""The shared training machinery: losses, class weights, EMA, early stopping, freezing, seeds,
schedules, augmentation, clipping, and the paper CNNs' parameter counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hybridfer.nn import (
    BatchAugmentation,
    FocalLoss,
    TrainConfig,
    build_fer_net,
    compute_class_weights,
    count_parameters,
    fine_tune_backbone,
    fit_module,
    make_augmentation,
    predict_module,
)
from hybridfer.nn.architectures import SingleBiasLSTM
from hybridfer.nn.freeze import select_frozen
from hybridfer.nn.optim import LRSchedule, make_optimizer
from hybridfer.nn.training import seeded

torch.set_num_threads(1)


def _blobs(n=120, d=6, k=3, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.0, size=(k, d))
    y = rng.integers(0, k, n)
    X = (centers[y] + noise * rng.normal(size=(n, d))).astype(np.float32)
    return X, y


class _Net(nn.Module):
    """backbone (Linear + BatchNorm + ReLU) and head, named for freezing."""

    def __init__(self, d=6, k=3, hidden=16, dropout=0.0):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(d, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, k))

    def forward(self, x):
        return self.head(self.backbone(x))


def _net(seed=0, **kw):
    with seeded(seed):
        return _Net(**kw)


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _loss_of(model, X, y):
    model.eval()
    with torch.no_grad():
        return float(F.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(y)))


# -- losses and class weights ---------------------------------------------------------------
def test_focal_loss_equals_cross_entropy_at_gamma_zero():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(32, 5, generator=g)
    target = torch.randint(0, 5, (32,), generator=g)
    weight = torch.rand(5, generator=g) + 0.1
    assert torch.allclose(FocalLoss(gamma=0.0)(logits, target), F.cross_entropy(logits, target))
    assert torch.allclose(
        FocalLoss(gamma=0.0, weight=weight)(logits, target),
        F.cross_entropy(logits, target, weight=weight),
    )
    assert torch.allclose(
        FocalLoss(gamma=0.0, label_smoothing=0.1)(logits, target),
        F.cross_entropy(logits, target, label_smoothing=0.1),
    )
    per_sample = FocalLoss(gamma=0.0, reduction="none")(logits, target)
    assert torch.allclose(per_sample, F.cross_entropy(logits, target, reduction="none"))


def test_focal_loss_down_weights_easy_examples_and_alpha_scales():
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.2, 0.0, 0.0]])
    target = torch.tensor([0, 0])
    ce = F.cross_entropy(logits, target, reduction="none")
    fl = FocalLoss(gamma=2.0, reduction="none")(logits, target)
    p = torch.softmax(logits, 1)[:, 0]
    assert torch.allclose(fl, (1 - p) ** 2 * ce)
    assert fl[0] / ce[0] < fl[1] / ce[1]  # the confident one is down-weighted more
    assert torch.allclose(
        FocalLoss(alpha=0.25, gamma=2.0, reduction="none")(logits, target), 0.25 * fl
    )
    per_class = FocalLoss(alpha=[0.5, 1.0, 1.0], gamma=0.0, reduction="none")(logits, target)
    assert torch.allclose(per_class, 0.5 * ce)


def test_class_weights_balanced_and_normalized():
    y = np.array([0] * 6 + [1] * 3 + [2] * 1)
    balanced = compute_class_weights("balanced", y, 3)
    np.testing.assert_allclose(balanced, 10 / (3 * np.array([6, 3, 1])))
    assert np.isclose(balanced[y].mean(), 1.0)
    normalized = compute_class_weights("normalized", y, 3)
    raw = 10 / np.array([6, 3, 1])
    np.testing.assert_allclose(normalized, raw / raw.sum())
    assert np.isclose(normalized.sum(), 1.0)
    np.testing.assert_allclose(
        compute_class_weights({"b": 2.0}, y, 3, classes=["a", "b", "c"]), [1.0, 2.0, 1.0]
    )
    with pytest.raises(ValueError, match="not one of the classes"):
        compute_class_weights({"z": 2.0}, y, 3, classes=["a", "b", "c"])
    with pytest.raises(ValueError, match="'balanced', 'normalized'"):
        compute_class_weights("inverse", y, 3)


# -- training loop --------------------------------------------------------------------------
def test_fit_module_learns_and_predicts():
    X, y = _blobs()
    model = _net()
    result = fit_module(model, X, y, TrainConfig(epochs=15, batch_size=16, random_state=0))
    assert result.stop_reason == "max_epochs" and result.n_epochs == 15
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    logits = predict_module(model, X, batch_size=50, device="cpu")
    assert logits.shape == (len(X), 3) and logits.dtype == np.float32
    assert np.mean(logits.argmax(1) == y) > 0.9


def test_early_stopping_restores_the_best_epoch():
    # random labels + a large learning rate: validation loss bottoms out early, then rises
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 6)).astype(np.float32)
    y = rng.integers(0, 3, 80)
    X_val = rng.normal(size=(40, 6)).astype(np.float32)
    y_val = rng.integers(0, 3, 40)
    model = _net(hidden=64)
    config = TrainConfig(
        epochs=40,
        batch_size=16,
        learning_rate=0.05,
        early_stopping=True,
        patience=3,
        precision="float32",  # compared with a float32 loss below
        random_state=0,
    )
    result = fit_module(model, X, y, config, eval_set=(X_val, y_val))
    val_losses = [h["val_loss"] for h in result.history]
    assert result.stop_reason == "early_stopping"
    assert result.n_epochs < 40
    assert result.best_epoch == int(np.argmin(val_losses)) + 1
    assert result.best_epoch < result.n_epochs  # later epochs were worse and are undone
    restored = _loss_of(model, X_val, y_val)
    assert restored == pytest.approx(min(val_losses), rel=1e-5)
    assert restored < val_losses[-1]


def test_early_stopping_on_a_stratified_validation_fraction():
    X, y = _blobs(n=100)
    result = fit_module(
        _net(),
        X,
        y,
        TrainConfig(epochs=3, early_stopping=True, validation_fraction=0.2, random_state=0),
    )
    assert all("val_accuracy" in h for h in result.history)
    assert result.history[0]["n_samples"] == 80  # 20 held out


def test_ema_weights_differ_from_raw_and_are_used_for_evaluation():
    X, y = _blobs(n=96)
    X_val, y_val = _blobs(n=48, seed=1)
    model = _net()
    config = TrainConfig(epochs=3, batch_size=16, learning_rate=0.02, ema_decay=0.9, random_state=0)
    result = fit_module(model, X, y, config, eval_set=(X_val, y_val))
    raw = result.raw_state_dict
    final = model.state_dict()
    assert raw is not None
    differs = [k for k in raw if raw[k].is_floating_point() and not torch.equal(raw[k], final[k])]
    assert "head.1.weight" in differs and "backbone.0.weight" in differs
    # the recorded validation loss is that of the EMA weights the model ends with ...
    assert _loss_of(model, X_val, y_val) == pytest.approx(result.history[-1]["val_loss"], rel=1e-5)
    # ... not that of the raw weights
    raw_model = _net()
    raw_model.load_state_dict(raw)
    assert _loss_of(raw_model, X_val, y_val) != pytest.approx(result.history[-1]["val_loss"])


def test_frozen_layers_keep_their_weights_in_stage_one():
    X, y = _blobs()
    model = _net()
    before = _state(model.backbone)
    head_before = _state(model.head)
    snapshots = []

    def snapshot(record):
        snapshots.append((record["stage"], _state(model.backbone)))

    config = TrainConfig(
        epochs=4, batch_size=16, freeze="backbone", frozen_epochs=2, random_state=0
    )
    result = fit_module(model, X, y, config, callbacks=[snapshot])
    assert [h["stage"] for h in result.history] == [1, 1, 2, 2]
    for stage, state in snapshots:
        same = all(torch.equal(state[k], before[k]) for k in before)  # weights and BN stats
        assert same == (stage == 1)
    assert not torch.equal(_state(model.head)["1.weight"], head_before["1.weight"])
    assert all(p.requires_grad for p in model.parameters())  # unfrozen at the end


def test_freeze_for_the_whole_run_and_up_to_a_named_layer():
    X, y = _blobs()
    model = _net()
    before = _state(model)
    fit_module(model, X, y, TrainConfig(epochs=2, freeze_up_to="backbone.1", random_state=0))
    after = model.state_dict()
    for k in before:
        frozen = k.startswith(("backbone.0.", "backbone.1."))
        assert torch.equal(before[k], after[k]) == frozen, k
    names = select_frozen(model, freeze_up_to="backbone.0")
    assert names == ["backbone.0.weight", "backbone.0.bias"]
    with pytest.raises(ValueError, match="names no module"):
        select_frozen(model, freeze="trunk")


def test_same_seed_same_model_on_cpu():
    X, y = _blobs()
    # dropout and the batch order are the random parts here
    outs = []
    for _ in range(2):
        model = _net(dropout=0.5)
        fit_module(model, X, y, TrainConfig(epochs=3, batch_size=16, random_state=7))
        outs.append(predict_module(model, X, device="cpu"))
    np.testing.assert_array_equal(outs[0], outs[1])
    other = _net(dropout=0.5)
    fit_module(other, X, y, TrainConfig(epochs=3, batch_size=16, random_state=8))
    assert not np.array_equal(outs[0], predict_module(other, X, device="cpu"))


def test_seeded_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with seeded(5):
        torch.rand(10)
    assert torch.equal(torch.rand(3), expected)


def test_sample_weights_and_class_weights_change_the_fit():
    X, y = _blobs(n=90)
    base = _net()
    fit_module(base, X, y, TrainConfig(epochs=2, random_state=0))
    weighted = _net()
    sw = np.where(y == 0, 5.0, 1.0)
    fit_module(weighted, X, y, TrainConfig(epochs=2, random_state=0), sample_weight=sw)
    assert not np.allclose(predict_module(base, X), predict_module(weighted, X))
    cw = _net()
    fit_module(
        cw, X, y, TrainConfig(epochs=2, random_state=0, class_weight={0: 5.0}), classes=[0, 1, 2]
    )
    np.testing.assert_allclose(predict_module(cw, X), predict_module(weighted, X), atol=1e-5)


def test_gradient_clipping_bounds_the_update():
    X, y = _blobs(n=32)
    model = _net()
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    config = TrainConfig(
        epochs=1,
        batch_size=32,
        optimizer="sgd",
        momentum=0.0,
        learning_rate=1.0,
        grad_clip=1e-3,
        random_state=0,
    )
    fit_module(model, X, y, config)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert 0 < torch.linalg.vector_norm(after - before) <= 1e-3 + 1e-6


def test_time_budget_stops_training():
    X, y = _blobs(n=400)
    result = fit_module(_net(), X, y, TrainConfig(epochs=50, batch_size=8, max_time=1e-9))
    assert result.stop_reason == "max_time" and result.n_epochs == 1
    assert result.history[0]["n_samples"] < 400


def test_focal_loss_and_bfloat16_autocast_train_on_cpu():
    X, y = _blobs()
    config = TrainConfig(
        epochs=2,
        loss="focal",
        focal_gamma=2.0,
        class_weight="balanced",
        precision="bfloat16",
        lr_schedule="cosine",
        random_state=0,
    )
    result = fit_module(_net(), X, y, config)
    assert str(result.precision) == "torch.bfloat16"
    assert all(np.isfinite(h["loss"]) for h in result.history)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_optimizers(name):
    model = _net()
    opt = make_optimizer(name, model.parameters(), lr=0.1, weight_decay=0.01)
    assert opt.param_groups[0]["lr"] == 0.1


def test_schedules():
    def lrs(name, epochs=4, steps=5, **kw):
        schedule = LRSchedule(name, epochs=epochs, **kw)
        total = epochs * steps
        # the rate at the end of each epoch
        return [schedule.lr(1.0, (e + 1) * steps / total) for e in range(epochs)]

    cosine = lrs("cosine", min_lr=0.01)
    assert cosine[-1] == pytest.approx(0.01) and all(np.diff(cosine) < 0)
    assert lrs("step", step_size=2, step_gamma=0.5) == pytest.approx([1.0, 0.5, 0.5, 0.25])
    schedule = LRSchedule("onecycle", epochs=4, min_lr=1e-4)
    curve = [schedule.lr(1.0, p) for p in np.linspace(0, 1, 101)]
    assert curve[0] == pytest.approx(1 / 25) and max(curve) == pytest.approx(1.0)
    assert int(np.argmax(curve)) == 30 and curve[-1] == pytest.approx(1e-4)  # warm up, anneal
    warm = LRSchedule("warmup_cosine", epochs=4, warmup=0.1, min_lr=0.0)
    assert warm.lr(1.0, 0.0) == 0.0 and warm.lr(1.0, 0.05) == pytest.approx(0.5)
    assert warm.lr(1.0, 0.1) == pytest.approx(1.0) and warm.lr(1.0, 1.0) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="lr_schedule"):
        LRSchedule("linear", epochs=4)


# -- augmentation ---------------------------------------------------------------------------
def test_augmentation_is_drawn_per_image():
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 1, 16, 16, generator=g)
    batch = img.repeat(8, 1, 1, 1)
    torch.manual_seed(0)
    out = BatchAugmentation(hflip=0.5, degrees=20, translate=0.1, scale=(0.8, 1.2), shear=5)(batch)
    assert out.shape == batch.shape
    distinct = {tuple(np.round(o.flatten().numpy(), 5)) for o in out}
    assert len(distinct) > 4  # identical inputs, different transforms
    flip = BatchAugmentation(hflip=1.0, degrees=0, translate=0, scale=None, shear=0)
    assert torch.equal(flip(batch), torch.flip(batch, dims=[3]))
    assert make_augmentation(None) is None
    assert isinstance(make_augmentation({"degrees": 5}), BatchAugmentation)
    with pytest.raises(ValueError, match="unknown key"):
        make_augmentation({"rotate": 5})


# -- architectures --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "keras_total", "trainable"),
    [
        ("cnnlstm_model1", 117_031, 116_871),
        ("cnnlstm_model2", 303_495, 302_663),
        ("cnnlstm_model3", 457_863, 457_031),
    ],
)
def test_paper_cnn_parameter_counts(name, keras_total, trainable):
    model = build_fer_net(name, n_classes=7, in_channels=1, image_size=(48, 48))
    assert count_parameters(model, keras=True) == keras_total
    assert count_parameters(model) == trainable
    x = torch.zeros(2, 1, 48, 48)
    model.eval()
    assert model(x).shape == (2, 7)


def test_paper_model3_layout():
    model = build_fer_net("cnnlstm_model3").eval()
    x = torch.rand(2, 1, 48, 48)
    fmap = model.feature_map(x)
    assert fmap.shape == (2, 128, 4, 4)
    tokens = model.tokens(x)
    assert tokens.shape == (2, 16, 128)
    # channels-last order: token t is spatial cell (t // 4, t % 4)
    assert torch.equal(tokens[:, 5], fmap[:, :, 1, 1])
    assert model.lstm1.weight_ih_l0.shape == (512, 128) and model.lstm2.hidden_size == 64
    assert model.embed(x).shape == (2, 200)


def test_single_bias_lstm_is_torch_lstm_with_zero_hidden_bias():
    with seeded(0):
        single = SingleBiasLSTM(5, 4)
    full = nn.LSTM(5, 4, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0"):
            getattr(full, name).copy_(getattr(single, name))
        full.bias_hh_l0.zero_()
    x = torch.randn(3, 7, 5)
    assert torch.allclose(single(x)[0], full(x)[0], atol=1e-6)
    assert sum(p.numel() for p in single.parameters()) == 4 * (5 * 4 + 4 * 4 + 4)
    assert "bias_hh_l0" not in dict(single.named_parameters())


@pytest.mark.parametrize("name", ["fer_resnet", "fer_vgg"])
def test_deeper_fer_nets(name):
    model = build_fer_net(name, image_size=(48, 48)).eval()
    x = torch.rand(2, 1, 48, 48)
    assert model(x).shape == (2, 7)
    assert model.embed(x).shape == (2, model.embedding_dim)
    assert model.tokens(x).shape[2] == model.token_dim


def test_separable_fer_vgg_keeps_the_shapes_with_a_fraction_of_the_weights():
    from hybridfer.evaluation.profiling import count_flops

    widths = (16, 32, 64, 128)
    plain = build_fer_net("fer_vgg", widths=widths).eval()
    sep = build_fer_net("fer_vgg", widths=widths, separable=True).eval()
    x = torch.rand(2, 1, 48, 48)
    assert sep(x).shape == (2, 7) and sep.embed(x).shape == plain.embed(x).shape
    assert sep.feature_map(x).shape == plain.feature_map(x).shape
    convs = [m for m in sep.trunk if isinstance(m, nn.Conv2d)]
    # the first convolution stays dense; each later one is depthwise 3x3 then pointwise 1x1
    assert convs[0].kernel_size == (3, 3) and convs[0].groups == 1
    assert [(c.kernel_size, c.groups == c.in_channels) for c in convs[1:3]] == [
        ((3, 3), True),
        ((1, 1), False),
    ]
    assert len(convs) == 1 + 2 * 7

    assert count_flops(sep, x.shape) < count_flops(plain, x.shape) / 4
    n_trunk = [sum(p.numel() for p in m.trunk.parameters()) for m in (plain, sep)]
    assert n_trunk[1] < n_trunk[0] / 4


def test_too_small_input_is_a_clear_error():
    with pytest.raises(ValueError, match="too small"):
        build_fer_net("cnnlstm_model3", image_size=(16, 16))
    with pytest.raises(ValueError, match="architecture="):
        build_fer_net("alexnet")


# -- backbone fine-tuning -------------------------------------------------------------------
def test_fine_tune_backbone_updates_the_tapped_modules_in_place():
    import torchvision

    with seeded(0):
        model = torchvision.models.resnet18(weights=None)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(24, 32, 32), dtype=np.uint8)
    labels = np.array(["a", "b", "c"] * 8)
    conv1 = model.conv1.weight.detach().clone()
    layer4 = model.layer4[1].conv2.weight.detach().clone()
    fc = model.fc.weight.detach().clone()

    def prepare(batch):
        return batch.float().div(255).unsqueeze(1).expand(-1, 3, -1, -1)

    out, result = fine_tune_backbone(
        model,
        images,
        labels,
        prepare=prepare,
        return_nodes=["layer3", "layer4"],
        epochs=1,
        batch_size=8,
        learning_rate=1e-3,
        freeze_up_to="bn1",
        random_state=0,
        return_result=True,
    )
    assert out is model and result.n_epochs == 1
    assert torch.equal(model.conv1.weight, conv1)  # frozen up to bn1
    assert not torch.equal(model.layer4[1].conv2.weight, layer4)  # trained
    assert torch.equal(model.fc.weight, fc)  # the original head is untouched
    assert not model.training
    with pytest.raises(ValueError, match="unknown fine-tuning options"):
        fine_tune_backbone(model, images, labels, prepare=prepare, epoch=1)


def test_random_torchvision_models_get_the_default_batchnorm_momentum(tmp_path):
    # torchvision builds MobileNetV3 with BatchNorm momentum 0.01; trained from random weights
    # for minutes its running statistics lagged and eval-mode predictions were one class
    import torch
    import torchvision

    from hybridfer.nn.weights import build_torchvision_model

    def momenta(model):
        return {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)}

    assert momenta(torchvision.models.mobilenet_v3_small()) == {0.01}
    assert momenta(build_torchvision_model("mobilenet_v3_small", None, 0).model) == {0.1}
    # given weights keep torchvision's momentum (their statistics are already right)
    path = tmp_path / "mnv3s.pt"
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), path)
    assert momenta(build_torchvision_model("mobilenet_v3_small", path, 0).model) == {0.01}
