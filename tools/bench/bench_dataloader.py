"""DataLoader benchmark: can 2 workers keep a 1 ms/step consumer busy, and what does a batch cost
on top of the consumer's time, for axon's DataLoader and PyTorch's on the same dataset.

Writes JSON to bench-results/dataloader.json (or --out). Each sample costs real NumPy work (a
batch takes about as long to load as the consumer's step), so only loading in parallel with the
consumer keeps it busy. Consumer "busy" = consumer time / wall time over the steady state (first batches,
which include starting the workers, are excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
from _harness import write_report

STEP_S = 0.001


class Images:
    """[3, 32, 32] float32 samples, normalised per channel from a fixed pool, and an int label."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.pool = np.random.default_rng(0).standard_normal((64, 3, 32, 32)).astype(np.float32)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        image = self.pool[i % len(self.pool)]
        image = (image - image.mean(axis=(1, 2), keepdims=True)) / (image.std(axis=(1, 2), keepdims=True) + 1e-6)
        return image, i % 10


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _run(loader, steps: int, warmup: int, consume: bool) -> dict[str, float]:
    it = iter(loader)
    for _ in range(warmup):
        next(it)
    waits = []
    start = time.perf_counter()
    for _ in range(steps):
        t0 = time.perf_counter()
        next(it)
        waits.append(time.perf_counter() - t0)
        if consume:
            _spin(STEP_S)
    wall = time.perf_counter() - start
    del it
    per_step = wall / steps
    result = {"ms_per_step": per_step * 1e3, "wait_ms_per_batch": statistics.fmean(waits) * 1e3}
    if consume:
        result["consumer_busy_fraction"] = steps * STEP_S / wall
        result["overhead_ms_per_batch"] = (per_step - STEP_S) * 1e3
    return result


def _median_runs(make, steps: int, warmup: int, consume: bool, repeats: int) -> dict[str, float]:
    runs = [_run(make(), steps, warmup, consume) for _ in range(repeats)]
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="bench-results/dataloader.json")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from axon_data import DataLoader

    warmup = 10
    dataset = Images((args.steps + warmup) * args.batch_size)
    t0 = time.perf_counter()
    for i in range(200):
        dataset[i]
    sample_ms = (time.perf_counter() - t0) / 200 * 1e3

    loaders = {"axon": lambda nw: DataLoader(dataset, batch_size=args.batch_size, num_workers=nw)}
    try:
        import torch
        from torch.utils.data import DataLoader as TorchLoader

        torch.set_num_threads(1)
        loaders["torch"] = lambda nw: TorchLoader(dataset, batch_size=args.batch_size, num_workers=nw)
        torch_version = torch.__version__
    except ImportError:
        torch_version = None

    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, make in loaders.items():
        results[name] = {
            "workers0_no_consumer": _median_runs(lambda: make(0), args.steps, warmup, False, args.repeats),
            "workers2_no_consumer": _median_runs(lambda: make(2), args.steps, warmup, False, args.repeats),
            "workers2_1ms_consumer": _median_runs(lambda: make(2), args.steps, warmup, True, args.repeats),
        }
    report = {
        "benchmark": "dataloader",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "torch": torch_version,
        },
        "config": {
            "batch_size": args.batch_size,
            "steps": args.steps,
            "warmup_batches": warmup,
            "repeats": args.repeats,
            "consumer_step_ms": STEP_S * 1e3,
            "sample_ms": sample_ms,
            "batch_load_ms_one_process": sample_ms * args.batch_size,
        },
        "results": results,
    }
    if "torch" in results:
        ours, theirs = results["axon"]["workers2_1ms_consumer"], results["torch"]["workers2_1ms_consumer"]
        report["axon_vs_torch"] = {
            "overhead_ms_per_batch_difference": ours["overhead_ms_per_batch"] - theirs["overhead_ms_per_batch"],
            "ms_per_step_ratio": ours["ms_per_step"] / theirs["ms_per_step"],
            "no_consumer_ms_per_batch_ratio_workers2": results["axon"]["workers2_no_consumer"]["ms_per_step"]
            / results["torch"]["workers2_no_consumer"]["ms_per_step"],
            "no_consumer_ms_per_batch_ratio_workers0": results["axon"]["workers0_no_consumer"]["ms_per_step"]
            / results["torch"]["workers0_no_consumer"]["ms_per_step"],
        }
    write_report(report, args.out)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
