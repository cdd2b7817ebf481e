"""Turn a ``fer2013-cpu`` (or ``fer2013-gpu``) work folder into a shipped model: its weights and
its card in ``hybridfer/models/shipped/`` (:mod:`hybridfer.models`).

Run it from the checkout, after the recipe::

    hybridfer reproduce fer2013-cpu --data $HYBRIDFER_DATA/fer2013 --workdir runs/ship \\
        --budget-minutes 110 --cross-data $HYBRIDFER_DATA/ckplus48 \\
        --cross-data $HYBRIDFER_DATA/jaffe
    python tools/publish_model.py runs/ship --name fer2013-vgg \\
        --data $HYBRIDFER_DATA/fer2013 --cross-data $HYBRIDFER_DATA/ckplus48 \\
        --cross-data $HYBRIDFER_DATA/jaffe \\
        --command "hybridfer reproduce fer2013-cpu ... --budget-minutes 110"

What it does: reads the fitted network (``network.joblib``) and the run's ``report.json``;
writes the weights in float16 and scores the written model through the path users take
(:func:`hybridfer.classifiers.pretrained_classifier`, float32 compute) on PublicTest, single
view and with flip TTA, beside the float32 network; keeps float16 only where PublicTest
accuracy moves by less than 0.1 point, else stores float32 (refused above ``--max-mb``);
scores the written model on each ``--cross-data`` set (faces found and aligned, labels mapped
onto FER2013's classes as :func:`hybridfer.evaluation.open_cross_data` does); and writes the
card with the run's training facts, the scores, the sha256 and the data's terms. Nothing is
selected here: the scores describe the one network the run produced.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]

#: The terms of FER2013, the training data, as the card states them.
FER2013_TERMS = (
    "Trained on FER2013 (Goodfellow et al., 'Challenges in Representation Learning: A report "
    "on three machine learning contests', 2013), released through Kaggle's ICML 2013 "
    "'Challenges in Representation Learning: Facial Expression Recognition Challenge'. The "
    "images were gathered by Google image search; the data carries no licence for commercial "
    "use and its faces were not collected with their subjects' consent. Use these weights "
    "for research, and check the data's terms before any other use. The code that trained "
    "them is hybridfer's (BSD-3-Clause)."
)

#: The FER2013 images' geometry: hybridfer.faces' template was derived from them.
FER2013_INPUT = {
    "size": [48, 48],
    "color": "gray",
    "normalize": "none",
    "equalize": False,
    "scale": "pixels / 255",
    "template": "hybridfer.faces.FER2013_TEMPLATE",
    "margin": 0.0,
    "conversion": "RGB is turned to gray by ITU-R 601 luma; other sizes are resized "
    "(bilinear, antialiased) to 48x48 on the device; photos are searched for faces, "
    "each aligned to the template first (hybridfer predict, predict_faces)",
}


def score(model: Any, X: Any, y: np.ndarray) -> dict[str, float]:
    """PublicTest-style scores of a fitted network estimator, single view and flip TTA:
    ``accuracy``, ``macro_f1``, ``accuracy_flip``, ``macro_f1_flip``."""
    from sklearn.metrics import accuracy_score, f1_score

    predict = getattr(model, "network_predict", None) or model.predict
    out = {}
    tta = model.get_params()["tta"]
    for suffix, view in (("", None), ("_flip", "flip")):
        model.set_params(tta=view)
        pred = predict(X)
        out["accuracy" + suffix] = float(accuracy_score(y, pred))
        out["macro_f1" + suffix] = float(f1_score(y, pred, average="macro"))
    model.set_params(tta=tta)
    return out


def publictest(data: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, Any]:
    """FER2013's PublicTest images (decoded), labels, and its Training part (lazy)."""
    from hybridfer.images import read_images
    from hybridfer.recipes.data import open_fer2013

    ds = open_fer2013(data, need=["PublicTest"])
    rows = np.flatnonzero(ds.usage == "PublicTest")
    images = np.stack(read_images(list(ds.paths[rows]), color="gray"))
    return images, ds.labels[rows], ds.subset(np.flatnonzero(ds.usage == "Training"))


def cross_scores(model: Any, specs: Sequence[str], train: Any) -> dict[str, Any]:
    """The model on each cross-dataset set: single view and flip TTA, all classes and the
    classes both sets share, with the label map used."""
    from hybridfer.data import LABEL_MAPS
    from hybridfer.data.sources import parse_dataset_spec
    from hybridfer.evaluation import cross_dataset_report, open_cross_data

    out: dict[str, Any] = {}
    for spec in specs:
        name, _ = parse_dataset_spec(spec)
        split = open_cross_data(spec, train, log=lambda msg: print(msg, file=sys.stderr))
        entry: dict[str, Any] = {"protocol": split.describe(), "label_map": LABEL_MAPS.get(name)}
        tta = model.get_params()["tta"]
        for suffix, view in (("", None), ("_flip", "flip")):
            model.set_params(tta=view)
            for row in cross_dataset_report(model, split).rows("network"):
                key = "all" if row["scored over"] == "all classes" else "shared"
                entry[f"{key}_accuracy{suffix}"] = float(row["acc"])
                entry[f"{key}_macro_f1{suffix}"] = float(row["macro-F1"])
                entry[f"{key}_n"] = int(row["n test"])
                entry[f"{key}_classes"] = int(row["classes"])
        model.set_params(tta=tta)
        out[name] = entry
    return out


