"""Activations against torch.nn.functional, in every floating dtype."""

from __future__ import annotations

import numpy as np
import pytest

import axon_tensor as at
from axon_core import DTypeError

torch = pytest.importorskip("torch")
F = torch.nn.functional

VALUES = np.concatenate([np.linspace(-8, 8, 33), [-30.0, 30.0, 0.0, -0.0, np.nan, np.inf, -np.inf]])
TOL = {"float64": 1e-12, "float32": 2e-6, "float16": 2e-3, "bfloat16": 1.6e-2}

CASES = [
    ("relu", {}),
    ("relu6", {}),
    ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {}),
    ("elu", {"alpha": 0.5}),
    ("selu", {}),
    ("celu", {"alpha": 1.5}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
    ("mish", {}),
    ("softplus", {}),
    ("softplus", {"beta": 2.0, "threshold": 5.0}),
    ("softsign", {}),
    ("hardtanh", {}),
    ("hardtanh", {"min_val": -2.0, "max_val": 0.5}),
    ("hardsigmoid", {}),
    ("hardswish", {}),
    ("sigmoid", {}),
    ("tanh", {}),
]


def pair(values, dtype):
    return at.tensor(values).to(dtype), torch.tensor(values).to(getattr(torch, dtype))


def assert_matches(ours, ref, tol):
    assert ours.dtype.name == str(ref.dtype).removeprefix("torch.")
    assert tuple(ours.shape) == tuple(ref.shape)
    expected = ref.float().numpy() if ref.dtype == torch.bfloat16 else ref.numpy()
    actual = ours.numpy().astype(np.float32) if ours.dtype.name == "bfloat16" else ours.numpy()
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("dtype", list(TOL))
@pytest.mark.parametrize("name,kwargs", CASES, ids=lambda c: str(c))
def test_activation_matches_torch(name: str, kwargs: dict, dtype: str) -> None:
    a, ta = pair(VALUES, dtype)
    expected = getattr(F, name)(ta, **kwargs)
    assert_matches(getattr(at, name)(a, **kwargs), expected, TOL[dtype])
    assert_matches(getattr(a, name)(**kwargs), expected, TOL[dtype])


@pytest.mark.parametrize("dtype", list(TOL))
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family(name: str, dim: int, dtype: str) -> None:
    values = np.random.default_rng(0).standard_normal((3, 4, 5)) * 5
    a, ta = pair(values, dtype)
    assert_matches(getattr(at, name)(a, dim), getattr(torch, name)(ta, dim), TOL[dtype])
    assert_matches(getattr(a, name)(dim=dim), getattr(torch, name)(ta, dim), TOL[dtype])


def test_softmax_edges() -> None:
    i, ti = pair(np.array([[1, 2, 3]]), "int64")
    assert_matches(at.softmax(i, -1, dtype="float64"), torch.softmax(ti, -1, dtype=torch.float64), 1e-12)
    with pytest.raises(DTypeError, match="softmax"):
        at.softmax(i, -1)
    s, ts = pair(np.array(3.0), "float32")
    assert_matches(at.softmax(s, 0), torch.softmax(ts, 0), 1e-6)
    assert_matches(at.log_softmax(s, -1), torch.log_softmax(ts, -1), 1e-6)
    e, te = pair(np.zeros((0, 4)), "float32")
    assert_matches(at.softmax(e, 0), torch.softmax(te, 0), 1e-6)
    t = at.from_numpy(np.arange(12.0).reshape(3, 4).T)
    np.testing.assert_allclose(
        at.softmax(t, 1).numpy(), torch.softmax(torch.arange(12.0).reshape(3, 4).T.double(), 1).numpy()
    )
    with pytest.raises(IndexError):
        at.softmax(t, 2)


def test_softmax_calls_the_backend_fused_op(monkeypatch) -> None:
    backend = at.ones(1).device.backend
    calls = []
    original = type(backend).softmax

    def spy(self, x, dim):
        calls.append(dim)
        return original(self, x, dim)

    monkeypatch.setattr(type(backend), "softmax", spy)
    at.softmax(at.ones(2, 3), -1)
    assert calls == [1]


def test_integer_relu_and_rejections() -> None:
    i, ti = pair(np.array([-3, 0, 4]), "int64")
    assert_matches(at.relu(i), F.relu(ti), 0)
    assert_matches(at.relu6(i * 3), F.relu6(ti * 3), 0)
    with pytest.raises(DTypeError):
        at.relu(at.tensor([True]))
    with pytest.raises(ValueError, match="approximate"):
        at.gelu(at.ones(2), approximate="erf")
