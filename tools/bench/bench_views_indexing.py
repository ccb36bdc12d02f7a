"""Per-call overhead of axon views and indexing, as a ratio to the same NumPy call.

Writes JSON (machine noted) to ``bench-results/views_indexing.json`` or the path given
(``tools/bench/results/`` keeps a reviewed snapshot).
Run: ``.venv/bin/python tools/bench/bench_views_indexing.py [OUT.json]``
"""

from __future__ import annotations

import platform
import sys
import timeit
from pathlib import Path

import numpy as np
from _harness import write_report

import axon_tensor as at


def measure(fn, number: int = 20000) -> float:
    """Best of 5 runs, in microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main() -> None:
    ref = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    x = at.from_numpy(ref)
    idx_np = np.array([1, 5, 9, 30])
    idx = at.tensor(idx_np)
    mask_np = ref > 100
    mask = at.from_numpy(mask_np)
    cases = {
        "x[3]": (lambda: x[3], lambda: ref[3]),
        "x[1:9, ::2]": (lambda: x[1:9, ::2], lambda: ref[1:9, ::2]),
        "x[None, :, 3]": (lambda: x[None, :, 3], lambda: ref[None, :, 3]),
        "x[idx]": (lambda: x[idx], lambda: ref[idx_np]),
        "x[mask]": (lambda: x[mask], lambda: ref[mask_np]),
        "x.view(-1)": (lambda: x.view(-1), lambda: ref.reshape(-1)),
        "x.t()": (lambda: x.t(), lambda: ref.T),
        "x.transpose(0, 1)": (lambda: x.transpose(0, 1), lambda: ref.swapaxes(0, 1)),
        "x.unsqueeze(0)": (lambda: x.unsqueeze(0), lambda: ref[None]),
        "x.expand(4, 64, 64)": (lambda: x[None].expand(4, 64, 64), lambda: np.broadcast_to(ref[None], (4, 64, 64))),
        "x[3] = 1.0": (lambda: x.__setitem__(3, 1.0), lambda: ref.__setitem__(3, 1.0)),
        "gather": (
            lambda: x.gather(1, at.from_numpy(np.zeros((64, 4), np.int64))),
            lambda: np.take_along_axis(ref, np.zeros((64, 4), np.int64), 1),
        ),
    }
    results = {}
    for name, (ours, theirs) in cases.items():
        ours_us, numpy_us = measure(ours), measure(theirs)
        results[name] = {
            "axon_us": round(ours_us, 3),
            "numpy_us": round(numpy_us, 3),
            "ratio": round(ours_us / numpy_us, 2),
        }
        print(f"{name:24s} axon {ours_us:7.2f} us  numpy {numpy_us:7.2f} us  x{ours_us / numpy_us:.2f}")
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("bench-results") / "views_indexing.json"
    machine = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu": platform.processor() or platform.machine(),
        "system": platform.platform(),
    }
    write_report({"machine": machine, "results": results}, out)


if __name__ == "__main__":
    main()
