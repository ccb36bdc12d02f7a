"""Sparse COO/CSR against dense NumPy arithmetic (np.add.at for duplicates, @ for products)."""

from __future__ import annotations

import numpy as np
import pytest

import axon_tensor as at
from axon_core import DTypeError, ShapeError


def random_coo(shape: tuple[int, ...], nnz: int, seed: int = 0, duplicates: bool = True):
    rng = np.random.default_rng(seed)
    indices = np.stack([rng.integers(0, s, nnz) for s in shape])
    if duplicates and nnz > 2:
        indices[:, -1] = indices[:, 0]
    values = rng.standard_normal(nnz)
    dense = np.zeros(shape)
    np.add.at(dense, tuple(indices), values)
    return indices, values, dense


class TestCOO:
    @pytest.mark.parametrize("shape", [(5,), (4, 6), (3, 4, 5)])
    def test_to_dense_sums_duplicates(self, shape):
        indices, values, dense = random_coo(shape, 9)
        s = at.sparse_coo_tensor(indices, values, shape, dtype="float64")
        assert s.nnz == 9 and s.shape == shape and s.dtype is at.float64
        np.testing.assert_allclose(s.to_dense().numpy(), dense)

    def test_coalesce(self):
        indices = np.array([[1, 0, 1, 0, 2], [2, 1, 2, 0, 0]])
        values = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
        c = at.sparse_coo_tensor(indices, values, (3, 3)).coalesce()
        assert c.is_coalesced() and c.nnz == 4
        np.testing.assert_array_equal(c.indices().numpy(), [[0, 0, 1, 2], [0, 1, 2, 0]])
        np.testing.assert_array_equal(c.values().numpy(), np.array([4.0, 2.0, 4.0, 5.0], np.float32))
        assert c.coalesce() is c

    def test_coalesce_random_matches_dense(self):
        indices, values, dense = random_coo((6, 7), 40, seed=3)
        c = at.sparse_coo_tensor(indices, values, (6, 7), dtype="float64").coalesce()
        flat = c.indices().numpy()[0] * 7 + c.indices().numpy()[1]
        assert (np.diff(flat) > 0).all()
        np.testing.assert_allclose(c.to_dense().numpy(), dense)

    def test_inferred_size_and_empty(self):
        s = at.sparse_coo_tensor([[0, 3], [1, 1]], [1.0, 2.0])
        assert s.shape == (4, 2)
        empty = at.sparse_coo_tensor(np.zeros((2, 0), np.int64), np.zeros(0), (3, 3))
        assert empty.nnz == 0 and empty.coalesce().nnz == 0
        np.testing.assert_array_equal(empty.to_dense().numpy(), np.zeros((3, 3)))
        np.testing.assert_array_equal(empty.to_sparse_csr().crow_indices().numpy(), [0, 0, 0, 0])

    def test_validation(self):
        with pytest.raises(IndexError, match="out of range"):
            at.sparse_coo_tensor([[0, 3]], [1.0, 2.0], (3,))
        with pytest.raises(IndexError):
            at.sparse_coo_tensor([[0, -1]], [1.0, 2.0], (3,))
        with pytest.raises(ShapeError, match="nnz=2"):
            at.sparse_coo_tensor([[0, 1]], [1.0, 2.0, 3.0], (3,))
        with pytest.raises(ShapeError):
            at.sparse_coo_tensor([0, 1], [1.0, 2.0], (3,))
        with pytest.raises(ShapeError):
            at.sparse_coo_tensor([[0, 1]], [1.0, 2.0], (3, 3))
        with pytest.raises(DTypeError):
            at.sparse_coo_tensor([[0.0, 1.0]], [1.0, 2.0], (3,))

    def test_dense_to_sparse_round_trip(self):
        dense = np.array([[0, 1.5, 0], [2.0, 0, -1.0]], np.float32)
        s = at.tensor(dense).to_sparse()
        assert s.is_coalesced() and s.nnz == 3
        np.testing.assert_array_equal(s.indices().numpy(), np.stack(np.nonzero(dense)))
        np.testing.assert_array_equal(s.to_dense().numpy(), dense)
        np.testing.assert_array_equal(at.tensor(dense).t().to_sparse().to_dense().numpy(), dense.T)
        with pytest.raises(ShapeError):
            at.tensor(1.0).to_sparse()

    def test_transpose(self):
        indices, values, dense = random_coo((3, 5), 6)
        s = at.sparse_coo_tensor(indices, values, (3, 5), dtype="float64")
        np.testing.assert_allclose(s.t().to_dense().numpy(), dense.T)


