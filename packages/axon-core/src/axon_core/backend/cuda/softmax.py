"""CUDA overrides of the softmax family: the kernels of ``kernels/softmax.py`` (reference: ``reference/softmax.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels import REGISTRY, kernel_suffix
from ..geometry import causal_mask

__all__ = ["SoftmaxKernels"]


class SoftmaxKernels:
    """Softmax ops of :class:`~axon_core.backend.cuda.CudaBackend` (a mixin over :class:`.runtime.CudaRuntime`)."""

    def _softmax_launch(self, name: str, arrays: tuple, dim: int, causal: bool, log: bool, op: str) -> Any:
        x = arrays[-1]
        if causal:
            causal_mask(self.xp, x.shape, dim, op)
        moved = tuple(self._contiguous(self.xp.moveaxis(a, dim, -1), x.dtype) for a in arrays)
        out = self.xp.empty_like(moved[-1])
        width = out.shape[-1] if out.ndim else 1
        rows = out.size // width if width else 0
        if rows:
            q = out.shape[-2] if causal else 1
            args = moved + (out, np.int32(width), np.int32(causal), np.int32(q), np.int32(log))
            self.launch(REGISTRY["softmax"], f"{name}_{kernel_suffix(x.dtype)}", (rows,), self._row_block(width), args)
        return self.xp.moveaxis(out, -1, dim)

    def softmax(self, x: Any, dim: int, causal: bool = False) -> Any:
        if kernel_suffix(x.dtype) is None or x.ndim == 0:
            return super().softmax(x, dim, causal)
        return self._softmax_launch("softmax_fwd", (x,), dim, causal, False, "softmax")

    def log_softmax(self, x: Any, dim: int, causal: bool = False) -> Any:
        if kernel_suffix(x.dtype) is None or x.ndim == 0:
            return super().log_softmax(x, dim, causal)
        return self._softmax_launch("softmax_fwd", (x,), dim, causal, True, "log_softmax")

    def softmax_backward(self, grad: Any, y: Any, dim: int, causal: bool = False) -> Any:
        if kernel_suffix(y.dtype) is None or y.ndim == 0 or grad.shape != y.shape:
            return super().softmax_backward(grad, y, dim, causal)
        return self._softmax_launch("softmax_bwd", (grad, y), dim, causal, False, "softmax_backward")

    def log_softmax_backward(self, grad: Any, y: Any, dim: int, causal: bool = False) -> Any:
        if kernel_suffix(y.dtype) is None or y.ndim == 0 or grad.shape != y.shape:
            return super().log_softmax_backward(grad, y, dim, causal)
        return self._softmax_launch("softmax_bwd", (grad, y), dim, causal, True, "log_softmax_backward")
