"""Randomised sweep of axon-tensor math against PyTorch CPU on non-contiguous, broadcast inputs."""

from __future__ import annotations

import numpy as np
import pytest

import axon_tensor as at

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.slow

UNARY = [
    "exp",
    "expm1",
    "log1p",
    "sin",
    "cos",
    "tanh",
    "atan",
    "erf",
    "erfc",
    "sigmoid",
    "abs",
    "neg",
    "floor",
    "ceil",
    "round",
    "trunc",
    "sign",
    "square",
]
BINARY = [
    "add",
    "sub",
    "mul",
    "div",
    "maximum",
    "minimum",
    "atan2",
    "hypot",
    "copysign",
    "fmod",
    "remainder",
    "floor_divide",
]
REDUCE = ["sum", "mean", "amax", "amin", "logsumexp", "var", "std"]


def transposed_pair(rng, shape, dtype):
    """A non-contiguous (transposed) axon tensor and the equal torch tensor."""
    values = rng.standard_normal(shape[::-1]) * 3
    array = values.astype(dtype).T
    assert not array.flags.c_contiguous or array.ndim < 2
    return at.from_numpy(array), torch.from_numpy(np.ascontiguousarray(array))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_random_sweep(seed: int, dtype: str) -> None:
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.integers(2, 6, size=3))
    a, ta = transposed_pair(rng, shape, dtype)
    b, tb = transposed_pair(rng, (1,) + shape[1:], dtype)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for name in UNARY:
        np.testing.assert_allclose(
            getattr(at, name)(a).numpy(), getattr(torch, name)(ta).numpy(), rtol=tol, atol=tol, err_msg=name
        )
    for name in BINARY:
        np.testing.assert_allclose(
            getattr(at, name)(a, b).numpy(), getattr(torch, name)(ta, tb).numpy(), rtol=tol, atol=tol, err_msg=name
        )
    for name in REDUCE:
        for dim in (0, -1, (0, 2)):
            np.testing.assert_allclose(
                getattr(at, name)(a, dim).numpy(),
                getattr(torch, name)(ta, dim).numpy(),
                rtol=tol,
                atol=tol,
                err_msg=f"{name} {dim}",
            )
    m, tm = transposed_pair(rng, (shape[2], 7), dtype)
    np.testing.assert_allclose((a @ m).numpy(), (ta @ tm).numpy(), rtol=tol * 10, atol=tol * 10)
    np.testing.assert_allclose(at.softmax(a, 1).numpy(), torch.softmax(ta, 1).numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(at.gelu(a).numpy(), torch.nn.functional.gelu(ta).numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("seed", range(4))
def test_integer_sweep(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    values = rng.integers(-50, 50, (4, 5))
    divisors = rng.integers(1, 9, (1, 5)) * rng.choice([-1, 1], (1, 5))
    a, ta = at.from_numpy(values.T), torch.from_numpy(np.ascontiguousarray(values.T))
    b, tb = at.from_numpy(divisors.T), torch.from_numpy(np.ascontiguousarray(divisors.T))
    for name in ("add", "sub", "mul", "floor_divide", "remainder", "fmod", "bitwise_and", "bitwise_xor"):
        np.testing.assert_array_equal(
            getattr(at, name)(a, b).numpy(), getattr(torch, name)(ta, tb).numpy(), err_msg=name
        )
    for mode in ("trunc", "floor"):
        np.testing.assert_array_equal(
            at.div(a, b, rounding_mode=mode).numpy(), torch.div(ta, tb, rounding_mode=mode).numpy()
        )
    np.testing.assert_array_equal(at.cumsum(a, 1).numpy(), torch.cumsum(ta, 1).numpy())


def test_erfinv_matches_torch_across_the_domain_and_tails() -> None:
    import torch

    x = np.concatenate(
        [
            np.linspace(-1, 1, 20001),
            [1 - 1e-12, -1 + 1e-15, 1 - 2**-52, -1 + 2**-53, 1e-300, 5e-324, 1.5, -2.0, np.nan, np.inf],
        ]
    )
    ours = at.tensor(x).erfinv().numpy()
    theirs = torch.erfinv(torch.tensor(x)).numpy()
    finite = np.isfinite(theirs)
    assert np.array_equal(np.isnan(ours), np.isnan(theirs))
    assert np.array_equal(ours[~finite & ~np.isnan(theirs)], theirs[~finite & ~np.isnan(theirs)])
    relative = np.abs(ours[finite] - theirs[finite]) / np.maximum(np.abs(theirs[finite]), 1e-300)
    assert relative.max() < 2e-15
    single = np.linspace(-0.9999, 0.9999, 2001).astype(np.float32)
    np.testing.assert_allclose(
        at.tensor(single).erfinv().numpy(), torch.erfinv(torch.tensor(single)).numpy(), rtol=2e-7, atol=1e-7
    )
