"""Cost of autograd per op on small inputs: Tensor op vs Variable op (recording) vs PyTorch.

Writes JSON (microseconds per op, and ratios measured in this same process) to the path given
as the first argument, or prints it. Times are the calling thread's CPU time (best of several
repeats), so a busy shared machine that deschedules the process inflates them less.
"""

from __future__ import annotations

import json
import platform
import sys
import time
import timeit

import numpy as np
from _harness import write_report

import axon_tensor
from axon_autograd import Variable, no_grad


def per_call_us(fn, number: int = 20000) -> float:
    timer = timeit.Timer(fn, timer=time.thread_time)
    return min(timer.repeat(number=number // 4, repeat=9)) / (number // 4) * 1e6


def main() -> None:
    a_np, b_np = np.random.default_rng(0).standard_normal((2, 16, 16)).astype(np.float32)
    ta, tb = axon_tensor.tensor(a_np), axon_tensor.tensor(b_np)
    va, vb = Variable(ta, requires_grad=True), Variable(tb, requires_grad=True)
    results = {
        "tensor_mul_us": per_call_us(lambda: ta * tb),
        "variable_mul_recording_us": per_call_us(lambda: va * vb),
        "tensor_mul_scalar_us": per_call_us(lambda: ta * 2.0),
        "variable_mul_scalar_recording_us": per_call_us(lambda: va * 2.0),
        "tensor_matmul_us": per_call_us(lambda: ta @ tb),
        "variable_matmul_recording_us": per_call_us(lambda: va @ vb),
    }
    with no_grad():
        results["variable_mul_no_grad_us"] = per_call_us(lambda: va * vb)
        results["variable_matmul_no_grad_us"] = per_call_us(lambda: va @ vb)

    def step():
        loss = ((va @ vb).tanh() * va).sum()
        loss.backward()

    results["variable_small_step_us"] = per_call_us(step, number=2000)
    try:
        import torch

        xa, xb = torch.tensor(a_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
        results["torch_mul_recording_us"] = per_call_us(lambda: xa * xb)
        results["torch_mul_scalar_recording_us"] = per_call_us(lambda: xa * 2.0)
        results["torch_matmul_recording_us"] = per_call_us(lambda: xa @ xb)

        def torch_step():
            loss = ((xa @ xb).tanh() * xa).sum()
            loss.backward()

        results["torch_small_step_us"] = per_call_us(torch_step, number=2000)
        results["step_ratio_axon_over_torch"] = results["variable_small_step_us"] / results["torch_small_step_us"]
    except ImportError:
        pass
    results["mul_recording_over_tensor"] = results["variable_mul_recording_us"] / results["tensor_mul_us"]
    results["mul_no_grad_minus_tensor_us"] = results["variable_mul_no_grad_us"] - results["tensor_mul_us"]
    report = {
        "benchmark": "autograd_overhead",
        "shape": [16, 16],
        "dtype": "float32",
        "timer": "thread_time",
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
        "results": results,
    }
    text = json.dumps(report, indent=2)
    if len(sys.argv) > 1:
        write_report(report, sys.argv[1])
    print(text)


if __name__ == "__main__":
    main()
