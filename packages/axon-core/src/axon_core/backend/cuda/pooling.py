"""CUDA overrides of the pooling family: the kernels of ``kernels/pooling.py`` (reference: ``reference/pooling.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels import REGISTRY, kernel_suffix
from ..geometry import avg_pool_divisor, pool_geometry

__all__ = ["PoolingKernels"]


class PoolingKernels:
    """Pooling ops of :class:`~axon_core.backend.cuda.CudaBackend` (a mixin over :class:`.runtime.CudaRuntime`)."""

    @staticmethod
    def _pool_args(pool: tuple) -> tuple:
        n, c, (height, width), kernel, step, pad, dil, out = pool
        return tuple(np.int32(v) for v in (n * c, height, width, *kernel, *step, *pad, *dil, *out))

    def max_pool2d(
        self,
        x: Any,
        kernel_size: Any,
        stride: Any | None = None,
        padding: Any = 0,
        dilation: Any = 1,
        ceil_mode: bool = False,
    ) -> tuple[Any, Any]:
        pool = pool_geometry("max_pool2d", x.shape, x.dtype, kernel_size, stride, padding, dilation, ceil_mode)
        if kernel_suffix(x.dtype) is None or x.size == 0:
            return super().max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)
        xp = self.xp
        n, c, _, _, _, _, _, (oh, ow) = pool
        out = xp.empty((n, c, oh, ow), dtype=x.dtype)
        indices = xp.empty((n, c, oh, ow), dtype=xp.int64)
        grid, block = self._elementwise_grid(out.size)
        self.launch(
            REGISTRY["pooling"],
            f"max_pool2d_fwd_{kernel_suffix(x.dtype)}",
            grid,
            block,
            (self._contiguous(x), out, indices) + self._pool_args(pool),
        )
        return out, indices

    def max_pool2d_backward(self, grad: Any, indices: Any, input_shape: tuple[int, ...]) -> Any:
        if kernel_suffix(grad.dtype) is None or grad.size == 0 or grad.shape != indices.shape or len(input_shape) != 4:
            return super().max_pool2d_backward(grad, indices, input_shape)
        xp = self.xp
        n, c, height, width = input_shape
        dx = xp.zeros(tuple(input_shape), dtype=xp.float32)
        grid, block = self._elementwise_grid(grad.size)
        args = (
            self._contiguous(grad),
            self._contiguous(indices, xp.int64),
            dx,
            np.int32(n * c),
            np.int32(height * width),
            np.int32(grad.shape[2] * grad.shape[3]),
        )
        self.launch(REGISTRY["pooling"], f"max_pool2d_bwd_{kernel_suffix(grad.dtype)}", grid, block, args)
        return dx.astype(grad.dtype, copy=False)

    def avg_pool2d(
        self,
        x: Any,
        kernel_size: Any,
        stride: Any | None = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> Any:
        pool = pool_geometry("avg_pool2d", x.shape, x.dtype, kernel_size, stride, padding, 1, ceil_mode)
        if kernel_suffix(x.dtype) is None or x.size == 0:
            return super().avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
        xp = self.xp
        n, c, _, _, _, _, _, (oh, ow) = pool
        divisor = xp.asarray(avg_pool_divisor(pool, count_include_pad, divisor_override).astype(np.float32))
        out = xp.empty((n, c, oh, ow), dtype=x.dtype)
        grid, block = self._elementwise_grid(out.size)
        self.launch(
            REGISTRY["pooling"],
            f"avg_pool2d_fwd_{kernel_suffix(x.dtype)}",
            grid,
            block,
            (self._contiguous(x), out, divisor) + self._pool_args(pool),
        )
        return out

    def avg_pool2d_backward(
        self,
        grad: Any,
        input_shape: tuple[int, ...],
        kernel_size: Any,
        stride: Any | None = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> Any:
        pool = pool_geometry(
            "avg_pool2d_backward", tuple(input_shape), grad.dtype, kernel_size, stride, padding, 1, ceil_mode
        )
        n, c, _, _, _, _, _, (oh, ow) = pool
        if kernel_suffix(grad.dtype) is None or grad.size == 0 or tuple(grad.shape) != (n, c, oh, ow):
            return super().avg_pool2d_backward(
                grad, input_shape, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
            )
        xp = self.xp
        divisor = xp.asarray(avg_pool_divisor(pool, count_include_pad, divisor_override).astype(np.float32))
        dx = xp.empty(tuple(input_shape), dtype=grad.dtype)
        grid, block = self._elementwise_grid(dx.size)
        self.launch(
            REGISTRY["pooling"],
            f"avg_pool2d_bwd_{kernel_suffix(grad.dtype)}",
            grid,
            block,
            (self._contiguous(grad), dx, divisor) + self._pool_args(pool),
        )
        return dx
