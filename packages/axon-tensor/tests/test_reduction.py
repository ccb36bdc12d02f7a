"""Reductions against PyTorch: dims (int, tuple, negative), keepdim, dtypes, empty and 0-d inputs."""

from __future__ import annotations

import numpy as np
import pytest

import axon_tensor as at
from axon_core import DTypeError

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)
DATA = RNG.standard_normal((3, 4, 5))
INTS = RNG.integers(-5, 6, (3, 4, 5))
TOL = {"float64": 1e-12, "float32": 1e-5, "float16": 5e-3, "bfloat16": 3e-2}


def pair(values, dtype):
    return at.tensor(values).to(dtype), torch.tensor(values).to(getattr(torch, dtype))


def assert_matches(ours, ref, tol=1e-6):
    assert ours.dtype.name == str(ref.dtype).removeprefix("torch."), (ours.dtype, ref.dtype)
    assert tuple(ours.shape) == tuple(ref.shape), (ours.shape, ref.shape)
    expected = ref.float().numpy() if ref.dtype == torch.bfloat16 else ref.numpy()
    actual = ours.numpy().astype(np.float32) if ours.dtype.name == "bfloat16" else ours.numpy()
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol, equal_nan=True)


DIMS = [None, 0, -1, (0, 2), (-1, 1), (0, 1, 2)]


@pytest.mark.parametrize("dtype", list(TOL))
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "prod", "amax", "amin", "logsumexp", "var", "std"])
def test_float_reductions(name: str, dtype: str, dim, keepdim: bool) -> None:
    a, ta = pair(DATA, dtype)
    if dim is None and not keepdim and name != "logsumexp":
        assert_matches(getattr(at, name)(a), getattr(torch, name)(ta), TOL[dtype])
        return
    if dim is None:
        # dim=None with keepdim (or logsumexp) reduces everything: torch spells that as every dim.
        ours = getattr(at, name)(a, None, keepdim=keepdim)
        dim = (0, 1, 2)
    else:
        ours = getattr(at, name)(a, dim, keepdim=keepdim)
    if name == "prod" and isinstance(dim, tuple):
        # torch.prod takes one dim only; NumPy in float64 is the oracle for several.
        expected = torch.from_numpy(np.asarray(np.prod(ta.double().numpy(), axis=dim, keepdims=keepdim))).to(ta.dtype)
    else:
        expected = getattr(torch, name)(ta, dim, keepdim=keepdim)
    assert_matches(ours, expected, TOL[dtype])


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int32", "int64"])
@pytest.mark.parametrize("name", ["sum", "prod", "cumsum", "cumprod"])
def test_integer_accumulation_promotes_to_int64(name: str, dtype: str) -> None:
    values = INTS > 0 if dtype == "bool" else (np.abs(INTS) if dtype == "uint8" else INTS)
    a, ta = pair(values, dtype)
    if name in ("cumsum", "cumprod"):
        assert_matches(getattr(at, name)(a, 1), getattr(torch, name)(ta, 1))
    else:
        assert_matches(getattr(at, name)(a), getattr(torch, name)(ta))
        assert_matches(getattr(at, name)(a, 2), getattr(torch, name)(ta, 2))
        assert_matches(getattr(at, name)(a, 0, dtype="float64"), getattr(torch, name)(ta, 0, dtype=torch.float64))


@pytest.mark.parametrize("correction", [0, 1, 2, 5])
def test_var_std_correction(correction: int) -> None:
    a, ta = pair(DATA, "float64")
    assert_matches(at.var(a, 1, correction=correction), torch.var(ta, 1, correction=correction), 1e-12)
    assert_matches(at.std(a, (0, 2), correction=correction), torch.std(ta, (0, 2), correction=correction), 1e-12)
    assert_matches(a.var(unbiased=False), ta.var(unbiased=False), 1e-12)
    v, m = at.var_mean(a, 0)
    tv, tm = torch.var_mean(ta, 0)
    assert_matches(v, tv, 1e-12) and assert_matches(m, tm, 1e-12)


def test_mean_var_of_integers_raise() -> None:
    for fn in (at.mean, at.var, at.std):
        with pytest.raises(DTypeError, match="floating"):
            fn(at.tensor([1, 2]))
    assert_matches(at.mean(at.tensor([1, 2]), dtype="float64"), torch.mean(torch.tensor([1, 2]), dtype=torch.float64))


