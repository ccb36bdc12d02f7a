"""Elementwise activations, forward and backward: GELU (exact and tanh), SiLU, SwiGLU.

One thread per element in a grid-stride loop; math in float32 for every storage type.
Arguments: ``(x, y, n)`` forward, ``(grad, x, dx, n)`` backward; SwiGLU takes ``(gate, up, y, n)``
and ``(grad, gate, up, d_gate, d_up, n)``. ``n`` is a 64-bit element count.
"""

from __future__ import annotations

from ..backend.numerics import SATURATION
from .common import PRELUDE
from .source import FLOAT_TYPES, KernelSource, instantiate

__all__ = ["ACTIVATIONS"]

# Inputs are clamped at ±AXON_SATURATION (backend/numerics.py's SATURATION), where each value and
# derivative already equals its limit, so ±inf gives the limit instead of inf * 0. A NaN fails both
# comparisons and stays NaN (fmaxf/fminf would drop it).
_SATURATION = f"#define AXON_SATURATION {SATURATION!r}f\n"
_HELPERS = r"""
#define SQRT_2_OVER_PI 0.7978845608028654f
#define INV_SQRT_2 0.7071067811865476f
#define INV_SQRT_2PI 0.3989422804014327f

__device__ __forceinline__ float clamp_below(float x) { return x < -AXON_SATURATION ? -AXON_SATURATION : x; }
__device__ __forceinline__ float clamp_both(float x) {
    return x > AXON_SATURATION ? AXON_SATURATION : clamp_below(x);
}
__device__ __forceinline__ float gelu_erf(float x) {
    x = clamp_below(x);
    return 0.5f * x * (1.0f + erff(x * INV_SQRT_2));
}
__device__ __forceinline__ float gelu_erf_grad(float x) {
    x = clamp_both(x);
    return 0.5f * (1.0f + erff(x * INV_SQRT_2)) + x * expf(-0.5f * x * x) * INV_SQRT_2PI;
}
__device__ __forceinline__ float gelu_tanh(float x) {
    x = clamp_below(x);
    return 0.5f * x * (1.0f + tanhf(SQRT_2_OVER_PI * (x + 0.044715f * x * x * x)));
}
__device__ __forceinline__ float gelu_tanh_grad(float x) {
    x = clamp_both(x);
    float t = tanhf(SQRT_2_OVER_PI * (x + 0.044715f * x * x * x));
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * SQRT_2_OVER_PI * (1.0f + 3.0f * 0.044715f * x * x);
}
__device__ __forceinline__ float silu_f(float x) { x = clamp_below(x); return x * sigmoid_f(x); }
__device__ __forceinline__ float silu_grad(float x) {
    x = clamp_both(x);
    float s = sigmoid_f(x);
    return s * (1.0f + x * (1.0f - s));
}
"""

_UNARY = r"""
extern "C" __global__ void ${NAME}_fwd_$S(const $T* __restrict__ x, $T* __restrict__ y, long long n) {
    AXON_GRID_STRIDE(i, n) {
        store_f(y + i, ${FWD}(to_f(x[i])));
    }
}
extern "C" __global__ void ${NAME}_bwd_$S(const $T* __restrict__ grad, const $T* __restrict__ x, $T* __restrict__ dx,
                                          long long n) {
    AXON_GRID_STRIDE(i, n) {
        store_f(dx + i, to_f(grad[i]) * ${BWD}(to_f(x[i])));
    }
}
"""

_SWIGLU = r"""
extern "C" __global__ void swiglu_fwd_$S(const $T* __restrict__ gate, const $T* __restrict__ up, $T* __restrict__ y,
                                         long long n) {
    AXON_GRID_STRIDE(i, n) {
        store_f(y + i, silu_f(to_f(gate[i])) * to_f(up[i]));
    }
}
extern "C" __global__ void swiglu_bwd_$S(const $T* __restrict__ grad, const $T* __restrict__ gate,
                                         const $T* __restrict__ up,
                                         $T* __restrict__ d_gate, $T* __restrict__ d_up, long long n) {
    AXON_GRID_STRIDE(i, n) {
        float g = to_f(grad[i]), a = to_f(gate[i]), u = to_f(up[i]);
        store_f(d_gate + i, g * u * silu_grad(a));
        store_f(d_up + i, g * silu_f(a));
    }
}
"""

#: Activation name → (forward helper, derivative helper) in the CUDA source.
UNARY_ACTIVATIONS = {
    "gelu_erf": ("gelu_erf", "gelu_erf_grad"),
    "gelu_tanh": ("gelu_tanh", "gelu_tanh_grad"),
    "silu": ("silu_f", "silu_grad"),
}


def _unary(name: str, fwd: str, bwd: str) -> str:
    return _UNARY.replace("${NAME}", name).replace("${FWD}", fwd).replace("${BWD}", bwd)


ACTIVATIONS = KernelSource(
    family="activations",
    source=PRELUDE
    + _SATURATION
    + _HELPERS
    + "".join(instantiate(_unary(n, f, b)) for n, (f, b) in UNARY_ACTIVATIONS.items())
    + instantiate(_SWIGLU),
    kernels=tuple(
        f"{name}_{kind}_{suffix}"
        for name in (*UNARY_ACTIVATIONS, "swiglu")
        for kind in ("fwd", "bwd")
        for suffix in FLOAT_TYPES
    ),
)
