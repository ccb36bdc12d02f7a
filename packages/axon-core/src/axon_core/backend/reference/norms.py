"""LayerNorm and RMSNorm over the last dim, forward and backward.

The reference implementation, written against ``self.xp`` (NumPy or CuPy); the CUDA backend
overrides it in ``backend/cuda/norms.py`` with the kernels of ``kernels/norms.py``.
"""

from __future__ import annotations

from typing import Any

from ..checks import check_norm
from ..numerics import upcast

__all__ = ["NormsReference"]

Array = Any
Pair = Any  # an int or an (h, w) pair of ints


class NormsReference:
    """Reference norms ops of :class:`~axon_core.backend.Backend` (a mixin; needs ``self.xp``)."""

    def layer_norm(self, x: Array, weight: Array | None, bias: Array | None, eps: float) -> tuple[Array, Array, Array]:
        """LayerNorm over the last dimension.

        ``x [..., n]``, ``weight [n]`` and ``bias [n]`` (either may be None); callers that
        normalize over several trailing dims flatten them into ``n``. Returns ``(y [..., n],
        mean [...], rstd [...])``; ``mean``/``rstd`` are in the compute dtype (float32 for
        float16/bfloat16 inputs) and feed :meth:`layer_norm_backward`.
        """
        check_norm("layer_norm", x, weight, bias)
        xp = self.xp
        work = upcast(xp, x)
        mean = work.mean(axis=-1)
        centered = work - mean[..., None]
        rstd = 1.0 / xp.sqrt((centered * centered).mean(axis=-1) + eps)
        y = centered * rstd[..., None]
        if weight is not None:
            y = y * weight
        if bias is not None:
            y = y + bias
        return y.astype(x.dtype, copy=False), mean, rstd

    def layer_norm_backward(
        self, grad: Array, x: Array, weight: Array | None, mean: Array, rstd: Array, has_bias: bool = True
    ) -> tuple[Array, Array | None, Array | None]:
        """``(dx [..., n], dweight [n] or None, dbias [n] or None)`` of :meth:`layer_norm`.

        ``dweight`` is None when ``weight`` is None, ``dbias`` when ``has_bias`` is False.
        """
        check_norm("layer_norm_backward", x, weight, None, grad=grad)
        xp = self.xp
        work_g = upcast(xp, grad)
        xhat = (upcast(xp, x) - mean[..., None]) * rstd[..., None]
        gw = work_g * weight if weight is not None else work_g
        dx = rstd[..., None] * (gw - gw.mean(axis=-1, keepdims=True) - xhat * (gw * xhat).mean(axis=-1, keepdims=True))
        rows = tuple(range(x.ndim - 1))
        dweight = (work_g * xhat).sum(axis=rows).astype(weight.dtype, copy=False) if weight is not None else None
        dbias = work_g.sum(axis=rows).astype(x.dtype, copy=False) if has_bias else None
        return dx.astype(x.dtype, copy=False), dweight, dbias

    def rms_norm(self, x: Array, weight: Array | None, eps: float) -> tuple[Array, Array]:
        """RMSNorm over the last dimension: ``x * rsqrt(mean(x^2) + eps) * weight``.

        ``x [..., n]``, ``weight [n]`` or None. Returns ``(y [..., n], rstd [...])``.
        """
        check_norm("rms_norm", x, weight, None)
        xp = self.xp
        work = upcast(xp, x)
        rstd = 1.0 / xp.sqrt((work * work).mean(axis=-1) + eps)
        y = work * rstd[..., None]
        if weight is not None:
            y = y * weight
        return y.astype(x.dtype, copy=False), rstd

    def rms_norm_backward(self, grad: Array, x: Array, weight: Array | None, rstd: Array) -> tuple[Array, Array | None]:
        """``(dx [..., n], dweight [n] or None)`` of :meth:`rms_norm`."""
        check_norm("rms_norm_backward", x, weight, None, grad=grad)
        xp = self.xp
        work_g = upcast(xp, grad)
        xhat = upcast(xp, x) * rstd[..., None]
        gw = work_g * weight if weight is not None else work_g
        dx = rstd[..., None] * (gw - xhat * (gw * xhat).mean(axis=-1, keepdims=True))
        rows = tuple(range(x.ndim - 1))
        dweight = (work_g * xhat).sum(axis=rows).astype(weight.dtype, copy=False) if weight is not None else None
        return dx.astype(x.dtype, copy=False), dweight
