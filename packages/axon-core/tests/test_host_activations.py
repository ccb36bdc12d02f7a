"""The CPU backend's fused GELU kernels against the float64 reference formulas (NumPy), on both sides
of the threading threshold, with the limits at ±inf, NaN and the saturation clamp."""

from __future__ import annotations

import numpy as np
import pytest

from axon_core import Device
from axon_core.backend.host_kernels.activations import CHUNK
from axon_core.backend.reference.activations import ActivationsReference


class Float64Reference(ActivationsReference):
    xp = np


REFERENCE = Float64Reference()
CPU = Device("cpu").backend


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("size", [1000, 3 * CHUNK + 7])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_and_its_derivative_equal_the_float64_formulas(approximate, size, dtype):
    rng = np.random.default_rng(size)
    x = (rng.standard_normal(size) * 4).astype(dtype)
    grad = rng.standard_normal(size).astype(dtype)
    x[:8] = [np.inf, -np.inf, np.nan, 0.0, -0.0, 2e4, -2e4, 1e-30]
    want = REFERENCE.gelu(x.astype(np.float64), approximate)
    want_grad = REFERENCE.gelu_backward(grad.astype(np.float64), x.astype(np.float64), approximate)
    got, got_grad = CPU.gelu(x, approximate), CPU.gelu_backward(grad, x, approximate)
    assert got.dtype == dtype and got_grad.dtype == dtype
    # Both sides compute in float64 with libm-grade tanh/erf/exp, whose last bits differ between
    # Numba's and NumPy's (machine-dependent) vector paths. An ulp of error in tanh or erf moves
    # 0.5 * x * (1 + t) by |x| / 2 ulp and the derivative by about |x| * (1 + 3 * 0.044715 * x**2)
    # ulp where 1 + t cancels (x far below 0), so the bound scales with those sensitivities.
    # In float32 the float64 internals leave only the final rounding: 2 ulp of the larger of the
    # result and 1 (forward) or of the incoming gradient (backward).
    eps = np.finfo(dtype).eps
    x64 = x.astype(np.float64)
    if dtype == np.float32:
        forward_scale = np.maximum(np.abs(want), 1.0) / 2
        backward_scale = np.maximum(np.abs(want_grad), np.abs(grad)) / 2
    else:
        forward_scale = np.abs(want) + 1.0 + np.abs(x64)
        backward_scale = np.abs(want_grad) + np.abs(grad) * (1.0 + np.abs(x64) * (1.0 + 0.134145 * x64**2))
    for value, exact, scale in ((got, want, forward_scale), (got_grad, want_grad, backward_scale)):
        np.testing.assert_array_equal(np.isnan(value), np.isnan(exact))
        finite = np.isfinite(exact)
        np.testing.assert_array_equal(value[~finite & ~np.isnan(exact)], exact[~finite & ~np.isnan(exact)])
        assert np.all(np.abs(value[finite] - exact[finite]) <= 4 * eps * scale[finite] + 1e-300)
    assert got[1] == 0 and got_grad[0] == grad[0] and got_grad[1] == 0


def test_other_layouts_take_the_reference():
    x = np.linspace(-3, 3, 64, dtype=np.float32).reshape(8, 8).T  # not C-contiguous
    np.testing.assert_allclose(CPU.gelu(x, "tanh"), REFERENCE.gelu(x.astype(np.float64), "tanh"), rtol=1e-6)
    with pytest.raises(ValueError, match="approximate must be"):
        CPU.gelu(np.ones(3, np.float32), "erf")
