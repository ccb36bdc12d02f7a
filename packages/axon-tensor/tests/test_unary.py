"""Unary elementwise functions against PyTorch (values, dtypes, edge values) and NumPy."""

from __future__ import annotations

import math

import numpy as np
import pytest

import axon_tensor as at
from axon_core import DTypeError

torch = pytest.importorskip("torch")

EDGE = np.array([-np.inf, -3.7, -1.0, -0.5, -0.0, 0.0, 0.25, 0.5, 0.999, 1.0, 2.5, 40.0, np.inf, np.nan])
TOL = {"float64": 1e-12, "float32": 2e-6, "float16": 2e-3, "bfloat16": 1.6e-2}


def pair(values, dtype):
    return at.tensor(values).to(dtype), torch.tensor(values).to(getattr(torch, dtype))


def assert_matches(ours, ref, tol=1e-6):
    assert ours.dtype.name == str(ref.dtype).removeprefix("torch."), (ours.dtype, ref.dtype)
    assert tuple(ours.shape) == tuple(ref.shape)
    expected = ref.float().numpy() if ref.dtype == torch.bfloat16 else ref.numpy()
    actual = ours.numpy().astype(np.float32) if ours.dtype.name == "bfloat16" else ours.numpy()
    if actual.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol, equal_nan=True)


# name -> the function in float64 NumPy (C99 Annex F values at NaN and ±inf): the oracle at the
# non-finite inputs. PyTorch's vectorised kernels (SLEEF, per-ISA code in ATen's vec256/vec512, oneDNN)
# are not a reliable oracle there: their answer on NaN/±inf can depend on the CPU and on whether a
# value lands in a vector body or the scalar tail (F.gelu(+inf) is NaN on AVX-512 machines, #10).
# Finite inputs, including the ±0 and 1 whose results are infinite, are compared with torch.
FLOAT_FUNCS = {
    "exp": np.exp,
    "exp2": np.exp2,
    "expm1": np.expm1,
    "log": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "log1p": np.log1p,
    "sqrt": np.sqrt,
    "rsqrt": lambda x: 1 / np.sqrt(x),
    "reciprocal": np.reciprocal,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "erf": np.vectorize(math.erf),
    "erfc": np.vectorize(math.erfc),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
}


@pytest.mark.parametrize("dtype", list(TOL))
@pytest.mark.parametrize("name", FLOAT_FUNCS)
def test_float_functions(name: str, dtype: str) -> None:
    """Finite edge values against torch; NaN and ±inf against float64 NumPy (see FLOAT_FUNCS)."""
    finite = np.isfinite(EDGE)
    expected = np.empty(EDGE.shape)
    with np.errstate(all="ignore"):
        expected[~finite] = FLOAT_FUNCS[name](EDGE[~finite])
    expected[finite] = getattr(torch, name)(torch.tensor(EDGE[finite]).to(getattr(torch, dtype))).double().numpy()
    a = at.tensor(EDGE).to(dtype)
    for ours in (getattr(at, name)(a), getattr(a, name)()):
        assert ours.dtype.name == dtype and tuple(ours.shape) == EDGE.shape
        np.testing.assert_allclose(ours.to("float64").numpy(), expected, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int32", "int64"])
@pytest.mark.parametrize("name", ["exp", "sqrt", "sin", "log1p", "sigmoid", "erf", "reciprocal", "rsqrt"])
def test_integer_inputs_become_default_float(name: str, dtype: str) -> None:
    a, ta = pair(np.array([0, 1, 2, 7]) if dtype != "bool" else np.array([True, False]), dtype)
    assert_matches(getattr(at, name)(a), getattr(torch, name)(ta))


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "float16", "float32", "float64"])
@pytest.mark.parametrize("name", ["abs", "neg", "sign", "square", "floor", "ceil", "round", "trunc"])
def test_dtype_preserving(name: str, dtype: str) -> None:
    values = (
        np.array([-7, -2, 0, 3, 9])
        if "int" in dtype
        else np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.7, np.nan, -np.inf])
    )
    a, ta = pair(values, dtype)
    assert_matches(getattr(at, name)(a), getattr(torch, name)(ta))


