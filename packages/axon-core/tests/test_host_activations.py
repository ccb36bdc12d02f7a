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
    tolerance = 2 * np.finfo(dtype).eps
    for value, exact in ((got, want), (got_grad, want_grad)):
        np.testing.assert_array_equal(np.isnan(value), np.isnan(exact))
        finite = np.isfinite(exact)
        np.testing.assert_array_equal(value[~finite & ~np.isnan(exact)], exact[~finite & ~np.isnan(exact)])
        scale = np.maximum(np.abs(exact[finite]), np.abs(grad[finite]) if value is got_grad else 1.0)
        assert np.all(np.abs(value[finite] - exact[finite]) <= tolerance * np.maximum(scale, 1e-30) + 1e-300)
    assert got[1] == 0 and got_grad[0] == grad[0] and got_grad[1] == 0


def test_other_layouts_take_the_reference():
    x = np.linspace(-3, 3, 64, dtype=np.float32).reshape(8, 8).T  # not C-contiguous
    np.testing.assert_allclose(CPU.gelu(x, "tanh"), REFERENCE.gelu(x.astype(np.float64), "tanh"), rtol=1e-6)
    with pytest.raises(ValueError, match="approximate must be"):
        CPU.gelu(np.ones(3, np.float32), "erf")
