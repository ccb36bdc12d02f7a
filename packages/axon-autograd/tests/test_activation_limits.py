"""First and second derivatives of the activations whose formulas meet inf * 0 or inf / inf at ±inf.

At finite inputs torch's gradients are the oracle; at ±inf (where torch gives NaN) and at ±1e30
(where torch's tanh-GELU gradient overflows to NaN) the expected value is the derivative's limit
from its definition: gelu'/silu'/mish'/hardswish' tend to 1 at +inf and 0 at -inf, softsign' to 0,
and every second derivative to 0 (#10).
"""

from __future__ import annotations

import numpy as np
import pytest

from axon_autograd import Variable, grad
from axon_tensor import tensor

torch = pytest.importorskip("torch")
F = torch.nn.functional

INF = np.inf
FINITE = np.linspace(-6.0, 6.0, 25)
EXTREME = np.array([INF, -INF, 1e30, -1e30])
# (name, kwargs, (first derivative at +inf, at -inf))
CASES = [
    ("gelu", {}, (1.0, 0.0)),
    ("gelu", {"approximate": "tanh"}, (1.0, 0.0)),
    ("silu", {}, (1.0, 0.0)),
    ("mish", {}, (1.0, 0.0)),
    ("hardswish", {}, (1.0, 0.0)),
    ("softsign", {}, (0.0, 0.0)),
]
TOL = {"float64": 1e-10, "float32": 1e-5}


def derivatives(name: str, kwargs: dict, values: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """axon's first and second derivatives of ``name`` at ``values`` (float64 copies)."""
    x = Variable(tensor(values).to(dtype), requires_grad=True)
    (first,) = grad(getattr(x, name)(**kwargs).sum(), [x], create_graph=True)
    (second,) = grad(first.sum(), [x])
    return first.data.to("float64").numpy(), second.data.to("float64").numpy()


def torch_derivatives(name: str, kwargs: dict, values: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    x = torch.tensor(values).to(getattr(torch, dtype)).requires_grad_()
    (first,) = torch.autograd.grad(getattr(F, name)(x, **kwargs).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), x, allow_unused=True)
    second = torch.zeros_like(x) if second is None else second
    return first.double().detach().numpy(), second.double().numpy()


@pytest.mark.parametrize("dtype", list(TOL))
@pytest.mark.parametrize("name,kwargs,limits", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_derivatives_at_infinity_are_the_limits(name: str, kwargs: dict, limits: tuple, dtype: str) -> None:
    first, second = derivatives(name, kwargs, np.concatenate([FINITE, EXTREME]), dtype)
    ref_first, ref_second = torch_derivatives(name, kwargs, FINITE, dtype)
    n = FINITE.size
    tol = TOL[dtype]
    np.testing.assert_allclose(first[:n], ref_first, rtol=tol, atol=tol)
    np.testing.assert_allclose(second[:n], ref_second, rtol=tol, atol=tol)
    # At ±inf exactly the limits; at ±1e30 within tol of them (softsign' is 1e-60 there).
    np.testing.assert_array_equal(first[n : n + 2], limits)
    np.testing.assert_array_equal(second[n : n + 2], [0.0, 0.0])
    np.testing.assert_allclose(first[n + 2 :], limits, rtol=0, atol=tol)
    np.testing.assert_allclose(second[n + 2 :], [0.0, 0.0], rtol=0, atol=tol)
