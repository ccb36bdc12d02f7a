"""Autocast dtype policy: "lower" ops run in the low dtype, "fp32" ops in float32, gradients
come back to the leaves in their own dtype."""

from __future__ import annotations

import numpy as np
import pytest

from axon_autograd import Function, Variable, autocast, get_autocast_dtype, is_autocast_enabled
from axon_core import DTypeError
from axon_tensor import Tensor, tensor


class LowScale(Function):
    autocast_policy = "lower"

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * w

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return g * w, g * x


class Fp32Square(Function):
    autocast_policy = "fp32"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x * 2.0


def leaf32(values):
    return Variable(tensor(np.array(values, dtype=np.float32)), requires_grad=True)


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_lower_policy_casts_inputs_and_grads_return_in_float32(low):
    x, w = leaf32([1.5, -2.0, 0.25]), leaf32([2.0, 0.5, 4.0])
    with autocast(dtype=low):
        assert is_autocast_enabled() and get_autocast_dtype().name == low
        y = LowScale.apply(x, w)
        assert y.dtype.name == low
        z = Fp32Square.apply(y)
        assert z.dtype.name == "float32"
    assert not is_autocast_enabled()
    z.backward(tensor(np.ones(3, dtype=np.float32)))
    assert x.grad.dtype.name == "float32" and w.grad.dtype.name == "float32"
    xv, wv = np.array([1.5, -2.0, 0.25]), np.array([2.0, 0.5, 4.0])
    # Every value is exact in float16 and bfloat16, so the low-precision path must be exact too.
    np.testing.assert_array_equal(x.grad.numpy(), 2 * xv * wv * wv)
    np.testing.assert_array_equal(w.grad.numpy(), 2 * xv * xv * wv)


def test_no_cast_outside_autocast_or_when_disabled():
    x, w = leaf32([1.0]), leaf32([2.0])
    assert LowScale.apply(x, w).dtype.name == "float32"
    with autocast(dtype="float16"):
        with autocast(dtype="float16", enabled=False):
            assert LowScale.apply(x, w).dtype.name == "float32"
        assert LowScale.apply(x, w).dtype.name == "float16"


def test_float64_and_integer_inputs_follow_the_policy():
    x = Variable(tensor(np.array([1.0, 2.0])), requires_grad=True)
    with autocast(dtype="bfloat16"):
        assert LowScale.apply(x, x).dtype.name == "bfloat16"
        assert Fp32Square.apply(x).dtype.name == "float64"


def test_autocast_rejects_other_dtypes():
    with pytest.raises(DTypeError):
        autocast(dtype="float32")


@pytest.mark.skipif(
    not all(hasattr(Tensor, n) for n in ("matmul", "softmax", "sum")),
    reason="Tensor matmul/softmax/sum not in axon-tensor yet",
)
def test_builtin_ops_policy():
    a, b = leaf32(np.ones((2, 3))), leaf32(np.ones((3, 2)))
    with autocast(dtype="float16"):
        y = a @ b
        assert y.dtype.name == "float16"
        assert y.softmax(-1).dtype.name == "float32"
        assert y.sum().dtype.name == "float32"
        y.sum().backward()
    assert a.grad.dtype.name == "float32"
    np.testing.assert_allclose(a.grad.numpy(), np.full((2, 3), 2.0))
