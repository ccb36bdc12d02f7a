"""Engine semantics: accumulation, retain_graph, leaves and non-leaves, hooks, grad modes,
detach, grad(), custom Functions and double backward; oracles are hand derivatives and
finite differences."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from axon_autograd import (
    Function,
    Variable,
    backward,
    enable_grad,
    grad,
    gradcheck,
    gradgradcheck,
    is_grad_enabled,
    no_grad,
    once_differentiable,
    set_grad_enabled,
)
from axon_core import DTypeError, ShapeError
from axon_tensor import tensor


def leaf(values, requires_grad=True):
    return Variable(tensor(np.asarray(values, dtype=np.float64)), requires_grad=requires_grad)


X = np.array([0.5, -1.5, 2.0])
Y = np.array([1.5, 2.5, -0.75])


def test_gradients_accumulate_over_backward_calls():
    x = leaf(X)
    for _ in range(3):
        (x * x).backward(tensor(np.ones(3)))
    np.testing.assert_allclose(x.grad.numpy(), 3 * 2 * X)


def test_a_variable_used_twice_sums_both_paths():
    x = leaf(X)
    y = x * 3.0 + x * x
    y.backward(tensor(np.ones(3)))
    np.testing.assert_allclose(x.grad.numpy(), 3 + 2 * X)


def test_shared_gradient_is_not_aliased_between_leaves():
    x, y = leaf(X), leaf(Y)
    (x + y).backward(tensor(np.ones(3)))
    x.grad.data.array[...] = 7.0
    np.testing.assert_allclose(y.grad.numpy(), np.ones(3))


def test_second_backward_without_retain_graph_raises():
    x = leaf(X)
    y = x * x
    y.backward(tensor(np.ones(3)))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward(tensor(np.ones(3)))


def test_retain_graph_allows_second_backward():
    x = leaf(X)
    y = x * x
    y.backward(tensor(np.ones(3)), retain_graph=True)
    y.backward(tensor(np.ones(3)))
    np.testing.assert_allclose(x.grad.numpy(), 4 * X)


def test_implicit_gradient_needs_one_element():
    x = leaf(X)
    with pytest.raises(RuntimeError, match="one element"):
        (x * 2.0).backward()
    s = leaf([2.0])
    (s * s).backward()
    np.testing.assert_allclose(s.grad.numpy(), [4.0])


def test_gradient_shape_must_match():
    x = leaf(X)
    with pytest.raises(ShapeError):
        (x * 2.0).backward(tensor(np.ones(4)))


def test_backward_on_variable_without_grad_raises():
    x = leaf(X, requires_grad=False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2.0).backward(tensor(np.ones(3)))


def test_leaf_and_non_leaf_flags_and_grads():
    x = leaf(X)
    y = x * 2.0
    z = y * y
    assert x.is_leaf and not y.is_leaf and y.requires_grad and y.grad_fn.name() == "MulBackward"
    z.backward(tensor(np.ones(3)))
    with pytest.warns(UserWarning, match="not a leaf"):
        assert y.grad is None
    np.testing.assert_allclose(x.grad.numpy(), 8 * X)


def test_retain_grad_keeps_non_leaf_grad_without_warning():
    x = leaf(X)
    y = x * 2.0
    y.retain_grad()
    (y * y).backward(tensor(np.ones(3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(y.grad.numpy(), 2 * (2 * X))
    assert y.retains_grad


def test_requires_grad_rules():
    x = leaf(X)
    y = x * 2.0
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    with pytest.raises(DTypeError):
        Variable(tensor([1, 2, 3]), requires_grad=True)
    z = leaf(X, requires_grad=False).requires_grad_()
    assert z.requires_grad and z.is_leaf


def test_hooks_modify_grads_and_can_be_removed():
    x = leaf(X)
    seen = []
    handle = x.register_hook(lambda g: g * 10.0)
    y = x * 3.0
    y.register_hook(lambda g: seen.append(g.numpy().copy()))
    y.register_hook(lambda g: g + 1.0)
    y.backward(tensor(np.ones(3)))
    np.testing.assert_allclose(seen[0], np.ones(3))
    np.testing.assert_allclose(x.grad.numpy(), 10 * 3 * 2 * np.ones(3))
    handle.remove()
    x.grad = None
    (x * 3.0).backward(tensor(np.ones(3)))
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.ones(3))


def test_hook_on_variable_without_grad_raises():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        leaf(X, requires_grad=False).register_hook(lambda g: g)


def test_no_grad_enable_grad_set_grad_enabled():
    x = leaf(X)
    with no_grad():
        assert not is_grad_enabled()
        y = x * 2.0
        with enable_grad():
            z = x * 2.0
    assert not y.requires_grad and y.grad_fn is None and z.requires_grad
    set_grad_enabled(False)
    try:
        assert not (x * 2.0).requires_grad
    finally:
        set_grad_enabled(True)
    with set_grad_enabled(False):
        assert not is_grad_enabled()
    assert is_grad_enabled()

    @no_grad()
    def doubled(v):
        return v * 2.0

    assert not doubled(x).requires_grad


def test_detach_cuts_the_graph_and_shares_storage():
    x = leaf(X)
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.is_leaf
    y = x * 2.0
    y_detached = y.detach()
    (x * y_detached).backward(tensor(np.ones(3)))
    np.testing.assert_allclose(x.grad.numpy(), 2 * X)
    y_detached.data.array[0] = 100.0
    assert y.data.numpy()[0] == 100.0


def test_inplace_on_leaf_that_requires_grad_raises_and_works_under_no_grad():
    x = leaf(X)
    with pytest.raises(RuntimeError, match="in-place"):
        x.zero_()
    with no_grad():
        x.zero_()
    np.testing.assert_allclose(x.data.numpy(), 0)


def test_modified_saved_variable_is_detected():
    x = leaf(X)
    w = leaf(Y, requires_grad=False)
    y = x * w
    w.fill_(3.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward(tensor(np.ones(3)))


def test_grad_function_returns_without_touching_leaves():
    x, y = leaf(X), leaf(Y)
    z = x * y + x
    gx, gy = grad(z, [x, y], tensor(np.ones(3)))
    np.testing.assert_allclose(gx.numpy(), Y + 1)
    np.testing.assert_allclose(gy.numpy(), X)
    assert x.grad is None and y.grad is None


def test_grad_allow_unused():
    x, y = leaf(X), leaf(Y)
    z = x * 2.0
    with pytest.raises(RuntimeError, match="not to have been used"):
        grad(z, [x, y], tensor(np.ones(3)), retain_graph=True)
    gx, gy = grad(z, [x, y], tensor(np.ones(3)), allow_unused=True)
    assert gy is None
    np.testing.assert_allclose(gx.numpy(), 2 * np.ones(3))


def test_grad_of_non_leaf_input():
    x = leaf(X)
    h = x * x
    out = h * 3.0
    (gh,) = grad(out, [h], tensor(np.ones(3)))
    np.testing.assert_allclose(gh.numpy(), 3 * np.ones(3))


def test_backward_with_inputs_only_fills_those():
    x, y = leaf(X), leaf(Y)
    (x * y).backward(tensor(np.ones(3)), inputs=[x])
    np.testing.assert_allclose(x.grad.numpy(), Y)
    assert y.grad is None


def test_backward_of_several_roots():
    x = leaf(X)
    a, b = x * 2.0, x * x
    backward([a, b], [tensor(np.ones(3)), tensor(np.ones(3))])
    np.testing.assert_allclose(x.grad.numpy(), 2 + 2 * X)


class CubeWithIndex(Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        idx = tensor(np.arange(x.shape[0]))
        ctx.mark_non_differentiable(idx)
        return x * x * x * scale, idx

    @staticmethod
    def backward(ctx, g, g_idx):
        (x,) = ctx.saved_tensors
        assert ctx.needs_input_grad == (True, False)
        return g * x * x * (3.0 * ctx.scale), None


def test_custom_function_with_non_differentiable_output():
    x = leaf(X)
    y, idx = CubeWithIndex.apply(x, 2.0)
    assert y.requires_grad and not idx.requires_grad
    assert gradcheck(lambda v: CubeWithIndex.apply(v, 2.0)[0], (x,))
    assert gradgradcheck(lambda v: CubeWithIndex.apply(v, 2.0)[0], (x,))


class OnceSquare(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x.data * 2.0


def test_once_differentiable_gives_first_gradient_and_refuses_second():
    x = leaf(X)
    assert gradcheck(OnceSquare.apply, (x,))
    (g,) = grad(OnceSquare.apply(x), [x], tensor(np.ones(3)), create_graph=True)
    np.testing.assert_allclose(g.data.numpy(), 2 * X)
    with pytest.raises(RuntimeError, match="once-differentiable"):
        g.backward(tensor(np.ones(3)))


def test_double_backward_matches_finite_differences_of_the_gradient():
    x, y = leaf(X), leaf(Y)
    assert gradgradcheck(lambda a, b: a * a * b / (b * b + 1.0) - a**3.0 + 2.0**a, (x, y))


def test_create_graph_gradient_is_differentiable():
    x = leaf([1.5])
    y = x**3.0
    (g,) = grad(y, [x], create_graph=True)
    assert g.requires_grad
    g.backward()
    np.testing.assert_allclose(x.grad.numpy(), [6 * 1.5])


def test_numpy_of_variable_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="detach"):
        leaf(X).numpy()


def test_reflected_scalar_ops_gradients():
    x = leaf([0.5, 2.0, 4.0])
    assert gradcheck(lambda v: (2.0 - v) * (3.0 / v) + (1.0 + v) - (-v) + 2.0**v, (x,))


def test_dtype_of_gradient_matches_the_leaf():
    x = Variable(tensor(np.array([1.0, 2.0], dtype=np.float32)), requires_grad=True)
    y = x.to("float64") * 2.0
    y.backward(tensor(np.ones(2)))
    assert x.grad.dtype.name == "float32"
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_tensor_op_without_rule_raises_instead_of_dropping_the_gradient():
    x = leaf([[0.25, 0.5], [0.75, 0.5]])
    with pytest.raises(RuntimeError, match="logit has no autograd rule"):
        x.logit()
    np.testing.assert_allclose(x.detach().logit().numpy(), np.log(np.array([[1 / 3, 1.0], [3.0, 1.0]])), rtol=1e-6)
    assert x.is_contiguous() and x.stride() == (2, 1)


def test_comparisons_give_variables_without_grad():
    x = leaf([1.0, -2.0])
    mask = x > 0
    assert not mask.requires_grad and mask.dtype.name == "bool"
    np.testing.assert_array_equal(mask.numpy(), [True, False])


def test_setitem_is_refused_on_graph_variables_and_allowed_under_no_grad():
    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="in-place"):
        x[0] = 5.0
    with no_grad():
        x[0] = 5.0
    np.testing.assert_allclose(x.data.numpy(), [5.0, 2.0, 3.0])
