"""cuda-sim executor benchmark: the prototype's 64x1024 row softmax (one 1024-thread block per
row, warp shuffles + shared memory), plus a barrier-only and a shuffle-only kernel, timed as
launches of the fiber runtime. Also the same softmax in NumPy in this process, as a peer ratio.

    python tools/bench/sim_softmax.py [--out bench-results/sim_softmax.json] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from _harness import write_report

from axon_core import sim

SOURCE = r"""
extern "C" __global__ void row_softmax(const float* __restrict__ x, float* __restrict__ y, int cols) {
    extern __shared__ float partial[];
    const float* row = x + (size_t)blockIdx.x * cols;
    float* out = y + (size_t)blockIdx.x * cols;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    float m = -INFINITY;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) m = fmaxf(m, row[i]);
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if (lane == 0) partial[warp] = m;
    __syncthreads();
    m = -INFINITY;
    for (int w = 0; w < warps; ++w) m = fmaxf(m, partial[w]);
    float s = 0.f;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) s += __expf(row[i] - m);
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    __syncthreads();
    if (lane == 0) partial[warp] = s;
    __syncthreads();
    s = 0.f;
    for (int w = 0; w < warps; ++w) s += partial[w];
    for (int i = threadIdx.x; i < cols; i += blockDim.x) out[i] = __expf(row[i] - m) / s;
}
extern "C" __global__ void barriers10(float* y) { for (int i = 0; i < 10; ++i) __syncthreads(); }
extern "C" __global__ void shuffles10(float* y) {
    float v = threadIdx.x;
    for (int i = 0; i < 10; ++i) v += __shfl_xor_sync(0xffffffffu, v, 1);
    y[blockIdx.x * blockDim.x + threadIdx.x] = v;
}
"""


def _time(fn, repeat: int) -> dict[str, float]:
    fn()  # warm: stack arenas, first-touch pages
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - w) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    return {
        "wall_ms_median": statistics.median(wall),
        "wall_ms_min": min(wall),
        "cpu_ms_median": statistics.median(cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-results/sim_softmax.json"))
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    module = sim.module(SOURCE, name="bench_sim")
    rows, cols = 64, 1024
    x = np.random.default_rng(0).standard_normal((rows, cols)).astype(np.float32)
    y = np.empty_like(x)
    softmax = module.get_function("row_softmax")
    e = np.exp(x.astype(np.float64) - x.max(1, keepdims=True))
    reference = e / e.sum(1, keepdims=True)
    softmax((rows,), (1024,), (x, y, np.int32(cols)), 32 * 4)
    results = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "load_average_1min": os.getloadavg()[0],
        },
        "softmax_64x1024_max_abs_error": float(np.abs(y - reference).max()),
    }
    for workers in sorted({1, os.cpu_count() or 1}):
        results[f"softmax_64x1024_workers{workers}"] = _time(
            lambda: softmax((rows,), (1024,), (x, y, np.int32(cols)), 32 * 4, workers=workers), args.repeat
        )
    threads = 64 * 1024
    scratch = np.zeros(threads, np.float32)
    for name in ("barriers10", "shuffles10"):
        timing = _time(lambda: module.get_function(name)((64,), (1024,), (scratch,), workers=1), args.repeat)
        timing["ns_per_thread_op_cpu"] = timing["cpu_ms_median"] * 1e6 / (threads * 10)
        results[f"{name}_64x1024_workers1"] = timing

    def numpy_softmax() -> None:
        shifted = np.exp(x - x.max(1, keepdims=True))
        shifted / shifted.sum(1, keepdims=True)

    results["numpy_softmax_64x1024"] = _time(numpy_softmax, args.repeat)
    results["ratio_sim_over_numpy_wall"] = (
        results[f"softmax_64x1024_workers{os.cpu_count() or 1}"]["wall_ms_median"]
        / results["numpy_softmax_64x1024"]["wall_ms_median"]
    )
    write_report(results, args.out, indent=1)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
