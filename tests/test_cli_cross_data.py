"""``hybridfer evaluate --cross-data`` and ``hybridfer datasets``: a pipeline fitted on one data
set, scored on others after the label map."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hybridfer.cli import main
from hybridfer.data.synthetic_folders import write_ckplus48_folders, write_fer2013_folders
from tests._helpers import one_error_line, tiny_config


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("cross_cli")
    write_fer2013_folders(root / "fer2013")
    write_ckplus48_folders(root / "ckplus48", n_subjects=3)
    jaffe = root / "jaffe"
    jaffe.mkdir()
    rng = np.random.default_rng(0)
    for name in ("KA.AN1.39.tiff", "KA.SU1.40.tiff", "YM.NE2.51.tiff", "YM.HA1.52.tiff"):
        Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(jaffe / name)
    return root


def _config(tmp_path, folders):
    data = f'source = "fer2013"\npath = "{folders / "fer2013"}"'
    cfg = tmp_path / "cross.toml"
    cfg.write_text(tiny_config(data=data))
    return cfg


def test_evaluate_scores_the_fitted_pipeline_on_other_data_sets(tmp_path, folders, capsys):
    cfg = _config(tmp_path, folders)
    args = ["evaluate", str(cfg), "--pair", "hog/logreg", "--no-audit"]
    ck = f"ckplus48:{folders / 'ckplus48'}"
    assert main([*args, "--cross-data", ck, "--cross-data", str(folders / "jaffe")]) == 0
    out = capsys.readouterr().out
    assert "test classes dropped: contempt" in out
    assert "training classes absent from the test set: neutral" in out
    assert "no face found in 4 (read whole)" in out  # random pictures: read whole
    assert "| shared" in out and "| all classes" in out
    ev = tmp_path / "work" / "evaluate"
    ck_report = (ev / "cross_ckplus48.md").read_text()
    assert "Over the shared classes (angry, disgust, fear, happy, sad, surprise)" in ck_report
    assert "true contempt" not in ck_report
    assert (ev / "cross_jaffe.md").exists()
    import json

    summary = json.loads((ev / "evaluation.json").read_text())
    assert [c["test"] for c in summary["cross_dataset"]] == ["ckplus48->fer2013", "jaffe->fer2013"]
    assert summary["cross_dataset"][0]["dropped"]["contempt"] > 0


def test_evaluate_refuses_an_unreadable_cross_data_set(tmp_path, folders, capsys):
    cfg = _config(tmp_path, folders)
    empty = tmp_path / "empty"
    empty.mkdir()
    args = ["evaluate", str(cfg), "--pair", "hog/logreg", "--no-audit", "--cross-data"]
    assert main([*args, str(empty)]) == 2
    line = one_error_line(capsys)
    assert "--cross-data" in line and "cannot tell which data set" in line
    assert main([*args, f"rafdb:{empty}"]) == 2
    assert "list_patition_label.txt" in one_error_line(capsys)


def test_datasets_lists_every_loader_and_its_label_map(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("fer2013", "ferplus", "rafdb", "affectnet", "expw", "kdef", "ckplus", "jaffe"):
        assert f"\n{name}" in f"\n{out}"
    assert "list_patition_label.txt" in out
    assert "afraid -> fear" in out and "contempt -> contempt" in out


def _tiny_rafdb(root):
    basic = root / "basic"
    (basic / "EmoLabel").mkdir(parents=True)
    lines = []
    for usage, n in (("train", 8), ("test", 4)):
        for i in range(n):
            name = f"{usage}_{i + 1:05d}.jpg"
            code = 4 if i % 2 else 7  # happiness, neutral
            lines.append(f"{name} {code}")
            img = np.full((12, 12, 3), 40 + 20 * i, np.uint8)
            path = basic / "Image" / "aligned" / f"{name[:-4]}_aligned.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(path)
    (basic / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.parametrize("source", ["rafdb", "auto"])
def test_a_config_reads_any_registered_data_set_with_its_official_split(tmp_path, source):
    from hybridfer.data import DATASETS
    from hybridfer.tuning.config import DATA_SOURCES, load_data, parse_config

    assert set(DATASETS) <= set(DATA_SOURCES)
    root = _tiny_rafdb(tmp_path / "raf")
    cfg = parse_config(
        {"data": {"source": source, "path": str(root)}, "pipeline": {"features": ["hog"]}},
        base_dir=tmp_path,
    )
    train, test = load_data(cfg)
    assert len(train) == 8 and len(test) == 4  # RAF-DB's own train/test, not a hold-out
    assert set(train.usage.tolist()) == {"train"} and set(test.usage.tolist()) == {"test"}
    assert set(train.labels.tolist()) == {"happiness", "neutral"}
