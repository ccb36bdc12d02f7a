"""The CPU backend's fused ops and their backwards against PyTorch (values and autograd)."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

from axon_core import Device
from axon_core.backend import special

torch = pytest.importorskip("torch")

backend = Device("cpu").backend
TOLERANCE = {"float64": 1e-12, "float32": 2e-6, "float16": 2e-3, "bfloat16": 1.6e-2}


def inputs(dtype: str, shape=(3, 5, 7), seed: int = 0):
    values = np.random.default_rng(seed).standard_normal(shape) * 4
    values[0, 0, :3] = [30.0, -30.0, 0.0]
    ours = values.astype(ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype)
    theirs = torch.tensor(values, dtype=getattr(torch, dtype))
    return ours, theirs


def close(actual: np.ndarray, expected: "torch.Tensor", dtype: str) -> None:
    assert actual.dtype == (np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype))
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(actual.astype(np.float64), expected.detach().double().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", list(TOLERANCE))
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family_and_backward(dtype: str, dim: int, name: str) -> None:
    x, tx = inputs(dtype)
    tx = tx.double().requires_grad_()
    ty = getattr(torch, name)(tx, dim)
    y = getattr(backend, name)(x, dim)
    close(y, ty, dtype)
    grad, tgrad = inputs(dtype, seed=1)
    ty.backward(tgrad.double())
    # The backward takes the forward output; feed the float64 one so only the backward is tested.
    y64 = ty.detach().numpy().astype(x.dtype)
    close(getattr(backend, f"{name}_backward")(grad, y64, dim), tx.grad, dtype)


@pytest.mark.parametrize("dtype", list(TOLERANCE))
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_and_backward(dtype: str, approximate: str) -> None:
    x, tx = inputs(dtype)
    tx = tx.double().requires_grad_()
    ty = torch.nn.functional.gelu(tx, approximate=approximate)
    close(backend.gelu(x, approximate), ty, dtype)
    grad, tgrad = inputs(dtype, seed=1)
    ty.backward(tgrad.double())
    close(backend.gelu_backward(grad, x, approximate), tx.grad, dtype)


@pytest.mark.parametrize("dtype", list(TOLERANCE))
def test_silu_and_backward(dtype: str) -> None:
    x, tx = inputs(dtype)
    tx = tx.double().requires_grad_()
    ty = torch.nn.functional.silu(tx)
    close(backend.silu(x), ty, dtype)
    grad, tgrad = inputs(dtype, seed=1)
    ty.backward(tgrad.double())
    close(backend.silu_backward(grad, x), tx.grad, dtype)


def test_gelu_rejects_unknown_approximation() -> None:
    with pytest.raises(ValueError, match="approximate"):
        backend.gelu(np.zeros(2, np.float32), "erf")
    with pytest.raises(ValueError, match="approximate"):
        backend.gelu_backward(np.zeros(2, np.float32), np.zeros(2, np.float32), "fast")


def test_softmax_handles_infinities() -> None:
    x = np.array([[-np.inf, 0.0, 1.0], [np.inf, 0.0, -np.inf]], np.float32)
    expected = torch.softmax(torch.tensor(x), -1).numpy()
    np.testing.assert_allclose(backend.softmax(x, -1), expected, rtol=1e-6, equal_nan=True)


def test_erf_matches_math_erf_to_1e15() -> None:
    x = np.concatenate([np.linspace(-10, 10, 40001), [0.0, -0.0, 0.46875, -0.46875, 4.0, 1e-300, 27.0, 50.0]])
    erf = special.erf(np, x)
    erfc = special.erfc(np, x)
    expected = np.array([math.erf(v) for v in x])
    expected_c = np.array([math.erfc(v) for v in x])
    np.testing.assert_allclose(erf, expected, rtol=1e-15, atol=1e-300)
    tail = expected_c > 1e-300
    np.testing.assert_allclose(erfc[tail], expected_c[tail], rtol=2e-15)
    assert np.signbit(special.erf(np, np.array([-0.0])))[0]


def test_erf_special_values_and_dtypes() -> None:
    edge = np.array([np.inf, -np.inf, np.nan])
    np.testing.assert_array_equal(special.erf(np, edge), [1.0, -1.0, np.nan])
    np.testing.assert_array_equal(special.erfc(np, edge), [0.0, 2.0, np.nan])
    assert special.erf(np, np.zeros(2, np.float32)).dtype == np.float32
    assert special.erf(np, np.zeros(2, np.int64)).dtype == np.float64
