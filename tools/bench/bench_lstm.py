"""LSTM training-step time of axon-nn vs PyTorch CPU eager, written as JSON.

    python tools/bench/bench_lstm.py [--steps N] [--warmup N] [--out bench-results/bench_lstm.json]

Model: ``LSTM(input 512, hidden 512, num_layers=2)`` on ``[seq 128, batch 32, 512]`` float32.
A step is forward, MSE loss against a fixed target, backward and an SGD step (axon_optim.SGD
for axon, torch.optim.SGD for PyTorch, both lr 0.01, momentum 0.9). Each framework runs in its
own subprocess of this invocation; the ratio is axon / PyTorch median step time. The machine's
load average before and after is recorded because the host is shared.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
from _harness import machine_info, run_child, time_steps, write_report

SEQ, BATCH, INPUT, HIDDEN, LAYERS = 128, 32, 512, 512, 2
LR, MOMENTUM = 0.01, 0.9


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((SEQ, BATCH, INPUT)).astype(np.float32), rng.standard_normal(
        (SEQ, BATCH, HIDDEN)
    ).astype(np.float32)


def _axon_step():
    import axon_nn as nn
    import axon_nn.functional as F
    from axon_autograd import Variable
    from axon_optim import SGD
    from axon_tensor import tensor

    model = nn.LSTM(INPUT, HIDDEN, num_layers=LAYERS)
    optimizer = SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    x, y = (tensor(a) for a in _data())

    def step() -> float:
        optimizer.zero_grad()
        out, _ = model(Variable(x))
        loss = F.mse_loss(out, y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _torch_step():
    import torch

    model = torch.nn.LSTM(INPUT, HIDDEN, num_layers=LAYERS)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    x, y = (torch.from_numpy(a) for a in _data())

    def step() -> float:
        optimizer.zero_grad()
        out, _ = model(x)
        loss = torch.nn.functional.mse_loss(out, y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _measure(framework: str, steps: int, warmup: int) -> dict:
    return time_steps(
        (_axon_step if framework == "axon" else _torch_step)(), steps, warmup, peak_rss=False, keep_times=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--out", default="bench-results/bench_lstm.json")
    parser.add_argument("--child", metavar="FRAMEWORK", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child, args.steps, args.warmup)))
        return
    load_before = os.getloadavg()
    results = {
        framework: run_child(__file__, framework, "--steps", str(args.steps), "--warmup", str(args.warmup))
        for framework in ("axon", "torch")
    }
    ratio = results["axon"]["median_step_s"] / results["torch"]["median_step_s"]
    report = {
        "benchmark": "lstm_train_step",
        "config": {
            "seq": SEQ,
            "batch": BATCH,
            "input_size": INPUT,
            "hidden_size": HIDDEN,
            "num_layers": LAYERS,
            "dtype": "float32",
            "optimizer": f"SGD lr={LR} momentum={MOMENTUM}",
            "loss": "mse",
        },
        "machine": machine_info(load_before, load_keys=("loadavg_before", "loadavg_after")),
        "steps": args.steps,
        "results": results,
        "time_ratio_axon_over_torch": ratio,
    }
    print(
        f"lstm train step: axon {results['axon']['median_step_s'] * 1e3:.0f} ms, torch {results['torch']['median_step_s'] * 1e3:.0f} ms, "
        f"ratio {ratio:.2f} (load average {load_before[0]:.1f} -> {report['machine']['loadavg_after'][0]:.1f})"
    )
    print(f"wrote {write_report(report, args.out)}")


if __name__ == "__main__":
    main()
