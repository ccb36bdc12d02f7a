"""CUDA overrides of the norms family: the kernels of ``kernels/norms.py`` (reference: ``reference/norms.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels import REGISTRY, kernel_suffix
from ..checks import check_norm
from .runtime import THREADS

__all__ = ["NormsKernels"]


class NormsKernels:
    """Norms ops of :class:`~axon_core.backend.cuda.CudaBackend` (a mixin over :class:`.runtime.CudaRuntime`)."""

    def _optional(self, array: Any | None, like: Any) -> tuple[Any, np.int32]:
        """A kernel argument for an optional array: the array (in ``like``'s dtype) and a flag."""
        if array is None:
            return like, np.int32(0)
        return self._contiguous(array, like.dtype), np.int32(1)

    def layer_norm(self, x: Any, weight: Any | None, bias: Any | None, eps: float) -> tuple[Any, Any, Any]:
        check_norm("layer_norm", x, weight, bias)
        if kernel_suffix(x.dtype) is None or x.size == 0:
            return super().layer_norm(x, weight, bias, eps)
        xp = self.xp
        n = x.shape[-1]
        work = self._contiguous(x)
        w, has_w = self._optional(weight, work)
        b, has_b = self._optional(bias, work)
        y = xp.empty_like(work)
        mean = xp.empty(x.shape[:-1], dtype=xp.float32)
        rstd = xp.empty(x.shape[:-1], dtype=xp.float32)
        args = (work, w, b, y, mean, rstd, np.int32(n), np.float32(eps), has_w, has_b)
        self.launch(
            REGISTRY["norms"], f"layer_norm_fwd_{kernel_suffix(x.dtype)}", (work.size // n,), self._row_block(n), args
        )
        return y, mean, rstd

    def _norm_params_grad(self, grad: Any, x: Any, mean: Any | None, rstd: Any, with_bias: bool) -> tuple[Any, Any]:
        xp = self.xp
        n = x.shape[-1]
        rows = x.size // n
        dw = xp.empty(n, dtype=xp.float32)
        db = xp.empty(n, dtype=xp.float32) if with_bias else dw
        args = (
            grad,
            x,
            mean if mean is not None else rstd,
            rstd,
            dw,
            db,
            np.int32(rows),
            np.int32(n),
            np.int32(mean is not None),
            np.int32(with_bias),
        )
        grid, block = ((n + THREADS - 1) // THREADS,), (THREADS,)
        self.launch(REGISTRY["norms"], f"norm_bwd_params_{kernel_suffix(x.dtype)}", grid, block, args)
        return dw, db

    def layer_norm_backward(
        self, grad: Any, x: Any, weight: Any | None, mean: Any, rstd: Any, has_bias: bool = True
    ) -> tuple[Any, Any | None, Any | None]:
        check_norm("layer_norm_backward", x, weight, None, grad=grad)
        if kernel_suffix(x.dtype) is None or x.size == 0:
            return super().layer_norm_backward(grad, x, weight, mean, rstd, has_bias)
        xp = self.xp
        n = x.shape[-1]
        work, work_g = self._contiguous(x), self._contiguous(grad, x.dtype)
        mean32, rstd32 = self._contiguous(mean, xp.float32), self._contiguous(rstd, xp.float32)
        w, has_w = self._optional(weight, work)
        dx = xp.empty_like(work)
        args = (work_g, work, w, mean32, rstd32, dx, np.int32(n), has_w)
        self.launch(
            REGISTRY["norms"],
            f"layer_norm_bwd_dx_{kernel_suffix(x.dtype)}",
            (work.size // n,),
            self._row_block(n),
            args,
        )
        if weight is None and not has_bias:
            return dx, None, None
        dw, db = self._norm_params_grad(work_g, work, mean32, rstd32, has_bias)
        return (
            dx,
            dw.astype(weight.dtype, copy=False) if weight is not None else None,
            db.astype(x.dtype, copy=False) if has_bias else None,
        )

    def rms_norm(self, x: Any, weight: Any | None, eps: float) -> tuple[Any, Any]:
        check_norm("rms_norm", x, weight, None)
        if kernel_suffix(x.dtype) is None or x.size == 0:
            return super().rms_norm(x, weight, eps)
        xp = self.xp
        n = x.shape[-1]
        work = self._contiguous(x)
        w, has_w = self._optional(weight, work)
        y = xp.empty_like(work)
        rstd = xp.empty(x.shape[:-1], dtype=xp.float32)
        args = (work, w, y, rstd, np.int32(n), np.float32(eps), has_w)
        self.launch(
            REGISTRY["norms"], f"rms_norm_fwd_{kernel_suffix(x.dtype)}", (work.size // n,), self._row_block(n), args
        )
        return y, rstd

    def rms_norm_backward(self, grad: Any, x: Any, weight: Any | None, rstd: Any) -> tuple[Any, Any | None]:
        check_norm("rms_norm_backward", x, weight, None, grad=grad)
        if kernel_suffix(x.dtype) is None or x.size == 0:
            return super().rms_norm_backward(grad, x, weight, rstd)
        xp = self.xp
        n = x.shape[-1]
        work, work_g = self._contiguous(x), self._contiguous(grad, x.dtype)
        rstd32 = self._contiguous(rstd, xp.float32)
        w, has_w = self._optional(weight, work)
        dx = xp.empty_like(work)
        args = (work_g, work, w, rstd32, dx, np.int32(n), has_w)
        self.launch(
            REGISTRY["norms"], f"rms_norm_bwd_dx_{kernel_suffix(x.dtype)}", (work.size // n,), self._row_block(n), args
        )
        if weight is None:
            return dx, None
        dw, _ = self._norm_params_grad(work_g, work, None, rstd32, False)
        return dx, dw.astype(weight.dtype, copy=False)
