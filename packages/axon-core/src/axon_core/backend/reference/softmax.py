"""Softmax and log-softmax over one dim (optionally causal), forward and backward.

The reference implementation, written against ``self.xp`` (NumPy or CuPy); the CUDA backend
overrides it in ``backend/cuda/softmax.py`` with the kernels of ``kernels/softmax.py``.
"""

from __future__ import annotations

from typing import Any

from ..geometry import causal_mask
from ..numerics import upcast

__all__ = ["SoftmaxReference"]

Array = Any
Pair = Any  # an int or an (h, w) pair of ints


class SoftmaxReference:
    """Reference softmax ops of :class:`~axon_core.backend.Backend` (a mixin; needs ``self.xp``)."""

    def softmax(self, x: Array, dim: int, causal: bool = False) -> Array:
        """``exp(x - max) / sum(exp(x - max))`` along ``dim``.

        ``causal=True`` takes ``x`` as scores ``[..., q, k]`` (``dim`` must be the last) and
        masks key ``j > i + (k - q)`` of query ``i`` (bottom-right aligned, so a query block at
        the end of a KV cache sees every earlier key); masked entries come out 0. Needs ``k >= q``.
        """
        xp = self.xp
        work = upcast(xp, x)
        if causal:
            work = xp.where(causal_mask(xp, x.shape, dim, "softmax"), work, -xp.inf)
        exps = work - work.max(axis=dim, keepdims=True)
        exps = xp.exp(exps, out=exps)
        exps /= exps.sum(axis=dim, keepdims=True)
        return exps.astype(x.dtype, copy=False)

    def log_softmax(self, x: Array, dim: int, causal: bool = False) -> Array:
        """``x - logsumexp(x)`` along ``dim``; ``causal`` as in :meth:`softmax` (masked: ``-inf``)."""
        xp = self.xp
        work = upcast(xp, x)
        if causal:
            work = xp.where(causal_mask(xp, x.shape, dim, "log_softmax"), work, -xp.inf)
        shifted = work - work.max(axis=dim, keepdims=True)
        return (shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))).astype(x.dtype, copy=False)

    def softmax_backward(self, grad: Array, y: Array, dim: int, causal: bool = False) -> Array:
        """Gradient of softmax given its output ``y``: ``y * (grad - sum(grad * y))``.

        Masked entries have ``y == 0``, so ``causal`` changes nothing here; it is accepted so
        both backward ops take the forward's arguments.
        """
        work_g, work_y = upcast(self.xp, grad), upcast(self.xp, y)
        dx = work_g - (work_g * work_y).sum(axis=dim, keepdims=True)
        dx *= work_y
        return dx.astype(y.dtype, copy=False)

    def log_softmax_backward(self, grad: Array, y: Array, dim: int, causal: bool = False) -> Array:
        """Gradient of log_softmax given its output ``y``: ``grad - exp(y) * sum(grad)``.

        With ``causal`` the sum runs over unmasked entries only and masked entries get 0.
        """
        xp = self.xp
        work_g, work_y = upcast(xp, grad), upcast(xp, y)
        if causal:
            work_g = xp.where(causal_mask(xp, y.shape, dim, "log_softmax_backward"), work_g, 0)
        return (work_g - xp.exp(work_y) * work_g.sum(axis=dim, keepdims=True)).astype(y.dtype, copy=False)
