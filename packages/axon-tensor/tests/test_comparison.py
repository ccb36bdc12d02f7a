"""Comparisons, closeness, where/clamp, logical and bitwise ops against PyTorch."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import axon_tensor as at
from axon_core import DTypeError, ShapeError

torch = pytest.importorskip("torch")

VALUES = np.array([[-2.0, 0.0, 1.5, np.nan], [np.inf, -np.inf, 3.0, 1.5]])
OTHER = np.array([1.5, 0.0, 1.5, np.nan])


def pair(values, dtype):
    return at.tensor(values).to(dtype), torch.tensor(values).to(getattr(torch, dtype))


def assert_matches(ours, ref, tol=1e-6):
    assert ours.dtype.name == str(ref.dtype).removeprefix("torch.")
    expected = ref.float().numpy() if ref.dtype == torch.bfloat16 else ref.numpy()
    actual = ours.numpy().astype(np.float32) if ours.dtype.name == "bfloat16" else ours.numpy()
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol, equal_nan=True)


OPS = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]


@pytest.mark.parametrize("op", OPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "left,right",
    [("float32", "float32"), ("int64", "float32"), ("int32", "int8"), ("float16", "bfloat16"), ("bool", "int64")],
)
def test_comparison_operators(op, left: str, right: str) -> None:
    finite = np.nan_to_num(VALUES, nan=0.0, posinf=7, neginf=-7)
    a, ta = pair(finite if "int" in left or left == "bool" else VALUES, left)
    b, tb = pair(np.nan_to_num(OTHER) if "int" in right or right == "bool" else OTHER, right)
    assert_matches(op(a, b), op(ta, tb))
    assert_matches(op(a, 1.5), op(ta, 1.5))
    assert_matches(op(2, a), op(2, ta))
    name = {"eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge"}[op.__name__]
    assert_matches(getattr(at, name)(a, b), getattr(torch, name)(ta, tb))


def test_eq_with_unrelated_types_and_hash() -> None:
    t = at.tensor([1, 2])
    assert (t == None) is False  # noqa: E711
    assert (t != "x") is True
    assert {t: 1}[t] == 1 and hash(t) == id(t)


def test_complex_ordering_rejected() -> None:
    c = at.tensor([1 + 1j])
    with pytest.raises(DTypeError):
        c < c
    with pytest.raises(DTypeError):
        at.lt(c, 1)
    assert (c == c).tolist() == [True]


def test_equal_isclose_allclose() -> None:
    a, ta = pair(VALUES, "float32")
    b, tb = pair(VALUES + 1e-6, "float32")
    assert at.equal(at.tensor([1, 2]), at.tensor([1, 2])) and not at.equal(at.tensor([1, 2]), at.tensor([1, 3]))
    assert not at.equal(at.tensor([1, 2]), at.tensor([[1, 2]]))
    assert not at.equal(a, a)  # nan != nan
    for kwargs in ({}, {"equal_nan": True}, {"rtol": 0, "atol": 1e-7}):
        assert_matches(at.isclose(a, b, **kwargs), torch.isclose(ta, tb, **kwargs))
        assert at.allclose(a, b, **kwargs) == torch.allclose(ta, tb, **kwargs)
    ia, tia = pair(np.array([1, 2, 3]), "int64")
    assert_matches(at.isclose(ia, ia + 1, atol=1), torch.isclose(tia, tia + 1, atol=1))
    with pytest.raises(ValueError):
        at.isclose(a, b, rtol=-1)


def test_where() -> None:
    a, ta = pair(VALUES, "float32")
    cond, tcond = a > 0, ta > 0
    b, tb = pair(OTHER, "float64")
    assert_matches(at.where(cond, a, b), torch.where(tcond, ta, tb))
    assert_matches(at.where(cond, a, 0), torch.where(tcond, ta, 0))
    assert_matches(at.where(cond, 1.0, 0.0), torch.where(tcond, 1.0, 0.0))
    i, ti = pair(np.array([1, 2, 3, 4]), "int32")
    assert_matches(at.where(cond, i, 2.5), torch.where(tcond, ti, 2.5))
    with pytest.raises(DTypeError, match="bool"):
        at.where(i, a, b)
    with pytest.raises(ShapeError, match=r"where: shapes \(2, 4\), \(3,\), scalar"):
        at.where(cond, at.ones(3), 0)


@pytest.mark.parametrize("dtype", ["int64", "float32", "float16"])
def test_clamp(dtype: str) -> None:
    a, ta = pair(np.nan_to_num(VALUES, posinf=9, neginf=-9) if dtype == "int64" else VALUES, dtype)
    assert_matches(at.clamp(a, -1, 2), torch.clamp(ta, -1, 2))
    assert_matches(a.clamp(min=0), ta.clamp(min=0))
    assert_matches(a.clip(max=1), ta.clip(max=1))
    assert_matches(at.clamp(a, 2, -1), torch.clamp(ta, 2, -1))
    lo, tlo = pair(np.array([0.0, -1.0, 1.0, 2.0]), "float32")
    assert_matches(at.clamp(a, lo, 2.5), torch.clamp(ta, tlo, torch.tensor(2.5)))
    assert_matches(at.clamp(a, lo, at.tensor(2.5)), torch.clamp(ta, tlo, torch.tensor(2.5)))
    with pytest.raises(ValueError, match="at least one"):
        at.clamp(a)


def test_clamp_int_with_float_bound_promotes() -> None:
    a, ta = pair(np.array([1, 2, 3]), "int64")
    assert_matches(at.clamp(a, min=1.5), torch.clamp(ta, min=1.5))


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical(name: str) -> None:
    a, ta = pair(np.array([[0.0, 1.5, np.nan, -2.0]]), "float32")
    b, tb = pair(np.array([[1], [0]]), "int64")
    assert_matches(getattr(at, name)(a, b), getattr(torch, name)(ta, tb))
    assert_matches(at.logical_not(a), torch.logical_not(ta))


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int32", "int64"])
def test_bitwise(dtype: str) -> None:
    values = np.array([True, False, True, False]) if dtype == "bool" else np.array([0, 5, 12, 127])
    others = np.array([True, True, False, False]) if dtype == "bool" else np.array([3, 6, 10, 1])
    a, ta = pair(values, dtype)
    b, tb = pair(others, dtype)
    for op in (operator.and_, operator.or_, operator.xor):
        assert_matches(op(a, b), op(ta, tb))
    assert_matches(~a, ~ta)
    if dtype != "bool":
        shift, tshift = pair(np.array([0, 1, 2, 3]), dtype)
        assert_matches(a << shift, ta << tshift)
        assert_matches(a >> shift, ta >> tshift)
        assert_matches(a & 6, ta & 6)
        assert_matches(6 | a, 6 | ta)


def test_bitwise_rejects_floats() -> None:
    f = at.tensor([1.0])
    for fn in (lambda: f & f, lambda: f | 1, lambda: ~f, lambda: at.bitwise_left_shift(f, 1)):
        with pytest.raises(DTypeError):
            fn()


def test_broadcast_shape_error() -> None:
    with pytest.raises(ShapeError, match=r"\(2, 3\) and \(2,\)"):
        at.ones(2, 3) < at.ones(2)
