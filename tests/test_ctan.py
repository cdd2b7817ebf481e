"""CTAN (ConvNeXt-Tiny + Efficient Attention + Shuffle Attention + LayerNorm + FC): the
documented parameter counts, shapes, drop path, the optional Basic RFB, and FERNetClassifier."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.models.convnext import CNBlock

from hybridfer.classifiers import FERNetClassifier
from hybridfer.nn import EfficientAttention, ShuffleAttention, build_fer_net
from hybridfer.nn.ctan import CONVNEXT_TINY_FEATURE_PARAMETERS, CTAN, BasicRFB, build_ctan

torch.set_num_threads(1)


def _n(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_count_matches_the_documented_formula():
    net = build_ctan(7, image_size=(64, 64), random_state=0)
    expected = (
        CONVNEXT_TINY_FEATURE_PARAMETERS
        + EfficientAttention.expected_parameters(768)
        + ShuffleAttention.expected_parameters(768, 64)
        + 2 * 768
        + 768 * 7
        + 7
    )
    assert _n(net) == expected == 29_095_867
    assert _n(net.trunk[0]) == CONVNEXT_TINY_FEATURE_PARAMETERS


def test_split_attention_reading_count_and_shapes():
    net = build_ctan(7, image_size=(64, 64), attention_branches="split", random_state=0)
    attention = net.trunk[1]
    assert isinstance(attention, EfficientAttention) and attention.branches == "split"
    expected = (
        29_095_867 - 1_270_320 + EfficientAttention.expected_parameters(768, branches="split")
    )
    assert _n(net) == expected == 27_852_067  # the numbers the docstrings give
    net.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert net(x).shape == (2, 7)
        assert net.embed(x).shape == (2, 768)
        assert net.tokens(x).shape == (2, 4, 768)
    with pytest.raises(ValueError, match="attention_branches must be one of"):
        CTAN(attention_branches="halves")


def test_gray_input_and_rfb_change_the_count_as_documented():
    net = CTAN(n_classes=3, in_channels=1, rfb=True, image_size=(64, 64), random_state=0)
    rfb = net.trunk[0][1]
    assert isinstance(rfb, BasicRFB) and _n(rfb) == 45_468
    expected = 29_095_867 - 4 * 768 - 4 - 96 * 16 * 2 + 45_468  # 3 classes, 1 channel, RFB
    assert _n(net) == expected


def test_shapes_embed_tokens_and_seeding():
    net = CTAN(n_classes=5, image_size=(64, 64), random_state=1).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert net(x).shape == (2, 5)
        assert net.embed(x).shape == (2, 768)
        assert net.tokens(x).shape == (2, 4, 768)  # 64 / 32 = 2x2 cells
    twin = CTAN(n_classes=5, image_size=(64, 64), random_state=1)
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), twin.parameters(), strict=True))
    rfb = BasicRFB(32)
    assert rfb(torch.randn(1, 32, 9, 9)).shape == (1, 32, 9, 9)


def test_drop_path_rule_and_validation():
    net = CTAN(image_size=(32, 32), drop_path=0.3, random_state=0)
    probs = [m.stochastic_depth.p for m in net.modules() if isinstance(m, CNBlock)]
    assert len(probs) == 18 and probs[0] == 0.0 and probs[-1] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="in_channels"):
        CTAN(in_channels=2)
    with pytest.raises(ValueError, match="too small"):
        CTAN(image_size=(16, 16))


def test_registered_for_fernetclassifier():
    net = build_fer_net("ctan_convnext", n_classes=7, in_channels=1, image_size=(48, 48))
    assert isinstance(net, CTAN)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, (12, 32, 32), dtype=np.uint8)
    y = np.array(["a", "b", "c"] * 4)
    clf = FERNetClassifier(
        backbone="ctan_convnext",
        color="rgb",
        normalize="half",
        equalize=True,
        epochs=1,
        batch_size=6,
        learning_rate=5e-5,
        ema_decay=0.999,
        class_weight="normalized",
        device="cpu",
        random_state=0,
    ).fit(X, y)
    assert clf.predict_proba(X).shape == (12, 3)
    assert clf.n_parameters_ == 29_095_867 - 4 * 768 - 4