@pytest.mark.parametrize("dtype", ["int32", "float32", "bfloat16"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_arg_with_dim(dtype: str, dim: int, keepdim: bool) -> None:
    a, ta = pair(INTS if dtype == "int32" else DATA, dtype)
    for name in ("max", "min"):
        values, indices = getattr(at, name)(a, dim, keepdim)
        expected = getattr(torch, name)(ta, dim, keepdim)
        assert_matches(values, expected.values)
        if dtype != "int32":  # ties among integers may pick a different (equally valid) index
            assert_matches(indices, expected.indices)
        assert getattr(at, name)(a, dim, keepdim).values is not None
    for name in ("argmax", "argmin"):
        if dtype != "int32":
            assert_matches(getattr(at, name)(a, dim, keepdim), getattr(torch, name)(ta, dim, keepdim))
    assert_matches(
        at.argmax(a.to("float64") if dtype == "bfloat16" else a),
        torch.argmax(ta.double() if dtype == "bfloat16" else ta),
    )


def test_max_without_dim_and_nan() -> None:
    a, ta = pair(np.array([[1.0, np.nan, 3.0], [4.0, 5.0, -1.0]]), "float32")
    assert_matches(at.max(a), torch.max(ta))
    assert_matches(at.max(a, 1).values, torch.max(ta, 1).values)
    assert_matches(at.max(a, 1).indices, torch.max(ta, 1).indices)
    assert_matches(at.argmax(a, 1), torch.argmax(ta, 1))
    assert_matches(at.max(a, at.zeros(3)), torch.max(ta, torch.zeros(3)))


def test_empty_reductions() -> None:
    e, te = pair(np.zeros((0, 3)), "float32")
    assert_matches(at.sum(e), torch.sum(te))
    assert_matches(at.sum(e, 0), torch.sum(te, 0))
    assert_matches(at.prod(e, 0), torch.prod(te, 0))
    assert_matches(at.mean(e), torch.mean(te))
    assert_matches(at.amax(e, 1), torch.amax(te, 1))
    assert_matches(at.logsumexp(e, 0), torch.logsumexp(te, 0))
    assert_matches(at.all(e), torch.all(te))
    assert_matches(at.any(e), torch.any(te))
    with pytest.raises(RuntimeError):
        at.max(e)
    with pytest.raises(IndexError):
        at.max(e, 0)
    with pytest.raises(IndexError):
        at.argmax(e, 0)
    with pytest.raises(IndexError):
        at.amax(e, 0)


def test_zero_d_inputs() -> None:
    s, ts = pair(np.array(2.5), "float32")
    for name in ("sum", "mean", "amax", "logsumexp", "prod"):
        assert_matches(getattr(at, name)(s, 0), getattr(torch, name)(ts, 0))
        assert_matches(getattr(at, name)(s, -1, keepdim=True), getattr(torch, name)(ts, -1, keepdim=True))
    assert_matches(at.cumsum(s, 0), torch.cumsum(ts, 0))
    assert_matches(at.argmax(s, 0), torch.argmax(ts, 0))
    assert_matches(at.max(s, 0).values, torch.max(ts, 0).values)
    with pytest.raises(IndexError):
        at.sum(s, 1)


def test_logsumexp_infinities() -> None:
    a, ta = pair(np.array([[-np.inf, -np.inf], [np.inf, 1.0], [1000.0, 1000.0]]), "float32")
    assert_matches(at.logsumexp(a, 1), torch.logsumexp(ta, 1))
    i, ti = pair(np.array([[1, 2], [3, 4]]), "int64")
    assert_matches(at.logsumexp(i, 1), torch.logsumexp(ti, 1))


def test_all_any_count_nonzero() -> None:
    a, ta = pair(np.array([[0.0, 1.0, np.nan], [0.0, 0.0, 2.0]]), "float32")
    for dim in (None, 0, 1, (0, 1)):
        kwargs = {} if dim is None else {"dim": dim}
        assert_matches(at.count_nonzero(a, **kwargs), torch.count_nonzero(ta, **kwargs))
        if not isinstance(dim, tuple):
            assert_matches(at.all(a, **kwargs), torch.all(ta, **kwargs))
            assert_matches(at.any(a, **kwargs), torch.any(ta, **kwargs))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cumulative(dtype: str) -> None:
    a, ta = pair(DATA, dtype)
    for dim in (0, 1, -1):
        assert_matches(at.cumsum(a, dim), torch.cumsum(ta, dim), TOL[dtype])
        assert_matches(at.cumprod(a, dim), torch.cumprod(ta, dim), TOL[dtype])
    h, th = pair(DATA, "float16")
    assert_matches(at.cumsum(h, 2), torch.cumsum(th, 2), 5e-3)


@pytest.mark.parametrize("p", [2, 1, float("inf"), -float("inf"), 0, 3, 0.5, "fro"])
@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
def test_norm(p, dim) -> None:
    a, ta = pair(DATA, "float64")
    assert_matches(at.norm(a, p, dim), torch.norm(ta, p, dim), 1e-12)
    assert_matches(a.norm(p, dim, keepdim=True), ta.norm(p, dim, keepdim=True), 1e-12)


def test_norm_complex_and_errors() -> None:
    c, tc = pair(np.array([3 + 4j, 1 - 1j]), "complex64")
    assert_matches(at.norm(c), torch.norm(tc), 1e-6)
    with pytest.raises(ValueError, match="nuc"):
        at.norm(at.ones(2, 2), "nuc")
    with pytest.raises(DTypeError):
        at.norm(at.tensor([1, 2]))


@pytest.mark.parametrize("shape", [(7,), (4, 6), (3, 4, 5)])
def test_median(shape) -> None:
    values = RNG.standard_normal(shape)
    a, ta = pair(values, "float64")
    assert_matches(at.median(a), torch.median(ta))
    for dim in range(-len(shape), len(shape)):
        ours, theirs = at.median(a, dim), torch.median(ta, dim)
        assert_matches(ours.values, theirs.values)
        assert_matches(ours.indices, theirs.indices)
        assert_matches(at.median(a, dim, keepdim=True).values, torch.median(ta, dim, keepdim=True).values)


def test_median_nan_and_even_count() -> None:
    a, ta = pair(np.array([[4.0, 1.0, 3.0, 2.0], [1.0, np.nan, 0.0, 5.0]]), "float32")
    assert_matches(at.median(a, 1).values, torch.median(ta, 1).values)
    assert_matches(at.median(a), torch.median(ta))
    i, ti = pair(np.array([5, 1, 4, 2]), "int64")
    assert_matches(at.median(i), torch.median(ti))


def test_non_contiguous_and_duplicate_dims() -> None:
    base = RNG.standard_normal((4, 6))
    t = at.from_numpy(base.T)
    np.testing.assert_allclose(at.sum(t, 0).numpy(), base.T.sum(0))
    np.testing.assert_allclose(at.std(t, 1).numpy(), base.T.std(1, ddof=1))
    with pytest.raises(ValueError, match="more than once"):
        at.sum(t, (0, -2))
    with pytest.raises(IndexError, match="out of range"):
        at.sum(t, 2)
