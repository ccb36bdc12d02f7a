"""``Tensor (op) Variable`` in both orders, as PyTorch's ``tensor (op) parameter``: values and gradients
against torch (a plain Tensor defers to the Variable's reflected operator)."""

from __future__ import annotations

import operator

import numpy as np
import pytest
import torch

import axon_tensor as at
from axon_autograd import Variable

RNG = np.random.default_rng(3)
A = RNG.uniform(0.5, 2.0, (3, 4))
B = RNG.uniform(0.5, 2.0, (3, 4))

DIFFERENTIABLE = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "pow": operator.pow,
    "mod": operator.mod,
}
COMPARISONS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "floordiv": operator.floordiv,
}
INTEGER = {
    "and": operator.and_,
    "or": operator.or_,
    "xor": operator.xor,
    "lshift": operator.lshift,
    "rshift": operator.rshift,
}


@pytest.mark.parametrize("variable_first", [False, True], ids=["tensor-op-variable", "variable-op-tensor"])
@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_mixed_differentiable_operators_match_torch(name: str, variable_first: bool) -> None:
    op = DIFFERENTIABLE[name]
    plain, var = at.tensor(A), Variable(at.tensor(B), requires_grad=True)
    t_plain, t_var = torch.tensor(A), torch.tensor(B, requires_grad=True)
    ours = op(var, plain) if variable_first else op(plain, var)
    theirs = op(t_var, t_plain) if variable_first else op(t_plain, t_var)
    assert isinstance(ours, Variable) and ours.grad_fn is not None
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(var.grad.numpy(), t_var.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_mixed_matmul_matches_torch() -> None:
    plain, var = at.tensor(A), Variable(at.tensor(B.T.copy()), requires_grad=True)
    t_plain, t_var = torch.tensor(A), torch.tensor(B.T.copy(), requires_grad=True)
    for ours, theirs in ((plain @ var, t_plain @ t_var), (var @ plain, t_var @ t_plain)):
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(var.grad.numpy(), t_var.grad.numpy(), rtol=1e-12)
        var.grad, t_var.grad = None, None


@pytest.mark.parametrize("variable_first", [False, True], ids=["tensor-op-variable", "variable-op-tensor"])
@pytest.mark.parametrize("name", sorted(COMPARISONS))
def test_mixed_comparisons_match_torch(name: str, variable_first: bool) -> None:
    op = COMPARISONS[name]
    b = np.where(RNG.random(B.shape) < 0.3, A, B)  # some equal elements
    plain, var = at.tensor(A), Variable(at.tensor(b), requires_grad=True)
    t_plain, t_var = torch.tensor(A), torch.tensor(b, requires_grad=True)
    ours = op(var, plain) if variable_first else op(plain, var)
    theirs = op(t_var, t_plain) if variable_first else op(t_plain, t_var)
    assert isinstance(ours, Variable) and not ours.requires_grad
    np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())


@pytest.mark.parametrize("variable_first", [False, True], ids=["tensor-op-variable", "variable-op-tensor"])
@pytest.mark.parametrize("name", sorted(INTEGER))
def test_mixed_integer_operators_match_torch(name: str, variable_first: bool) -> None:
    op = INTEGER[name]
    a, b = RNG.integers(0, 64, (3, 4)), RNG.integers(0, 5, (3, 4))
    plain, var = at.tensor(a), Variable(at.tensor(b))
    ours = op(var, plain) if variable_first else op(plain, var)
    theirs = op(torch.tensor(b), torch.tensor(a)) if variable_first else op(torch.tensor(a), torch.tensor(b))
    assert isinstance(ours, Variable)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_other_operands_still_raise_the_ops_error() -> None:
    with pytest.raises(TypeError, match="add: unsupported operand of type str"):
        at.ones(2) + "a"
    with pytest.raises(TypeError):
        at.ones(2) @ [1.0, 2.0]
