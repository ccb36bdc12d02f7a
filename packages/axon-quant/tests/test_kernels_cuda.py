"""The quant_matmul CUDA kernels (axon-core's ``quant_matmul`` family) under ``cuda-sim``, which runs
the same CUDA C on the CPU: against NumPy float64 ``x @ gguf.quants.dequantize(raw).T`` and
against the Numba kernels, for every format with a CUDA kernel.

Shapes are small (the simulator runs one fiber per CUDA thread) but cover a row count no 4-row
thread block divides, one activation row (``quant_matvec_F``) and a row count no 8-row tile
divides (``quant_matmul_F``), and rows of several blocks so lanes take parts of different blocks.
Every launch runs in the simulator's debug mode: each array between guard pages, so a read or
write past an array fails the test. The tolerance is test_kernels.py's float32 bound (the kernel
decodes each weight to float32, one more rounding per term, inside the bound's ``T``); the Numba
and CUDA results, each within its own bound, are within the sum of the two of each other.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from axon_core import Device
from axon_quant.errors import QuantError
from axon_quant.ggml_types import ggml_type
from axon_quant.kernels import DEVICE_FORMATS, quant_matmul, to_device
from axon_quant.kernels.matmul import TILE_FROM
from axon_quant.tensor import QuantTensor

# The CPU tests' oracle helpers (pytest imports test files by path, so load it the same way).
_spec = importlib.util.spec_from_file_location("_axon_quant_test_kernels", Path(__file__).with_name("test_kernels.py"))
_cpu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cpu)
QUANTIZABLE, RANDOM_BYTES, U = _cpu.QUANTIZABLE, _cpu.RANDOM_BYTES, _cpu.U
code_bound, dequantize64 = _cpu.code_bound, _cpu.dequantize64
quantized, random_blocks = _cpu.quantized, _cpu.random_blocks


@pytest.fixture(scope="module")
def sim():
    env = pytest.MonkeyPatch()
    env.setenv("AXON_SIM_DEBUG", "1")
    yield Device("cuda-sim")
    env.undo()


def _blocks(name: str, m: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, DEVICE_FORMATS.index(name)])
    return quantized(rng, name, m, k) if name in QUANTIZABLE else random_blocks(rng, name, m, k)


@pytest.mark.parametrize("name", DEVICE_FORMATS)
@pytest.mark.parametrize("m, blocks, n", [(7, 1, 1), (13, 2, 11), (4, 3, 8)])
def test_cuda_sim_matches_gguf_and_numba(sim, name, m, blocks, n):
    assert set(DEVICE_FORMATS) == set(QUANTIZABLE + RANDOM_BYTES)
    t = ggml_type(name)
    k = blocks * max(t.block_size, 64)
    raw = _blocks(name, m, k, 1000 * m + n)
    x = np.random.default_rng(n).standard_normal((n, k)).astype(np.float32)
    backend = sim.backend
    w = to_device(QuantTensor(raw, name, (m, k)), sim)
    got = backend.to_numpy(quant_matmul(backend.from_numpy(x), w, device=sim))
    assert got.shape == (n, m) and got.dtype == np.float32
    expected = x.astype(np.float64) @ dequantize64(raw, name).T
    magnitude = U * (np.abs(x.astype(np.float64)) @ code_bound(raw, name).T) + 1e-30
    bound = (k // 16 + t.block_size + 16) * magnitude
    assert (np.abs(got - expected) / bound).max() <= 1.0
    cpu = quant_matmul(x, QuantTensor(raw, name, (m, k)))
    cpu_bound = ((k if n >= TILE_FROM else k // 16) + t.block_size + 16) * magnitude
    assert (np.abs(got - cpu) / (bound + cpu_bound)).max() <= 1.0
    vector = backend.to_numpy(quant_matmul(backend.from_numpy(x[-1]), w, device=sim))
    assert vector.shape == (m,)
    assert (np.abs(vector - expected[-1]) / bound[-1]).max() <= 1.0


def test_cuda_sim_writes_into_out(sim):
    raw = _blocks("q4_k", 6, 256, 3)
    backend = sim.backend
    w = to_device(QuantTensor(raw, "q4_k", (6, 256)), sim)
    x = np.random.default_rng(3).standard_normal((2, 256)).astype(np.float32)
    out = backend.from_numpy(np.full((2, 6), np.nan, np.float32))
    assert quant_matmul(backend.from_numpy(x), w, out, device=sim) is out
    np.testing.assert_allclose(backend.to_numpy(out), x @ dequantize64(raw, "q4_k").T, rtol=1e-5, atol=1e-5)


def test_cuda_sim_bad_input_raises_quant_error(sim):
    raw = _blocks("q8_0", 4, 64, 5)
    backend = sim.backend
    w = to_device(QuantTensor(raw, "q8_0", (4, 64)), sim)
    x = backend.from_numpy(np.zeros((3, 64), np.float32))
    with pytest.raises(QuantError, match=r"\[3, 32\].*\[4, 64\]"):
        quant_matmul(backend.from_numpy(np.zeros((3, 32), np.float32)), w, device=sim)
    with pytest.raises(QuantError, match="float32"):
        quant_matmul(backend.from_numpy(np.zeros((3, 64), np.float64)), w, device=sim)
    with pytest.raises(QuantError, match=r"out must be a contiguous float32 \[3, 4\]"):
        quant_matmul(x, w, backend.from_numpy(np.zeros((4, 3), np.float32)), device=sim)
    with pytest.raises(QuantError, match="no CUDA kernel for f16"):
        quant_matmul(x, QuantTensor(backend.from_numpy(np.zeros((4, 128), np.uint8)), "f16", (4, 64)), device=sim)
    with pytest.raises(QuantError, match="device is cpu"):
        to_device(QuantTensor(raw, "q8_0", (4, 64)), "cpu")
