"""Extractor overhead: ``transform`` throughput against the bare torchvision forward, same process.

On FER2013 PublicTest images (48x48 gray, resized to ``--input-size``, default 112) it times,
for ``ResNet50Features`` (layer1..layer4, average pooling) and ``MobileNetV3Features``
(large, stage2..stage5):

- **bare**: the full torchvision model's ``model(x)`` in eval mode under
  ``torch.inference_mode()``, on batches that were preprocessed *before* timing by the very
  same :class:`hybridfer.extractors.Preprocessor` (so the reference pays neither decoding nor
  preprocessing);
- **ours**: ``extractor.transform(images)`` on the raw uint8 images: preprocessing, the
  truncated multi-tap forward, pooling of every tap and the copy into the output array.

Both use the same weights (random, seeded), batch size, threads and precision. Bare and ours
alternate ``--repeat`` times, as whole runs and batch by batch (a ``transform`` call per
batch, which also pays the per-call input checks), and the best time of each is kept: on a
shared machine the per-batch alternation exposes both arms to the same load.
The target is ours >= 0.9x the bare forward's images/s.

Usage::

    python benchmarks/bench_extractor_overhead.py [DATA] [--n 512] [--input-size 112]
        [--batch-size 64] [--threads 1] [--repeat 3]

DATA is the folder holding ``fer2013/`` (default: $HYBRIDFER_DATA, else ../shared/data).
``--n 0`` uses all 3,589 PublicTest images.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _paths import data_root  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from hybridfer.data import load_fer2013
from hybridfer.extractors import MobileNetV3Features, ResNet50Features
from hybridfer.nn.weights import build_torchvision_model


def bare_forward(model: torch.nn.Module, batches: list[torch.Tensor], dtype) -> None:
    device = batches[0].device
    with torch.inference_mode():
        for x in batches:
            if dtype == torch.float32:
                model(x)
            else:
                with torch.autocast(device.type, dtype=dtype):
                    model(x)
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=None)
    parser.add_argument("--n", type=int, default=512, help="images (0: all of PublicTest)")
    parser.add_argument("--input-size", type=int, default=112)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    ds = load_fer2013(data_root(args.data) / "fer2013", usages="PublicTest")
    images = ds.images if args.n <= 0 else ds.images[: args.n]
    n = len(images)
    print(
        f"FER2013 PublicTest: {n} images {images.shape[1:]} -> input {args.input_size}, "
        f"batch {args.batch_size}, device {args.device}, torch threads {args.threads}"
    )
    print(
        f"{'':<22}{'--- whole runs (best of repeats) ---':>35}{'--- per batch (best of repeats) ---':>38}"
    )
    print(
        f"{'extractor':<22}{'bare img/s':>12}{'ours img/s':>12}{'ours/bare':>11}"
        f"{'bare img/s':>14}{'ours img/s':>12}{'ours/bare':>11}"
    )
    for make in (
        lambda: ResNet50Features(weights=None, random_state=0),
        lambda: MobileNetV3Features("large", weights=None, random_state=0),
    ):
        ext = make().set_params(
            input_size=args.input_size,
            batch_size=args.batch_size,
            device=args.device,
            cache=None,
            verbose=0,
        )
        ext.fit(images[:2])
        # the bare reference: the full torchvision model with the very same weights
        bare = build_torchvision_model(ext._arch_name(), None, ext.seed_).model
        bare = bare.eval().to(ext.device_)
        if ext.preprocessor_.channels_last:
            bare = bare.to(memory_format=torch.channels_last)
        with torch.inference_mode():
            batches = [
                ext.preprocessor_(torch.from_numpy(images[i : i + args.batch_size]).to(ext.device_))
                for i in range(0, n, args.batch_size)
            ]
        # warm-up both (oneDNN/cuDNN pick kernels per shape)
        bare_forward(bare, batches[:1] + batches[-1:], ext.dtype_)
        ext.transform(images[: args.batch_size])
        ext.transform(images[-(n % args.batch_size or args.batch_size) :])
        t_bare, t_ours = float("inf"), float("inf")
        bs = args.batch_size
        per_bare = np.full(len(batches), np.inf)
        per_ours = np.full(len(batches), np.inf)
        for _ in range(args.repeat):
            # whole runs, alternating
            start = time.perf_counter()
            bare_forward(bare, batches, ext.dtype_)
            t_bare = min(t_bare, time.perf_counter() - start)
            start = time.perf_counter()
            feats = ext.transform(images)
            t_ours = min(t_ours, time.perf_counter() - start)
            # batch by batch, alternating: both arms see the same load on a shared machine
            for i, x in enumerate(batches):
                start = time.perf_counter()
                bare_forward(bare, [x], ext.dtype_)
                per_bare[i] = min(per_bare[i], time.perf_counter() - start)
                start = time.perf_counter()
                ext.transform(images[i * bs : (i + 1) * bs])
                per_ours[i] = min(per_ours[i], time.perf_counter() - start)
        assert feats.shape == (n, ext.n_features_out_)
        name = f"{type(ext).__name__}"
        b, o = per_bare.sum(), per_ours.sum()
        print(
            f"{name:<22}{n / t_bare:>12.1f}{n / t_ours:>12.1f}{t_bare / t_ours:>10.3f}x"
            f"{n / b:>14.1f}{n / o:>12.1f}{b / o:>10.3f}x"
        )


if __name__ == "__main__":
    main()
