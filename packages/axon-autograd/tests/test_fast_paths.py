"""The cheap paths keep the semantics: ops that record nothing, ``setup_context``-style
Functions, Python-scalar operands, saved plain Tensors, and PyTorch-style reprs. Oracles are
NumPy values, hand derivatives and finite differences (gradcheck)."""

from __future__ import annotations

import numpy as np
import pytest

from axon_autograd import Function, Variable, gradcheck, gradgradcheck, no_grad, once_differentiable
from axon_tensor import Tensor, tensor

X = np.array([[0.5, -1.5, 2.0], [1.0, 0.25, -3.0]])
Y = np.array([[1.5, 2.5, -0.75], [-2.0, 0.5, 4.0]])


def leaf(values, requires_grad=True):
    return Variable(tensor(np.asarray(values, dtype=np.float64)), requires_grad=requires_grad)


class ScaledProduct(Function):
    """``a * b * scale`` written PyTorch-2 style: forward without ctx, setup_context fills it."""

    setup_context_calls = 0

    @staticmethod
    def forward(a, b, scale):
        return a * b * scale

    @staticmethod
    def setup_context(ctx, inputs, output):
        ScaledProduct.setup_context_calls += 1
        a, b, scale = inputs
        assert a.__class__ is Tensor and b.__class__ is Tensor and output.__class__ is Tensor
        ctx.save_for_backward(a, b)
        ctx.scale = scale

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb, _ = ctx.needs_input_grad
        return (g * b * ctx.scale if na else None, g * a * ctx.scale if nb else None, None)


def test_setup_context_function_records_and_differentiates_twice():
    x, y = leaf(X), leaf(Y)
    out = ScaledProduct.apply(x, y, 3.0)
    assert out.grad_fn is not None and out.grad_fn.needs_input_grad == (True, True, False)
    np.testing.assert_allclose(out.data.numpy(), X * Y * 3.0)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), Y * 3.0)
    np.testing.assert_allclose(y.grad.numpy(), X * 3.0)
    assert gradcheck(lambda a, b: ScaledProduct.apply(a, b, 3.0), (leaf(X), leaf(Y)))
    assert gradgradcheck(lambda a, b: ScaledProduct.apply(a, b, 3.0), (leaf(X), leaf(Y)))


def test_setup_context_is_skipped_when_nothing_is_recorded():
    before = ScaledProduct.setup_context_calls
    x = leaf(X)
    with no_grad():
        out = ScaledProduct.apply(x, leaf(Y), 2.0)
    plain = ScaledProduct.apply(leaf(X, False), tensor(Y), 2.0)
    assert ScaledProduct.setup_context_calls == before
    for v in (out, plain):
        assert type(v) is Variable and v.grad_fn is None and not v.requires_grad
        np.testing.assert_allclose(v.data.numpy(), X * Y * 2.0)


def test_ops_under_no_grad_build_no_node_and_match_numpy():
    x, y = leaf(X), leaf(Y)
    with no_grad():
        results = {
            "mul": x * y,
            "rmul": 2.5 * x,
            "add": x + y,
            "sub": 1.0 - x,
            "div": x / y,
            "matmul": x @ y.T,
            "tanh": x.tanh(),
            "sum": x.sum(1),
            "mean": x.mean(),
            "reshape": x.reshape(3, 2),
            "T": x.T,
            "index": x[1:, ::2],
            "expand": x[:1].expand(4, 3),
        }
    expected = {
        "mul": X * Y,
        "rmul": 2.5 * X,
        "add": X + Y,
        "sub": 1.0 - X,
        "div": X / Y,
        "matmul": X @ Y.T,
        "tanh": np.tanh(X),
        "sum": X.sum(1),
        "mean": X.mean(),
        "reshape": X.reshape(3, 2),
        "T": X.T,
        "index": X[1:, ::2],
        "expand": np.broadcast_to(X[:1], (4, 3)),
    }
    for name, v in results.items():
        assert v.grad_fn is None and not v.requires_grad, name
        np.testing.assert_allclose(v.data.numpy(), expected[name], err_msg=name)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_python_scalar_operands_keep_the_tensor_dtype_and_values(dtype):
    a = np.array([[0.1, -2.5, 3.0], [65000.0, 1e-3, -7.25]], dtype=dtype)
    t = tensor(a)
    # float16 overflows to inf here, as in PyTorch; NumPy's overflow warnings are beside the point.
    with np.errstate(over="ignore"):
        for scalar in (0.1, 3, -1e6, 2**40):
            for got, want in (
                (t * scalar, a * dtype(scalar)),
                (scalar * t, dtype(scalar) * a),
                (t + scalar, a + dtype(scalar)),
                (t - scalar, a - dtype(scalar)),
                (scalar - t, dtype(scalar) - a),
            ):
                assert got.numpy().dtype == dtype
                np.testing.assert_array_equal(got.numpy(), want)


def test_python_scalar_with_integer_tensor_still_promotes():
    t = tensor(np.array([1, 2, 3]))
    assert (t * 2).numpy().dtype == np.int64
    np.testing.assert_array_equal((t * 2).numpy(), [2, 4, 6])
    half = t * 0.5
    assert half.numpy().dtype == np.float32
    np.testing.assert_array_equal(half.numpy(), [0.5, 1.0, 1.5])


