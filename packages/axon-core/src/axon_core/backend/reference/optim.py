"""Optimizer steps in place on parameter arrays: SGD and Adam/AdamW, with PyTorch's order of operations.

The reference implementation, written against ``self.xp`` (NumPy or CuPy); the CPU backend runs
``sgd_step`` as a Numba kernel (``host_kernels/optim.py``), the CUDA backend ``adam_step`` as the
kernel of ``kernels/adam.py`` (``backend/cuda/adam.py``). The in-place helpers repeat PyTorch's
CPU kernels' order of operations so that float32 trajectories agree with ``torch.optim`` to
rounding: ``addcmul_`` is ``self + (value * t1) * t2``, ``addcdiv_`` is ``self + (value * t1) / t2``,
``lerp_`` switches formula at weight 0.5. Scalars are cast to the array's dtype first, as PyTorch
computes float32 tensors with float32 scalars. axon-optim's other optimizers use the same helpers.
"""

from __future__ import annotations

from typing import Any

from ..checks import check_adam
from ..numerics import upcast

__all__ = ["OptimReference", "addcdiv_", "addcmul_", "lerp_", "scalar"]

Array = Any


def scalar(array: Array, value: float) -> Any:
    """``value`` as a scalar of ``array``'s dtype."""
    return array.dtype.type(value)


def lerp_(start: Array, end: Array, weight: float) -> None:
    """``start += weight * (end - start)`` in place, with PyTorch's two formulas."""
    w = scalar(start, weight)
    if abs(weight) < 0.5:
        start += w * (end - start)
    else:
        start[...] = end - (end - start) * (scalar(start, 1.0) - w)


def addcmul_(target: Array, t1: Array, t2: Array, value: float) -> None:
    """``target += value * t1 * t2`` in place."""
    target += (scalar(target, value) * t1) * t2


def addcdiv_(target: Array, t1: Array, t2: Array, value: float) -> None:
    """``target += value * t1 / t2`` in place."""
    target += (scalar(target, value) * t1) / t2


class OptimReference:
    """Reference optimizer steps of :class:`~axon_core.backend.Backend` (a mixin; needs ``self.xp``)."""

    def sgd_step(
        self,
        param: Array,
        grad: Array,
        momentum_buffer: Array | None,
        *,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
        init_buffer: bool = False,
    ) -> None:
        """One ``torch.optim.SGD`` step, in place on ``param`` and ``momentum_buffer`` (one shape).

        ``g = ±grad + weight_decay * param``; with momentum ``buf = momentum * buf + (1 -
        dampening) * g`` (``buf = g`` when ``init_buffer``, the first step) and ``g = g +
        momentum * buf`` (Nesterov) or ``g = buf``; then ``param += -lr * g``. Scalars are cast
        to the parameter's dtype, as PyTorch computes float32 tensors with float32 scalars.
        """
        t = param.dtype.type
        g = -grad if maximize else grad
        if weight_decay != 0:
            g = g + t(weight_decay) * param
        if momentum != 0:
            if init_buffer:
                momentum_buffer[...] = g
            else:
                momentum_buffer *= t(momentum)
                momentum_buffer += t(1 - dampening) * g
            g = g + t(momentum) * momentum_buffer if nesterov else momentum_buffer
        param += t(-lr) * g

    def adam_step(
        self,
        param: Array,
        grad: Array,
        exp_avg: Array,
        exp_avg_sq: Array,
        max_exp_avg_sq: Array | None,
        *,
        step: int,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
        weight_decay: float = 0.0,
        decoupled: bool = False,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        """One Adam (``decoupled=False``) or AdamW step, in place on ``param``, ``exp_avg``,
        ``exp_avg_sq`` and (``amsgrad``) ``max_exp_avg_sq``; all arrays share one shape (any strides).

        Follows ``torch.optim.Adam``/``AdamW`` (its for-loop CPU path, op for op): ``step`` counts
        from 1 and already includes this step; Adam adds ``weight_decay * param`` to the gradient,
        AdamW scales ``param`` by ``1 - lr * weight_decay``. float16/bfloat16 state is updated in
        float32 and written back.
        """
        check_adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, amsgrad)
        xp = self.xp
        states = (param, exp_avg, exp_avg_sq) + ((max_exp_avg_sq,) if amsgrad else ())
        work = [upcast(xp, a) for a in states]  # the arrays themselves unless float16/bfloat16
        p, m, v = work[:3]
        g = upcast(xp, grad).astype(p.dtype, copy=False)
        if maximize:
            g = -g
        if weight_decay != 0:
            if decoupled:
                p *= scalar(p, 1 - lr * weight_decay)
            else:
                g = g + scalar(p, weight_decay) * p
        lerp_(m, g, 1 - beta1)
        v *= scalar(p, beta2)
        addcmul_(v, g, g, 1 - beta2)
        second_moment = v
        if amsgrad:
            second_moment = work[3]
            xp.maximum(second_moment, v, out=second_moment)
        denom = xp.sqrt(second_moment) / scalar(p, (1 - beta2**step) ** 0.5)
        denom += scalar(p, eps)
        addcdiv_(p, m, denom, -lr / (1 - beta1**step))
        for array, updated in zip(states, work):
            if updated is not array:
                array[...] = updated
