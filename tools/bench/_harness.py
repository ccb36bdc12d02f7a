"""Shared scaffolding of the ``tools/bench`` scripts: timed steps, child runs, machine, report.

The scripts are run as ``python tools/bench/<script>.py``, which puts ``tools/bench`` on
``sys.path``; they ``import _harness`` from there (and so do the ``--child`` subprocesses they
start, which run the same way).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from axon_core import atomic_writer

LoadAverage = tuple[float, float, float]


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_steps(
    step: Callable[[], object], steps: int, warmup: int, *, peak_rss: bool = True, keep_times: bool = False
) -> dict[str, Any]:
    """Call ``step`` ``warmup`` times untimed, then ``steps`` times timed with ``perf_counter``.

    Returns ``{"median_step_s", "min_step_s"}`` in seconds, then ``"peak_rss_mib"`` of this
    process (unless ``peak_rss`` is false) and the list of step times as ``"steps_s"`` (if
    ``keep_times``).
    """
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    result: dict[str, Any] = {"median_step_s": float(np.median(times)), "min_step_s": float(np.min(times))}
    if peak_rss:
        result["peak_rss_mib"] = peak_rss_mib()
    if keep_times:
        result["steps_s"] = times
    return result


def run_child(script: str, *args: str) -> dict[str, Any]:
    """Run ``python script --child *args`` in a subprocess; return the JSON object on its last stdout line.

    A failing child raises ``subprocess.CalledProcessError`` (its output is in the exception).
    """
    out = subprocess.run([sys.executable, script, "--child", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine_info(
    load_before: LoadAverage,
    *,
    load_keys: tuple[str, str] | str = ("load_average_before", "load_average_after"),
    blas_threads: bool = False,
) -> dict[str, Any]:
    """The machine a benchmark ran on: platform, processor, CPU count, Python, NumPy, PyTorch and its threads.

    ``blas_threads`` adds the thread count of every BLAS threadpoolctl finds in this process.
    The load average (1, 5, 15 min) given as ``load_before`` and the one now are recorded under
    ``load_keys``: a pair of names gives two keys; one name gives ``{"before": ..., "after": ...}``
    under it.
    """
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    if blas_threads:
        from threadpoolctl import threadpool_info

        info["blas_threads"] = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    load_after = os.getloadavg()
    if isinstance(load_keys, str):
        info[load_keys] = {"before": list(load_before), "after": list(load_after)}
    else:
        info[load_keys[0]], info[load_keys[1]] = load_before, load_after
    return info


def write_report(report: dict[str, Any], out: str | os.PathLike[str], *, indent: int = 2) -> Path:
    """Write ``report`` as indented JSON to ``out`` (atomically, creating its folder); return the path."""
    path = Path(out)
    with atomic_writer(path) as handle:
        handle.write(json.dumps(report, indent=indent, default=str).encode())
    return path