def test_bool_rules() -> None:
    b, tb = pair(np.array([True, False]), "bool")
    assert_matches(at.sign(b), torch.sign(tb))
    assert_matches(at.square(b), torch.square(tb))
    for name in ("abs", "neg", "floor"):
        with pytest.raises(DTypeError):
            getattr(at, name)(b)
    with pytest.raises(DTypeError, match="frac"):
        at.frac(at.tensor([1, 2]))


@pytest.mark.parametrize("decimals", [-2, -1, 1, 2, 3])
def test_round_decimals(decimals: int) -> None:
    a, ta = pair(np.array([1234.5678, -0.125, 2.675, 1e-3, -987.65]), "float64")
    assert_matches(at.round(a, decimals=decimals), torch.round(ta, decimals=decimals), 1e-12)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_frac_logit_nan_to_num(dtype: str) -> None:
    a, ta = pair(EDGE, dtype)
    tol = TOL[dtype]
    assert_matches(at.frac(a), torch.frac(ta), tol)
    assert_matches(at.logit(a), torch.logit(ta), tol)
    assert_matches(at.logit(a, eps=0.1), torch.logit(ta, eps=0.1), tol)
    assert_matches(at.nan_to_num(a), torch.nan_to_num(ta), tol)
    assert_matches(
        at.nan_to_num(a, nan=1.5, posinf=9.0, neginf=-9.0), torch.nan_to_num(ta, nan=1.5, posinf=9.0, neginf=-9.0), tol
    )


def test_nan_to_num_bfloat16_and_ints() -> None:
    a, ta = pair(EDGE, "bfloat16")
    assert_matches(at.nan_to_num(a), torch.nan_to_num(ta), 1e-2)
    i, ti = pair(np.array([1, 2]), "int64")
    assert_matches(at.nan_to_num(i), torch.nan_to_num(ti))


@pytest.mark.parametrize("dtype", ["int32", "float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("name", ["isnan", "isinf", "isposinf", "isneginf", "isfinite", "signbit"])
def test_predicates(name: str, dtype: str) -> None:
    """Against torch, but signbit against NumPy on the float64 inputs: torch's float64 -> bfloat16 cast
    sets the sign bit of NaN in its vector body (16 lanes on AVX2) and not in its scalar tail, so the
    sign of the NaN torch holds depends on the NaN's position and the CPU; the NaN put in is +NaN."""
    values = np.array([-3, 0, 5]) if dtype == "int32" else EDGE
    a, ta = pair(values, dtype)
    if name == "signbit":
        np.testing.assert_array_equal(at.signbit(a).numpy(), np.signbit(values))
        return
    assert_matches(getattr(at, name)(a), getattr(torch, name)(ta))


def test_complex_inputs() -> None:
    values = np.array([1 + 2j, -0.5 + 0.25j, 3 - 1j], dtype=np.complex64)
    a, ta = at.tensor(values), torch.tensor(values)
    for name in ("exp", "log", "sqrt", "sin", "tanh", "abs"):
        assert_matches(getattr(at, name)(a), getattr(torch, name)(ta), 1e-5)


def test_numpy_oracle_on_non_contiguous_and_shapes() -> None:
    base = np.linspace(0.1, 3.0, 24, dtype=np.float64).reshape(4, 6)
    t = at.from_numpy(base.T)
    np.testing.assert_allclose(at.log(t).numpy(), np.log(base.T))
    np.testing.assert_allclose(at.sqrt(at.from_numpy(base[:, ::3])).numpy(), np.sqrt(base[:, ::3]))
    assert at.exp(at.tensor(1.0)).shape == () and abs(at.exp(at.tensor(1.0)).item() - np.e) < 1e-6
    assert at.sin(at.zeros(0, 3)).shape == (0, 3)
    assert abs(at.tensor([-2.0])).tolist() == [2.0]


def test_large_sigmoid_does_not_overflow() -> None:
    with np.errstate(all="raise"):
        out = at.sigmoid(at.tensor([-1000.0, 1000.0])).tolist()
    assert out == [0.0, 1.0]
