"""The CPU backend: NumPy arrays in host memory.

Most ops are the protocol's references (``reference/``); relu, GELU, SiLU, SwiGLU, RMSNorm, sgd_step,
im2col/col2im and max pooling run as Numba kernels (``host_kernels``) that compute the same
numbers in one pass.
"""

from __future__ import annotations

import numpy as np

from .checks import check_max_pool_backward
from .geometry import col2im_geometry, conv_geometry, ntuple, pool_geometry, unbatch_columns
from .host_matmul import matmul
from .host_memory import retain_freed_memory
from .numerics import upcast
from .protocol import Array, Backend

__all__ = ["CpuBackend"]


def _fused(*arrays: Array) -> bool:
    """Whether the fused activation kernels take these operands: C-contiguous float32/float64
    NumPy arrays of one dtype and shape (anything else runs the reference)."""
    first = arrays[0]
    return first.dtype in (np.float32, np.float64) and all(
        type(a) is np.ndarray and a.dtype == first.dtype and a.shape == first.shape and a.flags.c_contiguous
        for a in arrays
    )


def _fused_vector(v: Array, x: Array, size: int | None = None) -> bool:
    """Whether ``v`` is a C-contiguous 1-d NumPy array of ``x``'s dtype and ``size`` (``x``'s last dim)."""
    want = x.shape[-1] if size is None else size
    return type(v) is np.ndarray and v.dtype == x.dtype and v.shape == (want,) and v.flags.c_contiguous


def _activation(name: str, *operands: Array) -> Array:
    from .host_kernels import activations

    return activations.run(name, *operands)


