"""Shared helpers: a float64 finite-difference gradient check that needs no PyTorch."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

from axon_autograd import Variable
from axon_tensor import tensor


def leaf(array: Any, requires_grad: bool = True) -> Variable:
    """A float64 (or given-dtype) leaf Variable holding ``array``."""
    return Variable(tensor(np.asarray(array)), requires_grad=requires_grad)


def check_gradients(
    fn: Callable[..., Any],
    *arrays: np.ndarray,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    seed: int = 0,
) -> None:
    """Compare backward with central differences of ``<fn(*inputs), cotangent>``.

    Float arrays are differentiated; others (indices) are passed as constants. ``fn`` takes
    Variables and returns a Variable.
    """
    rng = np.random.default_rng(seed)
    inputs = [leaf(a, requires_grad=np.asarray(a).dtype.kind == "f") for a in arrays]
    out = fn(*inputs)
    cotangent = rng.standard_normal(out.shape)
    out.backward(tensor(cotangent))
    for index, array in enumerate(arrays):
        array = np.asarray(array)
        if array.dtype.kind != "f":
            continue
        numeric = np.zeros_like(array, dtype=np.float64)
        flat = numeric.reshape(-1)
        for k in range(array.size):
            values = []
            for step in (eps, -eps):
                shifted = array.copy().reshape(-1)
                shifted[k] += step
                args = [
                    leaf(shifted.reshape(array.shape), False) if i == index else leaf(a, False)
                    for i, a in enumerate(arrays)
                ]
                values.append(float((fn(*args).numpy() * cotangent).sum()))
            flat[k] = (values[0] - values[1]) / (2 * eps)
        analytic = inputs[index].grad
        assert analytic is not None, f"input {index} got no gradient"
        np.testing.assert_allclose(
            analytic.numpy(), numeric, atol=atol, rtol=rtol, err_msg=f"gradient of input {index}"
        )


@pytest.fixture
def gradcheck() -> Callable[..., None]:
    return check_gradients
