"""CTAN's attention blocks: shapes kept, documented parameter counts (both readings of the
Efficient Attention), and they train."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hybridfer.nn.attention import EfficientAttention, ShuffleAttention, channel_shuffle
from hybridfer.nn.training import seeded

torch.set_num_threads(1)


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("channels", "h", "w"), [(16, 7, 7), (32, 1, 1), (64, 5, 9), (128, 14, 14)]
)
def test_shapes_are_kept(channels, h, w):
    x = torch.randn(2, channels, h, w)
    for module in (
        EfficientAttention(channels),
        EfficientAttention(channels, residual=False, n_local=3, kernel_size=5),
        EfficientAttention(channels, branches="split"),
        EfficientAttention(channels, residual=False, branches="split"),
        ShuffleAttention(channels, groups=channels // 8),
    ):
        out = module(x)
        assert out.shape == x.shape and torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("channels", "kwargs"),
    [(768, {}), (96, {}), (64, {"reduction": 4, "n_local": 1, "kernel_size": 7}), (16, {})],
)
def test_efficient_attention_parameter_count(channels, kwargs):
    module = EfficientAttention(channels, **kwargs)
    assert _n_params(module) == EfficientAttention.expected_parameters(channels, **kwargs)
    if channels == 768 and not kwargs:
        assert _n_params(module) == 1_270_320  # the number the docstring gives


@pytest.mark.parametrize(
    ("channels", "kwargs"),
    [(768, {}), (96, {}), (64, {"reduction": 4, "n_local": 1, "kernel_size": 7}), (16, {})],
)
def test_split_reading_parameter_count(channels, kwargs):
    split = EfficientAttention(channels, branches="split", **kwargs)
    full = EfficientAttention(channels, branches="full", **kwargs)
    assert split.project is None
    assert _n_params(split) == EfficientAttention.expected_parameters(
        channels, branches="split", **kwargs
    )
    if channels == 768 and not kwargs:
        # the docstring's numbers: the projection is 1,180,416 of the full block's 1,270,320
        assert _n_params(split) == 26_520
        assert _n_params(full.project) == 1_180_416
        assert _n_params(full) - _n_params(full.project) == 74_544 + 15_360


def test_split_reading_routes_each_half_to_one_branch():
    # without the residual: the first half is the gated global branch of the first half, the
    # second half the local branch of the second; changing one input half leaves the other
    # output half as it was
    with seeded(0):
        block = EfficientAttention(16, reduction=4, residual=False, branches="split").eval()
    x = torch.randn(2, 16, 5, 5)
    y = block(x)
    gate = block.global_mlp(block.pool(x[:, :8]))
    assert torch.allclose(y[:, :8], x[:, :8] * gate, atol=1e-6)
    assert torch.allclose(y[:, 8:], block.local(x[:, 8:]), atol=1e-6)
    x2 = x.clone()
    x2[:, 8:] += 1.0
    y2 = block(x2)
    assert torch.equal(y2[:, :8], y[:, :8]) and not torch.allclose(y2[:, 8:], y[:, 8:])
    with seeded(0):
        residual = EfficientAttention(16, reduction=4, branches="split").eval()
    assert torch.allclose(residual(x), x + y, atol=1e-6)


@pytest.mark.parametrize(("channels", "groups"), [(768, 64), (768, 32), (96, 8), (16, 1)])
def test_shuffle_attention_parameter_count(channels, groups):
    module = ShuffleAttention(channels, groups)
    assert _n_params(module) == ShuffleAttention.expected_parameters(channels, groups)
    if (channels, groups) == (768, 64):
        assert _n_params(module) == 36


def test_invalid_arguments():
    with pytest.raises(ValueError, match="divisible"):
        ShuffleAttention(100, groups=64)
    with pytest.raises(ValueError, match="odd"):
        EfficientAttention(16, kernel_size=4)
    with pytest.raises(ValueError, match="branches must be one of"):
        EfficientAttention(16, branches="halves")
    with pytest.raises(ValueError, match="even number of channels"):
        EfficientAttention(15, branches="split")


def test_channel_shuffle_interleaves_groups():
    x = torch.arange(6.0).reshape(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]


def test_shuffle_attention_at_init_is_sigmoid_one_then_shuffle():
    # SA-Net's initialisation (w = 0, b = 1): both gates are sigmoid(1) everywhere
    x = torch.randn(2, 16, 4, 4)
    expected = channel_shuffle(x * torch.sigmoid(torch.tensor(1.0)), 2)
    assert torch.allclose(ShuffleAttention(16, groups=4)(x), expected, atol=1e-6)


def _task(seed: int = 0, n: int = 64, channels: int = 16):
    """The label is the channel pair (of 4) whose mean is raised in the image's centre."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, channels, 6, 6, generator=g)
    y = torch.randint(0, 4, (n,), generator=g)
    for i in range(n):
        x[i, 4 * y[i] : 4 * y[i] + 2, 2:4, 2:4] += 1.5
    return x, y


@pytest.mark.parametrize(
    "make",
    [
        lambda: EfficientAttention(16, reduction=4),
        lambda: EfficientAttention(16, reduction=4, branches="split"),
        lambda: ShuffleAttention(16, 2),
    ],
)
@pytest.mark.parametrize("train_head", [True, False])
def test_each_block_trains(make, train_head):
    x, y = _task()
    with seeded(0):
        block = make()
        head = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(16, 4))
    model = nn.Sequential(block, head)
    if not train_head:
        head.requires_grad_(False)  # only the attention block learns
    before = [p.detach().clone() for p in block.parameters()]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=3e-2 if train_head else 5e-2)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # alone, Shuffle Attention has 3C/G = 24 parameters: a smaller but clear decrease
    assert losses[-1] < (0.8 if train_head else 0.95) * losses[0], losses
    assert all(not torch.equal(a, b) for a, b in zip(before, block.parameters(), strict=True))
