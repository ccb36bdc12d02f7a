"""cuda-sim's source rewrites, g++ disk cache, memory pool and backend."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from axon_core import Device, sim
from axon_core.sim import compiler
from axon_core.sim.pool import SimMemoryPool, SimOutOfMemoryError
from axon_core.sim.rewrite import kernel_names, mark_static_shared, rewrite_dynamic_shared


def test_kernel_names_skip_templates_comments_and_device_functions():
    source = r"""
    __device__ float helper(float x) { return x; }
    // extern "C" __global__ void commented_out(float* x) {}
    template <typename T> __global__ void templated(T* x) {}
    extern "C" __global__ void __launch_bounds__(256) first(float* x) {}
    extern "C" __global__ void second (int n) {}
    /* __global__ void also_commented(float* x) {} */
    """
    assert kernel_names(source) == ["first", "second"]


def test_extern_shared_becomes_a_pointer_at_function_and_file_scope():
    source = (
        "extern __shared__ __align__(16) unsigned char file_smem[];\n"
        'extern "C" __global__ void k(float* y) {\n'
        "    extern __shared__ float smem[];\n"
        "}\n"
    )
    rewritten = rewrite_dynamic_shared(source)
    assert "float* const smem = reinterpret_cast<float*>(::axon_sim::dynamic_shared());" in rewritten
    assert "#define file_smem (reinterpret_cast<unsigned char*>(::axon_sim::dynamic_shared()))" in rewritten
    assert "extern __shared__" not in rewritten


def test_static_shared_declarations_are_marked_for_poisoning():
    source = (
        "__shared__ float at_file_scope[4];\n"
        'extern "C" __global__ void k(float* y) {\n'
        "    __shared__ float tile[32][33];\n"
        "    __shared__ __align__(16) int counter;\n"
        "    __shared__ float a[2], b[2];\n"
        "}\n"
    )
    marked = mark_static_shared(source)
    assert "__shared__ float tile[32][33]; ::axon_sim::fresh_shared(&tile, sizeof(tile));" in marked
    assert "int counter; ::axon_sim::fresh_shared(&counter, sizeof(counter));" in marked
    assert "at_file_scope, " not in marked and "fresh_shared(&at_file_scope" not in marked
    assert "fresh_shared(&b" not in marked and "fresh_shared(&a" not in marked


def test_dynamic_shared_memory_at_file_scope_runs():
    module = sim.module(
        "extern __shared__ float buffer[];\n"
        'extern "C" __global__ void reverse(const float* x, float* y) {\n'
        "    buffer[threadIdx.x] = x[blockIdx.x * blockDim.x + threadIdx.x];\n"
        "    __syncthreads();\n"
        "    y[blockIdx.x * blockDim.x + threadIdx.x] = buffer[blockDim.x - 1 - threadIdx.x];\n"
        "}\n",
        name="file_scope_shared",
    )
    x = np.arange(3 * 96, dtype=np.float32)
    y = np.zeros_like(x)
    module.get_function("reverse")((3,), (96,), (x, y), 96 * 4)
    np.testing.assert_array_equal(y, x.reshape(3, 96)[:, ::-1].ravel())


def test_disk_cache_is_keyed_reused_and_rebuilt_when_damaged(tmp_path, monkeypatch):
    monkeypatch.setenv("AXON_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(compiler, "_loaded", {})
    source = 'extern "C" __global__ void add_one(float* y) { y[threadIdx.x] += 1.f; }\n'
    first = compiler.compile_library(source, label="cached")
    built = sorted((tmp_path / "sim").glob("cached-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    # A new process would load the file, not compile: simulate it by dropping the in-process cache.
    monkeypatch.setattr(compiler, "_loaded", {})
    compiler.compile_library(source, label="cached")
    assert built[0].stat().st_mtime_ns == stamp
    # Different flags are a different entry.
    compiler.compile_library(source, ("-DUNUSED=1",), label="cached")
    assert len(list((tmp_path / "sim").glob("cached-*.so"))) == 2
    # A truncated entry is detected at load and rebuilt (in a fresh process: this one already
    # has the library mapped, and dlopen would hand back the loaded copy).
    built[0].write_bytes(b"\x7fELF truncated")
    script = f"from axon_core.sim import compiler\ncompiler.compile_library({source!r}, label='cached')\n"
    subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ, "AXON_CACHE_DIR": str(tmp_path)})
    assert built[0].stat().st_size > 1000
    assert first is not None
    assert not list((tmp_path / "sim").glob("*.partial")) and not list((tmp_path / "sim").glob(".*.cpp"))


def test_pool_accounts_in_use_cached_peak_and_limit():
    pool = SimMemoryPool()
    a = pool.empty((100,), np.float32)  # 400 bytes -> one 512-byte block
    b = pool.empty((1000,), np.float64)  # 8000 -> 8192
    assert pool.stats() == {"in_use": 512 + 8192, "cached": 0, "peak": 512 + 8192, "limit": 0}
    view = b[::3]
    del b
    assert pool.stats()["in_use"] == 512 + 8192  # a view keeps its block
    del view
    assert pool.stats() == {"in_use": 512, "cached": 8192, "peak": 8704, "limit": 0}
    c = pool.empty((2048,), np.float32)  # reuses the cached 8192-byte block
    assert pool.stats()["cached"] == 0 and pool.stats()["in_use"] == 8704
    pool.reset_peak()
    pool.set_limit(10_000)
    with pytest.raises(SimOutOfMemoryError, match="out of memory allocating 4000 bytes"):
        pool.empty((1000,), np.float32)
    del a, c
    pool.empty((1000,), np.float32)  # fits once the cache is given back
    assert pool.stats()["limit"] == 10_000


def test_backend_copies_data_in_and_out_like_a_device():
    backend = Device("cuda-sim").backend
    assert backend.xp is np and backend.host_memory
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    on_device = backend.from_numpy(host)
    host[0, 0] = 100
    assert on_device[0, 0] == 0  # a copy, not a view of the host array
    back = backend.to_numpy(on_device)
    on_device[1, 1] = -1
    assert back[1, 1] == 4
    before = backend.memory_stats()["in_use"]
    extra = backend.from_numpy(np.zeros(10_000, np.float32))
    assert backend.memory_stats()["in_use"] >= before + 40_000
    del extra
    assert backend.memory_stats()["in_use"] == before


def test_backend_needs_no_cupy():
    script = (
        "import sys\n"
        "sys.modules['cupy'] = None  # any import of CuPy now fails\n"
        "import numpy as np\n"
        "from axon_core import Device\n"
        "b = Device('cuda-sim').backend\n"
        "y = b.to_numpy(b.softmax(b.from_numpy(np.ones((2, 5), np.float32)), -1))\n"
        "print(y.shape, bool(np.allclose(y, 0.2, rtol=1e-6)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "(2, 5) True"
