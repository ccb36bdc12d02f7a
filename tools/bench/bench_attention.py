"""TransformerEncoderLayer training step vs PyTorch CPU, and flash vs plain attention memory, as JSON.

    python tools/bench/bench_attention.py [--steps N] [--rounds R] [--out bench-results/bench_attention.json]

1. A training step of ``TransformerEncoderLayer(d_model=512, nhead=8, dim_feedforward=2048,
   batch_first=True)`` on ``[16, 256, 512]`` float32 inputs: forward, ``mean(out²)``, backward,
   plain SGD (same hand-written update in both frameworks). Run with the default dropout 0.1
   (attention weights are materialised for dropout, in both frameworks) and with dropout 0
   (axon's flash path; PyTorch's fused SDPA). Ratio = axon median / PyTorch median.
2. ``scaled_dot_product_attention`` forward + backward at seq 4096 (batch 1, 4 heads, head dim
   64, float32, causal) on the flash path against the plain path (the same causal mask passed
   explicitly): tracemalloc peak and peak RSS.

Every measurement runs in its own subprocess (so peak RSS is its own). The host is shared, so
the step is measured in ``--rounds`` rounds that alternate axon and PyTorch (and which goes
first); each round gives a ratio and the report takes the medians. The machine, its CPU count,
the BLAS and PyTorch thread counts and the load average of every round are recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tracemalloc

import numpy as np
from _harness import machine_info, peak_rss_mib, run_child, time_steps, write_report

LR = 1e-3
BATCH, SEQ, D_MODEL, HEADS, FFN = 16, 256, 512, 8, 2048
ATTN_SEQ, ATTN_HEADS, ATTN_DIM = 4096, 4, 64


def _axon_step(dropout: float):
    import axon_nn as nn
    from axon_autograd import Variable, no_grad
    from axon_tensor import tensor

    layer = nn.TransformerEncoderLayer(D_MODEL, HEADS, FFN, dropout=dropout, batch_first=True).train()
    x = tensor(np.random.default_rng(0).standard_normal((BATCH, SEQ, D_MODEL)).astype(np.float32))
    params = list(layer.parameters())

    def step() -> float:
        out = layer(Variable(x))
        loss = (out * out).mean()
        layer.zero_grad()
        loss.backward()
        with no_grad():
            for p in params:
                p.data.array[...] -= LR * p.grad.data.array
        return loss.item()

    return step


def _torch_step(dropout: float):
    import torch

    layer = torch.nn.TransformerEncoderLayer(D_MODEL, HEADS, FFN, dropout=dropout, batch_first=True).train()
    x = torch.tensor(np.random.default_rng(0).standard_normal((BATCH, SEQ, D_MODEL)).astype(np.float32))
    params = list(layer.parameters())

    def step() -> float:
        out = layer(x)
        loss = (out * out).mean()
        layer.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
        return loss.item()

    return step


def _measure_step(framework: str, dropout: float, steps: int, warmup: int) -> dict:
    return time_steps((_axon_step if framework == "axon" else _torch_step)(dropout), steps, warmup)


def _measure_attention(path: str) -> dict:
    import axon_nn.functional as F
    from axon_autograd import Variable
    from axon_tensor import tensor

    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((1, ATTN_HEADS, ATTN_SEQ, ATTN_DIM)).astype(np.float32) for _ in range(3)]
    causal = np.tril(np.ones((ATTN_SEQ, ATTN_SEQ), dtype=bool))
    rss_before = peak_rss_mib()
    tracemalloc.start()
    start = time.perf_counter()
    q, k, v = (Variable(tensor(a), requires_grad=True) for a in arrays)
    if path == "flash":
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    else:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=tensor(causal))
    out.sum().backward()
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "path": out.grad_fn._function.__name__,
        "tracemalloc_peak_mib": peak / 2**20,
        "peak_rss_mib": peak_rss_mib(),
        "rss_before_mib": rss_before,
        "forward_backward_s": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="alternating axon/torch rounds per configuration")
    parser.add_argument("--out", default="bench-results/bench_attention.json")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind = args.child[0]
        if kind == "step":
            result = _measure_step(args.child[1], float(args.child[2]), args.steps, args.warmup)
        else:
            result = _measure_attention(args.child[1])
        print(json.dumps(result))
        return
    load_before = os.getloadavg()
    steps: dict = {f"dropout_{dropout}": {"rounds": []} for dropout in (0.1, 0.0)}
    for round_index in range(args.rounds):
        order = ("axon", "torch") if round_index % 2 == 0 else ("torch", "axon")
        for dropout in (0.1, 0.0):
            result: dict = {"load_average": os.getloadavg()}
            for fw in order:
                result[fw] = run_child(
                    __file__, "step", fw, str(dropout), "--steps", str(args.steps), "--warmup", str(args.warmup)
                )
            result["time_ratio_axon_over_torch"] = result["axon"]["median_step_s"] / result["torch"]["median_step_s"]
            steps[f"dropout_{dropout}"]["rounds"].append(result)
            print(
                f"round {round_index}, dropout {dropout}: axon {result['axon']['median_step_s'] * 1e3:.0f} ms, "
                f"torch {result['torch']['median_step_s'] * 1e3:.0f} ms, "
                f"ratio {result['time_ratio_axon_over_torch']:.2f} "
                f"(load {result['load_average'][0]:.1f})"
            )
    for key, entry in steps.items():
        rounds = entry["rounds"]
        entry["axon_median_step_s"] = float(np.median([r["axon"]["median_step_s"] for r in rounds]))
        entry["torch_median_step_s"] = float(np.median([r["torch"]["median_step_s"] for r in rounds]))
        entry["time_ratio_axon_over_torch"] = float(np.median([r["time_ratio_axon_over_torch"] for r in rounds]))
        print(
            f"encoder layer step ({key}): axon {entry['axon_median_step_s'] * 1e3:.0f} ms, "
            f"torch {entry['torch_median_step_s'] * 1e3:.0f} ms, "
            f"median ratio {entry['time_ratio_axon_over_torch']:.2f} over {len(rounds)} rounds"
        )
    attention = {path: run_child(__file__, "attention", path) for path in ("flash", "plain")}
    attention["tracemalloc_ratio_plain_over_flash"] = (
        attention["plain"]["tracemalloc_peak_mib"] / attention["flash"]["tracemalloc_peak_mib"]
    )
    attention["rss_ratio_plain_over_flash"] = attention["plain"]["peak_rss_mib"] / attention["flash"]["peak_rss_mib"]
    print(
        f"attention seq {ATTN_SEQ}: flash peak {attention['flash']['tracemalloc_peak_mib']:.0f} MiB "
        f"(RSS {attention['flash']['peak_rss_mib']:.0f}), "
        f"plain peak {attention['plain']['tracemalloc_peak_mib']:.0f} MiB "
        f"(RSS {attention['plain']['peak_rss_mib']:.0f})"
    )
    report = {
        "benchmark": "attention",
        "machine": machine_info(load_before, blas_threads=True),
        "encoder_layer_step": {
            "shape": {
                "batch": BATCH,
                "seq": SEQ,
                "d_model": D_MODEL,
                "nhead": HEADS,
                "dim_feedforward": FFN,
                "dtype": "float32",
            },
            "steps": args.steps,
            "warmup": args.warmup,
            "rounds": args.rounds,
            "results": steps,
        },
        "attention_memory": {
            "shape": {
                "batch": 1,
                "heads": ATTN_HEADS,
                "seq": ATTN_SEQ,
                "head_dim": ATTN_DIM,
                "dtype": "float32",
                "causal": True,
            },
            "results": attention,
        },
    }
    print(f"wrote {write_report(report, args.out)}")


if __name__ == "__main__":
    main()
