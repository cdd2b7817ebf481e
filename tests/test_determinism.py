"""``deterministic=True``: the same seed gives the same numbers whatever torch's thread count.

Without the switch, a seed gives the same result on the same machine with the same
``torch.get_num_threads()``: on a CPU with native bf16 a CNNFeatures trained and applied with 2
threads instead of 1 differs by about 1e-3, enough to flip a downstream WNXGB's decisions. With
it, ``fit`` and every forward pass run under :func:`hybridfer.nn.devices.deterministic_mode`.
The runs here use 1 and 2 threads on tiny data.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from hybridfer.classifiers import LSTMHeadClassifier
from hybridfer.data import make_faces
from hybridfer.extractors import CNNFeatures, MobileNetV3Features
from hybridfer.nn.devices import deterministic_mode


def _with_threads(n: int, run: Callable[[], np.ndarray]) -> np.ndarray:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return run()
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def faces():
    ds = make_faces(40)
    return ds.images, ds.labels


def test_deterministic_mode_runs_one_thread_and_restores_every_setting():
    before = (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    with deterministic_mode():
        assert torch.get_num_threads() == 1
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    with pytest.raises(RuntimeError, match="inside"), deterministic_mode():
        raise RuntimeError("inside")
    after = (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    assert after == before
    with deterministic_mode(False):
        assert torch.get_num_threads() == before[0]


def test_cnn_features_trained_and_applied_with_1_or_2_threads_agree(faces):
    X, y = faces

    def run() -> np.ndarray:
        est = CNNFeatures("cnnlstm_model3", epochs=2, random_state=0, deterministic=True)
        return est.fit(X[:30], y[:30]).transform(X[30:])

    one, two = _with_threads(1, run), _with_threads(2, run)
    np.testing.assert_array_equal(one, two)


def test_deep_extractor_and_lstm_head_agree_across_thread_counts(faces, tmp_path):
    X, y = faces
    kw = {"weights": None, "input_size": 48, "random_state": 0, "deterministic": True}

    def extract() -> np.ndarray:
        return MobileNetV3Features("small", cache=None, **kw).fit(X).transform(X)

    np.testing.assert_array_equal(_with_threads(1, extract), _with_threads(2, extract))
    # deterministic features are cached apart: they never read rows another count computed
    plain = MobileNetV3Features("small", cache=tmp_path, **{**kw, "deterministic": False})
    strict = MobileNetV3Features("small", cache=tmp_path, **kw)
    assert plain.fit(X)._cache_key() != strict.fit(X)._cache_key()

    seq = np.random.default_rng(0).normal(size=(40, 6, 8)).astype(np.float32)

    def head() -> np.ndarray:
        clf = LSTMHeadClassifier(epochs=3, hidden_size=16, random_state=0, deterministic=True)
        return clf.fit(seq, y).predict_proba(seq)

    np.testing.assert_array_equal(_with_threads(1, head), _with_threads(2, head))
