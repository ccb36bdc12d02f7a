"""A GELU-MLP block's forward with and without axon-jit (and torch.compile on the same model), as JSON.

    python tools/bench/bench_jit.py [--batch B] [--hidden H] [--steps N] [--no-torch] [--out FILE.json]

The report goes to bench-results/bench_jit.json unless ``--out`` says otherwise. The block is
``layer_norm(x + (gelu_tanh(x @ w1 + b1) @ w2 + b2))`` on [batch, hidden] float32 (inner width
4 * hidden), written with axon_tensor ops: the JIT runs the two matmuls as they are and fuses
bias + GELU into one kernel and bias + residual + LayerNorm into another. Each variant's time is
the fastest over ``--rounds`` rounds (the variants' order rotating) of the median of ``--steps``
calls, after warm-up (the JIT's trace and Numba compile, torch.compile's
compile); ratios are eager time / variant time in this one process. The outputs are checked
against eager before timing (bias + GELU and the LayerNorm are bit-exact, so the whole block is).
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
from _harness import machine_info, time_steps, write_report

import axon_jit
import axon_tensor as at


def block(x, w1, b1, w2, b2, gamma, beta):
    h = (at.matmul(x, w1) + b1).gelu(approximate="tanh")
    y = x + (at.matmul(h, w2) + b2)
    mean = y.mean(-1, keepdim=True)
    centered = y - mean
    var = (centered * centered).mean(-1, keepdim=True)
    return centered * (var + 1e-5).rsqrt() * gamma + beta


def _torch_block(torch):
    def run(x, w1, b1, w2, b2, gamma, beta):
        h = torch.nn.functional.gelu(x @ w1 + b1, approximate="tanh")
        return torch.nn.functional.layer_norm(x + (h @ w2 + b2), (x.shape[-1],), gamma, beta, 1e-5)

    return run


def _alternating(variants: dict, steps: int, rounds: int) -> dict:
    """Each variant timed in every round (the order rotating: a busy host slows every variant
    alike); a variant's time is its fastest round's median step."""
    names = list(variants)
    rounds_s: dict[str, list[float]] = {name: [] for name in names}
    for k in range(rounds):
        for name in names[k % len(names) :] + names[: k % len(names)]:
            rounds_s[name].append(time_steps(variants[name], steps, 2, peak_rss=False)["median_step_s"])
    return {name: {"median_step_s": min(times), "rounds_median_step_s": times} for name, times in rounds_s.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5, help="rounds alternating the variants' order")
    parser.add_argument("--no-torch", action="store_true", help="skip torch.compile")
    parser.add_argument("--out", default="bench-results/bench_jit.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    rng = np.random.default_rng(0)
    d, inner = args.hidden, 4 * args.hidden
    arrays = [
        rng.standard_normal((args.batch, d)),
        rng.standard_normal((d, inner)) / math.sqrt(d),
        rng.standard_normal(inner) * 0.1,
        rng.standard_normal((inner, d)) / math.sqrt(inner),
        rng.standard_normal(d) * 0.1,
        1 + 0.1 * rng.standard_normal(d),
        0.1 * rng.standard_normal(d),
    ]
    arrays = [a.astype(np.float32) for a in arrays]
    tensors = [at.tensor(a) for a in arrays]

    compiled = axon_jit.compile(block)
    start = time.perf_counter()
    fused = compiled(*tensors).numpy()
    first_call_s = time.perf_counter() - start
    if not np.array_equal(fused, block(*tensors).numpy()):
        raise SystemExit("bench_jit: the compiled block differs from eager")
    plan = next(iter(compiled.plans.values()))
    variants = {"eager": lambda: block(*tensors), "axon_jit": lambda: compiled(*tensors)}
    report = {
        "benchmark": "bench_jit",
        "model": f"GELU-MLP + residual LN, [{args.batch}, {d}] -> [{args.batch}, {inner}] -> [{args.batch}, {d}]",
        "jit": {
            "first_call_s": first_call_s,
            "fused_groups": len(plan.partition.groups),
            "unfused_ops": sorted(n.op for n in plan.partition.reasons),
            "bit_exact_vs_eager": True,
        },
    }
    if not args.no_torch:
        try:
            import torch

            torch_args = [torch.from_numpy(a) for a in arrays]
            eager_torch = _torch_block(torch)
            compiled_torch = torch.compile(eager_torch)
            start = time.perf_counter()
            out = compiled_torch(*torch_args)
            report["torch_compile_first_call_s"] = time.perf_counter() - start
            report["torch_vs_axon_max_abs_diff"] = float(np.abs(out.numpy() - fused).max())
            compiled_torch(*torch_args)
            variants["torch_eager"] = lambda: eager_torch(*torch_args)
            variants["torch_compile"] = lambda: compiled_torch(*torch_args)
            report["torch_threads"] = torch.get_num_threads()
        except Exception as error:  # torch.compile needs a working C compiler toolchain
            report["torch_compile_error"] = f"{type(error).__name__}: {str(error)[:300]}"
    results = _alternating(variants, args.steps, args.rounds)
    eager = results["eager"]["median_step_s"]
    report["results"] = results
    report["ratios"] = {
        "eager_over_axon_jit": eager / results["axon_jit"]["median_step_s"],
        **(
            {
                "torch_eager_over_torch_compile": results["torch_eager"]["median_step_s"]
                / results["torch_compile"]["median_step_s"],
                "axon_jit_over_torch_compile": results["axon_jit"]["median_step_s"]
                / results["torch_compile"]["median_step_s"],
            }
            if "torch_compile" in results
            else {}
        ),
    }
    report["machine"] = machine_info(load_before)
    path = write_report(report, args.out)
    print(path)
    print({k: round(v, 3) for k, v in report["ratios"].items()})


if __name__ == "__main__":
    main()
