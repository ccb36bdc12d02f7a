"""MatmulPlan: the same bits as the general quant_matmul call (whose oracle is gguf.quants, see
test_kernels.py), checked again here against ``x @ gguf.quants.dequantize(raw).T`` in float64,
its fallback for other shapes and formats, and its refusals."""

from __future__ import annotations

import gguf
import numpy as np
import pytest

from axon_quant.errors import QuantError
from axon_quant.ggml_types import ggml_type
from axon_quant.kernels import MatmulPlan, quant_matmul
from axon_quant.tensor import QuantTensor

QUANTIZABLE = ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "f16", "f32"]


def weight(fmt: str, m: int, k: int, seed: int = 0) -> tuple[QuantTensor, np.ndarray]:
    values = np.random.default_rng(seed).standard_normal((m, k)).astype(np.float32)
    kind = gguf.GGMLQuantizationType[fmt.upper()]
    raw = gguf.quants.quantize(values, kind)
    raw = np.ascontiguousarray(raw).view(np.uint8).reshape(m, -1)
    return QuantTensor(raw, ggml_type(fmt), (m, k)), gguf.quants.dequantize(raw, kind)


@pytest.mark.parametrize("fmt", QUANTIZABLE)
@pytest.mark.parametrize("threads", [1, 2])
def test_one_row_equals_the_general_call_and_gguf(fmt, threads):
    w, dequantized = weight(fmt, 300, 256)
    plan = MatmulPlan(w, threads)
    x = np.random.default_rng(1).standard_normal(256).astype(np.float32)
    for shaped in (x, x.reshape(1, 256)):
        got = np.empty((300,) if shaped.ndim == 1 else (1, 300), np.float32)
        want = quant_matmul(shaped, w, threads=threads)
        assert plan(shaped, got) is got
        np.testing.assert_array_equal(got, want)
    exact = dequantized.astype(np.float64) @ x.astype(np.float64)
    bound = 1e-4 * np.abs(dequantized).max() * np.abs(x).sum()
    assert np.abs(got.reshape(-1) - exact).max() < bound


def test_several_rows_go_through_the_general_call():
    w, dequantized = weight("q4_1", 64, 128)
    x = np.random.default_rng(2).standard_normal((9, 128)).astype(np.float32)
    got = MatmulPlan(w)(x, np.empty((9, 64), np.float32))
    np.testing.assert_array_equal(got, quant_matmul(x, w))
    np.testing.assert_allclose(got, x @ dequantized.T, rtol=1e-4, atol=1e-4)


def test_bad_arguments_are_refused():
    w, _ = weight("q8_0", 64, 128)
    plan = MatmulPlan(w)
    with pytest.raises(QuantError, match="x of shape \\[100\\]"):
        plan(np.zeros(100, np.float32), np.zeros(64, np.float32))
    with pytest.raises(QuantError, match="x must be a float32"):
        plan(np.zeros(128, np.float64), np.zeros(64, np.float32))
    shared = np.zeros(192, np.float32)
    with pytest.raises(QuantError, match="overlaps x"):
        plan(shared[:128], shared[64:128])
    with pytest.raises(QuantError, match="threads must be a positive int"):
        MatmulPlan(w, threads=0)
    with pytest.raises(QuantError, match="w must be a QuantTensor"):
        MatmulPlan(np.zeros((4, 4), np.float32))
