"""Broken kernels under cuda-sim: each bug is reported as a typed error naming kernel and block,
and none of them hangs or kills the Python process."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from axon_core import KernelCompileError, sim

SOURCE = r"""
// Block `bad_block` deadlocks: half of warp 0 waits at __syncthreads, the other half in a
// full-warp __syncwarp that the first half never reaches.
extern "C" __global__ void split_warp_deadlock(float* out, int bad_block) {
    if (blockIdx.x == bad_block && threadIdx.x < 16) {
        __syncthreads();
    } else if (blockIdx.x == bad_block && threadIdx.x < 32) {
        __syncwarp();
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[blockIdx.x * blockDim.x + threadIdx.x] = 1.f;
}

extern "C" __global__ void spin_forever(volatile int* flag) {
    while (*flag == 0) {
    }
}

// Writes one element past the end (i == n) or `before` elements before the start.
extern "C" __global__ void write_past_end(float* y, int n, int extra) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n + extra) y[i] = 1.f;
}

extern "C" __global__ void write_before_start(float* y, int offset) {
    if (threadIdx.x == 0) y[-offset] = 1.f;
}

extern "C" __global__ void write_wild(float* y) {
    if (blockIdx.x == 1 && threadIdx.x == 7) *(float*)(16) = 1.f;
}

extern "C" __global__ void write_input(const float* x, float* y) {
    ((float*)x)[threadIdx.x] = 2.f;
    y[threadIdx.x] = x[threadIdx.x];
}

extern "C" __global__ void failing_assert(const int* x) {
    assert(x[threadIdx.x] >= 0);
}

extern "C" __global__ void deep_recursion_stack(float* y, int n) {
    volatile float big[16384];
    for (int i = 0; i < 16384; ++i) big[i] = i;
    y[threadIdx.x] = big[n];
}

// Half of each tile is never written: the other half of the threads read stale shared memory.
extern "C" __global__ void read_unwritten_shared(float* out) {
    __shared__ float tile[64];
    extern __shared__ float dynamic_tile[];
    if (threadIdx.x < 32) {
        tile[threadIdx.x] = 1.f;
        dynamic_tile[threadIdx.x] = 2.f;
    }
    __syncthreads();
    out[2 * (blockIdx.x * blockDim.x + threadIdx.x)] = tile[threadIdx.x];
    out[2 * (blockIdx.x * blockDim.x + threadIdx.x) + 1] = dynamic_tile[threadIdx.x];
}

