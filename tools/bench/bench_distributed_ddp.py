"""DDP scaling of an MLP training step from 1 to 2 processes on this machine, written as JSON.

    python tools/bench/bench_distributed_ddp.py [--steps N] [--rounds R] [--out FILE.json]

The model is bench_train.py's MLP 784-1024-1024-10 (float32, 1.86 M parameters, 7.1 MiB of
gradients), trained with SGD (momentum 0.9) under ``axon_distributed.DistributedDataParallel``
(25 MiB buckets, the default). Every process runs one BLAS thread, so 2 processes use the 2
cores and the comparison measures DDP, not BLAS threading. Each round runs, one after the other:

- ``no DDP, batch B``: the bare model (DDP's own cost on one process is the ratio to the next);
- ``1 process, batch B``: DDP on a world of one (the all-reduce is a local no-op);
- ``1 process, batch 2B``: the same global batch as two processes;
- ``2 processes, batch B each`` (``python -m axon_distributed.launch -n 2``).

Reported per round and as the median over rounds: median step times, the weak-scaling
efficiency ``t(1, B) / t(2, B each)`` (1.0: two processes do twice the work in the same time),
the strong-scaling speedup ``t(1, 2B) / t(2, B each)`` and its efficiency (speedup / 2), and the
time of one bare all-reduce of the gradients on 2 processes (what DDP cannot hide behind
backward). Writes bench-results/bench_distributed_ddp.json (or --out). The load average is
recorded before and after: on a shared machine the
rounds alternate so a slow spell skews one round, not the median.
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
from _harness import machine_info, time_steps, write_report

BATCH = 128
LR, MOMENTUM = 0.01, 0.9
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def child(batch: int, steps: int, warmup: int, plain: bool) -> None:
    """One rank of a run: time DDP steps; rank 0 prints the JSON result on its last line."""
    import axon_distributed as dist
    import axon_nn as nn
    import axon_nn.functional as F
    import axon_optim
    from axon_autograd import Variable
    from axon_tensor import manual_seed, tensor, zeros

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    ddp = model if plain else dist.DistributedDataParallel(model)
    rng = np.random.default_rng(rank)
    x = Variable(tensor(rng.standard_normal((batch, 784)).astype(np.float32)))
    y = Variable(tensor(rng.integers(0, 10, batch)))
    opt = axon_optim.SGD(ddp.parameters(), lr=LR, momentum=MOMENTUM)

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(ddp(x), y).backward()
        opt.step()

    dist.barrier()
    result = time_steps(step, steps, warmup, peak_rss=False)
    # Every rank reports the slowest rank's median: a step is done when the last rank is.
    slowest = tensor([result["median_step_s"]], dtype="float64")
    dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
    result["median_step_s"] = float(slowest.item())
    grads = zeros(sum(p.numel() for p in model.parameters()), dtype="float32")
    times = []
    for _ in range(steps):
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(grads)
        times.append(time.perf_counter() - start)
    result["allreduce_s"] = float(np.median(times))
    result.update(world_size=world, batch_per_rank=batch, buckets=0 if plain else len(ddp.buckets))
    if rank == 0:
        print(json.dumps(result), flush=True)
    dist.destroy_process_group()


def run(n: int, batch: int, steps: int, warmup: int, plain: bool = False) -> dict:
    env = {**os.environ, **ONE_THREAD}
    cmd = [sys.executable, "-m", "axon_distributed.launch", "-n", str(n), __file__, "--child"]
    cmd += ["--batch", str(batch), "--steps", str(steps), "--warmup", str(warmup)] + (["--plain"] if plain else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--out", default="bench-results/bench_distributed_ddp.json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.batch, args.steps, args.warmup, args.plain)
        return
    load_before = os.getloadavg()
    rounds = []
    for _ in range(args.rounds):
        plain = run(1, args.batch, args.steps, args.warmup, plain=True)
        one = run(1, args.batch, args.steps, args.warmup)
        one_double = run(1, 2 * args.batch, args.steps, args.warmup)
        two = run(2, args.batch, args.steps, args.warmup)
        t1, t1x2, t2 = one["median_step_s"], one_double["median_step_s"], two["median_step_s"]
        rounds.append(
            {
                "no_ddp_batch_B_s": plain["median_step_s"],
                "ddp_overhead_one_process": t1 / plain["median_step_s"],
                "one_process_batch_B_s": t1,
                "one_process_batch_2B_s": t1x2,
                "two_processes_batch_B_each_s": t2,
                "weak_scaling_efficiency": t1 / t2,
                "strong_scaling_speedup": t1x2 / t2,
                "strong_scaling_efficiency": t1x2 / t2 / 2,
                "allreduce_2_processes_s": two["allreduce_s"],
            }
        )
        print(json.dumps(rounds[-1]), flush=True)
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    report = {
        "benchmark": "bench_distributed_ddp",
        "model": "MLP 784-1024-1024-10 float32, SGD momentum 0.9, cross-entropy",
        "parameters": 784 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10,
        "batch_B": args.batch,
        "steps": args.steps,
        "buckets": two["buckets"],
        "threads_per_process": 1,
        "median": median,
        "rounds": rounds,
        "machine": machine_info(load_before),
    }
    path = write_report(report, Path(args.out))
    print(json.dumps(median, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
