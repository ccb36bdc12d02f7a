"""The CPU backend's matmul (stacks split across threads) against np.matmul, value for value."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from axon_core import Device
from axon_core.backend import host_matmul

rng = np.random.default_rng(7)
backend = Device("cpu").backend


def randn(*shape: int, dtype: str = "float64") -> np.ndarray:
    data = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        data = data + 1j * rng.standard_normal(shape)
    return data.astype(dtype)


def blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture(params=[1, 2, 3], ids=["threads1", "threads2", "threads3"])
def threads(request, monkeypatch):
    """Run with BLAS reporting 1, 2 or 3 threads, so the split path runs on any machine."""
    monkeypatch.setattr(host_matmul._threads, "count", lambda: request.param)
    monkeypatch.setattr(host_matmul, "_MIN_SPLIT_WORK", 1)
    return request.param


CASES = [
    ((6, 5, 4), (6, 4, 3)),  # a stack
    ((2, 3, 5, 4), (2, 3, 4, 7)),  # two batch dims
    ((2, 1, 5, 4), (1, 3, 4, 2)),  # broadcast batch dims
    ((3, 5, 4), (2, 3, 4, 2)),  # operands of different ranks
    ((5, 4), (7, 4, 3)),  # a matrix times a stack
    ((7, 5, 4), (4, 3)),  # a stack times a matrix: folded into one product
    ((1, 5, 4), (1, 4, 3)),  # a batch of one
]


@pytest.mark.parametrize("a_shape, b_shape", CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
def test_matches_numpy(threads, a_shape, b_shape, dtype):
    a, b = randn(*a_shape, dtype=dtype), randn(*b_shape, dtype=dtype)
    out = backend.matmul(a, b)
    expected = np.matmul(a, b)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    tol = 1e-5 if dtype in ("float32", "complex64") else 1e-12
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)


def test_non_contiguous_operands(threads):
    base = randn(4, 9, 3, 8)
    a = base.transpose(0, 2, 1, 3)[:, :, ::2]  # [4, 3, 5, 8], strided batch and rows
    b = randn(4, 3, 6, 8).swapaxes(-1, -2)  # transposed matrices
    np.testing.assert_allclose(backend.matmul(a, b), np.matmul(a, b), rtol=1e-12, atol=1e-12)
    stack = randn(5, 8, 6).transpose(1, 0, 2)  # [8, 5, 6] not contiguous, times a matrix
    w = randn(4, 6).T
    np.testing.assert_allclose(backend.matmul(stack, w), np.matmul(stack, w), rtol=1e-12, atol=1e-12)


def test_edge_cases_and_errors(threads):
    # empty batches and empty matrices, NaN/inf propagate as in NumPy
    for a_shape, b_shape in (((0, 3, 4), (0, 4, 2)), ((3, 0, 4), (3, 4, 2)), ((3, 2, 0), (3, 0, 5))):
        a, b = randn(*a_shape), randn(*b_shape)
        np.testing.assert_array_equal(backend.matmul(a, b), np.matmul(a, b))
    a, b = randn(4, 3, 3), randn(4, 3, 3)
    a[1, 0, 0], b[2, 1, 1] = np.nan, np.inf
    np.testing.assert_array_equal(backend.matmul(a, b), np.matmul(a, b))
    # 1-d operands, integer and mixed dtypes go to NumPy unchanged
    assert backend.matmul(np.arange(3.0), np.ones(3)) == 3.0
    vec, stack = randn(3), randn(2, 3, 4)
    np.testing.assert_allclose(backend.matmul(vec, stack), np.matmul(vec, stack), rtol=1e-12)
    ints = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(backend.matmul(ints, ints.swapaxes(-1, -2)), np.matmul(ints, ints.swapaxes(-1, -2)))
    mixed = backend.matmul(randn(2, 3, 4, dtype="float32"), randn(2, 4, 2))
    assert mixed.dtype == np.float64
    with pytest.raises(ValueError):
        backend.matmul(randn(2, 3, 4), randn(2, 5, 2))
    with pytest.raises(ValueError):
        backend.matmul(randn(2, 3, 4), randn(3, 4, 2))


def test_restores_blas_threads():
    before = blas_threads()
    a, b = randn(64, 32, 32), randn(64, 32, 32)
    np.testing.assert_allclose(backend.matmul(a, b), np.matmul(a, b), rtol=1e-12, atol=1e-12)
    assert blas_threads() == before


def test_split_products_work_in_a_forked_child(monkeypatch):
    import multiprocessing

    monkeypatch.setattr(host_matmul, "_MIN_SPLIT_WORK", 1)
    a, b = randn(8, 5, 4), randn(8, 4, 3)
    backend.matmul(a, b)  # the parent's pool has started its threads
    with multiprocessing.get_context("fork").Pool(1) as pool:
        out = pool.apply_async(_forced_split_matmul, (a, b)).get(timeout=60)  # a hang fails, not blocks
    np.testing.assert_allclose(out, np.matmul(a, b), rtol=1e-12, atol=1e-12)


def _forced_split_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    host_matmul._threads.count = lambda: 2
    host_matmul._MIN_SPLIT_WORK = 1
    return backend.matmul(a, b)
