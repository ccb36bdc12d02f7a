"""SparseLinear against a dense NumPy Linear with the masked weight: forward, input/bias grads,
and value grads equal to the dense weight gradient restricted to the pattern."""

from __future__ import annotations

import numpy as np
import pytest

import axon_nn as nn
import axon_nn.functional as F
from axon_autograd import Variable, gradcheck
from axon_core import ShapeError
from axon_tensor import Generator, tensor

rng = np.random.default_rng(3)


def dense_of(layer):
    return layer.weight.to_dense().numpy()


@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 7), (0, 7)])
def test_matches_masked_dense_linear(shape):
    layer = nn.SparseLinear(7, 4, density=0.4, generator=Generator(1), dtype="float64")
    w = dense_of(layer)
    mask = w != 0
    assert layer.nnz == round(0.4 * 28) == mask.sum()
    x = Variable(tensor(rng.standard_normal(shape)), requires_grad=True)
    y = layer(x)
    np.testing.assert_allclose(y.data.numpy(), x.data.numpy() @ w.T + layer.bias.data.numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(tuple(y.shape))
    y.backward(tensor(g))
    g2, x2 = g.reshape(-1, 4), x.data.numpy().reshape(-1, 7)
    np.testing.assert_allclose(x.grad.numpy(), g @ w, rtol=1e-12, atol=1e-12)
    dense_weight_grad = g2.T @ x2
    np.testing.assert_allclose(layer.values.grad.numpy(), dense_weight_grad[mask], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.numpy(), g2.sum(0), rtol=1e-12, atol=1e-12)


def test_given_mask_and_from_dense():
    mask = rng.random((3, 5)) < 0.5
    mask[1] = False  # an empty row
    layer = nn.SparseLinear(5, 3, mask=mask, bias=False, dtype="float64")
    np.testing.assert_array_equal(dense_of(layer) != 0, mask)
    assert layer.crow_indices.numpy()[2] == layer.crow_indices.numpy()[1]
    weight = rng.standard_normal((3, 5)) * mask
    bias = rng.standard_normal(3)
    built = nn.SparseLinear.from_dense(tensor(weight), tensor(bias))
    x = rng.standard_normal((4, 5))
    np.testing.assert_allclose(built(tensor(x)).data.numpy(), x @ weight.T + bias, rtol=1e-12)
    np.testing.assert_allclose(built(tensor(x)).data.numpy()[:, 1], bias[1])


def test_gradcheck_input_values_bias():
    layer = nn.SparseLinear(4, 3, density=0.5, generator=Generator(2), dtype="float64")
    x = Variable(tensor(rng.standard_normal((2, 4))), requires_grad=True)
    assert gradcheck(lambda x, v, b: F.sparse_linear(x, layer.weight, v, b), (x, layer.values, layer.bias))


def test_non_contiguous_float32_and_zero_density():
    layer = nn.SparseLinear(6, 3, density=0.5)
    base = rng.standard_normal((6, 4)).astype(np.float32)
    x = Variable(tensor(base)).transpose(0, 1)
    y = layer(x)
    assert y.dtype.name == "float32"
    np.testing.assert_allclose(
        y.data.numpy(), base.T @ dense_of(layer).T + layer.bias.data.numpy(), rtol=1e-5, atol=1e-6
    )
    empty = nn.SparseLinear(6, 3, density=0.0)
    assert empty.nnz == 0
    out = empty(Variable(tensor(base.T.copy()), requires_grad=True))
    np.testing.assert_allclose(out.data.numpy(), np.broadcast_to(empty.bias.data.numpy(), (4, 3)))
    out.sum().backward()
    assert empty.values.grad.shape == (0,)


def test_state_dict_round_trip_and_errors():
    layer = nn.SparseLinear(5, 2, density=0.5, generator=Generator(4))
    assert set(layer.state_dict()) == {"crow_indices", "col_indices", "values", "bias"}
    other = nn.SparseLinear(5, 2, density=0.5, generator=Generator(4))
    other.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(dense_of(other), dense_of(layer))
    with pytest.raises(ShapeError, match="sparse_linear"):
        layer(tensor(np.zeros((2, 4), dtype=np.float32)))
    with pytest.raises(ShapeError, match="mask"):
        nn.SparseLinear(5, 2, mask=np.ones((5, 2)))
    with pytest.raises(ValueError, match="density"):
        nn.SparseLinear(5, 2, density=1.5)
    with pytest.raises(TypeError, match="SparseCSRTensor"):
        F.sparse_linear(tensor(np.zeros((1, 5))), tensor(np.zeros((2, 5))))
