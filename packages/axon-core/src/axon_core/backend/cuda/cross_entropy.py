"""CUDA overrides of the cross entropy family: the kernels of ``kernels/cross_entropy.py``.

The reference implementation is ``reference/cross_entropy.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels import REGISTRY, kernel_suffix
from ..checks import check_cross_entropy

__all__ = ["CrossEntropyKernels"]


class CrossEntropyKernels:
    """Cross entropy ops of :class:`~axon_core.backend.cuda.CudaBackend`.

    A mixin over :class:`.runtime.CudaRuntime`.
    """

    def _cross_entropy_args(self, logits: Any, target: Any, weight: Any | None) -> tuple:
        xp = self.xp
        work = self._contiguous(logits)
        labels = self._contiguous(target, xp.int64)
        if weight is None:
            return work, labels, xp.empty(1, dtype=xp.float32), np.int32(0)
        return work, labels, self._contiguous(weight, xp.float32), np.int32(1)

    def cross_entropy(
        self,
        logits: Any,
        target: Any,
        weight: Any | None = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
    ) -> tuple[Any, Any]:
        check_cross_entropy(self.xp, "cross_entropy", logits, target, weight, ignore_index, label_smoothing)
        if kernel_suffix(logits.dtype) is None or logits.size == 0:
            return super().cross_entropy(logits, target, weight, ignore_index, label_smoothing)
        xp = self.xp
        work, labels, w, has_w = self._cross_entropy_args(logits, target, weight)
        rows, classes = logits.shape
        loss = xp.empty(rows, dtype=xp.float32)
        lse = xp.empty(rows, dtype=xp.float32)
        args = (
            work,
            labels,
            w,
            loss,
            lse,
            np.int32(classes),
            np.int64(ignore_index),
            np.float32(label_smoothing),
            has_w,
        )
        self.launch(
            REGISTRY["cross_entropy"],
            f"cross_entropy_fwd_{kernel_suffix(logits.dtype)}",
            (rows,),
            self._row_block(classes),
            args,
        )
        return loss, lse

    def cross_entropy_backward(
        self,
        grad: Any,
        logits: Any,
        target: Any,
        lse: Any,
        weight: Any | None = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
    ) -> Any:
        check_cross_entropy(self.xp, "cross_entropy_backward", logits, target, weight, ignore_index, label_smoothing)
        if kernel_suffix(logits.dtype) is None or logits.size == 0:
            return super().cross_entropy_backward(grad, logits, target, lse, weight, ignore_index, label_smoothing)
        xp = self.xp
        work, labels, w, has_w = self._cross_entropy_args(logits, target, weight)
        rows, classes = logits.shape
        d_logits = xp.empty_like(work)
        args = (
            self._contiguous(grad, xp.float32),
            work,
            labels,
            w,
            self._contiguous(lse, xp.float32),
            d_logits,
            np.int32(classes),
            np.int64(ignore_index),
            np.float32(label_smoothing),
            has_w,
        )
        self.launch(
            REGISTRY["cross_entropy"],
            f"cross_entropy_bwd_{kernel_suffix(logits.dtype)}",
            (rows,),
            self._row_block(classes),
            args,
        )
        return d_logits
