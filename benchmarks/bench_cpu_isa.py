"""Do ``ATEN_CPU_CAPABILITY`` and ``ONEDNN_MAX_CPU_ISA`` restrict the kernels, and what does
``precision="auto"`` choose under them?

Runs itself in a fresh process per setting (the variables are read when torch loads): no cap,
``ATEN_CPU_CAPABILITY=avx2`` alone, ``ONEDNN_MAX_CPU_ISA=AVX2`` alone, and both. Each prints
the ISA oneDNN reports (``ONEDNN_VERBOSE=1``), ATen's capability, the float32 and bf16-autocast
throughput of a 96-channel 3x3 convolution on a 64x96x24x24 batch (the size of fer_vgg's second
block) in GFLOP/s, and what ``precision="auto"`` and ``channels_last="auto"`` resolve to, with
the bf16/float32 ratio. On a CPU with native bf16, bf16 should only be chosen where it is
faster than float32.

Usage::

    python benchmarks/bench_cpu_isa.py [--repeat 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SETTINGS = {
    "no cap": {},
    "ATEN_CPU_CAPABILITY=avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "ONEDNN_MAX_CPU_ISA=AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "both (the AVX2 case)": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
}


def measure(repeat: int) -> dict:
    import torch

    from hybridfer.nn.devices import resolve_precision, use_channels_last

    conv = torch.nn.Conv2d(96, 96, 3, padding=1)
    x = torch.randn(64, 96, 24, 24)
    gflop = 2 * 64 * 96 * 96 * 9 * 24 * 24 / 1e9
    out = {"aten": torch.backends.cpu.get_cpu_capability()}
    for name, bf16 in (("float32", False), ("bf16", True)):
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for _ in range(2):
                conv(x)
            start = time.perf_counter()
            for _ in range(repeat):
                conv(x)
            out[name] = gflop * repeat / (time.perf_counter() - start)
    cpu = torch.device("cpu")
    dtype = resolve_precision("auto", cpu)
    out["auto"] = str(dtype).replace("torch.", "")
    out["channels_last"] = use_channels_last("auto", cpu, dtype)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(measure(args.repeat)), flush=True)
        return
    from tabulate import tabulate

    from hybridfer.nn.devices import cpu_capability

    print(f"# bench_cpu_isa: {cpu_capability()}")
    rows = []
    for label, extra in SETTINGS.items():
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")
        }
        env.update(extra, ONEDNN_VERBOSE="1")
        proc = subprocess.run(
            [sys.executable, __file__, "--child", "--repeat", str(args.repeat)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        isa = next(
            (ln.split("isa:", 1)[1] for ln in proc.stdout.splitlines() if ",isa:" in ln), "?"
        )
        result = json.loads(
            next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))[7:]
        )
        rows.append(
            [
                label,
                result["aten"],
                isa,
                f"{result['float32']:.1f}",
                f"{result['bf16']:.1f}",
                f"{result['bf16'] / result['float32']:.2f}x",
                result["auto"],
                result["channels_last"],
            ]
        )
    print(
        tabulate(
            rows,
            headers=[
                "setting",
                "ATen",
                "oneDNN reports",
                "fp32 GFLOP/s",
                "bf16 GFLOP/s",
                "bf16/fp32",
                "auto precision",
                "auto channels_last",
            ],
        )
    )


if __name__ == "__main__":
    main()
