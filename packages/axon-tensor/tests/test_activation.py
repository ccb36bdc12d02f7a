"""Activations against torch.nn.functional, in every floating dtype.

On NaN and ±inf the expected value is the mathematical one, not PyTorch's: there PyTorch's answer
depends on the CPU. ``F.gelu`` of a float32/bfloat16 tensor of two or more elements runs oneDNN's
JIT kernel, which returns NaN for +inf on AVX-512 machines (``ATEN_CPU_CAPABILITY`` does not
reach it) and inf on AVX2 machines, while a one-element tensor takes ATen's kernel: inf (#10).
So torch sees only the finite inputs; at a non-finite input the expected value is the function's
limit there (NaN for NaN), from the table below. ``tools/torch_nonfinite_probe.py`` lists where
PyTorch's non-finite answers vary on a machine.
"""

from __future__ import annotations

import numpy as np
import pytest

import axon_tensor as at
from axon_core import DTypeError

torch = pytest.importorskip("torch")
F = torch.nn.functional

INF = np.inf
VALUES = np.concatenate([np.linspace(-8, 8, 33), [-30.0, 30.0, 0.0, -0.0, np.nan, np.inf, -np.inf]])
TOL = {"float64": 1e-12, "float32": 2e-6, "float16": 2e-3, "bfloat16": 1.6e-2}

# (name, kwargs, (limit at +inf, limit at -inf)): the limits from each function's definition.
CASES = [
    ("relu", {}, (INF, 0.0)),
    ("relu6", {}, (6.0, 0.0)),
    ("leaky_relu", {}, (INF, -INF)),
    ("leaky_relu", {"negative_slope": 0.2}, (INF, -INF)),
    ("elu", {}, (INF, -1.0)),  # alpha (exp(x) - 1) -> -alpha
    ("elu", {"alpha": 0.5}, (INF, -0.5)),
    ("selu", {}, (INF, -1.0507009873554805 * 1.6732632423543772)),  # -scale * alpha
    ("celu", {"alpha": 1.5}, (INF, -1.5)),
    ("gelu", {}, (INF, 0.0)),  # x Phi(x): Phi(x) falls faster than |x| grows
    ("gelu", {"approximate": "tanh"}, (INF, 0.0)),
    ("silu", {}, (INF, 0.0)),  # x sigmoid(x) ~ x exp(x)
    ("mish", {}, (INF, 0.0)),  # x tanh(softplus(x)) ~ x exp(x)
    ("softplus", {}, (INF, 0.0)),
    ("softplus", {"beta": 2.0, "threshold": 5.0}, (INF, 0.0)),
    ("softsign", {}, (1.0, -1.0)),  # x / (1 + |x|)
    ("hardtanh", {}, (1.0, -1.0)),
    ("hardtanh", {"min_val": -2.0, "max_val": 0.5}, (0.5, -2.0)),
    ("hardsigmoid", {}, (1.0, 0.0)),
    ("hardswish", {}, (INF, 0.0)),  # 0 for every x <= -3 by its definition
    ("sigmoid", {}, (1.0, 0.0)),
    ("tanh", {}, (1.0, -1.0)),
]
# Non-finite inputs where the formula is inf * 0 or inf / inf (NaN in PyTorch's scalar kernel, and
# in axon before #10); axon clamps the input there and gives the limit, checked below.
FORMULA_NAN_AT = {
    "gelu-{}": (-INF,),
    "gelu-{'approximate': 'tanh'}": (-INF,),
    "silu-{}": (-INF,),
    "mish-{}": (-INF,),
    "softsign-{}": (INF, -INF),
    "hardswish-{}": (-INF,),
}


def case_id(case) -> str:
    return f"{case[0]}-{case[1]}"


def pair(values, dtype):
    return at.tensor(values).to(dtype), torch.tensor(values).to(getattr(torch, dtype))


def assert_matches(ours, ref, tol):
    assert ours.dtype.name == str(ref.dtype).removeprefix("torch.")
    assert tuple(ours.shape) == tuple(ref.shape)
    expected = ref.float().numpy() if ref.dtype == torch.bfloat16 else ref.numpy()
    actual = ours.numpy().astype(np.float32) if ours.dtype.name == "bfloat16" else ours.numpy()
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol, equal_nan=True)


def expected_values(name: str, kwargs: dict, limits: tuple[float, float], dtype: str) -> np.ndarray:
    """``[len(VALUES)]`` float64: torch on the finite inputs, the limits at ±inf, NaN at NaN."""
    finite = np.isfinite(VALUES)
    expected = np.where(VALUES == INF, limits[0], np.where(VALUES == -INF, limits[1], np.nan))
    torch_finite = getattr(F, name)(torch.tensor(VALUES[finite]).to(getattr(torch, dtype)), **kwargs)
    expected[finite] = torch_finite.double().numpy()
    return expected


def assert_close(ours: at.Tensor, expected: np.ndarray, dtype: str, where: np.ndarray) -> None:
    assert ours.dtype.name == dtype and tuple(ours.shape) == expected.shape
    actual = ours.to("float64").numpy()
    tol = TOL[dtype]
    np.testing.assert_allclose(actual[where], expected[where], rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("dtype", list(TOL))
@pytest.mark.parametrize("name,kwargs,limits", CASES, ids=[case_id(c) for c in CASES])
def test_activation_matches_torch(name: str, kwargs: dict, limits: tuple[float, float], dtype: str) -> None:
    """Finite inputs against torch, NaN/±inf against the limits (torch's own answer there depends on
    the CPU: see the module docstring)."""
    a = at.tensor(VALUES).to(dtype)
    expected = expected_values(name, kwargs, limits, dtype)
    checked = np.ones(VALUES.shape, dtype=bool)
    assert_close(getattr(at, name)(a, **kwargs), expected, dtype, checked)
    assert_close(getattr(a, name)(**kwargs), expected, dtype, checked)


@pytest.mark.parametrize("case", [c for c in CASES if case_id(c) in FORMULA_NAN_AT], ids=case_id)
def test_activation_limits_where_the_formula_gives_nan(case) -> None:
    name, kwargs, limits = case
    where = np.isin(VALUES, FORMULA_NAN_AT[case_id(case)])
    for dtype in TOL:
        ours = getattr(at, name)(at.tensor(VALUES).to(dtype), **kwargs)
        assert_close(ours, expected_values(name, kwargs, limits, dtype), dtype, where)


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
