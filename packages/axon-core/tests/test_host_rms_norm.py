"""The CPU backend's fused RMSNorm kernels (forward, dx and dweight) against PyTorch's
``rms_norm`` and autograd in float64, with and without a weight, on edge shapes; other layouts
and dtypes take the reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from axon_core import Device
from axon_core.backend.reference.norms import NormsReference

CPU = Device("cpu").backend
EPS = 1e-6


class Float64Reference(NormsReference):
    xp = np


def _torch(x: np.ndarray, weight: np.ndarray | None, grad: np.ndarray):
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    tw = None if weight is None else torch.tensor(weight, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.rms_norm(tx, (x.shape[1],), tw, EPS)
    y.backward(torch.tensor(grad, dtype=torch.float64))
    return y.detach().numpy(), tx.grad.numpy(), None if tw is None else tw.grad.numpy()


@pytest.mark.parametrize("with_weight", [True, False])
@pytest.mark.parametrize("shape", [(1, 1), (1, 384), (37, 5), (300, 129), (0, 8)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rms_norm_and_its_gradients_equal_torch_float64(shape, dtype, with_weight):
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    x, grad = (rng.standard_normal(shape).astype(dtype) * 3 for _ in range(2))
    weight = rng.standard_normal(shape[1]).astype(dtype) if with_weight else None
    want_y, want_dx, want_dw = _torch(x, weight, grad)
    y, rstd = CPU.rms_norm(x, weight, EPS)
    dx, dw = CPU.rms_norm_backward(grad, x, weight, rstd)
    assert y.dtype == dx.dtype == rstd.dtype == dtype and rstd.shape == (shape[0],)
    # float32: a few ulps of the row's scale (the sums differ in order and precision)
    tol = 64 * np.finfo(dtype).eps
    np.testing.assert_allclose(y, want_y, rtol=tol, atol=tol * 3)
    np.testing.assert_allclose(dx, want_dx, rtol=tol, atol=tol * 30)
    if with_weight:
        assert dw.dtype == dtype
        np.testing.assert_allclose(dw, want_dw, rtol=tol, atol=tol * max(1, shape[0]) * 10)
    else:
        assert dw is None


def test_other_layouts_and_dtypes_take_the_reference():
    reference = Float64Reference()
    x = np.linspace(-3, 3, 64, dtype=np.float32).reshape(8, 8).T  # not C-contiguous
    weight = np.linspace(0.5, 2, 8)  # float64 weight for a float32 x: the reference's promotion
    np.testing.assert_allclose(
        CPU.rms_norm(x, weight, EPS)[0], reference.rms_norm(x.astype(np.float64), weight, EPS)[0], rtol=1e-6
    )
    y, rstd = CPU.rms_norm(x.astype(np.float16), None, EPS)
    assert y.dtype == np.float16
    np.testing.assert_allclose(y, reference.rms_norm(x.astype(np.float64), None, EPS)[0], rtol=2e-3, atol=2e-3)
