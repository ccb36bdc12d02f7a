"""Creation functions against NumPy and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import axon_tensor as at
from axon_core import DTypeError, get_default_dtype

torch = pytest.importorskip("torch")


def test_tensor_infers_dtypes_like_torch() -> None:
    for data in ([1, 2], [1.0, 2], [True, False], 3, 2.5, [[1, 2], [3, 4]], [1 + 2j]):
        ours, theirs = at.tensor(data), torch.tensor(data)
        assert ours.dtype.name == str(theirs.dtype).removeprefix("torch."), data
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert at.tensor(np.ones(2, np.int16)).dtype.name == "int16"
    with pytest.raises(DTypeError):
        at.tensor(["a", 1])


def test_tensor_copies_and_from_numpy_shares() -> None:
    array = np.arange(3.0)
    copied, shared = at.tensor(array), at.from_numpy(array)
    array[0] = 9
    assert copied.tolist()[0] == 0.0 and shared.tolist()[0] == 9.0
    assert at.as_tensor(shared) is shared
    with pytest.raises(TypeError):
        at.from_numpy([1, 2])
    with pytest.raises(ValueError, match="negative strides"):
        at.from_numpy(array[::-1])


@pytest.mark.parametrize("fn", ["zeros", "ones", "empty"])
def test_filled(fn: str) -> None:
    ours = getattr(at, fn)(2, 3)
    assert ours.shape == (2, 3) and ours.dtype is get_default_dtype()
    if fn != "empty":
        np.testing.assert_array_equal(ours.numpy(), getattr(torch, fn)(2, 3).numpy())
    assert getattr(at, fn)((4,), dtype="int32").dtype.name == "int32"
    with pytest.raises(ValueError, match="negative"):
        getattr(at, fn)(-1)


def test_full_and_like() -> None:
    for value in (7, 2.5, True):
        assert at.full((2,), value).dtype.name == str(torch.full((2,), value).dtype).removeprefix("torch.")
    base = at.ones(2, 3, dtype="float64")
    assert at.zeros_like(base).dtype.name == "float64" and at.full_like(base, 4).tolist() == [[4.0] * 3] * 2
    assert at.ones_like(base, dtype="int8").dtype.name == "int8" and at.empty_like(base).shape == (2, 3)


@pytest.mark.parametrize("args", [(5,), (1, 4), (0, 1, 0.1), (-3, 3, 0.7), (10, 0, -3), (0.5, 2.5)])
def test_arange(args) -> None:
    ours, theirs = at.arange(*args), torch.arange(*args)
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    with pytest.raises(ValueError):
        at.arange(0, 1, 0)


def test_linspace_eye() -> None:
    np.testing.assert_allclose(at.linspace(-1, 2, 7).numpy(), torch.linspace(-1, 2, 7).numpy(), rtol=1e-6)
    assert at.linspace(0, 1, 0).shape == (0,)
    np.testing.assert_array_equal(at.eye(3, 4).numpy(), torch.eye(3, 4).numpy())


def test_random_creation_shapes_dtypes_ranges() -> None:
    at.manual_seed(0)
    r = at.rand(1000)
    assert r.dtype is get_default_dtype() and 0 <= r.numpy().min() and r.numpy().max() < 1
    n = at.randn(4000, dtype="float64")
    assert abs(n.numpy().mean()) < 0.1 and abs(n.numpy().std() - 1) < 0.1
    i = at.randint(3, 7, (500,))
    assert i.dtype.name == "int64" and set(np.unique(i.numpy())) == {3, 4, 5, 6}
    p = at.randperm(10)
    assert sorted(p.tolist()) == list(range(10))
    assert at.rand_like(at.ones(2, 2, dtype="float64")).dtype.name == "float64"
    assert at.randn_like(at.ones(3)).shape == (3,)
    with pytest.raises(DTypeError):
        at.rand(2, dtype="int64")
    with pytest.raises(ValueError):
        at.randint(5, 5, (1,))


def test_ragged_nested_sequences_raise_shape_error() -> None:
    from axon_core import ShapeError

    with pytest.raises(ShapeError, match="unequal lengths"):
        at.tensor([[1, 2], [3]])
