"""CUDA overrides of the strided copy family: the kernels of ``kernels/strided_copy.py``.

The reference implementation is ``reference/strided_copy.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels import REGISTRY
from ...kernels.strided_copy import COPY_TYPES

__all__ = ["StridedCopyKernels"]


class StridedCopyKernels:
    """Strided copy ops of :class:`~axon_core.backend.cuda.CudaBackend` (a mixin over :class:`.runtime.CudaRuntime`)."""

    def strided_copy(self, x: Any) -> Any:
        size = str(x.dtype.itemsize)
        if size not in COPY_TYPES or x.ndim == 0 or x.size == 0 or any(s % x.dtype.itemsize for s in x.strides):
            return super().strided_copy(x)
        xp = self.xp
        out = xp.empty(x.shape, dtype=x.dtype)
        meta = xp.asarray(np.array(list(x.shape) + [s // x.dtype.itemsize for s in x.strides], dtype=np.int64))
        grid, block = self._elementwise_grid(x.size)
        self.launch(
            REGISTRY["strided_copy"],
            f"strided_copy_{size}",
            grid,
            block,
            (x, out, meta, np.int32(x.ndim), np.int64(x.size)),
        )
        return out
