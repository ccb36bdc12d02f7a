"""TernaryLinear (BitNet b1.58) against the paper's equations in NumPy: forward, straight-through
gradients, 2-bit packing, and the add/subtract-only inference path (exactly equal to the dense
ternary matmul). Finite differences do not apply: the quantised forward is piecewise constant."""

from __future__ import annotations

import numpy as np
import pytest

import axon_nn as nn
import axon_nn.functional as F
from axon_autograd import Variable
from axon_core import DTypeError, ShapeError
from axon_tensor import tensor

rng = np.random.default_rng(9)
EPS = 1e-5


def ref_weight(w):
    gamma = np.abs(w).mean()
    return np.clip(np.round(w / (gamma + EPS)), -1, 1), gamma


def ref_activations(x, bits=8):
    scale = (2 ** (bits - 1) - 1) / np.maximum(np.abs(x).max(-1, keepdims=True), EPS)
    return np.clip(np.round(x * scale), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1), scale


def make_layer(in_features=13, out_features=6, bias=True, activation_bits=8):
    layer = nn.TernaryLinear(in_features, out_features, bias=bias, activation_bits=activation_bits, dtype="float64")
    layer.weight.data.array[...] = rng.standard_normal((out_features, in_features))
    return layer


@pytest.mark.parametrize("activation_bits", [8, 4, None])
def test_forward_and_straight_through_gradients(activation_bits):
    layer = make_layer(activation_bits=activation_bits)
    x = rng.standard_normal((2, 5, 13)) * 3
    xv = Variable(tensor(x), requires_grad=True)
    y = layer(xv)
    w_q, gamma = ref_weight(layer.weight.data.numpy())
    if activation_bits is None:
        x_used = x
    else:
        codes, scale = ref_activations(x, activation_bits)
        x_used = codes / scale
    expected = x_used @ (w_q * gamma).T + layer.bias.data.numpy()
    np.testing.assert_allclose(y.data.numpy(), expected, rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(tensor(g))
    # STE: d/dW of (x_q (W_q γ)ᵀ) taken as if W_q γ were W; d/dx as if x_q were x.
    np.testing.assert_allclose(layer.weight.grad.numpy(), g.reshape(-1, 6).T @ x_used.reshape(-1, 13), rtol=1e-12)
    np.testing.assert_allclose(xv.grad.numpy(), g @ (w_q * gamma), rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.numpy(), g.reshape(-1, 6).sum(0), rtol=1e-12)


def test_quantised_weights_are_ternary_with_absmean_scale():
    w = rng.standard_normal((4, 9))
    codes, gamma = F.ternary_quantize(tensor(w))
    expected_codes, expected_gamma = ref_weight(w)
    np.testing.assert_array_equal(codes.numpy(), expected_codes)
    assert set(np.unique(codes.numpy())) <= {-1, 0, 1}
    assert gamma.item() == pytest.approx(expected_gamma, rel=1e-15)


@pytest.mark.parametrize("in_features", [1, 4, 13, 16, 0])
def test_pack_unpack_round_trip(in_features):
    codes = rng.integers(-1, 2, size=(5, in_features)).astype(np.int8)
    packed = F.pack_ternary(tensor(codes))
    assert packed.dtype.name == "uint8" and packed.shape == (5, -(-in_features // 4))
    np.testing.assert_array_equal(F.unpack_ternary(packed, in_features).numpy(), codes)


def test_pack_byte_layout():
    # codes + 1 = [2, 1, 0, 2] -> 2 | 1 << 2 | 0 << 4 | 2 << 6 = 134; a trailing lone -1 -> 0 | 1<<2 | 1<<4 | 1<<6 = 84
    packed = F.pack_ternary(tensor(np.array([[1, 0, -1, 1, -1]], dtype=np.int8))).numpy()
    np.testing.assert_array_equal(packed, [[134, 84]])


def test_packed_inference_equals_dense_ternary_matmul_exactly():
    layer = make_layer(in_features=37, out_features=11)
    x = rng.standard_normal((3, 4, 37))
    packed = layer.pack()
    assert packed.packed.shape == (11, 10)
    y = packed(tensor(x)).numpy()
    w_q, gamma = ref_weight(layer.weight.data.numpy())
    codes, scale = ref_activations(x)
    dense = (codes.astype(np.int64) @ w_q.astype(np.int64).T).astype(np.float64) * (
        gamma / scale
    ) + layer.bias.data.numpy()
    np.testing.assert_array_equal(y, dense)
    np.testing.assert_allclose(y, layer(tensor(x)).data.numpy(), rtol=1e-12, atol=1e-12)


def test_packed_inference_without_activation_quantisation():
    layer = make_layer(in_features=10, out_features=4, bias=False, activation_bits=None)
    x = rng.integers(-50, 50, size=(6, 10)).astype(np.float64)  # integer-valued: every sum is exact
    w_q, gamma = ref_weight(layer.weight.data.numpy())
    np.testing.assert_array_equal(layer.pack()(tensor(x)).numpy(), (x @ w_q.T) * gamma)
    x32 = rng.standard_normal((6, 10)).astype(np.float32)
    layer32 = nn.TernaryLinear(10, 4, activation_bits=None)
    out = layer32.pack()(tensor(x32))
    assert out.dtype.name == "float32"
    np.testing.assert_allclose(out.numpy(), layer32(tensor(x32)).data.numpy(), rtol=1e-5, atol=1e-6)


def test_non_contiguous_and_empty_batch():
    layer = make_layer(in_features=6, out_features=3)
    base = rng.standard_normal((6, 4))
    view = tensor(base).transpose(0, 1)
    np.testing.assert_allclose(layer.pack()(view).numpy(), layer.pack()(tensor(base.T.copy())).numpy())
    assert layer.pack()(tensor(np.zeros((0, 6)))).shape == (0, 3)
    assert layer(tensor(np.zeros((0, 6)))).shape == (0, 3)


def test_zero_input_row_and_bad_input():
    layer = make_layer(in_features=4, out_features=2, bias=False)
    np.testing.assert_array_equal(layer.pack()(tensor(np.zeros((1, 4)))).numpy(), 0.0)
    with pytest.raises(DTypeError, match="pack_ternary"):
        F.pack_ternary(tensor(np.array([[2, 0]], dtype=np.int8)))
    with pytest.raises(ShapeError, match="unpack_ternary"):
        F.unpack_ternary(F.pack_ternary(tensor(np.zeros((2, 5), dtype=np.int8))), 9)
    with pytest.raises(ShapeError, match="in_features=4"):
        layer.pack()(tensor(np.zeros((1, 5))))
    with pytest.raises(ValueError, match="bits"):
        F.activation_quant_ste(tensor(np.zeros(3)), 1)
