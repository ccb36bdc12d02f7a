"""Optimizer updates on the CPU in one pass over each parameter."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["sgd_step"]


@njit(cache=True, nogil=True)
def _sgd_step(
    param,
    grad,
    buffer,
    neg_lr,
    weight_decay,
    momentum,
    one_minus_dampening,
    use_weight_decay,
    use_momentum,
    nesterov,
    maximize,
    init_buffer,
):  # pragma: no cover - compiled
    # The reference's operations in its order, each rounded in the parameter's dtype (no FMA
    # contraction without fastmath), so the result is bit-identical to the NumPy passes.
    for i in range(param.size):
        g = -grad[i] if maximize else grad[i]
        if use_weight_decay:
            g = g + weight_decay * param[i]
        if use_momentum:
            velocity = g if init_buffer else buffer[i] * momentum + one_minus_dampening * g
            buffer[i] = velocity
            g = g + momentum * velocity if nesterov else velocity
        param[i] = param[i] + neg_lr * g


def sgd_step(
    param: np.ndarray,
    grad: np.ndarray,
    momentum_buffer: np.ndarray | None,
    *,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
    init_buffer: bool,
) -> None:
    """:meth:`Backend.sgd_step` on C-contiguous float32/float64 arrays of one shape, in place."""
    t = param.dtype.type
    buffer = momentum_buffer.reshape(-1) if momentum_buffer is not None else np.empty(0, dtype=param.dtype)
    _sgd_step(
        param.reshape(-1),
        grad.reshape(-1),
        buffer,
        t(-lr),
        t(weight_decay),
        t(momentum),
        t(1 - dampening),
        weight_decay != 0,
        momentum != 0,
        nesterov,
        maximize,
        init_buffer,
    )
