"""The FER models shipped inside the package: each card's PublicTest accuracy recomputed from
the shipped file, its sha256, its size, and a cold start from a freshly built wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hybridfer.models import available_models, get_model, sha256_file

REPO = Path(__file__).resolve().parents[1]
SHIPPED = available_models()
needs_models = pytest.mark.skipif(not SHIPPED, reason="no model is shipped in hybridfer/models")


@needs_models
@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_model_is_small_and_its_weights_are_the_cards(name):
    card = get_model(name)
    assert sha256_file(card.weights_path) == card.sha256
    assert card.weights_path.stat().st_size == card.data["weights"]["bytes"] <= 8_000_000
    for key in ("training", "scores", "licence", "input", "classes"):
        assert card.data[key], key
    assert "Training" in card.data["training"]["data"]


@needs_models
@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_models_publictest_accuracy_is_its_cards(name, fer2013_root):
    """Recomputed from the shipped file, as the card's scores were (float32 compute)."""
    from sklearn.metrics import accuracy_score

    from hybridfer.classifiers import pretrained_classifier
    from tools.publish_model import publictest

    X, y, _ = publictest(fer2013_root)
    card = get_model(name)
    clf = pretrained_classifier(name, precision="float32")
    for key, tta in (("publictest_accuracy", None), ("publictest_accuracy_flip", "flip")):
        acc = accuracy_score(y, clf.set_params(tta=tta).predict(X))
        assert abs(acc - card.data["scores"][key]) <= 0.002, (key, acc)


def _build_wheel(tmp: Path) -> Path:
    """A wheel of this checkout, built from a copy of its package files (offline)."""
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(
        REPO / "hybridfer", src / "hybridfer", ignore=shutil.ignore_patterns("__pycache__")
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", os.fspath(tmp / "dist"), os.fspath(src)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp / "dist").glob("hybridfer-*.whl")
    return wheel


@needs_models
@pytest.mark.realdata
@pytest.mark.slow
def test_a_cold_start_from_a_wheel_predicts_photos_offline(tmp_path, fer2013_root, jaffe_root):
    """pip-installs a wheel built here into an empty folder, then runs ``hybridfer predict
    --model`` in a fresh process whose downloads would fail: no proxy reachable, an empty
    TORCH_HOME, no file but the package and the photos."""
    wheel = _build_wheel(tmp_path)
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, wheel],
        check=True,
        capture_output=True,
    )
    photos = tmp_path / "photos"
    photos.mkdir()
    crops = sorted((fer2013_root / "test" / "happy").glob("*"))[:40]
    frames = sorted(p for p in jaffe_root.iterdir() if p.is_file())[:8]
    for p in crops + frames:
        shutil.copy(p, photos / p.name)
    torch_home = tmp_path / "torch-home"
    torch_home.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.fspath(site),
        "TORCH_HOME": os.fspath(torch_home),
        "HF_HUB_OFFLINE": "1",
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "no_proxy": "",
    }
    where = subprocess.run(
        [sys.executable, "-c", "import hybridfer.models as m; print(m.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(os.fspath(site)), where  # the wheel's copy, not the checkout
    name = SHIPPED[0]

    def predict(folder: Path, out: Path) -> float:
        start = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-m", "hybridfer", "predict", "--model", name, os.fspath(folder)]
            + ["-o", os.fspath(out), "--no-progress"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr
        return time.perf_counter() - start

    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(frames[0], one / frames[0].name)
    first = predict(one, tmp_path / "one.csv")  # a JAFFE frame: detection, alignment, network
    out = tmp_path / "faces.csv"
    wall = predict(photos, out)
    import pandas as pd

    rows = pd.read_csv(out)
    n = len(crops) + len(frames)
    assert rows["path"].nunique() == n
    found = rows[rows["error"].isna()]
    assert len(found) >= n - 1  # every crop is one face; MTCNN finds JAFFE's faces
    assert set(found["label"]) <= set(get_model(name).classes)
    names = {c.name for c in crops}
    crop_rows = found[found["path"].map(lambda p: Path(p).name in names)]
    assert len(crop_rows) == len(crops)
    assert (crop_rows["label"] == "happy").mean() > 0.6  # FER2013 PublicTest happy crops
    assert not any(torch_home.iterdir())  # nothing was downloaded
    print(
        f"cold start from the wheel: 1 photo {first:.1f} s to its prediction in a fresh "
        f"process; {n} photos ({len(found)} faces) {wall:.1f} s in all, "
        f"{len(found) / wall:.1f} faces/s including the start"
    )


@pytest.mark.realdata
@pytest.mark.slow
def test_publish_model_turns_a_recipe_run_into_a_card_and_its_weights(tmp_path, fer2013_root):
    """tools/publish_model.py on a smoke-scale fer2013-cpu run: float16 weights whose
    PublicTest scores are the float32 network's, a card with the run's facts."""
    from hybridfer.cli import main
    from hybridfer.extractors import CNNFeatures
    from tools.publish_model import publish

    work = tmp_path / "run"
    argv = ["reproduce", "fer2013-cpu", "--scale", "smoke", "--data", str(fer2013_root)]
    assert main(argv + ["--workdir", str(work)]) == 0
    path = publish(work, name="smoke-vgg", data=fer2013_root, out=tmp_path / "models")
    card = get_model(path)
    assert card.sha256 == sha256_file(card.weights_path)
    assert card.data["weights"]["dtype"] == "float16"
    scores, reference = card.data["scores"], card.data["scores"]["publictest_float32_network"]
    assert scores["publictest_n"] == 3589
    assert abs(scores["publictest_accuracy"] - reference["accuracy"]) < 0.001
    assert card.data["training"]["recipe"] == "fer2013-cpu version 2"
    assert card.data["training"]["epochs"] == 2
    assert card.classes == sorted(card.classes) and len(card.classes) == 7
    X = np.zeros((2, 64, 64, 3), np.uint8)  # any size and colour: converted as the card says
    assert CNNFeatures(weights=str(path)).fit(X).transform(X).shape[0] == 2
