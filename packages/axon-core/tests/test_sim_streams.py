"""cuda-sim's streams, events and asynchronous copies, and the checker of their ordering.

cuda-sim runs each operation when it is issued, so a missing ``wait_event`` cannot show up as
stale bytes here; instead every access to device memory or a pinned buffer is checked against
CUDA's ordering rules (see ``axon_core.sim.streams``). Each race below is one a GPU can really
run into (read-after-write, write-after-read, write-after-write, the host refilling a staging
buffer an async copy still reads, the host reading a result it did not wait for), each shown
raising without the synchronisation and passing, with the right bytes, with it.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from axon_core import Device, DeviceError, ShapeError
from axon_core.kernels import KernelSource
from axon_core.sim import SimRaceError
from axon_core.sim.rewrite import pointer_access

TWICE = KernelSource(
    "stream_test",
    r"""
extern "C" __global__ void twice(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) { y[i] = 2.0f * x[i]; }
}
extern "C" __global__ void bump(float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) { y[i] += 1.0f; }
}
""",
    ("twice", "bump"),
)
N = 64


@pytest.fixture(scope="module")
def sim():
    return Device("cuda-sim").backend


def _twice(sim, x, y, stream):
    sim.launch(TWICE, "twice", (1,), (N,), (x, y, np.int32(N)), stream=stream)


def _data(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(N).astype(np.float32)


def test_pointer_access_reads_constness_from_the_signature():
    source = (
        'extern "C" __global__ void k(const float* __restrict__ a, float* b, float* const c, '
        "int const* d, const float** e, const float* const* f, long long n) {}\n"
        'template <class T> __global__ void skipped(T* x) {}\nextern "C" __global__ void none() {}'
    )
    assert pointer_access(source) == {"k": ("r", "w", "w", "r", "w", "r", None), "none": ()}
    assert pointer_access(TWICE.source) == {"twice": ("r", "w", None), "bump": ("w", None)}


def test_one_stream_runs_in_issue_order(sim):
    stream = sim.stream("only")
    x, y = sim.empty((N,), np.float32), sim.empty((N,), np.float32)
    host = _data()
    sim.copy_to_device_async(x, host, stream)
    _twice(sim, x, y, stream)
    sim.launch(TWICE, "bump", (1,), (N,), (y, np.int32(N)), stream=stream)
    out = np.empty(N, np.float32)
    sim.copy_to_host(out, y, stream)
    np.testing.assert_array_equal(out, 2.0 * host + 1.0)


def test_read_after_a_copy_on_another_stream_needs_its_event(sim):
    copy, compute = sim.stream("copy"), sim.stream("compute")
    x, y = sim.empty((N,), np.float32), sim.empty((N,), np.float32)
    staging = sim.pinned_empty((N,), np.float32)
    sim.write_pinned(staging, _data(1))
    sim.copy_to_device_async(x, staging, copy)
    with pytest.raises(SimRaceError) as info:
        _twice(sim, x, y, compute)
    message = str(info.value)
    assert "kernel twice on compute reads device allocation" in message
    assert "copy host to device on copy wrote" in message
    done = sim.event()
    done.record(copy)
    compute.wait_event(done)
    _twice(sim, x, y, compute)
    out = np.empty(N, np.float32)
    sim.copy_to_host(out, y, compute)
    np.testing.assert_array_equal(out, 2.0 * _data(1))


def test_a_copy_over_a_buffer_another_stream_reads_needs_its_event(sim):
    copy, compute = sim.stream("copy"), sim.stream("compute")
    x, y = sim.empty((N,), np.float32), sim.empty((N,), np.float32)
    sim.copy_to_device_async(x, _data(2), compute)
    copy.wait_event(compute.record())  # the copy is ordered after that write, not after the read below
    _twice(sim, x, y, compute)
    with pytest.raises(SimRaceError, match="copy host to device on copy writes .* kernel twice on compute read"):
        sim.copy_to_device_async(x, _data(3), copy)
    released = compute.record()
    copy.wait_event(released)
    sim.copy_to_device_async(x, _data(3), copy)


def test_two_writers_on_two_streams_need_an_order(sim):
    a, b = sim.stream("a"), sim.stream("b")
    y = sim.empty((N,), np.float32)
    sim.launch(TWICE, "bump", (1,), (N,), (y, np.int32(N)), stream=a)
    with pytest.raises(SimRaceError, match="kernel bump on b writes .* kernel bump on a wrote"):
        sim.launch(TWICE, "bump", (1,), (N,), (y, np.int32(N)), stream=b)
    b.wait_event(a.record())
    sim.launch(TWICE, "bump", (1,), (N,), (y, np.int32(N)), stream=b)


def test_the_host_refills_a_staging_buffer_only_after_its_copy(sim):
    copy = sim.stream("copy")
    x = sim.empty((N,), np.float32)
    staging = sim.pinned_empty((N,), np.float32)
    sim.write_pinned(staging, _data(4))
    sim.copy_to_device_async(x, staging, copy)
    copied = copy.record()
    with pytest.raises(SimRaceError, match="host write to a pinned buffer on host writes pinned host buffer"):
        sim.write_pinned(staging, _data(5))
    copied.synchronize()
    sim.write_pinned(staging, _data(5))
    np.testing.assert_array_equal(staging, _data(5))


def test_the_host_reads_a_result_only_after_waiting(sim):
    compute = sim.stream("compute")
    x, y = sim.empty((N,), np.float32), sim.empty((N,), np.float32)
    sim.copy_to_device_async(x, _data(6), compute)
    _twice(sim, x, y, compute)
    with pytest.raises(SimRaceError, match="to_numpy .* on null stream reads"):
        sim.to_numpy(y)
    compute.synchronize()
    np.testing.assert_array_equal(sim.to_numpy(y), 2.0 * _data(6))


def test_from_numpy_lands_in_null_stream_order(sim):
    compute = sim.stream("compute")
    x = sim.from_numpy(_data(7))
    y = sim.empty((N,), np.float32)
    with pytest.raises(SimRaceError, match="from_numpy"):
        _twice(sim, x, y, compute)
    sim.synchronize()
    _twice(sim, x, y, compute)


def test_order_is_transitive_through_a_chain_of_events(sim):
    a, b, c = sim.stream("a"), sim.stream("b"), sim.stream("c")
    x, y, z = (sim.empty((N,), np.float32) for _ in range(3))
    sim.copy_to_device_async(x, _data(8), a)
    b.wait_event(a.record())
    _twice(sim, x, y, b)
    c.wait_event(b.record())
    _twice(sim, x, z, c)  # x was written on a: ordered through b
    c.synchronize()
    np.testing.assert_array_equal(sim.to_numpy(z), 2.0 * _data(8))


def test_an_event_orders_only_what_was_issued_before_its_record(sim):
    a, b = sim.stream("a"), sim.stream("b")
    x, y = sim.empty((N,), np.float32), sim.empty((N,), np.float32)
    early = a.record()
    sim.copy_to_device_async(x, _data(9), a)
    b.wait_event(early)
    with pytest.raises(SimRaceError):
        _twice(sim, x, y, b)
    never = sim.event()  # waiting for an event never recorded is a no-op, as in CUDA
    b.wait_event(never)
    with pytest.raises(SimRaceError):
        _twice(sim, x, y, b)


def test_timing_events_and_the_operation_log(sim):
    stream = sim.stream("timed")
    x, y = sim.empty((N,), np.float32), sim.empty((N,), np.float32)
    start, end = sim.event(timing=True), sim.event(timing=True)
    order = sim.stream_order
    with order.recording() as ops:
        start.record(stream)
        sim.copy_to_device_async(x, _data(10), stream)
        time.sleep(0.002)
        _twice(sim, x, y, stream)
        end.record(stream)
    assert sim.elapsed_ms(start, end) >= 2.0
    with pytest.raises(DeviceError, match="timing"):
        sim.elapsed_ms(sim.event(), end)
    assert [(op.stream, op.what) for op in ops] == [
        ("timed", f"record_event {start.label}"),
        ("timed", "copy host to device"),
        ("timed", "kernel twice"),
        ("timed", f"record_event {end.label}"),
    ]
    assert ops[1].writes == (order.allocation(x),) and ops[2].reads == (order.allocation(x),)
    assert ops[2].writes == (order.allocation(y),)


def test_allocations_are_counted_and_copies_checked(sim):
    order, stream = sim.stream_order, sim.stream()
    before = (order.device_allocations, order.pinned_allocations)
    x = sim.empty((N,), np.float32)
    sim.pinned_empty((N,), np.uint8)
    assert (order.device_allocations, order.pinned_allocations) == (before[0] + 1, before[1] + 1)
    with pytest.raises(ShapeError, match="holds 256 bytes"):
        sim.copy_to_device_async(x, np.zeros(N + 1, np.float32), stream)
    with pytest.raises(ShapeError, match="C-contiguous"):
        sim.copy_to_device_async(x, np.zeros(2 * N, np.float32)[::2], stream)
    with pytest.raises(DeviceError, match="not cuda-sim memory"):
        sim.copy_to_device_async(np.zeros(N, np.float32), np.zeros(N, np.float32), stream)
    with pytest.raises(DeviceError, match="not a pinned buffer"):
        sim.write_pinned(np.zeros(N, np.float32), np.zeros(N, np.float32))
    with pytest.raises(DeviceError, match="not a stream of this device"):
        _twice(sim, x, x, object())
