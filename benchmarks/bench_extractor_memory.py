"""Peak memory of extracting FER2013 train from file paths: bounded by the batch, not by n.

``ResNet50Features`` (layer1..layer4, random weights) transforms the 28,709 FER2013
Training image *paths* at ``--input-size`` (default 224), decoded lazily by DataLoader
workers. A sampler thread reads the resident memory (RSS) of this process, and the proportional
set size (PSS) of this process plus its worker processes, every 0.25 s. The run is time-boxed: after ``--seconds`` it is interrupted, and the
script prints RSS against images done, the peak in each third of the run (flat when memory
is bounded by the batch), and the full-run peak: the measured peak plus the rows of the
output matrix not yet filled (3,840 float32 = 15 KiB per image), the one part that grows
with the number of images.

Usage::

    python benchmarks/bench_extractor_memory.py [DATA] [--seconds 240] [--input-size 224]
        [--batch-size 64] [--workers 2] [--threads 1]

DATA is the folder holding ``fer2013/`` (default: $HYBRIDFER_DATA, else ../shared/data).
Linux only (reads /proc).
"""

from __future__ import annotations

import _thread
import argparse
import os
import threading
import time

import numpy as np
import torch
from _paths import data_root  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from hybridfer.data import load_fer2013
from hybridfer.extractors import ResNet50Features

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def pss_bytes(pid: int) -> int:
    """Proportional set size: shared pages split among the processes sharing them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


class Sampler(threading.Thread):
    """Samples the RSS of this process, the PSS of it plus its workers, and images done."""

    def __init__(self, progress: list[int], seconds: float, period: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.progress, self.seconds, self.period = progress, seconds, period
        self.samples: list[tuple[float, int, int, int]] = []  # t, images, main, tree
        self.stop = threading.Event()
        self.timed_out = False

    def run(self) -> None:
        pid, start = os.getpid(), time.perf_counter()
        while not self.stop.is_set():
            main = rss_bytes(pid)
            tree = pss_bytes(pid) + sum(pss_bytes(c) for c in children(pid))
            t = time.perf_counter() - start
            self.samples.append((t, self.progress[0], main, tree))
            if t > self.seconds:
                self.timed_out = True
                _thread.interrupt_main()
                return
            self.stop.wait(self.period)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=None)
    parser.add_argument("--seconds", type=float, default=240)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    ds = load_fer2013(data_root(args.data) / "fer2013", usages="Training", lazy=True)
    paths = list(ds.paths)
    ext = ResNet50Features(
        weights=None,
        random_state=0,
        input_size=args.input_size,
        batch_size=args.batch_size,
        num_workers=args.workers,
        cache=None,
        device="cpu",
    ).fit(paths[:1])
    progress = [0]
    ext.preprocessor_.register_forward_hook(
        lambda module, inputs, output: progress.__setitem__(0, progress[0] + len(output))
    )
    print(
        f"FER2013 Training: {len(paths)} paths -> ResNet50 layer1..4 at {args.input_size}, "
        f"batch {args.batch_size}, {args.workers} workers, {args.threads} torch threads, "
        f"time box {args.seconds:.0f} s"
    )
    base = rss_bytes(os.getpid())
    sampler = Sampler(progress, args.seconds)
    sampler.start()
    finished = False
    try:
        ext.transform(paths)
        finished = True
    except KeyboardInterrupt:
        if not sampler.timed_out:
            raise
    finally:
        sampler.stop.set()
        sampler.join()

    s = np.array(sampler.samples, dtype=np.float64)
    mib = 2**20
    print(f"RSS after fit, before transform: {base / mib:.0f} MiB")
    print(f"{'t (s)':>7}{'images':>8}{'RSS main (MiB)':>16}{'PSS main+workers (MiB)':>24}")
    for row in s[:: max(1, len(s) // 12)]:
        print(f"{row[0]:>7.1f}{int(row[1]):>8}{row[2] / mib:>16.0f}{row[3] / mib:>24.0f}")
    done = int(s[-1, 1])
    print(
        f"{'finished' if finished else 'stopped'} after {s[-1, 0]:.0f} s, {done} images "
        f"({done / s[-1, 0]:.1f} img/s)"
    )
    print(
        f"peak: RSS of the main process {s[:, 2].max() / mib:.0f} MiB; PSS of main + workers "
        f"{s[:, 3].max() / mib:.0f} MiB (PSS splits pages shared after fork fairly)"
    )
    thirds = np.array_split(s, 3)
    print(
        "peak RSS of the main process in each third of the run: "
        + ", ".join(f"{part[:, 2].max() / mib:.0f}" for part in thirds if len(part))
        + " MiB"
    )
    row = ext.n_features_out_ * 4
    full = s[:, 2].max() + row * (len(paths) - done)
    print(
        f"the output matrix is the only part that grows with n ({row / 1024:.1f} KiB per "
        f"image); adding it for the {len(paths) - done} images not reached gives a full-run "
        f"peak of about {full / mib:.0f} MiB"
    )


if __name__ == "__main__":
    main()
