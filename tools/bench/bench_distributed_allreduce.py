"""all_reduce bandwidth on 2 ranks: axon_distributed vs raw mpi4py on NumPy arrays vs torch.distributed (gloo).

All three run in the same two processes (one ``python -m axon_distributed.launch -n 2`` command),
interleaved size by size and round by round, so every ratio compares runs under the same load of
this shared machine. Sizes 1 KiB to 64 MiB of float32. Each round times ``iters`` back-to-back
all_reduces after a barrier; the round's time is the slowest rank's. Reported per size: the median
per-op time of each peer, bus bandwidth (``bytes * 2 (n - 1) / n / time``, as nccl-tests), and the
median over rounds of axon's time over raw mpi4py's (the floor; the target is <= 1.05 at 64 MiB)
and over gloo's. ``axon`` has the header check on (the default), ``axon_unchecked`` has it off.

Writes bench-results/bench_distributed_allreduce.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SIZES = [1 << k for k in range(10, 27, 2)]  # 1 KiB, 4 KiB, ..., 64 MiB


def _iters(nbytes: int) -> int:
    return max(5, min(500, (8 << 20) // nbytes))


def child(out: Path, rounds: int, min_bytes: int) -> None:
    import torch
    import torch.distributed as tdist
    from mpi4py import MPI

    import axon_distributed as dist
    import axon_tensor as at

    dist.init_process_group("mpi")
    rank, size = dist.get_rank(), dist.get_world_size()
    comm = MPI.COMM_WORLD
    port = comm.bcast(_free_port() if rank == 0 else None, root=0)
    tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size)
    torch.set_num_threads(1)
    world = dist.group.WORLD

    results = {}
    for nbytes in [size for size in SIZES if size >= min_bytes]:
        n = nbytes // 4
        raw = np.ones(n, dtype=np.float32)
        ours = at.tensor(np.ones(n, dtype=np.float32))
        theirs = torch.ones(n, dtype=torch.float32)

        peers = _peers(comm, MPI, dist, tdist, world, raw, ours, theirs)
        iters = _iters(nbytes)
        times: dict[str, list[float]] = {name: [] for name in peers}
        for fn in peers.values():  # warm-up
            for _ in range(2):
                fn()
        for r in range(rounds):
            order = list(peers.items())
            if r % 2:
                order.reverse()
            for name, fn in order:
                comm.Barrier()
                start = time.perf_counter()
                for _ in range(iters):
                    fn()
                elapsed = (time.perf_counter() - start) / iters
                times[name].append(comm.allreduce(elapsed, op=MPI.MAX))
        entry = {"bytes": nbytes, "iters_per_round": iters}
        for name, ts in times.items():
            median = statistics.median(ts)
            entry[name] = {
                "median_s": median,
                "min_s": min(ts),
                "busbw_gb_s": nbytes * 2 * (size - 1) / size / median / 1e9,
            }
        for ours_name in ("axon", "axon_unchecked"):
            for peer in ("mpi4py", "gloo"):
                ratios = sorted(a / b for a, b in zip(times[ours_name], times[peer]))
                entry[f"{ours_name}_over_{peer}"] = statistics.median(ratios)
                # the spread of the per-round ratios (this machine is shared) and the ratio of the best rounds
                entry[f"{ours_name}_over_{peer}_quartiles"] = [ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]]
                entry[f"{ours_name}_over_{peer}_of_min"] = min(times[ours_name]) / min(times[peer])
        results[_label(nbytes)] = entry
    tdist.destroy_process_group()
    dist.destroy_process_group()
    if rank == 0:
        out.write_text(json.dumps({"world_size": size, "rounds": rounds, "sizes": results}))


def _peers(comm, MPI, dist, tdist, world, raw, ours, theirs) -> dict:
    """The four all_reduce calls being compared, on arrays of the same size."""

    def run_raw() -> None:
        comm.Allreduce(MPI.IN_PLACE, raw, op=MPI.SUM)

    def run_axon() -> None:
        dist.all_reduce(ours)

    def run_axon_unchecked() -> None:
        world.check = False
        try:
            dist.all_reduce(ours)
        finally:
            world.check = True

    def run_gloo() -> None:
        tdist.all_reduce(theirs)

    return {"mpi4py": run_raw, "axon": run_axon, "axon_unchecked": run_axon_unchecked, "gloo": run_gloo}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _label(nbytes: int) -> str:
    return f"{nbytes >> 20} MiB" if nbytes >= 1 << 20 else f"{nbytes >> 10} KiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench-results/bench_distributed_allreduce.json")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--min-bytes", type=int, default=0, help="skip the sizes below this (e.g. 16777216)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child), args.rounds, args.min_bytes)
        return

    from _harness import machine_info, write_report

    load_before = os.getloadavg()
    scratch = Path(args.out).with_suffix(".child.json")
    cmd = [sys.executable, "-m", "axon_distributed.launch", "-n", "2", "--timeout", "600", __file__,
           "--rounds", str(args.rounds), "--min-bytes", str(args.min_bytes), "--child", str(scratch)]  # fmt: skip
    scratch.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(cmd, check=True)
    measured = json.loads(scratch.read_text())
    scratch.unlink()
    from mpi4py import MPI

    report = {
        "benchmark": "distributed_allreduce",
        "dtype": "float32",
        "op": "SUM",
        "mpi": MPI.Get_library_version().splitlines()[0].strip(),
        **measured,
        "machine": machine_info(load_before),
    }
    largest = report["sizes"][_label(SIZES[-1])]
    report["summary"] = {
        "axon_over_mpi4py_at_64MiB": largest["axon_over_mpi4py"],
        "axon_over_mpi4py_at_64MiB_quartiles": largest["axon_over_mpi4py_quartiles"],
        "axon_over_mpi4py_at_64MiB_of_min": largest["axon_over_mpi4py_of_min"],
        "axon_unchecked_over_mpi4py_at_64MiB": largest["axon_unchecked_over_mpi4py"],
        "axon_over_gloo_at_64MiB": largest["axon_over_gloo"],
        "target": "axon_over_mpi4py_at_64MiB <= 1.05",
    }
    path = write_report(report, args.out)
    columns = ("mpi4py ms", "axon ms", "gloo ms", "axon/mpi4py", "unchecked/mpi4py", "axon/gloo", "busbw GB/s")
    print(f"{'size':>8} " + " ".join(f"{c:>16}" for c in columns))
    for label, e in report["sizes"].items():
        times = [e[peer]["median_s"] * 1e3 for peer in ("mpi4py", "axon", "gloo")]
        ratios = [e["axon_over_mpi4py"], e["axon_unchecked_over_mpi4py"], e["axon_over_gloo"]]
        row = times + ratios + [e["axon"]["busbw_gb_s"]]
        print(f"{label:>8} " + " ".join(f"{v:16.3f}" for v in row))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