class TestCSR:
    def test_from_coo_and_back(self):
        indices, values, dense = random_coo((5, 4), 12, seed=1)
        coo = at.sparse_coo_tensor(indices, values, (5, 4), dtype="float64")
        csr = coo.to_sparse_csr()
        np.testing.assert_allclose(csr.to_dense().numpy(), dense)
        crow = csr.crow_indices().numpy()
        assert crow[0] == 0 and crow[-1] == csr.nnz and (np.diff(crow) >= 0).all()
        np.testing.assert_allclose(csr.to_sparse_coo().to_dense().numpy(), dense)

    def test_direct_construction(self):
        csr = at.sparse_csr_tensor([0, 2, 2, 3], [0, 3, 1], [1.0, 2.0, 3.0])
        assert csr.shape == (3, 4)
        expected = np.zeros((3, 4), np.float32)
        expected[0, 0], expected[0, 3], expected[2, 1] = 1, 2, 3
        np.testing.assert_array_equal(csr.to_dense().numpy(), expected)
        np.testing.assert_array_equal(at.tensor(expected).to_sparse_csr().col_indices().numpy(), [0, 3, 1])

    def test_validation(self):
        with pytest.raises(ShapeError, match="crow_indices"):
            at.sparse_csr_tensor([0, 2, 1, 3], [0, 3, 1], [1.0, 2.0, 3.0])
        with pytest.raises(ShapeError):
            at.sparse_csr_tensor([0, 2, 2, 4], [0, 3, 1], [1.0, 2.0, 3.0])
        with pytest.raises(ShapeError, match="values has 2"):
            at.sparse_csr_tensor([0, 2, 2, 3], [0, 3, 1], [1.0, 2.0])
        with pytest.raises(IndexError):
            at.sparse_csr_tensor([0, 2, 2, 3], [0, 3, 1], [1.0, 2.0, 3.0], (3, 3))
        with pytest.raises(ShapeError):
            at.sparse_csr_tensor([0, 1], [0], [1.0], (2, 3))
        with pytest.raises(ShapeError):
            at.sparse_coo_tensor([[0], [0], [0]], [1.0], (1, 1, 1)).to_sparse_csr()


class TestSparseMM:
    @pytest.mark.parametrize("layout", ["coo", "csr"])
    def test_matches_dense(self, layout):
        indices, values, dense = random_coo((4, 6), 10, seed=2)
        s = at.sparse_coo_tensor(indices, values, (4, 6), dtype="float64")
        s = s.to_sparse_csr() if layout == "csr" else s
        rhs = np.random.default_rng(5).standard_normal((6, 3))
        np.testing.assert_allclose((s @ at.tensor(rhs)).numpy(), dense @ rhs, rtol=1e-12)
        np.testing.assert_allclose(at.sparse_mm(s, at.tensor(rhs[:, 0])).numpy(), dense @ rhs[:, 0], rtol=1e-12)
        np.testing.assert_allclose(s.matmul(at.tensor(rhs).t().t()).numpy(), dense @ rhs, rtol=1e-12)

    def test_promotion_and_errors(self):
        s = at.sparse_eye(3)
        out = s @ at.tensor(np.arange(6).reshape(3, 2))
        assert out.dtype is at.float32
        np.testing.assert_array_equal(out.numpy(), np.arange(6).reshape(3, 2))
        with pytest.raises(ShapeError, match=r"\(3, 3\).*\(2, 2\)"):
            s @ at.zeros(2, 2)
        with pytest.raises(TypeError):
            at.sparse_mm(at.zeros(3, 3), at.zeros(3, 3))

    def test_eye(self):
        np.testing.assert_array_equal(at.sparse_eye(3, 4, dtype="float64").to_dense().numpy(), np.eye(3, 4))
        assert at.sparse_eye(0).nnz == 0
