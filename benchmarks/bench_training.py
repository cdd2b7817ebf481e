"""Training speed: the toolkit's fit against a bare torch loop, in one process.

Per architecture (the CNN-LSTM paper's three CNNs, ``fer_resnet``, ``fer_vgg``), on the same
``--n`` random 48x48 gray images, batch 64, Adam:

- **bare fp32**: a plain loop (``model(x)``, cross-entropy, ``backward``, ``step``) over
  prepared float32 tensors, in float32, contiguous memory format: the reference (img/s);
- **fit fp32**: ``CNNFeatures(precision="float32", channels_last=False).fit`` on uint8
  images, as a ratio to bare fp32 (target >= 0.95x);
- **fit auto**: ``CNNFeatures(precision="auto")`` (bf16 autocast and channels-last where the
  CPU has native bf16, float32 elsewhere), as a ratio to bare fp32 (target >= 2.5x for
  ``fer_vgg`` and ``fer_resnet`` on a CPU with native bf16);

then batched augmentation (:class:`hybridfer.nn.augment.BatchAugmentation`, one
``grid_sample`` per batch) against a per-image loop of ``torchvision.transforms.v2``
(``RandomHorizontalFlip`` + ``RandomAffine``, the same parameters), target >= 10x; and
training from image files (PNG paths decoded per batch) against in-memory arrays, target
>= 0.8x. Each timed arm runs ``--repeat`` times, alternating, and the best is kept.

Usage::

    python benchmarks/bench_training.py [--n 1536] [--repeat 2] [--arch fer_vgg ...]
        [--device cpu|cuda] [--compile] [--accuracy [--data DIR]] [--fp32 [--fma-units 2]]

``--fp32`` (issue 18, item 2) times the ``fer2013-cpu`` network (``fer_vgg`` 48-96-192-384,
the recipe's settings: AdamW, ``fer_light`` augmentation, EMA) in float32: the toolkit's fit
against its own bare loop, then each speed-up candidate against today's float32 fit
(contiguous, batch 64): channels-last, batch 128 and the ladder's cheaper rungs, interleaved
``--repeat`` times (the median of each is printed) (:mod:`hybridfer.recipes.ladder`), each with
its FLOPs per image (forward + backward, ``torch.utils.flop_counter``), GFLOP/s and the
fraction of the float32 peak: cores x ``--fma-units`` x FMA lanes (8 for AVX2, 16 for AVX-512
as ATen reports it) x 2 x the clock ``/proc/cpuinfo`` reports (turbo clocks can exceed it).
Run it with ``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2`` for the AVX2 case;
``torch.compile`` is timed by ``--compile``.

``--compile`` times three epochs of ``fit_module`` with and without ``compile=True``
(``torch.compile``), compilation included.

``--accuracy`` also trains fer_vgg for 5 epochs on 10,000 FER2013 Training images in float32
and in bf16 (same seeds and schedule, ``--schedule`` default ``warmup_cosine``, ``--seeds``)
and prints both PublicTest accuracies. Measured on a Xeon with AMX (seed 0): with a warm-up,
bf16 0.4397 vs float32 0.4299; with ``cosine`` (the full rate from the first step) bf16 lost
2-8 points (0.3990 contiguous, 0.3355 channels-last, against 0.4185). At initialisation the
batch-statistics backward of BatchNorm amplifies bf16 rounding into a 30-35% relative
gradient error (2-4% after 100 steps), so bf16 training should start with a warm-up.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _paths import data_root  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from hybridfer.evaluation.profiling import count_flops
from hybridfer.extractors import CNNFeatures
from hybridfer.nn.architectures import build_fer_net
from hybridfer.nn.augment import BatchAugmentation
from hybridfer.nn.devices import cpu_capability, resolve_device, resolve_precision

ARCHS = ("cnnlstm_model1", "cnnlstm_model2", "cnnlstm_model3", "fer_resnet", "fer_vgg")


def bare_fp32(
    arch: str, x: torch.Tensor, y: torch.Tensor, device, bs: int = 64, passes: int = 1, **net
) -> float:
    """Images/s of a plain float32 loop over ``x`` (the last of ``passes`` passes timed);
    ``net`` goes to :func:`build_fer_net`."""
    torch.manual_seed(0)
    model = build_fer_net(arch, **net).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(passes):
        start = time.perf_counter()
        for i in range(0, len(x), bs):
            xb, yb = x[i : i + bs].to(device), y[i : i + bs].to(device)
            loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        rate = len(x) / (time.perf_counter() - start)
    return rate


def toolkit_fit(arch: str, X, y, device: str, **kw) -> float:
    est = CNNFeatures(
        architecture=arch, epochs=1, batch_size=64, random_state=0, device=device, **kw
    )
    start = time.perf_counter()
    est.fit(X, y)
    if device == "cuda":
        torch.cuda.synchronize()
    return len(y) / (time.perf_counter() - start)


def compile_ratio(arch: str, X, y, device, epochs: int = 3) -> tuple[float, float, float]:
    """Seconds of ``fit_module`` over ``epochs`` epochs with and without ``compile=True``
    (precision "auto"); the compiled run includes its compilation, paid in the first epoch.
    Returns (eager s, compiled s, compiled s of the epochs after the first)."""
    from hybridfer.nn.training import TrainConfig, fit_module

    def prep(x):
        return x.float().div(255)

    Xt = X[:, None]
    times = {}
    for flag in (False, True):
        torch.manual_seed(0)
        model = build_fer_net(arch)
        cfg = TrainConfig(epochs=epochs, batch_size=64, compile=flag, random_state=0, device=device)
        start = time.perf_counter()
        result = fit_module(model, Xt, y, cfg, prepare=prep)
        times[flag] = (time.perf_counter() - start, sum(h["time"] for h in result.history[1:]))
    return times[False][0], times[True][0], times[True][1] / max(1e-9, times[False][1])


def per_image_v2(batch: torch.Tensor) -> torch.Tensor:
    from torchvision.transforms import v2

    t = v2.Compose(
        [
            v2.RandomHorizontalFlip(0.5),
            v2.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5),
        ]
    )
    return torch.stack([t(img) for img in batch])


def best_of(fn, repeat: int) -> float:
    return max(fn() for _ in range(repeat))


def accuracy_pair(data: str | None, device: str, schedule: str, seeds: list[int]) -> None:
    from hybridfer.data import load_fer2013, usage_split
    from hybridfer.images import read_images

    root = data_root(data) / "fer2013"
    train, test = usage_split(load_fer2013(root, lazy=True))
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(len(train), 10_000, replace=False))
    Xtr = np.stack(read_images([train.paths[i] for i in idx], "gray"))
    ytr = np.asarray(train.labels)[idx]
    Xte = np.stack(read_images(list(test.paths), "gray"))
    yte = np.asarray(test.labels)
    print(f"fer_vgg, 5 epochs on 10,000 FER2013 Training images, AdamW 2e-3, {schedule}:")
    print("| seed | precision | PublicTest acc | final train acc | fit s |\n|---|---|---|---|---|")
    accs: dict[str, list[float]] = {"float32": [], "bfloat16": []}
    for seed in seeds:
        for precision in ("float32", "bfloat16"):
            est = CNNFeatures(
                architecture="fer_vgg",
                epochs=5,
                optimizer="adamw",
                learning_rate=2e-3,
                weight_decay=5e-4,
                lr_schedule=schedule,
                augment="fer",
                precision=precision,
                random_state=seed,
                device=device,
            )
            start = time.perf_counter()
            est.fit(Xtr, ytr)
            took = time.perf_counter() - start
            acc = float(np.mean(est.network_predict(Xte) == yte))
            accs[precision].append(acc)
            train_acc = est.history_[-1]["accuracy"]
            print(
                f"| {seed} | {precision} | {acc:.4f} | {train_acc:.4f} | {took:.0f} |", flush=True
            )
    diff = 100 * (np.mean(accs["bfloat16"]) - np.mean(accs["float32"]))
    print(f"bf16 - float32, mean over {len(seeds)} seed(s): {diff:+.2f} points")


def flops_per_image(widths, size: int, separable: bool = False) -> float:
    """Forward + backward FLOPs of one 1x``size``x``size`` image through ``fer_vgg``: three
    times the forward FLOPs (:func:`hybridfer.evaluation.profiling.count_flops`).

    Counted from the forward pass because torch 2.14's counter ignores ``groups`` in
    ``convolution_backward``: it gives a depthwise-separable network 577 backward MFLOP per
    image against its 65 forward (the dense ``fer_vgg`` counts 1,581 in all, 3.0x its 528
    forward).
    """
    model = build_fer_net(
        "fer_vgg",
        image_size=(size, size),
        widths=widths,
        block_dropout=0.0,
        separable=separable,
    )
    return 3.0 * count_flops(model, (1, 1, size, size))


def fp32_peak(fma_units: int) -> tuple[float, str]:
    """The float32 peak in GFLOP/s and how it was computed."""
    import os

    lanes = 16 if torch.backends.cpu.get_cpu_capability().startswith("AVX512") else 8
    mhz = 0.0
    try:
        with open("/proc/cpuinfo") as f:
            mhz = next(float(line.split(":")[1]) for line in f if line.startswith("cpu MHz"))
    except (OSError, StopIteration):
        pass
    threads = torch.get_num_threads()
    cores = min(threads, os.cpu_count() or threads)
    peak = cores * fma_units * lanes * 2 * mhz / 1e3
    return peak, f"{cores} cores x {fma_units} FMA x {lanes} lanes x 2 x {mhz / 1e3:.2f} GHz"


def fp32_section(n: int, repeat: int, fma_units: int) -> None:
    """Issue 18, item 2: float32 speed-ups of the fer2013-cpu network (see the docstring)."""
    from hybridfer.recipes.fer2013 import SETTINGS
    from hybridfer.recipes.ladder import RUNGS, rung_settings

    peak, how = fp32_peak(fma_units)
    print(f"\nfloat32 peak {peak:.0f} GFLOP/s ({how})")
    base = {k: v for k, v in SETTINGS["cpu"].items() if k != "epochs"}
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (n, 48, 48), dtype=np.uint8)
    y = rng.integers(0, 7, n)
    wide = RUNGS[0]

    def fit(rung=wide, **kw) -> float:
        params = {**rung_settings(base, rung), "precision": "float32", "channels_last": False}
        est = CNNFeatures(**{**params, **kw}, epochs=2, random_state=0)
        est.fit(X, y)
        return n / est.history_[-1]["time"]  # the second epoch: warm-up excluded

    xt = torch.from_numpy(X).float().div(255).unsqueeze(1)
    yt = torch.from_numpy(y)

    plain = {"augment": None, "ema_decay": None, "label_smoothing": 0.0}
    cpu = torch.device("cpu")
    ref_bare = best_of(
        lambda: bare_fp32("fer_vgg", xt, yt, cpu, passes=2, widths=wide.widths, block_dropout=0.0),
        repeat,
    )
    ref_fit = best_of(lambda: fit(**plain), repeat)
    print(
        f"fer_vgg {'-'.join(map(str, wide.widths))} float32, batch 64, no augmentation: bare "
        f"loop {ref_bare:.0f} img/s, toolkit fit {ref_fit:.0f} img/s: {ref_fit / ref_bare:.2f}x"
    )
    arms = {
        "today: float32, contiguous, batch 64": (wide, {}),
        "channels-last": (wide, {"channels_last": True}),
        "channels-last, batch 128": (wide, {"channels_last": True, "batch_size": 128}),
        # progressive rungs change size within a fit (two epochs here would not give their
        # budgeted mix, and one MFLOP/img figure would be wrong): the ladder times them per
        # size (ladder.measure_rung)
        **{
            f"rung {r.name}, channels-last": (r, {"channels_last": True})
            for r in RUNGS[1:]
            if not r.progressive
        },
    }
    print(
        "| configuration (recipe settings, float32) | img/s | vs today | MFLOP/img | GFLOP/s | "
        "of peak |\n|---|---|---|---|---|---|"
    )
    rates: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(repeat):  # the arms interleaved, so drifts of the machine hit all of them
        for name, (rung, kw) in arms.items():
            rates[name].append(fit(rung, **kw))
    today = 0.0
    for name, (rung, _) in arms.items():
        rate = float(np.median(rates[name]))
        today = today or rate
        mflop = flops_per_image(rung.widths, rung.input_size, rung.separable) / 1e6
        gflops = rate * mflop / 1e3
        print(
            f"| {name} | {rate:.0f} | {rate / today:.2f}x | {mflop:.0f} | {gflops:.0f} | "
            f"{gflops / peak:.0%} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1536)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--arch", nargs="*", default=list(ARCHS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--accuracy", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--fp32", action="store_true")
    parser.add_argument("--fma-units", type=int, default=2)
    parser.add_argument("--data", default=None)
    parser.add_argument("--schedule", default="warmup_cosine")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()

    device = resolve_device(args.device)
    auto = resolve_precision("auto", device)
    if device.type == "cuda":
        header = torch.cuda.get_device_name(device)
    else:
        header = cpu_capability()
    print(f"# {header}; precision='auto' -> {str(auto).replace('torch.', '')}")
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (args.n, 48, 48), dtype=np.uint8)
    y = rng.integers(0, 7, args.n)
    xt = torch.from_numpy(X).float().div(255).unsqueeze(1)
    yt = torch.from_numpy(y)

    if args.fp32:
        fp32_section(args.n, args.repeat, args.fma_units)
        return
    print("| architecture | bare fp32 img/s | fit fp32 / bare | fit auto / bare |")
    print("|---|---|---|---|")
    for arch in args.arch:
        bare = fit32 = fitauto = 0.0
        for _ in range(args.repeat):  # alternate the arms, keep each one's best
            bare = max(bare, bare_fp32(arch, xt, yt, device))
            fit32 = max(
                fit32,
                toolkit_fit(arch, X, y, args.device, precision="float32", channels_last=False),
            )
            fitauto = max(fitauto, toolkit_fit(arch, X, y, args.device))
        print(f"| {arch} | {bare:.0f} | {fit32 / bare:.2f}x | {fitauto / bare:.2f}x |", flush=True)

    batch = xt[:256].to(device)
    aug = BatchAugmentation(hflip=0.5, degrees=10, translate=0.1, scale=(0.9, 1.1), shear=5)

    def timed(fn, reps=3):
        def run():
            start = time.perf_counter()
            for _ in range(reps):
                fn(batch)
            return reps * len(batch) / (time.perf_counter() - start)

        return run

    ours = best_of(timed(aug), args.repeat + 1)
    ref = best_of(timed(per_image_v2), args.repeat + 1)
    print(
        f"augmentation, 256 images: batched {ours:.0f} img/s, per-image v2 loop {ref:.0f} "
        f"img/s: {ours / ref:.1f}x"
    )

    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, img in enumerate(X):
            p = Path(tmp) / f"{i}.png"
            Image.fromarray(img).save(p)
            paths.append(str(p))
        arch = "fer_vgg" if "fer_vgg" in args.arch else args.arch[0]
        arrays = files = 0.0
        for _ in range(args.repeat):
            arrays = max(arrays, toolkit_fit(arch, X, y, args.device))
            files = max(files, toolkit_fit(arch, paths, y, args.device))
        print(
            f"{arch} fit from PNG paths {files:.0f} img/s, from arrays {arrays:.0f} img/s: "
            f"{files / arrays:.2f}x"
        )
    if args.compile:
        arch = "fer_vgg" if "fer_vgg" in args.arch else args.arch[0]
        eager, compiled, later = compile_ratio(arch, X, y, device)
        print(
            f"{arch} 3 epochs x {len(y)} images: eager {eager:.1f} s, compile=True {compiled:.1f} s "
            f"({eager / compiled:.2f}x, compilation included); epochs 2-3 compiled/eager time "
            f"{later:.2f}"
        )
    if args.accuracy:
        accuracy_pair(args.data, args.device, args.schedule, args.seeds)


if __name__ == "__main__":
    main()