extern "C" __global__ void scale(float* y, float a, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] *= a;
}
"""


@pytest.fixture(scope="module")
def mod() -> sim.SimModule:
    return sim.module(SOURCE, name="test_failures")


def test_deadlock_is_reported_with_its_block(mod):
    out = np.zeros(4 * 64, np.float32)
    with pytest.raises(sim.SimDeadlockError, match=r"deadlock in block \(2, 0, 0\)") as info:
        mod.get_function("split_warp_deadlock")((4,), (64,), (out, np.int32(2)), workers=1)
    assert info.value.block == (2, 0, 0)
    assert info.value.kernel == "split_warp_deadlock"
    assert "__syncthreads" in str(info.value)
    # The same kernel with no bad block runs to the end.
    mod.get_function("split_warp_deadlock")((4,), (64,), (out, np.int32(-1)))
    assert (out == 1).all()


def test_endless_loop_times_out(mod):
    flag = np.zeros(1, np.int32)
    with pytest.raises(sim.SimTimeoutError, match="timed out"):
        mod.get_function("spin_forever")((3,), (32,), (flag,), timeout=0.3)
    # The runtime is still usable afterwards.
    flag[0] = 1
    mod.get_function("spin_forever")((3,), (32,), (flag,), timeout=5)


def test_out_of_bounds_write_hits_the_guard_page(mod):
    n = 1024
    y = np.zeros(n, np.float32)
    # 32 elements past the end: beyond the alignment slack, into the guard page.
    with pytest.raises(
        sim.SimMemoryError,
        match=r"out-of-bounds write \d+ bytes past the end of argument 0 "
        r"\(float32 \[1024\], 4096 bytes\) in block \(4, 0, 0\)",
    ) as info:
        mod.get_function("write_past_end")((5,), (256,), (y, np.int32(n), np.int32(32)), debug=True, workers=1)
    assert info.value.block == (4, 0, 0)
    assert (y == 0).all()


def test_small_overrun_is_caught_by_the_canary(mod):
    n = 33  # alignment slack after 132 bytes: the write lands in canary bytes, not the guard page
    y = np.zeros(n, np.float32)
    with pytest.raises(
        sim.SimMemoryError, match=r"write_past_end: out-of-bounds write 0 bytes past the end of argument 0"
    ):
        mod.get_function("write_past_end")((1,), (64,), (y, np.int32(n), np.int32(1)), debug=True)
    assert (y == 0).all()  # a failed launch does not copy partial results back


def test_write_before_the_start_is_caught(mod):
    y = np.zeros(16, np.float32)
    with pytest.raises(sim.SimMemoryError, match="before the start of argument 0"):
        mod.get_function("write_before_start")((1,), (32,), (y, np.int32(1)), debug=True)
    with pytest.raises(sim.SimMemoryError, match="before the start of argument 0"):
        mod.get_function("write_before_start")((1,), (32,), (y, np.int32(4096)), debug=True)


def test_wild_pointer_is_caught_without_debug(mod):
    y = np.zeros(8, np.float32)
    with pytest.raises(
        sim.SimMemoryError, match=r"invalid memory access at address 0x10 in block \(1, 0, 0\), thread \(7, 0, 0\)"
    ):
        mod.get_function("write_wild")((2,), (32,), (y,), debug=False)


def test_write_to_read_only_input_is_reported_in_debug(mod):
    x = np.full(32, 3, np.float32)
    x.flags.writeable = False
    y = np.zeros(32, np.float32)
    with pytest.raises(sim.SimMemoryError, match="read-only argument 0"):
        mod.get_function("write_input")((1,), (32,), (x, y), debug=True)


def test_device_assert_is_a_trap_error(mod):
    x = np.zeros(64, np.int32)
    x[40] = -1
    with pytest.raises(sim.SimTrapError, match=r"device assert failed: x\[threadIdx.x\] >= 0.*thread \(40, 0, 0\)"):
        mod.get_function("failing_assert")((1,), (64,), (x,))


def test_stack_overflow_is_reported(mod, monkeypatch):
    monkeypatch.setenv("AXON_SIM_STACK_KB", "16")
    y = np.zeros(32, np.float32)
    with pytest.raises(sim.SimMemoryError, match="fiber stack overflow"):
        mod.get_function("deep_recursion_stack")((1,), (32,), (y, np.int32(3)))
    monkeypatch.setenv("AXON_SIM_STACK_KB", "128")
    mod.get_function("deep_recursion_stack")((1,), (32,), (y, np.int32(3)))
    assert (y == 3).all()


@pytest.mark.parametrize(
    "grid, block, shared, match",
    [
        ((1,), (1025,), 0, "not a valid CUDA block"),
        ((1,), (32, 32, 2), 0, "not a valid CUDA block"),
        ((1,), (1, 1, 65), 0, "not a valid CUDA block"),
        ((0,), (32,), 0, "grid"),
        ((1, 65536), (32,), 0, "grid"),
        ((1,), (32,), 48 * 1024 + 1, "dynamic shared memory"),
        ((1, 2, 3, 4), (32,), 0, "1 to 3 integers"),
    ],
)
def test_bad_launch_configurations(mod, grid, block, shared, match):
    y = np.zeros(4, np.float32)
    with pytest.raises(sim.SimLaunchError, match=match):
        mod.get_function("scale")(grid, block, (y, np.float32(2), np.int32(4)), shared)


@pytest.mark.parametrize(
    "args, match",
    [
        (lambda y: (y, np.float32(2)), "takes 3 argument"),
        (lambda y: (y, 2.0, np.int32(4)), "NumPy scalar"),
        (lambda y: (y, np.float64(2), np.int32(4)), "4-byte floating parameter, got float64"),
        (lambda y: (y, np.float32(2), np.float32(4)), "integer parameter, got float32"),
        (lambda y: (y, np.float32(2), np.int64(4)), "4-byte integer parameter, got int64"),
        (lambda y: (np.float32(1), np.float32(2), np.int32(4)), "pointer parameter"),
        (lambda y: (y, y, np.int32(4)), "value parameter, got an array"),
    ],
)
def test_argument_types_are_checked(mod, args, match):
    y = np.zeros(4, np.float32)
    with pytest.raises(sim.SimLaunchError, match=match):
        mod.get_function("scale")((1,), (32,), args(y))


def test_unknown_kernel_name(mod):
    with pytest.raises(sim.SimLaunchError, match="no __global__ function 'nope'"):
        mod.get_function("nope")


def test_compile_error_carries_the_compiler_log():
    with pytest.raises(KernelCompileError, match=r"broken\.cu:2"):
        sim.module('extern "C" __global__ void f(float* y) {\n  y[0] = undefined_name;\n}\n', name="broken")


def test_concurrent_launches_from_two_python_threads(mod):
    ys = [np.ones(5000, np.float32) for _ in range(4)]
    errors: list[BaseException] = []

    def run(y: np.ndarray, a: float) -> None:
        try:
            for _ in range(5):
                mod.get_function("scale")((20,), (256,), (y, np.float32(a), np.int32(y.size)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(y, 2.0)) for y in ys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for y in ys:
        assert (y == 32).all()


def test_debug_launch_poisons_shared_memory_each_block(mod):
    """Shared memory that no thread of the block wrote reads as NaN in debug launches, so a kernel
    that depends on leftovers (of an earlier block, or of zero-initialised host memory) is caught."""
    out = np.zeros((3, 64, 2), np.float32)
    mod.get_function("read_unwritten_shared")((3,), (64,), (out,), 64 * 4, debug=True, workers=1)
    np.testing.assert_array_equal(out[:, :32, 0], 1)
    np.testing.assert_array_equal(out[:, :32, 1], 2)
    assert np.isnan(out[:, 32:, :]).all()
