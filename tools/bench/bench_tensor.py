"""Time per op of axon tensors against raw NumPy and PyTorch CPU, measured in one run.

Ops: ``a + b``, ``a @ b`` and ``a.sum()`` on float32 matrices, small (4×4) and large (1024×1024).
The three implementations run round-robin, batch by batch, so load on a shared machine hits them
alike; each reported time is the median over batches of the mean time per call in a batch.
Writes JSON (with the machine: CPU model, cores, library versions, BLAS, OpenBLAS overrides and
what threadpoolctl reports) to ``bench-results/tensor.json`` unless ``--out`` says otherwise.

Goals from the issue: a small op costs at most 3× raw NumPy and no more than PyTorch; a large op
is within 5% of raw NumPy.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from _harness import write_report

SIZES = {"small": (4, 4), "large": (1024, 1024)}
OPS = ("add", "matmul", "sum")
SMALL_RATIO_GOAL = 3.0
LARGE_RATIO_GOAL = 1.05
_TORCH_SETTLE_S = 0.5


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    import threadpoolctl

    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "env": {
            name: os.environ.get(name)
            for name in (
                "OPENBLAS_CORETYPE",
                "OPENBLAS_L2_SIZE",
                "OPENBLAS_NUM_THREADS",
                "OMP_NUM_THREADS",
                "MKL_NUM_THREADS",
            )
        },
        "threadpools": threadpoolctl.threadpool_info(),
    }
    try:
        config = np.show_config(mode="dicts")
        info["numpy_blas"] = config.get("Build Dependencies", {}).get("blas", {})
    except TypeError:
        info["numpy_blas"] = None
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["torch_blas"] = [
            line.strip() for line in torch.__config__.show().splitlines() if "BLAS" in line or "MKL" in line
        ]
    except ImportError:
        info["torch"] = None
    return info


def _calls_per_batch(fn: Callable[[], Any], target_s: float) -> int:
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= target_s or calls >= 1 << 20:
            return max(1, int(calls * target_s / max(elapsed, 1e-9)))
        calls *= 4


def measure(fns: dict[str, Callable[[], Any]], batches: int, target_s: float) -> dict[str, dict[str, float]]:
    """Median (and spread) over ``batches`` of the mean seconds per call.

    axon and NumPy alternate batch by batch (order flipped each time) so drifting load hits
    both alike. PyTorch runs afterwards, then pauses: its OpenMP workers spin for a while after
    each op and would otherwise steal a core from whatever runs next.
    """
    counts = {name: _calls_per_batch(fn, target_s) for name, fn in fns.items()}
    samples: dict[str, list[float]] = {name: [] for name in fns}

    def batch(name: str) -> None:
        fn, n = fns[name], counts[name]
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples[name].append((time.perf_counter() - start) / n)

    for i in range(batches):
        for name in ("axon", "numpy") if i % 2 == 0 else ("numpy", "axon"):
            batch(name)
    if "torch" in fns:
        for _ in range(batches):
            batch("torch")
        time.sleep(_TORCH_SETTLE_S)
    return {
        name: {
            "median_s": statistics.median(values),
            "min_s": min(values),
            "max_s": max(values),
            "calls_per_batch": counts[name],
            "batches": batches,
        }
        for name, values in samples.items()
    }


def implementations(op: str, shape: tuple[int, int]) -> dict[str, Callable[[], Any]]:
    import axon_tensor as at

    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape, dtype=np.float32)
    b = rng.standard_normal(shape, dtype=np.float32)
    ta, tb = at.from_numpy(a), at.from_numpy(b)
    fns: dict[str, Callable[[], Any]] = {}
    if op == "add":
        fns = {"axon": lambda: ta + tb, "numpy": lambda: a + b}
    elif op == "matmul":
        fns = {"axon": lambda: ta @ tb, "numpy": lambda: a @ b}
    elif op == "sum":
        fns = {"axon": lambda: ta.sum(), "numpy": lambda: a.sum()}
    try:
        import torch

        xa, xb = torch.from_numpy(a), torch.from_numpy(b)
        fns["torch"] = {"add": lambda: xa + xb, "matmul": lambda: xa @ xb, "sum": lambda: xa.sum()}[op]
    except ImportError:
        pass
    # The three must agree before their speed means anything.
    reference = np.asarray(fns["numpy"](), dtype=np.float64)
    np.testing.assert_allclose(np.asarray(fns["axon"]().numpy(), dtype=np.float64), reference, rtol=1e-4, atol=1e-3)
    return fns


def run(batches: int, small_target_s: float, large_target_s: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for size, shape in SIZES.items():
        for op in OPS:
            fns = implementations(op, shape)
            timing = measure(fns, batches, small_target_s if size == "small" else large_target_s)
            axon = timing["axon"]["median_s"]
            entry: dict[str, Any] = {"shape": list(shape), "dtype": "float32", "timing": timing}
            entry["ratio_to_numpy"] = axon / timing["numpy"]["median_s"]
            if "torch" in timing:
                entry["ratio_to_torch"] = axon / timing["torch"]["median_s"]
            if size == "small":
                entry["goal"] = f"<= {SMALL_RATIO_GOAL}x numpy and <= torch"
                entry["goal_met"] = (
                    entry["ratio_to_numpy"] <= SMALL_RATIO_GOAL and entry.get("ratio_to_torch", 0) <= 1.0
                )
            else:
                entry["goal"] = f"<= {LARGE_RATIO_GOAL}x numpy"
                entry["goal_met"] = entry["ratio_to_numpy"] <= LARGE_RATIO_GOAL
            results[f"{op}_{size}"] = entry
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench-results/tensor.json")
    parser.add_argument("--batches", type=int, default=15)
    parser.add_argument("--small-batch-seconds", type=float, default=0.05)
    parser.add_argument("--large-batch-seconds", type=float, default=0.2)
    args = parser.parse_args(argv)
    machine = machine_info()
    results = run(args.batches, args.small_batch_seconds, args.large_batch_seconds)
    report = {
        "benchmark": "axon-tensor ops vs numpy and torch",
        "created_unix": time.time(),
        "machine": machine,
        "results": results,
    }
    out = write_report(report, args.out)
    print(f"{'op':16} {'axon':>11} {'numpy':>11} {'torch':>11} {'x numpy':>8} {'x torch':>8}  goal")
    for name, entry in results.items():
        t = entry["timing"]
        torch_s = t.get("torch", {}).get("median_s", float("nan"))
        print(
            f"{name:16} {t['axon']['median_s'] * 1e6:9.2f}us {t['numpy']['median_s'] * 1e6:9.2f}us {torch_s * 1e6:9.2f}us "
            f"{entry['ratio_to_numpy']:8.3f} {entry.get('ratio_to_torch', float('nan')):8.3f}  {'met' if entry['goal_met'] else 'MISSED'} ({entry['goal']})"
        )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
