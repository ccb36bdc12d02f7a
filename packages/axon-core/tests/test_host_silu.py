"""The CPU backend's fused SiLU and SwiGLU kernels (forward and backward) against PyTorch's autograd
in float64, on both sides of the threading threshold, with the limits at ±inf, NaN, ±0 and the
saturation clamp; other layouts take the reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from axon_core import Device
from axon_core.backend.host_kernels.activations import CHUNK
from axon_core.backend.reference.activations import ActivationsReference

CPU = Device("cpu").backend
EDGES = [np.inf, -np.inf, np.nan, 0.0, -0.0, 2e4, -2e4, 1e-30, 88.0, -88.0, 20.0, -20.0]


class Float64Reference(ActivationsReference):
    xp = np


def _operands(size: int, dtype, count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(size + count)
    arrays = [(rng.standard_normal(size) * 4).astype(dtype) for _ in range(count)]
    arrays[0][: len(EDGES)] = EDGES
    return arrays


def _torch_swiglu(gate: np.ndarray, up: np.ndarray, grad: np.ndarray):
    g = torch.tensor(gate, dtype=torch.float64, requires_grad=True)
    u = torch.tensor(up, dtype=torch.float64, requires_grad=True)
    out = torch.nn.functional.silu(g) * u
    out.backward(torch.tensor(grad, dtype=torch.float64))
    return out.detach().numpy(), g.grad.numpy(), u.grad.numpy()


def _close(got: np.ndarray, want: np.ndarray, scale: np.ndarray, dtype) -> None:
    assert got.dtype == dtype
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    bound = 4 * np.finfo(dtype).eps * np.maximum(scale[finite], np.finfo(dtype).tiny)
    worst = np.max(np.abs(got[finite] - want[finite]) - bound)
    assert worst <= 0, f"error above {4} eps of the scale by {worst}"


@pytest.mark.parametrize("size", [1000, 3 * CHUNK + 7])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_silu_and_its_gradient_equal_torch_float64(size, dtype):
    x, grad = _operands(size, dtype, 2)
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    want = torch.nn.functional.silu(t)
    want.backward(torch.tensor(grad, dtype=torch.float64))
    want, want_grad = want.detach().numpy(), t.grad.numpy()
    # PyTorch's silu(-inf) and silu'(±inf) are NaN (inf * 0); the limits are 0, 1 and 0 (the references')
    want[1], want_grad[:2] = 0.0, [grad[0], 0.0]
    got, got_grad = CPU.silu(x), CPU.silu_backward(grad, x)
    _close(got, want, np.maximum(np.abs(want), 1.0), dtype)
    _close(got_grad, want_grad, np.abs(grad) * np.maximum(np.abs(x.astype(np.float64)), 1.0), dtype)
    assert got[1] == 0 and got[0] == np.inf and got_grad[5] == grad[5] and got_grad[6] == 0


@pytest.mark.parametrize("size", [1000, 3 * CHUNK + 7])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_swiglu_and_its_gradients_equal_torch_float64(size, dtype):
    gate, up, grad = _operands(size, dtype, 3)
    want, want_d_gate, want_d_up = _torch_swiglu(gate, up, grad)
    # the limits at ±inf, where PyTorch gives inf * 0 = NaN
    want[1], want_d_gate[:2], want_d_up[1] = 0.0, [grad[0] * up[0], 0.0], 0.0
    got = CPU.swiglu(gate, up)
    got_d_gate, got_d_up = CPU.swiglu_backward(grad, gate, up)
    gate64 = np.abs(gate.astype(np.float64))
    _close(got, want, np.maximum(gate64, 1.0) * np.abs(up), dtype)
    _close(got_d_gate, want_d_gate, np.abs(grad * up) * np.maximum(gate64, 1.0), dtype)
    _close(got_d_up, want_d_up, np.abs(grad) * np.maximum(gate64, 1.0), dtype)


@pytest.mark.parametrize("shape", [(0,), (1,), (3, 0, 5), (2, 3, 7)])
def test_edge_shapes_keep_shape_and_match_the_reference(shape):
    rng = np.random.default_rng(1)
    gate, up, grad = (rng.standard_normal(shape).astype(np.float32) for _ in range(3))
    reference = Float64Reference()
    for got, want in (
        (CPU.silu(gate), reference.silu(gate.astype(np.float64))),
        (CPU.silu_backward(grad, gate), reference.silu_backward(grad.astype(np.float64), gate.astype(np.float64))),
        (CPU.swiglu(gate, up), reference.swiglu(gate.astype(np.float64), up.astype(np.float64))),
        *zip(
            CPU.swiglu_backward(grad, gate, up),
            reference.swiglu_backward(*(a.astype(np.float64) for a in (grad, gate, up))),
        ),
    ):
        assert got.shape == shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_other_layouts_and_dtypes_take_the_reference():
    gate = np.linspace(-3, 3, 64, dtype=np.float32).reshape(8, 8).T  # not C-contiguous
    up = np.ones((8, 8), np.float64)
    reference = Float64Reference()
    np.testing.assert_allclose(CPU.silu(gate), reference.silu(gate.astype(np.float64)), rtol=1e-6)
    mixed = CPU.swiglu(gate, up)  # mixed dtypes: the reference's promotion
    np.testing.assert_allclose(mixed, reference.swiglu(gate.astype(np.float64), up), rtol=1e-6)
    half = CPU.silu(gate.astype(np.float16))
    assert half.dtype == np.float16
