"""Tensor-level dtype promotion (tensors, 0-d tensors, Python scalars) and dtype casts vs PyTorch."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import axon_tensor as at
from axon_core import ALL_DTYPES

torch = pytest.importorskip("torch")

REAL = [d.name for d in ALL_DTYPES if not d.is_complex]


def make(dtype: str, shape):
    values = np.ones(shape)
    return at.tensor(values).to(dtype), torch.tensor(values).to(getattr(torch, dtype))


@pytest.mark.parametrize("left,right", list(itertools.product(REAL, repeat=2)))
@pytest.mark.parametrize("right_shape", [(2,), ()], ids=["dims", "zero-d"])
def test_mul_result_dtype(left: str, right: str, right_shape) -> None:
    a, ta = make(left, (2,))
    b, tb = make(right, right_shape)
    assert (a * b).dtype.name == str((ta * tb).dtype).removeprefix("torch.")
    assert (b * a).dtype.name == str((tb * ta).dtype).removeprefix("torch.")


@pytest.mark.parametrize("dtype", REAL)
@pytest.mark.parametrize("scalar", [True, 2, 2.5])
def test_scalar_operands(dtype: str, scalar) -> None:
    a, ta = make(dtype, (2,))
    ours, theirs = a * scalar, ta * scalar
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_allclose(np.asarray(ours.numpy(), dtype=np.float64), theirs.double().numpy())


def test_numpy_scalars_count_as_python_scalars() -> None:
    a = at.ones(2, dtype="float16")
    assert (a * np.float64(2.0)).dtype.name == "float16"
    assert (at.ones(2, dtype="int32") + np.int64(3)).dtype.name == "int32"


CAST_VALUES = np.array(
    [0.1, 1.0039063, 1.0078125, -2.5, 65504.0, 65520.0, 1e-8, 3.4e38, -np.inf, np.nan, 1.5, 2.5, -0.0]
)


@pytest.mark.parametrize("target", ["float16", "bfloat16", "float32", "int32", "int64", "uint8", "bool"])
def test_casts_round_like_torch(target: str) -> None:
    values = (
        CAST_VALUES if target in ("float16", "bfloat16", "float32", "bool") else np.array([0.9, -1.7, 2.5, 100.2, 0.0])
    )
    if target == "uint8":
        values = np.abs(values)
    ours = at.tensor(values, dtype="float64").to(target)
    theirs = torch.tensor(values, dtype=torch.float64).to(getattr(torch, target))
    assert ours.dtype.name == target
    expected = theirs.float().numpy() if target == "bfloat16" else theirs.numpy()
    actual = ours.numpy().astype(np.float32) if target == "bfloat16" else ours.numpy()
    np.testing.assert_array_equal(actual, expected)


def test_cast_methods_and_identity() -> None:
    t = at.tensor([1.7, -2.2])
    assert t.to("float32") is t and t.to(t) is t
    assert t.float() is t
    assert t.double().dtype.name == "float64" and t.half().dtype.name == "float16"
    assert t.bfloat16().dtype.name == "bfloat16" and t.long().tolist() == [1, -2] and t.int().dtype.name == "int32"
    assert t.bool().tolist() == [True, True]
    copied = t.to("float32", copy=True)
    assert copied is not t and copied.tolist() == t.tolist()
    assert t.type_as(at.tensor([1])).dtype.name == "int64"
    assert t.to("cpu", "float64").dtype.name == "float64"
