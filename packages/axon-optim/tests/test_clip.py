"""Gradient clipping against NumPy norms."""

from __future__ import annotations

import math

import numpy as np
import pytest

import axon_optim as ao

RNG = np.random.default_rng(3)
ARRAYS = [
    RNG.standard_normal((4, 3)).astype(np.float32),
    RNG.standard_normal(5).astype(np.float32),
    np.array(2.5, np.float32),
]


def numpy_norm(arrays, p):
    """The norm of the per-gradient norms (for p=0: how many gradients have a nonzero entry)."""
    norms = np.array([np.linalg.norm(a.astype(np.float64).ravel(), ord=p) for a in arrays])
    return float(np.linalg.norm(norms, ord=p))


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, 0.0])
@pytest.mark.parametrize("max_norm", [0.1, 1e5])
def test_clip_grad_norm(make_param, norm_type, max_norm) -> None:
    params = [make_param(np.zeros_like(a), grad=a) for a in ARRAYS]
    total = ao.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    expected = numpy_norm(ARRAYS, norm_type)
    assert total.item() == pytest.approx(expected, rel=1e-6)
    coefficient = min(max_norm / (expected + 1e-6), 1.0)
    for p, a in zip(params, ARRAYS):
        np.testing.assert_allclose(p.grad.data.numpy(), a * coefficient, rtol=1e-5)


def test_clip_grad_norm_without_gradients_and_single_param(make_param) -> None:
    assert ao.clip_grad_norm_([make_param([1.0])], 1.0).item() == 0.0
    p = make_param([0.0, 0.0], grad=[3.0, 4.0])
    assert ao.clip_grad_norm_(p, 1.0).item() == 5.0
    np.testing.assert_allclose(p.grad.data.numpy(), [0.6, 0.8], rtol=1e-5)


def test_clip_grad_norm_nonfinite(make_param) -> None:
    p = make_param([0.0, 0.0], grad=[np.nan, 1.0])
    assert math.isnan(ao.clip_grad_norm_([p], 1.0).item())
    assert np.isnan(p.grad.data.numpy()).all()
    p = make_param([0.0], grad=[np.inf])
    with pytest.raises(RuntimeError, match="non-finite"):
        ao.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(p.grad.data.numpy(), [np.inf])


def test_clip_grad_value(make_param) -> None:
    params = [make_param(np.zeros_like(a), grad=a) for a in ARRAYS] + [make_param([0.0, 0.0], grad=[np.nan, -9.0])]
    ao.clip_grad_value_(params, 0.5)
    for p, a in zip(params, ARRAYS + [np.array([np.nan, -9.0], np.float32)]):
        np.testing.assert_array_equal(p.grad.data.numpy(), np.clip(a, -0.5, 0.5))
    with pytest.raises(TypeError, match="foreach"):
        ao.clip_grad_value_(params, 0.5, foreach="yes")
