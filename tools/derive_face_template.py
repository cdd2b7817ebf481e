"""Derive the FER2013 face template: where MTCNN finds the 5 landmarks in a FER2013 crop.

Reads a class-stratified random sample of FER2013 ``Training`` crops from the data root
(``tools/data_root.py``), upscales each 48x48 crop (bicubic, ``--scale`` times, gray -> RGB),
runs MTCNN (``hybridfer.faces.make_detector("mtcnn")``: facenet-pytorch 2.6.0's networks and
weights, its default stage thresholds and ``min_face_size=20``), keeps the crops with exactly one face of
probability >= ``--threshold``, expresses its 5 landmarks and its box as fractions of the crop
side, and prints their mean and standard deviation. The means are ``FER2013_TEMPLATE`` and
``FER2013_FACE_BOX`` in ``hybridfer/faces/alignment.py``.

Coordinates are on the unit square of the crop with 0 at its left (top) edge and 1 at its right
(bottom) edge: a landmark at pixel index ``x`` of an ``S`` pixel wide image is ``(x + 0.5) / S``.

``--pad F`` (default 0.25) pads the upscaled crop by ``F`` times its side on each side (edge
pixels repeated) before detection, as a FER2013 crop pasted into a larger picture is seen (the
face often fills the crop to its edges); the coordinates are still relative to the crop.
``--pad 0`` detects on the bare crop.

Usage::

    HYBRIDFER_DATA=../shared/data python tools/derive_face_template.py --n 3000 --seed 0 --pad 0.25
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tools.data_root import data_root  # noqa: E402

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def stratified_sample(root: Path, n: int, seed: int) -> list[Path]:
    """``n`` crops of ``root/<class>/``, each class in proportion to its size, drawn with ``seed``."""
    classes = sorted(p for p in root.iterdir() if p.is_dir())
    files = {c.name: sorted(c.glob("*.jpg")) for c in classes}
    total = sum(len(v) for v in files.values())
    if total == 0:
        raise SystemExit(f"no FER2013 crops (*.jpg) under {root}")
    rng = np.random.default_rng(seed)
    chosen: list[Path] = []
    for name in sorted(files):
        k = min(len(files[name]), int(round(n * len(files[name]) / total)))
        chosen.extend(files[name][i] for i in rng.choice(len(files[name]), k, replace=False))
    return chosen


def prepare(path: Path, scale: int, pad: float) -> tuple[np.ndarray, int, int]:
    """The upscaled RGB crop (padded), its side before padding and the padding in pixels."""
    with Image.open(path) as im:
        gray = im.convert("L")
        side = gray.width * scale
        big = np.asarray(gray.resize((side, side), Image.BICUBIC).convert("RGB"))
    p = int(round(pad * side))
    if p:
        big = np.pad(big, ((p, p), (p, p), (0, 0)), mode="edge")
    return big, side, p


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None, help="data root (default: tools/data_root.py rule)")
    ap.add_argument("--n", type=int, default=3000, help="crops to sample (class-stratified)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=int, default=4, help="upscaling factor of the 48x48 crops")
    ap.add_argument("--pad", type=float, default=0.25, help="padding, a fraction of the side")
    ap.add_argument("--threshold", type=float, default=0.9, help="confidence of a face")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = ap.parse_args(argv)

    import torch

    from hybridfer.faces import make_detector

    torch.set_num_threads(1)
    root = data_root(args.data) / "fer2013" / "train"
    if not root.is_dir():
        raise SystemExit(f"FER2013 Training folder not found: {root} (set HYBRIDFER_DATA)")
    paths = stratified_sample(root, args.n, args.seed)
    detector = make_detector("mtcnn", min_face_size=20, device="cpu", batch_size=args.batch_size)
    t0 = time.perf_counter()
    landmarks, boxes, scores = [], [], []
    n_none = n_many = 0
    for start in range(0, len(paths), args.batch_size):
        batch = [prepare(p, args.scale, args.pad) for p in paths[start : start + args.batch_size]]
        found = detector.detect([b[0] for b in batch])
        for (_, side, pad), faces in zip(batch, found, strict=True):
            confident = [f for f in faces if f.score >= args.threshold]
            if len(confident) != 1:
                n_none += int(not confident)
                n_many += int(len(confident) > 1)
                continue
            x, y, w, h = (np.asarray(confident[0].box) - [pad, pad, 0, 0]) / side
            boxes.append([x, y, w, h])
            landmarks.append((confident[0].landmarks - pad + 0.5) / side)
            scores.append(confident[0].score)
    seconds = time.perf_counter() - t0
    lm, bx = np.asarray(landmarks), np.asarray(boxes)
    print(
        f"FER2013 Training crops: {len(lm)} used of {len(paths)} attempted "
        f"({n_none} without a face >= {args.threshold}, {n_many} with several), "
        f"scale x{args.scale}, pad {args.pad}, seed {args.seed}, {seconds:.1f} s"
    )
    print(f"{'landmark':<12} {'x mean':>7} {'x std':>7} {'y mean':>7} {'y std':>7}")
    for name, mean, std in zip(LANDMARK_NAMES, lm.mean(0), lm.std(0), strict=True):
        print(f"{name:<12} {mean[0]:7.4f} {std[0]:7.4f} {mean[1]:7.4f} {std[1]:7.4f}")
    print(f"{'box':<12} {'x':>7} {'y':>7} {'w':>7} {'h':>7}")
    print(f"{'mean':<12} " + " ".join(f"{v:7.4f}" for v in bx.mean(0)))
    print(f"{'std':<12} " + " ".join(f"{v:7.4f}" for v in bx.std(0)))
    print("FER2013_TEMPLATE =", np.round(lm.mean(0), 4).tolist())
    print("FER2013_FACE_BOX =", tuple(np.round(bx.mean(0), 4).tolist()))
    if args.json:
        from hybridfer._io import atomic_write_text

        numbers = {
            "n_used": len(lm),
            "n_attempted": len(paths),
            "seconds": round(seconds, 1),
            "args": vars(args),
            "landmark_mean": lm.mean(0).tolist(),
            "landmark_std": lm.std(0).tolist(),
            "box_mean": bx.mean(0).tolist(),
            "box_std": bx.std(0).tolist(),
        }
        atomic_write_text(args.json, json.dumps(numbers, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