def test_scalar_ops_on_variables_record_and_match_hand_derivatives():
    x = leaf(X)
    y = (3.0 * x - 1) * x + 2 / (x * x + 1.0)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * X - 1 - 4 * X / (X * X + 1) ** 2)
    assert gradcheck(lambda v: (3.0 * v - 1) * v + 2 / (v * v + 1.0), (leaf(X),))


def test_constant_tensor_saved_for_backward_gives_its_values():
    x = leaf(X)
    c = tensor(Y)
    out = x * c
    (x * c).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), Y)
    assert out.grad_fn.saved_count() == 1 and out.grad_fn.saved_nbytes() == Y.nbytes


def test_multi_output_node_gets_zeros_for_unused_outputs():
    x = leaf(np.arange(6.0).reshape(2, 3))
    first, _ = x.split(1, dim=0)
    first.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1, 1, 1], [0, 0, 0]])


def test_repr_is_pytorch_style():
    x = leaf([1.0, 2.0])
    assert repr(x) == repr(x.data)[:-1] + ", requires_grad=True)"
    y = x * 2.0
    assert repr(y) == repr(y.data)[:-1] + ", grad_fn=<MulBackward>)"
    assert repr(leaf([1.0], requires_grad=False)) == repr(tensor(np.array([1.0])))
    assert repr(y.detach()) == repr(y.data)
    assert repr(x).startswith("tensor([1., 2.]")


# -- fresh gradients: a leaf takes the Tensor a fresh_gradients backward returned, no copy -------
def _twice_function(fresh: bool, same_tensor_for_both: bool = False, once: bool = False) -> tuple[type, list]:
    """``(a * 2, b * 2)``'s Function; its backward records the Tensors it returned.

    ``once``: the backward is ``once_differentiable`` (as Linear's and Conv's are), so it sees
    and returns raw Tensors.
    """
    returned: list = []

    def twice_backward(ctx, g):
        g = g.data if isinstance(g, Variable) else g
        grad_a = g * 2.0
        grad_b = grad_a if same_tensor_for_both else g * 2.0
        returned[:] = [grad_a, grad_b]
        return grad_a, grad_b

    class Twice(Function):
        fresh_gradients = fresh

        backward = staticmethod(once_differentiable(twice_backward) if once else twice_backward)

        @staticmethod
        def forward(ctx, a, b):
            return a * 2.0 + b * 2.0

    return Twice, returned


@pytest.mark.parametrize("once", [False, True], ids=["plain", "once_differentiable"])
def test_fresh_gradients_are_handed_to_empty_leaf_grads_without_a_copy(once):
    twice, returned = _twice_function(fresh=True, once=once)
    a, b = leaf(X), leaf(Y)
    twice.apply(a, b).sum().backward()
    assert a.grad.data is returned[0] and b.grad.data is returned[1]
    np.testing.assert_array_equal(a.grad.numpy(), np.full(X.shape, 2.0))
    # A second backward accumulates into the taken Tensors in place: values add up.
    twice.apply(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full(X.shape, 4.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.full(Y.shape, 4.0))


@pytest.mark.parametrize("once", [False, True], ids=["plain", "once_differentiable"])
def test_gradients_are_copied_unless_fresh_and_unshared(once):
    plain, returned = _twice_function(fresh=False, once=once)
    a, b = leaf(X), leaf(Y)
    plain.apply(a, b).sum().backward()
    assert a.grad.data is not returned[0] and b.grad.data is not returned[1]

    # One Tensor returned for two leaves: each leaf gets its own copy, so accumulating into one
    # leaves the other alone.
    shared, returned = _twice_function(fresh=True, same_tensor_for_both=True, once=once)
    a, b = leaf(X), leaf(Y)
    shared.apply(a, b).sum().backward()
    assert a.grad.data is not returned[0] and b.grad.data is not returned[0]
    a.grad.data.array[...] += 1.0
    np.testing.assert_array_equal(b.grad.numpy(), np.full(Y.shape, 2.0))

    # A hook on the leaf may keep the gradient it is shown: the leaf then takes a copy.
    fresh, returned = _twice_function(fresh=True, once=once)
    a, b = leaf(X), leaf(Y)
    seen: list = []
    a.register_hook(lambda g: seen.append(g))
    fresh.apply(a, b).sum().backward()
    assert a.grad.data is not returned[0] and b.grad.data is returned[1]
    a.grad.data.array[...] += 1.0
    np.testing.assert_array_equal(seen[0].numpy(), np.full(X.shape, 2.0))

    # The same leaf reached twice: the two gradients are summed into a new Tensor.
    twice, returned = _twice_function(fresh=True, once=once)
    a = leaf(X)
    twice.apply(a, a).sum().backward()
    assert all(a.grad.data is not r for r in returned)
    np.testing.assert_array_equal(a.grad.numpy(), np.full(X.shape, 4.0))


def test_a_function_without_backward_is_refused_when_defined():
    with pytest.raises(TypeError, match="OnlyForward must define backward"):

        class OnlyForward(Function):
            @staticmethod
            def forward(ctx, a):
                return a