def _git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "-C", os.fspath(REPO), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def card_of_run(network: Any, report: dict[str, Any], name: str, command: str) -> dict[str, Any]:
    """The card's entries that come from the run: architecture, classes, input, training."""
    from hybridfer import __version__

    details = report.get("details", {})
    settings = details.get("settings", {})
    params = dict(network.architecture_params or {})
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
    size = [int(s) for s in network.input_size_]
    ladder = details.get("ladder") or {}
    return {
        "name": name,
        "version": "1",
        "description": "A VGG-style FER network trained from scratch on FER2013 Training by "
        "hybridfer's fer2013-cpu recipe; its own softmax classifies 7 expressions, and its "
        "embeddings feed classical heads (hybrids).",
        "architecture": network.architecture,
        "architecture_params": params,
        "classes": [str(c) for c in network.classes_],
        "input": {**FER2013_INPUT, "size": size},
        "tta": "flip",
        "training": {
            "data": "FER2013 Training usage only "
            f"({details.get('n_train', 'all')} images); PublicTest and PrivateTest unseen",
            "recipe": f"{report.get('recipe')} version {report.get('version')}",
            "scale": report.get("scale"),
            "command": command,
            "hybridfer_version": __version__,
            "git_commit": _git_commit(),
            "machine": report.get("machine"),
            "rung": ladder.get("rung"),
            "epochs": details.get("n_epochs"),
            "train_minutes": round(float(details.get("train_time_s") or 0) / 60, 1),
            "final_train_accuracy": details.get("final_train_accuracy"),
            "settings": {k: v for k, v in settings.items() if k != "architecture_params"},
        },
        "selection": "Nothing was selected on PublicTest in this run (fixed time budget, "
        "final EMA weights). The recipe's settings and its ladder's accuracy per epoch were "
        "chosen on PublicTest in earlier versions, so PublicTest is not a pristine test of "
        "this network; FER2013's PrivateTest, held out of this toolkit's development, is.",
        "licence": FER2013_TERMS,
    }


def publish(
    workdir: str | os.PathLike,
    *,
    name: str,
    data: str | os.PathLike,
    out: str | os.PathLike,
    cross_data: Sequence[str] = (),
    command: str = "",
    max_mb: float = 8.0,
    tolerance: float = 0.001,
) -> Path:
    """Write ``name``'s weights and card into ``out`` from a recipe's work folder; returns the
    card's path (see the module docstring)."""
    import joblib

    from hybridfer.classifiers import pretrained_classifier
    from hybridfer.models import write_model

    workdir = Path(workdir)
    network = joblib.load(workdir / "network.joblib")
    report = json.loads((workdir / "report.json").read_text())
    base = card_of_run(network, report, name, command)
    X, y, train = publictest(data)
    network.set_params(precision="float32", output="embedding")
    reference = score(network, X, y)
    print(f"float32 network on PublicTest: {reference}", file=sys.stderr)
    chosen, scores = None, None
    with tempfile.TemporaryDirectory() as tmp:
        for dtype in ("float16", "float32"):
            card = write_model(network.model_, tmp, base, dtype=dtype)
            got = score(pretrained_classifier(card.path, precision="float32"), X, y)
            moved = max(abs(got[k] - reference[k]) for k in ("accuracy", "accuracy_flip"))
            print(f"{dtype} weights: {got} (moved {100 * moved:.3f} points)", file=sys.stderr)
            if moved < tolerance:
                chosen, scores = dtype, got
                break
    if chosen is None:
        raise SystemExit("even float32 weights do not reproduce the network's PublicTest scores")
    card_data = {
        **base,
        "scores": {
            "publictest_accuracy": scores["accuracy"],
            "publictest_accuracy_flip": scores["accuracy_flip"],
            "publictest_macro_f1": scores["macro_f1"],
            "publictest_macro_f1_flip": scores["macro_f1_flip"],
            "publictest_n": int(len(y)),
            "publictest_float32_network": reference,
            "computed_with": "precision='float32', batch of 256, this file's weights",
        },
    }
    card = write_model(network.model_, out, card_data, dtype=chosen)
    if card.data["weights"]["bytes"] > max_mb * 1e6:
        for p in (card.path, card.weights_path):
            p.unlink()
        raise SystemExit(
            f"{chosen} weights take {card.data['weights']['bytes']} bytes > {max_mb} MB"
        )
    if cross_data:
        card_data["cross_dataset"] = cross_scores(
            pretrained_classifier(card.path, precision="float32"), cross_data, train
        )
        card = write_model(network.model_, out, card_data, dtype=chosen)
    return card.path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", help="the recipe's work folder (network.joblib, report.json)")
    parser.add_argument("--name", required=True, help="the model's name, e.g. fer2013-vgg")
    parser.add_argument("--data", required=True, help="FER2013 (for the PublicTest scores)")
    parser.add_argument("--cross-data", action="append", default=[], metavar="[NAME:]PATH")
    parser.add_argument("--command", default="", help="the command that produced the run")
    parser.add_argument(
        "--out", default=os.fspath(REPO / "hybridfer" / "models" / "shipped"), help="card folder"
    )
    parser.add_argument("--max-mb", type=float, default=8.0)
    args = parser.parse_args(argv)
    path = publish(
        args.workdir,
        name=args.name,
        data=args.data,
        out=args.out,
        cross_data=args.cross_data,
        command=args.command,
        max_mb=args.max_mb,
    )
    from hybridfer.models import format_card

    print(format_card(os.fspath(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
