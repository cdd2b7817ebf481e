"""The notebooks run from top to bottom (on tiny synthetic data) and show what they promise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (dev extra)")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (dev extra)")
pytest.importorskip("ipykernel", reason="ipykernel is not installed (dev extra)")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(name: str, workdir: Path, monkeypatch) -> nbformat.NotebookNode:
    monkeypatch.setenv("HYBRIDFER_NB_SAMPLES", "140")
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.delenv("HYBRIDFER_CACHE", raising=False)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": os.fspath(workdir)}}
    )
    client.execute()
    return nb


def outputs(nb, kinds=("stream", "execute_result", "display_data")) -> str:
    text = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out["output_type"] not in kinds:
                continue
            if out["output_type"] == "stream":
                text.append(out["text"])
            else:
                text.extend(str(v) for k, v in out["data"].items() if k.startswith("text/"))
    return "\n".join(text)


def has_image(nb) -> bool:
    return any("image/png" in out.get("data", {}) for c in nb.cells for out in c.get("outputs", []))


def test_quickstart_notebook_runs(tmp_path, monkeypatch):
    nb = execute("quickstart.ipynb", tmp_path, monkeypatch)
    text = outputs(nb)
    assert "macro avg" in text  # the per-class report
    assert "resnet50 + wnxgb" in text and "hog+lbp + svm" in text  # the swapped pair
    assert "resnet50.layer" in text  # grouped feature names
    assert "fer2013-vgg + svm" in text and "fer2013-vgg alone" in text  # the shipped model
    assert has_image(nb)  # the confusion matrix


def test_ablation_notebook_runs(tmp_path, monkeypatch):
    nb = execute("ablation.ipynb", tmp_path, monkeypatch)
    text = outputs(nb)
    for pair in ("| hog | svm |", "| lbp | logreg |", "| hog+lbp | wnxgb |"):
        assert pair in text
    assert has_image(nb)  # the chart
    assert (tmp_path / "ablation.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "ablation.db").exists()
    assert "COMPLETE" in text  # the reopened study's trials


def test_reproductions_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("HYBRIDFER_NB_DATA", raising=False)  # the synthetic stand-in
    nb = execute("reproductions.ipynb", tmp_path, monkeypatch)
    text = outputs(nb)
    for name in (
        "resnet50-wnxgboost",
        "cnn-lstm-fer2013",
        "clcm-mobilenetv2",
        "ctan-convnext",
        "mobilenetv3-lstm-pain",
    ):
        assert f"| {name} | smoke |" in text  # its rows in the side-by-side table
        assert (tmp_path / "reproductions-work" / name / "report.md").exists()
    assert "| recipe | scale | protocol | claimed acc | acc |" in text
    assert "| clcm-mobilenetv2 | smoke | CK+48 cross-dataset |" in text
    # the notebook's own checks: paper protocols leak, honest ones do not
    assert "paper protocol, 0 of" not in text and "honest protocol, 0 test images" in text
    assert has_image(nb)  # a confusion matrix
