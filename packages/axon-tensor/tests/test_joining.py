"""cat / stack / hstack / vstack against NumPy, with PyTorch's dtype promotion."""

from __future__ import annotations

import numpy as np
import pytest

import axon_tensor as at
from axon_core import ShapeError


def rand(*shape: int, dtype: str = "float32", seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


class TestCat:
    @pytest.mark.parametrize("dim", [0, 1, -1, -3])
    def test_dims(self, dim):
        a, b = rand(2, 3, 4), rand(2, 3, 4, seed=1)
        got = at.cat([at.tensor(a), at.tensor(b)], dim=dim)
        np.testing.assert_array_equal(got.numpy(), np.concatenate([a, b], axis=dim))

    def test_noncontiguous_and_views(self):
        a = rand(4, 3)
        x = at.tensor(a)
        got = at.cat([x.t(), x.t()[:, 1:]], dim=1)
        np.testing.assert_array_equal(got.numpy(), np.concatenate([a.T, a.T[:, 1:]], axis=1))
        assert got._base is None

    def test_promotion(self):
        ints = at.tensor([1, 2], dtype="int32")
        halfs = at.tensor([0.5], dtype="float16")
        got = at.cat([ints, halfs])
        assert got.dtype is at.float16
        np.testing.assert_array_equal(got.numpy(), np.array([1, 2, 0.5], np.float16))
        assert at.cat([at.tensor([True]), at.tensor([3], dtype="uint8")]).dtype is at.uint8
        assert at.cat([at.tensor([1], dtype="uint8"), at.tensor([-1], dtype="int8")]).dtype is at.int16

    def test_empty_tensors(self):
        a = rand(2, 3)
        got = at.cat([at.tensor(a), at.zeros(0), at.zeros(0, 3)])
        np.testing.assert_array_equal(got.numpy(), a)
        assert at.cat([at.zeros(0), at.zeros(0)]).shape == (0,)

    def test_errors(self):
        with pytest.raises(ShapeError, match=r"\(2, 3\).*\(2, 4\)"):
            at.cat([at.zeros(2, 3), at.zeros(2, 4)])
        with pytest.raises(ShapeError):
            at.cat([at.zeros(2, 3), at.zeros(3)])
        with pytest.raises(ShapeError):
            at.cat([at.tensor(1.0), at.tensor(2.0)])
        with pytest.raises(ValueError):
            at.cat([])
        with pytest.raises(IndexError):
            at.cat([at.zeros(2)], dim=1)


class TestStack:
    @pytest.mark.parametrize("dim", [0, 1, 2, -1])
    def test_dims(self, dim):
        a, b = rand(2, 3), rand(2, 3, seed=1)
        np.testing.assert_array_equal(at.stack([at.tensor(a), at.tensor(b)], dim).numpy(), np.stack([a, b], dim))

    def test_0d_and_promotion(self):
        got = at.stack([at.tensor(1), at.tensor(2.5)])
        assert got.dtype is at.float32
        np.testing.assert_array_equal(got.numpy(), [1.0, 2.5])

    def test_errors(self):
        with pytest.raises(ShapeError, match="equal size"):
            at.stack([at.zeros(2), at.zeros(3)])
        with pytest.raises(IndexError):
            at.stack([at.zeros(2)], dim=3)

    def test_hstack_vstack(self):
        a, b = rand(3), rand(2, seed=1)
        np.testing.assert_array_equal(at.hstack([at.tensor(a), at.tensor(b)]).numpy(), np.hstack([a, b]))
        m, n = rand(2, 3), rand(2, 1)
        np.testing.assert_array_equal(at.hstack([at.tensor(m), at.tensor(n)]).numpy(), np.hstack([m, n]))
        np.testing.assert_array_equal(at.vstack([at.tensor(a), at.tensor(a)]).numpy(), np.vstack([a, a]))
        np.testing.assert_array_equal(at.vstack([at.tensor(m), at.tensor(a)]).numpy(), np.vstack([m, a]))
        np.testing.assert_array_equal(at.hstack([at.tensor(1.0), at.tensor(2.0)]).numpy(), np.hstack([1.0, 2.0]))
