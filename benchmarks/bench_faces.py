"""Faces in photos and videos: detection, alignment and the whole predict path, measured.

Sections (each prints a table; the CPU is in the header):

1. **JAFFE** (213 full 128x128 frames, ten posers): frames with a face found, and with both
   eyes inside the box (MTCNN's landmarks; Haar's eye cascade where it finds both eyes), per
   backend. Target: >= 211 of 213.
2. **Synthetic scenes**: FER2013 PublicTest and CK+48 crops scaled x2 to x8 and pasted into
   640x480 backgrounds (textures, other scenes), 0 to 4 faces each, plus face-free
   backgrounds: recall at IoU >= 0.5 against the expected face box and false faces per image,
   per backend. The expected face box is the pasted crop's box mapped by
   ``FER2013_FACE_BOX`` (where MTCNN puts the face in a FER2013 crop, on average); the IoU
   against the whole pasted crop is printed beside it. Targets: recall >= 95%, <= 0.1 false
   faces per image.
3. **Alignment pays**: a FER2013-trained pipeline (``--pipeline``: e.g. the ``fer2013-cpu``
   recipe's saved pipeline; without it a FERNetClassifier is trained here on FER2013 Training
   for ``--train-minutes``) scored on all of JAFFE with ``FaceCropper`` crops against the
   whole frame resized to 48x48. Nothing is fitted on JAFFE, so no poser grouping is needed.
   Accuracy and macro-F1; alignment must win.
4. **Speed** on this machine's cores: detection + alignment faces/s on 640x480 frames with one
   face, and a video end to end (decode, detect, align, classify, CSV) in frames/s; target
   >= 8 frames/s at 640x480 with one face.

Usage::

    python benchmarks/bench_faces.py [--pipeline PATH | --train-minutes 10]
        [--scenes 100] [--backends mtcnn haar] [--skip jaffe,scenes,align,speed]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _paths import data_root  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from sklearn.metrics import accuracy_score, f1_score
from tabulate import tabulate

from hybridfer.data import (
    load_ckplus48,
    load_image_folder,
    load_jaffe,
    make_face_scenes,
    scene_backgrounds,
)
from hybridfer.faces import FaceCropper, iou_matrix, make_detector
from hybridfer.faces.alignment import FER2013_FACE_BOX, crop_whole
from hybridfer.nn.devices import cpu_capability


def _face_box(crop_boxes: np.ndarray) -> np.ndarray:
    """The expected face box inside each pasted crop box (x, y, w, h)."""
    fx, fy, fw, fh = FER2013_FACE_BOX
    b = np.asarray(crop_boxes, dtype=float).reshape(-1, 4)
    return np.stack(
        [b[:, 0] + fx * b[:, 2], b[:, 1] + fy * b[:, 3], fw * b[:, 2], fh * b[:, 3]], axis=1
    )


def _match(truth: np.ndarray, found: np.ndarray, threshold: float = 0.5) -> int:
    """Greedy one-to-one matches at IoU >= threshold (highest IoU first)."""
    if len(truth) == 0 or len(found) == 0:
        return 0
    m = iou_matrix(truth, found)
    hits = 0
    while m.size and m.max() >= threshold:
        i, j = np.unravel_index(int(m.argmax()), m.shape)
        hits += 1
        m[i, :] = -1
        m[:, j] = -1
    return hits


def bench_jaffe(root: Path, backends: list[str]) -> None:
    ds = load_jaffe(root / "jaffe", color="gray")
    images = list(ds.X)
    rows = []
    for backend in backends:
        det = make_detector(backend)
        start = time.perf_counter()
        found = det.detect(images)
        seconds = time.perf_counter() - start
        n_face = sum(1 for faces in found if faces)
        n_eyes = n_known = 0
        for faces in found:
            if not faces:
                continue
            f = faces[0]
            if f.landmarks is None:
                continue
            n_known += 1
            x, y, w, h = f.box
            eyes = np.asarray(f.landmarks)[:2]
            inside = (eyes[:, 0] >= x) & (eyes[:, 0] <= x + w) & (eyes[:, 1] >= y)
            inside &= eyes[:, 1] <= y + h
            n_eyes += bool(inside.all())
        rows.append(
            [
                backend,
                f"{n_face}/{len(images)}",
                f"{n_eyes}/{n_known}",
                f"{sum(len(f) > 1 for f in found)}",
                f"{len(images) / seconds:.1f}",
            ]
        )
    print("\n## JAFFE: a face per frame (target >= 211 of 213)")
    print(
        tabulate(
            rows,
            headers=[
                "backend",
                "frames with a face",
                "eyes inside the box (of frames with eyes)",
                "frames with >1 face",
                "frames/s",
            ],
        )
    )


def bench_scenes(root: Path, backends: list[str], n_scenes: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    fer = load_image_folder(root / "fer2013" / "test")
    ck = load_ckplus48(root / "ckplus48")
    sets = {
        "FER2013 PublicTest": fer.X[rng.choice(len(fer.X), 400, replace=False)],
        "CK+48": ck.X[rng.choice(len(ck.X), 400, replace=False)],
    }
    rows = []
    for name, crops in sets.items():
        scenes = make_face_scenes(crops, n_scenes=n_scenes, random_state=seed)
        n_true = sum(len(b) for b in scenes.boxes)
        n_empty = sum(len(b) == 0 for b in scenes.boxes)
        for backend in backends:
            det = make_detector(backend)
            start = time.perf_counter()
            found = det.detect(scenes.images)
            seconds = time.perf_counter() - start
            hits = crop_hits = false = 0
            for truth, faces in zip(scenes.boxes, found, strict=True):
                boxes = np.array([f.box for f in faces], dtype=float).reshape(-1, 4)
                k = _match(_face_box(truth), boxes)
                hits += k
                crop_hits += _match(np.asarray(truth, float).reshape(-1, 4), boxes)
                false += len(boxes) - k
            rows.append(
                [
                    name,
                    backend,
                    f"{len(scenes.images)} ({n_empty} without a face)",
                    n_true,
                    f"{hits / max(n_true, 1):.1%}",
                    f"{crop_hits / max(n_true, 1):.1%}",
                    f"{false / len(scenes.images):.3f}",
                    f"{len(scenes.images) / seconds:.1f}",
                ]
            )
    backgrounds = scene_backgrounds(n_scenes, random_state=seed)
    for backend in backends:
        det = make_detector(backend)
        start = time.perf_counter()
        found = det.detect(backgrounds)
        seconds = time.perf_counter() - start
        false = sum(len(f) for f in found)
        rows.append(
            [
                "none (face-free backgrounds)",
                backend,
                len(backgrounds),
                0,
                "-",
                "-",
                f"{false / len(backgrounds):.3f}",
                f"{len(backgrounds) / seconds:.1f}",
            ]
        )
    print(f"\n## Synthetic 640x480 scenes, faces x2-x8 (seed {seed})")
    print(
        tabulate(
            rows,
            headers=[
                "faces",
                "backend",
                "scenes",
                "faces pasted",
                "recall IoU>=0.5 (face box)",
                "recall IoU>=0.5 (crop box)",
                "false faces/image",
                "images/s",
            ],
        )
    )


def _train_pipeline(root: Path, minutes: float, seed: int = 0):
    from hybridfer.classifiers import FERNetClassifier

    train = load_image_folder(root / "fer2013" / "train")
    clf = FERNetClassifier(
        backbone="fer_vgg",
        epochs=200,
        max_time=60.0 * minutes,
        lr_schedule="onecycle",
        optimizer="adamw",
        learning_rate=2e-3,
        weight_decay=1e-2,
        augment="fer_light",
        label_smoothing=0.1,
        random_state=seed,
    )
    start = time.perf_counter()
    clf.fit(train.X, train.y)
    print(
        f"trained FERNetClassifier(fer_vgg) on FER2013 Training in {time.perf_counter() - start:.0f} s"
    )
    return clf


def bench_alignment(root: Path, pipeline, backends: list[str]) -> None:
    ds = load_jaffe(root / "jaffe", color="rgb")
    y = np.asarray(ds.y)
    rows = []
    whole = np.stack([crop_whole(img, size=(48, 48), color="gray") for img in ds.X])
    pred = np.asarray(pipeline.predict(whole))
    rows.append(
        [
            "whole frame resized to 48x48",
            f"{accuracy_score(y, pred):.4f}",
            f"{f1_score(y, pred, average='macro'):.4f}",
            "-",
        ]
    )
    for backend in backends:
        cropper = FaceCropper(backend=backend, size=(48, 48), color="gray", on_missing="whole")
        crops = cropper.fit_transform(ds.X)
        pred = np.asarray(pipeline.predict(crops))
        rows.append(
            [
                f"FaceCropper(backend={backend!r}), aligned 48x48",
                f"{accuracy_score(y, pred):.4f}",
                f"{f1_score(y, pred, average='macro'):.4f}",
                cropper.n_missing_,
            ]
        )
    print("\n## Alignment pays: a FER2013-trained pipeline on JAFFE (213 frames, 7 classes)")
    print(tabulate(rows, headers=["input", "accuracy", "macro-F1", "frames without a face"]))


def _scene_with_face(size=(480, 640), seed: int = 0, shift: int = 0) -> np.ndarray:
    from skimage import data

    rng = np.random.default_rng(seed)
    frame = np.full((*size, 3), 90, np.uint8) + rng.integers(0, 30, (*size, 3), dtype=np.uint8)
    face = data.astronaut()[30:230, 130:320]  # the head and shoulders of the astronaut
    y, x = 140, 200 + shift
    frame[y : y + face.shape[0], x : x + face.shape[1]] = face
    return frame


def bench_speed(pipeline, backends: list[str], n: int = 32) -> None:
    frames = [_scene_with_face(seed=k, shift=(k % 8) * 4) for k in range(n)]
    rows = []
    for backend in backends:
        cropper = FaceCropper(backend=backend, size=(48, 48), color="gray", on_missing="whole")
        cropper.fit(frames[:1])
        cropper.transform(frames[:2])  # warm-up (builds the detector)
        start = time.perf_counter()
        cropper.transform(frames)
        seconds = time.perf_counter() - start
        rows.append([backend, n, f"{n / seconds:.1f}", cropper.n_missing_])
    print(
        f"\n## Detection + alignment, 640x480 frames with one face, {torch.get_num_threads()} threads"
    )
    print(tabulate(rows, headers=["backend", "frames", "faces/s", "misses"]))

    from hybridfer.predict import predict_faces
    from hybridfer.video import VideoWriter

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "one_face.mp4"
        n_frames = 90
        with VideoWriter(video, fps=30) as writer:
            for k in range(n_frames):
                writer.write(_scene_with_face(seed=k % 4, shift=k))
        for backend in backends:
            start = time.perf_counter()
            df = predict_faces(pipeline, video, faces=backend, fps=None)
            df.to_csv(Path(tmp) / f"{backend}.csv", index=False)
            seconds = time.perf_counter() - start
            n_rows = int(df["frame"].nunique())
            found = int((df["error"].fillna("") == "").sum())
            rows.append([backend, n_frames, n_rows, found, f"{n_rows / seconds:.1f}"])
    print(
        "\n## A 640x480 30 fps video end to end (decode, detect, align, classify, CSV); target >= 8"
    )
    print(tabulate(rows, headers=["backend", "frames", "frames read", "face rows", "frames/s"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="the data root ($HYBRIDFER_DATA)")
    parser.add_argument("--pipeline", default=None, help="a saved FER2013-trained pipeline")
    parser.add_argument("--train-minutes", type=float, default=10.0)
    parser.add_argument("--scenes", type=int, default=100, help="scenes per face set")
    parser.add_argument("--backends", nargs="+", default=["mtcnn", "haar"])
    parser.add_argument("--skip", default="", help="comma-separated sections to skip")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    root = data_root(args.data)
    print(f"# bench_faces: {cpu_capability()}")
    if "jaffe" not in skip:
        bench_jaffe(root, args.backends)
    if "scenes" not in skip:
        bench_scenes(root, args.backends, args.scenes)
    if skip >= {"align", "speed"}:
        return
    if args.pipeline:
        from hybridfer.predict import load_pipeline

        pipeline, _ = load_pipeline(args.pipeline)
    else:
        pipeline = _train_pipeline(root, args.train_minutes)
    if "align" not in skip:
        bench_alignment(root, pipeline, args.backends)
    if "speed" not in skip:
        bench_speed(pipeline, args.backends)


if __name__ == "__main__":
    main()
