"""Arithmetic ops against PyTorch (values and result dtypes) and NumPy."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import axon_tensor as at
from axon_core import DTypeError, ShapeError

torch = pytest.importorskip("torch")

INT_VALUES = np.array([[-7, -3, 0, 2], [5, 9, -1, 4]])
FLOAT_VALUES = np.array([[-7.5, -3.25, 0.0, 2.0], [5.5, np.inf, -np.inf, np.nan]])
DIVISORS = np.array([[2, -3, 4, -5], [3, 2, -7, 6]])


def pair(values: np.ndarray, dtype: str) -> tuple[at.Tensor, "torch.Tensor"]:
    ours = at.tensor(values).to(dtype)
    theirs = torch.tensor(values).to(getattr(torch, dtype))
    return ours, theirs


def assert_matches(ours: at.Tensor, ref: "torch.Tensor", rtol: float = 1e-6, atol: float = 1e-6) -> None:
    assert ours.dtype.name == str(ref.dtype).removeprefix("torch.")
    assert tuple(ours.shape) == tuple(ref.shape)
    expected = ref.float().numpy() if ref.dtype == torch.bfloat16 else ref.numpy()
    actual = ours.numpy()
    if ours.dtype.name == "bfloat16":
        actual = actual.astype(np.float32)
    if actual.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)


DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
NUMERIC = DTYPES[1:]


@pytest.mark.parametrize("left", NUMERIC)
@pytest.mark.parametrize("right", NUMERIC)
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "maximum", "minimum"])
def test_binary_ops_promote_like_torch(left: str, right: str, name: str) -> None:
    a, ta = pair(np.abs(INT_VALUES) if left == "uint8" else INT_VALUES, left)
    b, tb = pair(DIVISORS if right != "uint8" else np.abs(DIVISORS), right)
    tol = 1e-2 if "16" in left + right else 1e-6
    assert_matches(getattr(at, name)(a, b), getattr(torch, name)(ta, tb), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", NUMERIC)
@pytest.mark.parametrize("scalar", [2, -3, 2.5, True])
@pytest.mark.parametrize("fn", [operator.add, operator.mul, operator.truediv], ids=["add", "mul", "truediv"])
def test_scalar_operands_and_reflection(dtype: str, scalar: object, fn: object) -> None:
    a, ta = pair(np.abs(INT_VALUES) + 1, dtype)
    tol = 1e-2 if "16" in dtype else 1e-6
    assert_matches(fn(a, scalar), fn(ta, scalar), rtol=tol, atol=tol)
    assert_matches(fn(scalar, a), fn(scalar, ta), rtol=tol, atol=tol)


def test_integer_scalars_wrap() -> None:
    assert_matches(at.tensor([2], dtype="uint8") + (-1), torch.tensor([2], dtype=torch.uint8) + (-1))
    assert_matches(at.tensor([1], dtype="int8") + 1000, torch.tensor([1], dtype=torch.int8) + 1000)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("mode", [None, "trunc", "floor"])
def test_div_rounding_modes(dtype: str, mode: str | None) -> None:
    a, ta = pair(INT_VALUES * 3 + 1, dtype)
    b, tb = pair(DIVISORS, dtype)
    assert_matches(at.div(a, b, rounding_mode=mode), torch.div(ta, tb, rounding_mode=mode))
    assert_matches(a.div(-2, rounding_mode=mode), ta.div(-2, rounding_mode=mode))


@pytest.mark.parametrize("dtype", ["int16", "int64", "float32", "float64"])
@pytest.mark.parametrize("name", ["floor_divide", "remainder", "fmod"])
def test_integer_division_family(dtype: str, name: str) -> None:
    a, ta = pair(INT_VALUES * 3 + 1, dtype)
    b, tb = pair(DIVISORS, dtype)
    assert_matches(getattr(at, name)(a, b), getattr(torch, name)(ta, tb))
    assert_matches(getattr(at, name)(a, 2.5), getattr(torch, name)(ta, 2.5))


def test_operators_floordiv_mod() -> None:
    a, ta = pair(INT_VALUES, "int64")
    assert_matches(a // 3, ta // 3)
    assert_matches(a % -3, ta % -3)
    assert_matches(7 // (a + 10), 7 // (ta + 10))
    assert_matches(7 % (a + 10), 7 % (ta + 10))


@pytest.mark.parametrize(
    "fn", [lambda a, b: a // b, lambda a, b: a % b, at.fmod, lambda a, b: at.div(a, b, rounding_mode="trunc")]
)
def test_integer_division_by_zero_raises(fn: object) -> None:
    a = at.tensor([3, 4])
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        fn(a, at.tensor([1, 0]))
    with pytest.raises(ZeroDivisionError):
        fn(a, 0)


def test_float_division_by_zero_gives_inf_and_nan() -> None:
    a, ta = pair(np.array([1.0, -1.0, 0.0]), "float32")
    for fn in (operator.truediv, operator.floordiv, operator.mod):
        assert_matches(fn(a, 0.0), fn(ta, 0.0))
    # Integers divide as floats in true division, so 1 / 0 is inf there too.
    i, ti = pair(np.array([1, -1, 0]), "int64")
    assert_matches(i / 0, ti / 0)


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "float64"])
def test_pow(dtype: str) -> None:
    a, ta = pair(np.array([[-3, -1, 0, 1, 2]]), dtype)
    e, te = pair(np.array([[0, 1, 2, 3, 5]]), dtype)
    assert_matches(a**e, ta**te)
    assert_matches(a**2, ta**2)
    assert_matches(2**e, 2**te)
    assert_matches(a**0.5, ta**0.5)


def test_pow_negative_integer_exponents() -> None:
    with pytest.raises(ValueError, match="negative integer powers"):
        at.tensor([2]) ** -1
    base, tbase = pair(np.array([-2, -1, 0, 1, 2, 3]), "int64")
    exponent, texponent = pair(np.array([-1, -3, 2, -5, -2, 3]), "int64")
    assert_matches(base**exponent, tbase**texponent)
    assert_matches(at.tensor([2.0]) ** -1, torch.tensor([2.0]) ** -1)


def test_bool_rules() -> None:
    t = at.tensor([True, False])
    with pytest.raises(DTypeError, match="bool"):
        t - t
    with pytest.raises(DTypeError, match="bool"):
        1 - t
    with pytest.raises(DTypeError, match="bool"):
        -t
    assert_matches(t + t, torch.tensor([True, False]) + torch.tensor([True, False]))
    assert_matches(t * 3, torch.tensor([True, False]) * 3)


def test_alpha() -> None:
    a, ta = pair(FLOAT_VALUES[:1, :3], "float32")
    assert_matches(at.add(a, a, alpha=2.5), torch.add(ta, ta, alpha=2.5))
    assert_matches(at.sub(a, 1, alpha=-2), torch.sub(ta, 1, alpha=-2))
    with pytest.raises(DTypeError, match="alpha"):
        at.add(at.tensor([1]), at.tensor([1]), alpha=0.5)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_inf_propagation() -> None:
    a, ta = pair(FLOAT_VALUES, "float32")
    b, tb = pair(FLOAT_VALUES[::-1].copy(), "float32")
    for name in ("add", "sub", "mul", "div", "maximum", "minimum", "fmax", "fmin", "atan2", "hypot", "copysign"):
        assert_matches(getattr(at, name)(a, b), getattr(torch, name)(ta, tb))


@pytest.mark.parametrize("name", ["atan2", "copysign"])
def test_float_functions_of_integers(name: str) -> None:
    a, ta = pair(INT_VALUES, "int64")
    b, tb = pair(DIVISORS, "int32")
    assert_matches(getattr(at, name)(a, b), getattr(torch, name)(ta, tb))


def test_lerp_addcmul_addcdiv() -> None:
    rng = np.random.default_rng(0)
    x, tx = pair(rng.standard_normal((3, 4)), "float32")
    y, ty = pair(rng.standard_normal((3, 4)), "float32")
    w, tw = pair(rng.random((1, 4)), "float32")
    assert_matches(at.lerp(x, y, 0.3), torch.lerp(tx, ty, 0.3))
    assert_matches(at.lerp(x, y, 0.9), torch.lerp(tx, ty, 0.9))
    assert_matches(at.lerp(x, y, w), torch.lerp(tx, ty, tw))
    assert_matches(at.addcmul(x, y, w, value=-0.5), torch.addcmul(tx, ty, tw, value=-0.5))
    assert_matches(at.addcdiv(x, y, w + 1, value=2), torch.addcdiv(tx, ty, tw + 1, value=2))
    with pytest.raises(DTypeError, match="addcdiv"):
        at.addcdiv(x, at.tensor([1]), at.tensor([2]))
    with pytest.raises(DTypeError, match="lerp"):
        at.lerp(at.tensor([1]), at.tensor([2]), 0.5)


def test_non_contiguous_zero_d_and_empty() -> None:
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    transposed = at.from_numpy(base.T)
    sliced = at.from_numpy(base[:, ::2])
    assert not transposed.is_contiguous() and not sliced.is_contiguous()
    np.testing.assert_array_equal((transposed * 2 + transposed).numpy(), base.T * 3)
    np.testing.assert_array_equal((sliced - 1).numpy(), base[:, ::2] - 1)
    scalar = at.tensor(2.0)
    assert (scalar + scalar).shape == () and (scalar * 3).item() == 6.0
    assert_matches(
        at.tensor(3, dtype="int32") * at.tensor([1.5]), torch.tensor(3, dtype=torch.int32) * torch.tensor([1.5])
    )
    empty = at.zeros(0, 3)
    assert (empty + at.ones(3)).shape == (0, 3)
    assert (empty / 2).shape == (0, 3)


def test_shape_error_names_op_and_shapes() -> None:
    with pytest.raises(ShapeError, match=r"add: shapes \(2, 3\) and \(4,\)"):
        at.ones(2, 3) + at.ones(4)
    with pytest.raises(ShapeError, match=r"mul: shapes \(2,\) and \(3,\)"):
        at.ones(2, dtype="int64") * at.ones(3)
    with pytest.raises(TypeError, match="unsupported operand"):
        at.ones(2) + "a"


def test_results_are_new_tensors() -> None:
    a = at.ones(3)
    out = a + 0
    out.add_(1)
    assert a.numpy().tolist() == [1.0, 1.0, 1.0]
