"""Devices: parsing, interning, defaults and clear errors."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from axon_core import (
    Device,
    DeviceError,
    DeviceUnavailableError,
    default_device,
    get_default_device,
    memory_stats,
    set_default_device,
)


def test_cpu_is_interned_and_compares() -> None:
    cpu = Device("cpu")
    assert cpu is Device("CPU") is Device(cpu) is Device("cpu:0")
    assert cpu == "cpu" and cpu != "cuda-sim-typo" and str(cpu) == "cpu" and repr(cpu) == "Device('cpu')"
    assert cpu.type == "cpu" and cpu.index is None
    assert hash(cpu) == hash(Device("cpu"))
    assert pickle.loads(pickle.dumps(cpu)) is cpu


def test_cpu_backend_shares_host_memory() -> None:
    backend = Device("cpu").backend
    array = np.arange(3.0)
    assert backend.xp is np and backend.host_memory
    assert backend.from_numpy(array) is array and backend.to_numpy(array) is array
    assert memory_stats("cpu") == {"in_use": 0, "cached": 0, "peak": 0, "limit": 0}


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "cpu:1", "", "cuda:-1"])
def test_malformed_device_strings(spec: str) -> None:
    with pytest.raises(DeviceError):
        Device(spec)


def test_non_string_spec() -> None:
    with pytest.raises(DeviceError, match="expected a string"):
        Device(0)  # type: ignore[arg-type]


def test_index_given_twice() -> None:
    with pytest.raises(DeviceError, match="index given twice"):
        Device("cuda:0", 1)


def test_device_is_immutable() -> None:
    with pytest.raises(AttributeError):
        Device("cpu").type = "cuda"  # type: ignore[misc]


def test_cuda_without_gpu_fails_at_once() -> None:
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            pytest.skip("a GPU is present")
    except Exception:
        pass
    with pytest.raises(DeviceUnavailableError):
        Device("cuda")


def test_default_device() -> None:
    # AXON_DEFAULT_DEVICE picks the default (make test-sim runs this suite with cuda-sim).
    expected = Device(os.environ.get("AXON_DEFAULT_DEVICE", "cpu"))
    assert get_default_device() is expected
    assert default_device(None) is expected and default_device("cpu") is Device("cpu")
    try:
        set_default_device("cpu")
        assert get_default_device() is Device("cpu")
    finally:
        set_default_device(expected)


def test_cuda_peak_tracker_sees_freed_temporaries() -> None:
    # No GPU here: a stand-in pool with CuPy's malloc/used_bytes interface drives the tracker
    # the CUDA backend installs as CuPy's allocator.
    from axon_core.backend.cuda.runtime import _PeakTracker

    class Pool:
        used = 0

        def malloc(self, size: int) -> int:
            self.used += size
            return size

        def used_bytes(self) -> int:
            return self.used

    pool = Pool()
    tracker = _PeakTracker(pool)
    tracker.malloc(100)
    tracker.malloc(400)
    pool.used -= 400  # the temporary is freed before anyone reads the stats
    tracker.malloc(50)
    assert tracker.peak == 500 and pool.used_bytes() == 150
