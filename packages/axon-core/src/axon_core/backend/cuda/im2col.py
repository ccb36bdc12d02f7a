"""CUDA overrides of the im2col family: the kernels of ``kernels/im2col.py`` (reference: ``reference/im2col.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels import REGISTRY, kernel_suffix
from ..geometry import col2im_geometry, conv_geometry, ntuple

__all__ = ["Im2colKernels"]


class Im2colKernels:
    """Im2col ops of :class:`~axon_core.backend.cuda.CudaBackend` (a mixin over :class:`.runtime.CudaRuntime`)."""

    @staticmethod
    def _geometry_args(channels: int, height: int, width: int, kernel, step, pad, dil, out) -> tuple:
        return tuple(np.int32(v) for v in (channels, height, width, *kernel, *step, *pad, *dil, *out))

    def im2col(
        self,
        x: Any,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        *,
        batched_columns: bool = False,
    ) -> Any:
        geometry = conv_geometry("im2col", x.shape, kernel_size, stride, padding, dilation)
        if kernel_suffix(x.dtype) is None or x.size == 0 or batched_columns:
            return super().im2col(x, kernel_size, stride, padding, dilation, batched_columns=batched_columns)
        n, c, kernel, step, pad, dil, out = geometry
        cols = self.xp.empty((n, c * kernel[0] * kernel[1], out[0] * out[1]), dtype=x.dtype)
        grid, block = self._elementwise_grid(cols.size)
        args = (self._contiguous(x), cols, np.int32(n)) + self._geometry_args(
            c, *x.shape[2:], kernel, step, pad, dil, out
        )
        self.launch(REGISTRY["im2col"], f"im2col_{kernel_suffix(x.dtype)}", grid, block, args)
        return cols

    def col2im(
        self,
        cols: Any,
        output_size: Any,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        *,
        batched_columns: bool = False,
    ) -> Any:
        if batched_columns:  # the base class transposes to [N, C*kh*kw, L] and comes back here
            return super().col2im(cols, output_size, kernel_size, stride, padding, dilation, batched_columns=True)
        geometry = col2im_geometry("col2im", cols.shape, output_size, kernel_size, stride, padding, dilation)
        if kernel_suffix(cols.dtype) is None or cols.size == 0:
            return super().col2im(cols, output_size, kernel_size, stride, padding, dilation)
        n, c, kernel, step, pad, dil, out = geometry
        height, width = ntuple(output_size, 2, "col2im output_size")
        image = self.xp.empty((n, c, height, width), dtype=cols.dtype)
        grid, block = self._elementwise_grid(image.size)
        args = (self._contiguous(cols), image, np.int32(n)) + self._geometry_args(
            c, height, width, kernel, step, pad, dil, out
        )
        self.launch(REGISTRY["im2col"], f"col2im_{kernel_suffix(cols.dtype)}", grid, block, args)
        return image
