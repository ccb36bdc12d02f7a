"""Training-step time and peak RSS of axon-nn vs PyTorch CPU eager, written as JSON.

    python tools/bench/bench_train.py [--steps N] [--out bench-results/bench_train.json]

Models: an MLP 784-1024-1024-10 (batch 256) and LeNet-5 (batch 128, 28×28 inputs). A step is
zero_grad, forward, cross-entropy, backward and an SGD update (``axon_optim.SGD`` against
``torch.optim.SGD``, both with momentum 0.9). Each (framework, model) pair runs in its own
subprocess so peak RSS is its own. ``--rounds`` alternates axon and PyTorch subprocesses that
many times; each round gives a ratio axon / PyTorch of median step times, and the reported ratio
is the median over rounds, so a slow spell of a shared machine skews one round, not the result.
The machine's load average is recorded before and after.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
from _harness import machine_info, run_child, time_steps, write_report

LR, MOMENTUM = 0.01, 0.9
SHAPES = {"mlp": ((256, 784), 256), "lenet5": ((128, 1, 28, 28), 128)}


def _build(lib, model: str):
    if model == "mlp":
        return lib.Sequential(
            lib.Linear(784, 1024), lib.ReLU(), lib.Linear(1024, 1024), lib.ReLU(), lib.Linear(1024, 10)
        )
    return lib.Sequential(
        lib.Conv2d(1, 6, 5, padding=2),
        lib.ReLU(),
        lib.MaxPool2d(2),
        lib.Conv2d(6, 16, 5),
        lib.ReLU(),
        lib.MaxPool2d(2),
        lib.Flatten(),
        lib.Linear(16 * 5 * 5, 120),
        lib.ReLU(),
        lib.Linear(120, 84),
        lib.ReLU(),
        lib.Linear(84, 10),
    )


def _axon_step(model_name: str):
    import axon_nn as nn
    import axon_nn.functional as F
    import axon_optim
    from axon_autograd import Variable
    from axon_tensor import tensor

    model = _build(nn, model_name)
    shape, batch = SHAPES[model_name]
    rng = np.random.default_rng(0)
    x, y = tensor(rng.standard_normal(shape).astype(np.float32)), tensor(rng.integers(0, 10, batch))
    opt = axon_optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def step() -> float:
        opt.zero_grad()
        loss = F.cross_entropy(model(Variable(x)), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def _torch_step(model_name: str):
    import torch

    model = _build(torch.nn, model_name)
    shape, batch = SHAPES[model_name]
    rng = np.random.default_rng(0)
    x, y = torch.tensor(rng.standard_normal(shape).astype(np.float32)), torch.tensor(rng.integers(0, 10, batch))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def step() -> float:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def _measure(framework: str, model: str, steps: int, warmup: int) -> dict:
    return time_steps((_axon_step if framework == "axon" else _torch_step)(model), steps, warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", default="bench-results/bench_train.json")
    parser.add_argument("--child", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child[0], args.child[1], args.steps, args.warmup)))
        return
    load_before = os.getloadavg()
    results: dict = {}
    for model in SHAPES:
        runs: dict[str, list[dict]] = {"axon": [], "torch": []}
        for _ in range(args.rounds):
            for framework in ("axon", "torch"):
                runs[framework].append(
                    run_child(__file__, framework, model, "--steps", str(args.steps), "--warmup", str(args.warmup))
                )
        round_ratios = [a["median_step_s"] / t["median_step_s"] for a, t in zip(runs["axon"], runs["torch"])]
        results[model] = {
            framework: {
                "median_step_s": float(np.median([r["median_step_s"] for r in rs])),
                "min_step_s": float(np.min([r["min_step_s"] for r in rs])),
                "peak_rss_mib": float(np.max([r["peak_rss_mib"] for r in rs])),
                "rounds": rs,
            }
            for framework, rs in runs.items()
        }
        results[model]["time_ratio_per_round"] = round_ratios
        results[model]["time_ratio_axon_over_torch"] = float(np.median(round_ratios))
        a, t = results[model]["axon"], results[model]["torch"]
        results[model]["rss_ratio_axon_over_torch"] = a["peak_rss_mib"] / t["peak_rss_mib"]
        print(
            f"{model}: axon {a['median_step_s'] * 1e3:.1f} ms, torch {t['median_step_s'] * 1e3:.1f} ms, "
            f"time ratio {results[model]['time_ratio_axon_over_torch']:.2f} (rounds: "
            f"{', '.join(f'{r:.2f}' for r in round_ratios)}), RSS ratio {results[model]['rss_ratio_axon_over_torch']:.2f}"
        )
    report = {
        "benchmark": "train_step",
        "machine": machine_info(load_before, load_keys="load_average_1_5_15min"),
        "steps": args.steps,
        "rounds": args.rounds,
        "optimizer": f"SGD lr={LR} momentum={MOMENTUM}: axon_optim.SGD vs torch.optim.SGD",
        "results": results,
    }
    print(f"wrote {write_report(report, args.out)}")


if __name__ == "__main__":
    main()