class CpuBackend(Backend):
    name = "cpu"
    xp = np
    host_memory = True
    # Below 64 MiB of scores, batched BLAS products over the whole score tensor beat the
    # blockwise flash loop (tools/bench/bench_attention.py); above, linear memory matters more.
    flash_attention_min_score_bytes = 64 * 2**20

    def __init__(self, device) -> None:
        super().__init__(device)
        retain_freed_memory()

    def matmul(self, a: Array, b: Array) -> Array:
        return matmul(a, b)

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
        options = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            init_buffer=init_buffer,
        )
        arrays = (param, grad) if momentum_buffer is None else (param, grad, momentum_buffer)
        if param.dtype not in (np.float32, np.float64) or any(
            a.dtype != param.dtype or a.shape != param.shape or not a.flags.c_contiguous for a in arrays
        ):
            return super().sgd_step(param, grad, momentum_buffer, **options)
        from .host_kernels import optim

        optim.sgd_step(param, grad, momentum_buffer, **options)

    def relu(self, x: Array) -> Array:
        if x.dtype.kind not in "fiu" or x.dtype == np.float16:
            return super().relu(x)
        from .host_kernels import elementwise

        return elementwise.relu(x)

    def relu_backward(self, grad: Array, y: Array) -> Array:
        if grad.dtype.kind != "f" or grad.dtype == np.float16 or y.dtype != grad.dtype or y.shape != grad.shape:
            return super().relu_backward(grad, y)
        from .host_kernels import elementwise

        return elementwise.relu_backward(grad, y)

    # GELU: one threaded pass instead of the reference's 6-15 NumPy passes.
    def gelu(self, x: Array, approximate: str = "none") -> Array:
        if approximate not in ("none", "tanh") or not _fused(x):
            return super().gelu(x, approximate)
        return _activation(f"gelu_{approximate}", x)

    def gelu_backward(self, grad: Array, x: Array, approximate: str = "none") -> Array:
        if approximate not in ("none", "tanh") or not _fused(grad, x):
            return super().gelu_backward(grad, x, approximate)
        return _activation(f"gelu_{approximate}_backward", grad, x)

    # SiLU and SwiGLU: one threaded pass instead of the reference's 6-10 NumPy passes.
    def silu(self, x: Array) -> Array:
        if not _fused(x):
            return super().silu(x)
        from .host_kernels import silu

        return silu.run("silu", x)

    def silu_backward(self, grad: Array, x: Array) -> Array:
        if not _fused(grad, x):
            return super().silu_backward(grad, x)
        from .host_kernels import silu

        return silu.run("silu_backward", grad, x)

    def swiglu(self, gate: Array, up: Array) -> Array:
        if not _fused(gate, up):
            return super().swiglu(gate, up)
        from .host_kernels import silu

        return silu.run("swiglu", gate, up)

    def swiglu_backward(self, grad: Array, gate: Array, up: Array) -> tuple[Array, Array]:
        if not _fused(grad, gate, up):
            return super().swiglu_backward(grad, gate, up)
        from .host_kernels import silu

        return silu.swiglu_backward(grad, gate, up)

    # RMSNorm: each row read once or twice while in cache instead of 5-9 whole-array NumPy passes.
    def rms_norm(self, x: Array, weight: Array | None, eps: float) -> tuple[Array, Array]:
        if x.ndim != 2 or not x.shape[1] or not _fused(x) or (weight is not None and not _fused_vector(weight, x)):
            return super().rms_norm(x, weight, eps)
        from .host_kernels import rms_norm

        return rms_norm.rms_norm(x, weight, eps)

    def rms_norm_backward(self, grad: Array, x: Array, weight: Array | None, rstd: Array) -> tuple[Array, Array | None]:
        if (
            x.ndim != 2
            or not x.shape[1]
            or not _fused(grad, x)
            or (weight is not None and not _fused_vector(weight, x))
            or not _fused_vector(rstd, x, x.shape[0])
        ):
            return super().rms_norm_backward(grad, x, weight, rstd)
        from .host_kernels import rms_norm

        return rms_norm.rms_norm_backward(grad, x, weight, rstd)

    # im2col, col2im and max pooling run as Numba kernels (``host_kernels``): the NumPy
    # references make padded copies and a pass per window offset, 3-10x slower on LeNet-sized
    # inputs. Dtypes Numba cannot compute in (float16, bfloat16) are upcast as the reference does.
    def im2col(self, x: Array, kernel_size, stride=1, padding=0, dilation=1, *, batched_columns: bool = False) -> Array:
        from .host_kernels import im2col

        geometry = conv_geometry("im2col", x.shape, kernel_size, stride, padding, dilation)
        if x.dtype.itemsize not in (1, 2, 4, 8):
            return super().im2col(x, kernel_size, stride, padding, dilation, batched_columns=batched_columns)
        return im2col.im2col(x, geometry, batched_columns)

    def col2im(
        self, cols: Array, output_size, kernel_size, stride=1, padding=0, dilation=1, *, batched_columns: bool = False
    ) -> Array:
        from .host_kernels import im2col

        shape = (
            unbatch_columns("col2im", cols.shape, output_size, kernel_size, stride, padding, dilation)
            if batched_columns
            else cols.shape
        )
        geometry = col2im_geometry("col2im", shape, output_size, kernel_size, stride, padding, dilation)
        work = upcast(np, cols)
        if work.dtype.kind not in "fiuc":
            return super().col2im(
                cols, output_size, kernel_size, stride, padding, dilation, batched_columns=batched_columns
            )
        image = im2col.col2im(work, ntuple(output_size, 2, "col2im output_size"), geometry, batched_columns)
        return image.astype(cols.dtype, copy=False)

    def max_pool2d(
        self, x: Array, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False
    ) -> tuple[Array, Array]:
        from .host_kernels import pooling

        pool = pool_geometry("max_pool2d", x.shape, x.dtype, kernel_size, stride, padding, dilation, ceil_mode)
        out, indices = pooling.max_pool2d(upcast(np, x), pool)
        return out.astype(x.dtype, copy=False), indices

    def max_pool2d_backward(self, grad: Array, indices: Array, input_shape: tuple[int, ...]) -> Array:
        from .host_kernels import pooling

        check_max_pool_backward(grad, indices, input_shape)
        return pooling.max_pool2d_backward(upcast(np, grad), indices, tuple(input_shape)).astype(grad.dtype, copy=False)

    def from_numpy(self, array: np.ndarray) -> np.ndarray:
        return array

    def to_numpy(self, array: np.ndarray) -> np.ndarray:
        return array
