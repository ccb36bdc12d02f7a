"""``Variable.register_post_accumulate_grad_hook``: runs once per backward on a leaf, after its
``.grad`` holds the sum of every use of the leaf, in the order backward reaches the leaves
(the hook a data-parallel wrapper starts its all-reduce from)."""

from __future__ import annotations

import numpy as np
import pytest

from axon_autograd import Function, Variable, backward, grad
from axon_tensor import tensor


def leaf(values):
    return Variable(tensor(np.asarray(values, dtype=np.float64)), requires_grad=True)


def test_hook_sees_the_accumulated_gradient_once_per_backward():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_post_accumulate_grad_hook(lambda v: seen.append(v.grad.numpy().copy()))
    # x is used three times: the hook runs once, after all three contributions are summed.
    ((x * x).sum() + (3 * x).sum() + x.sum()).backward()
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], 2 * np.array([1.0, 2.0]) + 4)
    # A second backward accumulates into .grad; the hook sees the running sum.
    (x * 2).sum().backward()
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[1], seen[0] + 2)


class _Counted(Function):
    """Identity whose backward counts its calls (to see what backward has done so far)."""

    calls = 0

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        _Counted.calls += 1
        return g


def test_hook_runs_as_soon_as_its_leaf_is_done_before_backward_ends():
    # loss = sum(chain(w_low * x) * w_top): w_top's gradient is final after the first node, so its
    # hook must run before the ten nodes of the chain below it have run.
    x, w_low, w_top = leaf([1.0, 2.0]), leaf([3.0, 4.0]), leaf([5.0, 6.0])
    _Counted.calls = 0
    seen = {}
    for name, w in (("top", w_top), ("low", w_low)):
        w.register_post_accumulate_grad_hook(lambda v, name=name: seen.update({name: _Counted.calls}))
    h = w_low * x
    for _ in range(10):
        h = _Counted.apply(h)
    (h * w_top).sum().backward()
    assert seen == {"top": 0, "low": 10}
    np.testing.assert_array_equal(w_low.grad.numpy(), [5.0, 12.0])


def test_hook_may_change_grad_in_place_and_can_be_removed():
    x = leaf([1.0, 2.0])

    def halve(v):
        v.grad.data.array[...] *= 0.5

    handle = x.register_post_accumulate_grad_hook(halve)
    (x * 4).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    handle.remove()
    x.grad = None
    (x * 4).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 4.0])


def test_backward_with_inputs_runs_the_hook_and_grad_does_not():
    x = leaf([1.0, 2.0])
    calls = []
    x.register_post_accumulate_grad_hook(lambda v: calls.append(1))
    (x * x).sum().backward(inputs=[x])
    assert calls == [1]
    grad((x * x).sum(), [x])  # grad() leaves .grad alone, so nothing was accumulated
    assert calls == [1]
    backward((x * 3).sum(), inputs=[x])
    assert calls == [1, 1]


def test_registration_errors_and_a_returned_value_is_an_error():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).register_post_accumulate_grad_hook(lambda v: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        Variable(tensor([1.0])).register_post_accumulate_grad_hook(lambda v: None)
    x.register_post_accumulate_grad_hook(lambda v: v.grad)
    with pytest.raises(RuntimeError, match="must return None"):
        (x * 2).sum().backward()
