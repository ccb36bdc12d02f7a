"""Fused Adam / AdamW step, in place, one thread per element (``torch.optim.Adam``'s math).

``adam_step_S(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n, lr, beta1, beta2, eps,
weight_decay, step_size, bias_correction2_sqrt, decoupled, amsgrad, maximize)`` with
``step_size = lr / (1 - beta1^step)`` and ``bias_correction2_sqrt = sqrt(1 - beta2^step)``
computed on the host in float64; pass ``exp_avg_sq`` as ``max_exp_avg_sq`` when not amsgrad.
"""

from __future__ import annotations

from .common import PRELUDE
from .source import FLOAT_TYPES, KernelSource, instantiate

__all__ = ["ADAM"]

_BODY = r"""
extern "C" __global__ void adam_step_$S($T* __restrict__ param, const $T* __restrict__ grad, $T* __restrict__ exp_avg,
                                        $T* __restrict__ exp_avg_sq, $T* max_exp_avg_sq, long long n,
                                        float lr, float beta1, float beta2, float eps, float weight_decay,
                                        float step_size, float bias_correction2_sqrt, int decoupled, int amsgrad,
                                        int maximize) {
    AXON_GRID_STRIDE(i, n) {
        float g = to_f(grad[i]);
        float p = to_f(param[i]);
        if (maximize) { g = -g; }
        if (weight_decay != 0.0f) {
            if (decoupled) { p *= 1.0f - lr * weight_decay; } else { g += weight_decay * p; }
        }
        float m = beta1 * to_f(exp_avg[i]) + (1.0f - beta1) * g;
        float v = beta2 * to_f(exp_avg_sq[i]) + (1.0f - beta2) * g * g;
        store_f(exp_avg + i, m);
        store_f(exp_avg_sq + i, v);
        if (amsgrad) {
            v = fmaxf(to_f(max_exp_avg_sq[i]), v);
            store_f(max_exp_avg_sq + i, v);
        }
        float denom = sqrtf(v) / bias_correction2_sqrt + eps;
        store_f(param + i, p - step_size * m / denom);
    }
}
"""

ADAM = KernelSource(
    family="adam",
    source=PRELUDE + instantiate(_BODY),
    kernels=tuple(f"adam_step_{suffix}" for suffix in FLOAT_TYPES),
)
