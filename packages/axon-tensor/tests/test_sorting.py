"""sort / argsort / topk / kthvalue / unique against NumPy (stable order, NaN as the largest)."""

from __future__ import annotations

import numpy as np
import pytest

import axon_tensor as at
from axon_core import DTypeError

NAN = float("nan")


class TestSort:
    @pytest.mark.parametrize("dim", [0, 1, -1])
    def test_ascending_matches_stable_numpy(self, dim):
        a = np.random.default_rng(0).integers(0, 4, (5, 6)).astype(np.float32)
        a[1, 2] = NAN
        values, indices = at.tensor(a).sort(dim)
        order = np.argsort(a, axis=dim, kind="stable")
        np.testing.assert_array_equal(indices.numpy(), order)
        np.testing.assert_array_equal(values.numpy(), np.take_along_axis(a, order, dim))
        assert indices.dtype is at.int64

    def test_descending_stable_ties_and_nan(self):
        a = np.array([1.0, 2.0, 1.0, 2.0, NAN, 3.0, NAN], np.float32)
        values, indices = at.sort(at.tensor(a), descending=True, stable=True)
        np.testing.assert_array_equal(indices.numpy(), [4, 6, 5, 1, 3, 0, 2])
        np.testing.assert_array_equal(values.numpy(), a[[4, 6, 5, 1, 3, 0, 2]])

    def test_descending_2d_noncontiguous(self):
        a = np.random.default_rng(1).integers(0, 3, (4, 7)).astype(np.int64)
        x = at.tensor(a).t()
        values, indices = x.sort(dim=0, descending=True)
        # For small signed ints, negation is an exact order reversal: a stable oracle.
        np.testing.assert_array_equal(indices.numpy(), np.argsort(-a.T, axis=0, kind="stable"))
        np.testing.assert_array_equal(values.numpy(), np.take_along_axis(a.T, indices.numpy(), 0))

    def test_unsigned_and_bool(self):
        a = np.array([3, 0, 255, 7], np.uint8)
        np.testing.assert_array_equal(at.tensor(a).sort(descending=True).values.numpy(), [255, 7, 3, 0])
        b = np.array([True, False, True])
        np.testing.assert_array_equal(at.tensor(b).argsort(descending=True).numpy(), [0, 2, 1])

    def test_0d_and_empty(self):
        v, i = at.tensor(3.0).sort()
        assert v.item() == 3.0 and i.item() == 0 and i.shape == ()
        v, i = at.zeros(0, 3).sort(0)
        assert v.shape == (0, 3) and i.shape == (0, 3)

    def test_complex_rejected(self):
        with pytest.raises(DTypeError):
            at.tensor([1 + 1j]).sort()


class TestTopkKth:
    def test_topk_largest_smallest(self):
        a = np.random.default_rng(2).standard_normal((4, 9)).astype(np.float32)
        values, indices = at.tensor(a).topk(3)
        np.testing.assert_array_equal(values.numpy(), -np.sort(-a, axis=1)[:, :3])
        np.testing.assert_array_equal(np.take_along_axis(a, indices.numpy(), 1), values.numpy())
        values, indices = at.topk(at.tensor(a), 2, dim=0, largest=False)
        np.testing.assert_array_equal(values.numpy(), np.sort(a, axis=0)[:2])
        np.testing.assert_array_equal(np.take_along_axis(a, indices.numpy(), 0), values.numpy())

    def test_topk_nan_is_largest(self):
        values, indices = at.tensor([1.0, NAN, 3.0]).topk(2)
        assert np.isnan(values.numpy()[0]) and values.numpy()[1] == 3.0
        np.testing.assert_array_equal(indices.numpy(), [1, 2])

    def test_topk_edges(self):
        assert at.tensor([1.0, 2.0]).topk(0).values.shape == (0,)
        with pytest.raises(IndexError, match="k=3"):
            at.tensor([1.0, 2.0]).topk(3)

    def test_kthvalue(self):
        a = np.random.default_rng(3).standard_normal((3, 5)).astype(np.float32)
        for k in range(1, 6):
            values, indices = at.tensor(a).kthvalue(k)
            np.testing.assert_array_equal(values.numpy(), np.sort(a, axis=1)[:, k - 1])
            np.testing.assert_array_equal(a[np.arange(3), indices.numpy()], values.numpy())
        kept = at.tensor(a).kthvalue(2, dim=0, keepdim=True)
        assert kept.values.shape == (1, 5)
        np.testing.assert_array_equal(kept.values.numpy(), np.sort(a, axis=0)[1:2])
        with pytest.raises(IndexError):
            at.tensor(a).kthvalue(0)


class TestUnique:
    def test_values_inverse_counts(self):
        a = np.array([[3, 1, 3], [2, 1, 1]])
        values, inverse, counts = at.unique(at.tensor(a), return_inverse=True, return_counts=True)
        ev, ei, ec = np.unique(a, return_inverse=True, return_counts=True)
        np.testing.assert_array_equal(values.numpy(), ev)
        np.testing.assert_array_equal(inverse.numpy(), ei.reshape(a.shape))
        np.testing.assert_array_equal(counts.numpy(), ec)
        np.testing.assert_array_equal(values.numpy()[inverse.numpy()], a)

    def test_nan_each_distinct(self):
        values, counts = at.tensor([1.0, NAN, NAN, 1.0]).unique(return_counts=True)
        np.testing.assert_array_equal(values.numpy(), [1.0, NAN, NAN])
        np.testing.assert_array_equal(counts.numpy(), [2, 1, 1])

    def test_dim(self):
        a = np.array([[1, 2], [0, 5], [1, 2]])
        values, inverse = at.unique(at.tensor(a), dim=0, return_inverse=True)
        np.testing.assert_array_equal(values.numpy(), [[0, 5], [1, 2]])
        np.testing.assert_array_equal(inverse.numpy(), [1, 0, 1])

    def test_empty_and_0d(self):
        assert at.unique(at.zeros(0)).shape == (0,)
        np.testing.assert_array_equal(at.unique(at.tensor(4)).numpy(), [4])
