"""The CUDA backend: CuPy arrays, cuBLAS for matmul, our NVRTC-compiled kernels for fused ops.

Every fused op validates its input with the reference's checks, builds its launch
configuration and argument tuple here, and calls :meth:`CudaBackend.launch`. The ``cuda-sim``
backend subclasses this class and replaces only ``launch``, device set-up and data movement, so
both run the same marshalling code. Dtypes without a kernel (float64, integers) and head dims
over ``MAX_HEAD_DIM`` run the reference implementation with CuPy (still on the GPU).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DeviceUnavailableError
from ..kernels import REGISTRY, KernelSource, kernel_suffix
from ..kernels import attention as attention_kernels
from ..kernels.strided_copy import COPY_TYPES
from .base import (
    Backend,
    _check_adam,
    _check_attention,
    _check_cell,
    _check_cross_entropy,
    _check_embedding,
    _check_norm,
    _padding_row,
    _pair,
    _same_shapes,
    avg_pool_divisor,
    causal_mask,
    col2im_geometry,
    conv_geometry,
    pool_geometry,
)

if TYPE_CHECKING:
    from ..device import Device

__all__ = ["CudaBackend"]

_THREADS = 256
_MAX_GRID = 65535 * 16


def _import_cupy(device: "Device") -> Any:
    try:
        import cupy
    except ImportError as exc:
        raise DeviceUnavailableError(
            f"{device}: CuPy is not installed; install the CUDA extra: pip install 'axon-core[cuda]'"
        ) from exc
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError when no driver or no GPU is present
        raise DeviceUnavailableError(f"{device}: no CUDA GPU is available on this machine ({exc})") from exc
    if device.index is not None and device.index >= count:
        raise DeviceUnavailableError(f"{device}: only {count} CUDA device(s) are present")
    return cupy


class _PeakTracker:
    """CuPy's allocator wrapped to record the pool's high-water mark at every allocation, so
    ``peak`` sees temporaries that are freed before anyone asks for the stats."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.peak = 0

    def malloc(self, size: int) -> Any:
        memory = self.pool.malloc(size)
        used = self.pool.used_bytes()
        if used > self.peak:
            self.peak = used
        return memory


_tracker: _PeakTracker | None = None


def _peak_tracker(cupy: Any) -> _PeakTracker:
    """The process's one tracker (CuPy's allocator is process-wide), installed on first use."""
    global _tracker
    if _tracker is None:
        _tracker = _PeakTracker(cupy.get_default_memory_pool())
        cupy.cuda.set_allocator(_tracker.malloc)
    return _tracker


class CudaBackend(Backend):
    name = "cuda"
    host_memory = False

    def __init__(self, device: "Device") -> None:
        super().__init__(device)
        cupy = _import_cupy(device)
        self.xp = cupy
        self._cuda_device = cupy.cuda.Device(device.index or 0)
        self._arch = "sm_" + str(self._cuda_device.compute_capability)
        self._tracker = _peak_tracker(cupy)
        self._pool = self._tracker.pool
        self._modules: dict[str, Any] = {}

    # -- what cuda-sim replaces: launching, device set-up, data movement ----------------------
    def launch(
        self, kernel: KernelSource, name: str, grid: tuple, block: tuple, args: tuple, shared_mem: int = 0
    ) -> None:
        """Run entry point ``name`` of ``kernel`` (compiled for this GPU, disk-cached) on ``grid`` x ``block``."""
        module = self._modules.get(kernel.family)
        if module is None:
            module = self.xp.cuda.function.Module()
            module.load(kernel.compile(self._arch, target="cubin"))
            self._modules[kernel.family] = module
        with self._cuda_device:
            module.get_function(name)(tuple(grid), tuple(block), tuple(args), shared_mem=shared_mem)

    def from_numpy(self, array: np.ndarray) -> Any:
        with self._cuda_device:
            return self.xp.asarray(array)

    def to_numpy(self, array: Any) -> np.ndarray:
        return self.xp.asnumpy(array)

    def synchronize(self) -> None:
        self._cuda_device.synchronize()

    def memory_stats(self) -> dict[str, int]:
        return {
            "in_use": int(self._pool.used_bytes()),
            "cached": int(self._pool.free_bytes()),
            "peak": int(self._tracker.peak),
            "limit": int(self._pool.get_limit()),
        }

    def reset_peak_memory_stats(self) -> None:
        self._tracker.peak = int(self._pool.used_bytes())

    def set_memory_limit(self, limit_bytes: int | None) -> None:
        self._pool.set_limit(size=limit_bytes or 0)

    # -- launch configuration and argument marshalling (shared with cuda-sim) -------------------
    def _contiguous(self, array: Any, dtype: Any = None) -> Any:
        array = array if dtype is None else array.astype(dtype, copy=False)
        return self.xp.ascontiguousarray(array)

    @staticmethod
    def _elementwise_grid(count: int) -> tuple[tuple[int], tuple[int]]:
        """Grid and block of a grid-stride loop over ``count`` items."""
        return (max(1, min((count + _THREADS - 1) // _THREADS, _MAX_GRID)),), (_THREADS,)

    @staticmethod
    def _row_block(width: int) -> tuple[int]:
        """One block per row: a power of two of at least one warp and at most 1024 threads."""
        threads = 32
        while threads < width and threads < 1024:
            threads *= 2
        return (threads,)

    def _elementwise(self, family: str, name: str, inputs: tuple, outputs: int, out_dtype: Any = None) -> tuple:
        """Launch ``name_S`` over equally-shaped ``inputs``; returns ``outputs`` new arrays."""
        first = inputs[0]
        results = tuple(self.xp.empty(first.shape, dtype=out_dtype or first.dtype) for _ in range(outputs))
        if first.size:
            grid, block = self._elementwise_grid(first.size)
            args = tuple(self._contiguous(a, first.dtype) for a in inputs) + results + (np.int64(first.size),)
            self.launch(REGISTRY[family], f"{name}_{kernel_suffix(first.dtype)}", grid, block, args)
        return results

    # -- activations --------------------------------------------------------------------------
    def gelu(self, x: Any, approximate: str = "none") -> Any:
        if kernel_suffix(x.dtype) is None or approximate not in ("none", "tanh"):
            return super().gelu(x, approximate)
        name = "gelu_tanh_fwd" if approximate == "tanh" else "gelu_erf_fwd"
        return self._elementwise("activations", name, (x,), 1)[0]

    def gelu_backward(self, grad: Any, x: Any, approximate: str = "none") -> Any:
        if kernel_suffix(x.dtype) is None or approximate not in ("none", "tanh") or grad.shape != x.shape:
            return super().gelu_backward(grad, x, approximate)
        name = "gelu_tanh_bwd" if approximate == "tanh" else "gelu_erf_bwd"
        return self._elementwise_grad(name, grad, x)

    def _elementwise_grad(self, name: str, grad: Any, x: Any) -> Any:
        # Backward kernels take (grad, x, dx, n): grad is cast to x's dtype first.
        return self._elementwise("activations", name, (grad.astype(x.dtype, copy=False), x), 1)[0]

    def silu(self, x: Any) -> Any:
        if kernel_suffix(x.dtype) is None:
            return super().silu(x)
        return self._elementwise("activations", "silu_fwd", (x,), 1)[0]

    def silu_backward(self, grad: Any, x: Any) -> Any:
        if kernel_suffix(x.dtype) is None or grad.shape != x.shape:
            return super().silu_backward(grad, x)
        return self._elementwise_grad("silu_bwd", grad, x)

    def swiglu(self, gate: Any, up: Any) -> Any:
        _same_shapes("swiglu", gate=gate, up=up)
        if kernel_suffix(gate.dtype) is None:
            return super().swiglu(gate, up)
        return self._elementwise("activations", "swiglu_fwd", (gate, up), 1)[0]

    def swiglu_backward(self, grad: Any, gate: Any, up: Any) -> tuple[Any, Any]:
        _same_shapes("swiglu_backward", grad=grad, gate=gate, up=up)
        if kernel_suffix(gate.dtype) is None:
            return super().swiglu_backward(grad, gate, up)
        d_gate, d_up = self._elementwise("activations", "swiglu_bwd", (grad, gate, up), 2)
        return d_gate, d_up.astype(up.dtype, copy=False)

    # -- softmax ------------------------------------------------------------------------------
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

    # -- normalization ------------------------------------------------------------------------
    def _optional(self, array: Any | None, like: Any) -> tuple[Any, np.int32]:
        """A kernel argument for an optional array: the array (in ``like``'s dtype) and a flag."""
        if array is None:
            return like, np.int32(0)
        return self._contiguous(array, like.dtype), np.int32(1)

    def layer_norm(self, x: Any, weight: Any | None, bias: Any | None, eps: float) -> tuple[Any, Any, Any]:
        _check_norm("layer_norm", x, weight, bias)
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
        self.launch(REGISTRY["norms"], f"layer_norm_fwd_{kernel_suffix(x.dtype)}", (work.size // n,), self._row_block(n), args)
        return y, mean, rstd

    def _norm_params_grad(self, grad: Any, x: Any, mean: Any | None, rstd: Any, with_bias: bool) -> tuple[Any, Any]:
        xp = self.xp
        n = x.shape[-1]
        rows = x.size // n
        dw = xp.empty(n, dtype=xp.float32)
        db = xp.empty(n, dtype=xp.float32) if with_bias else dw
        args = (
            grad, x, mean if mean is not None else rstd, rstd, dw, db,
            np.int32(rows), np.int32(n), np.int32(mean is not None), np.int32(with_bias),
        )
        grid, block = ((n + _THREADS - 1) // _THREADS,), (_THREADS,)
        self.launch(REGISTRY["norms"], f"norm_bwd_params_{kernel_suffix(x.dtype)}", grid, block, args)
        return dw, db

    def layer_norm_backward(
        self, grad: Any, x: Any, weight: Any | None, mean: Any, rstd: Any, has_bias: bool = True
    ) -> tuple[Any, Any | None, Any | None]:
        _check_norm("layer_norm_backward", x, weight, None, grad=grad)
        if kernel_suffix(x.dtype) is None or x.size == 0:
            return super().layer_norm_backward(grad, x, weight, mean, rstd, has_bias)
        xp = self.xp
        n = x.shape[-1]
        work, work_g = self._contiguous(x), self._contiguous(grad, x.dtype)
        mean32, rstd32 = self._contiguous(mean, xp.float32), self._contiguous(rstd, xp.float32)
        w, has_w = self._optional(weight, work)
        dx = xp.empty_like(work)
        args = (work_g, work, w, mean32, rstd32, dx, np.int32(n), has_w)
        self.launch(REGISTRY["norms"], f"layer_norm_bwd_dx_{kernel_suffix(x.dtype)}", (work.size // n,), self._row_block(n), args)
        if weight is None and not has_bias:
            return dx, None, None
        dw, db = self._norm_params_grad(work_g, work, mean32, rstd32, has_bias)
        return (
            dx,
            dw.astype(weight.dtype, copy=False) if weight is not None else None,
            db.astype(x.dtype, copy=False) if has_bias else None,
        )

    def rms_norm(self, x: Any, weight: Any | None, eps: float) -> tuple[Any, Any]:
        _check_norm("rms_norm", x, weight, None)
        if kernel_suffix(x.dtype) is None or x.size == 0:
            return super().rms_norm(x, weight, eps)
        xp = self.xp
        n = x.shape[-1]
        work = self._contiguous(x)
        w, has_w = self._optional(weight, work)
        y = xp.empty_like(work)
        rstd = xp.empty(x.shape[:-1], dtype=xp.float32)
        args = (work, w, y, rstd, np.int32(n), np.float32(eps), has_w)
        self.launch(REGISTRY["norms"], f"rms_norm_fwd_{kernel_suffix(x.dtype)}", (work.size // n,), self._row_block(n), args)
        return y, rstd

    def rms_norm_backward(self, grad: Any, x: Any, weight: Any | None, rstd: Any) -> tuple[Any, Any | None]:
        _check_norm("rms_norm_backward", x, weight, None, grad=grad)
        if kernel_suffix(x.dtype) is None or x.size == 0:
            return super().rms_norm_backward(grad, x, weight, rstd)
        xp = self.xp
        n = x.shape[-1]
        work, work_g = self._contiguous(x), self._contiguous(grad, x.dtype)
        rstd32 = self._contiguous(rstd, xp.float32)
        w, has_w = self._optional(weight, work)
        dx = xp.empty_like(work)
        args = (work_g, work, w, rstd32, dx, np.int32(n), has_w)
        self.launch(REGISTRY["norms"], f"rms_norm_bwd_dx_{kernel_suffix(x.dtype)}", (work.size // n,), self._row_block(n), args)
        if weight is None:
            return dx, None
        dw, _ = self._norm_params_grad(work_g, work, None, rstd32, False)
        return dx, dw.astype(weight.dtype, copy=False)

    # -- losses and lookups -------------------------------------------------------------------
    def _cross_entropy_args(self, logits: Any, target: Any, weight: Any | None) -> tuple:
        xp = self.xp
        work = self._contiguous(logits)
        labels = self._contiguous(target, xp.int64)
        if weight is None:
            return work, labels, xp.empty(1, dtype=xp.float32), np.int32(0)
        return work, labels, self._contiguous(weight, xp.float32), np.int32(1)

    def cross_entropy(
        self, logits: Any, target: Any, weight: Any | None = None, ignore_index: int = -100, label_smoothing: float = 0.0
    ) -> tuple[Any, Any]:
        _check_cross_entropy(self.xp, "cross_entropy", logits, target, weight, ignore_index, label_smoothing)
        if kernel_suffix(logits.dtype) is None or logits.size == 0:
            return super().cross_entropy(logits, target, weight, ignore_index, label_smoothing)
        xp = self.xp
        work, labels, w, has_w = self._cross_entropy_args(logits, target, weight)
        rows, classes = logits.shape
        loss = xp.empty(rows, dtype=xp.float32)
        lse = xp.empty(rows, dtype=xp.float32)
        args = (work, labels, w, loss, lse, np.int32(classes), np.int64(ignore_index), np.float32(label_smoothing), has_w)
        self.launch(REGISTRY["cross_entropy"], f"cross_entropy_fwd_{kernel_suffix(logits.dtype)}", (rows,), self._row_block(classes), args)
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
        _check_cross_entropy(self.xp, "cross_entropy_backward", logits, target, weight, ignore_index, label_smoothing)
        if kernel_suffix(logits.dtype) is None or logits.size == 0:
            return super().cross_entropy_backward(grad, logits, target, lse, weight, ignore_index, label_smoothing)
        xp = self.xp
        work, labels, w, has_w = self._cross_entropy_args(logits, target, weight)
        rows, classes = logits.shape
        d_logits = xp.empty_like(work)
        args = (
            self._contiguous(grad, xp.float32), work, labels, w, self._contiguous(lse, xp.float32), d_logits,
            np.int32(classes), np.int64(ignore_index), np.float32(label_smoothing), has_w,
        )
        self.launch(REGISTRY["cross_entropy"], f"cross_entropy_bwd_{kernel_suffix(logits.dtype)}", (rows,), self._row_block(classes), args)
        return d_logits

    def embedding(self, weight: Any, indices: Any) -> Any:
        _check_embedding(self.xp, "embedding", weight.shape[0] if weight.ndim == 2 else -1, indices, weight=weight)
        if kernel_suffix(weight.dtype) is None or indices.size == 0:
            return super().embedding(weight, indices)
        xp = self.xp
        dim = weight.shape[1]
        out = xp.empty(tuple(indices.shape) + (dim,), dtype=weight.dtype)
        grid, block = self._elementwise_grid(indices.size * dim)
        args = (self._contiguous(weight), self._contiguous(indices, xp.int64), out, np.int64(indices.size), np.int32(dim))
        self.launch(REGISTRY["embedding"], f"embedding_fwd_{kernel_suffix(weight.dtype)}", grid, block, args)
        return out

    def embedding_backward(self, grad: Any, indices: Any, num_embeddings: int, padding_idx: int | None = None) -> Any:
        _check_embedding(self.xp, "embedding_backward", num_embeddings, indices, grad=grad)
        if kernel_suffix(grad.dtype) is None or indices.size == 0:
            return super().embedding_backward(grad, indices, num_embeddings, padding_idx)
        xp = self.xp
        dim = grad.shape[-1]
        padding = -1 if padding_idx is None else _padding_row("embedding_backward", padding_idx, num_embeddings)
        d_weight = xp.zeros((num_embeddings, dim), dtype=xp.float32)
        grid, block = self._elementwise_grid(indices.size * dim)
        args = (self._contiguous(grad), self._contiguous(indices, xp.int64), d_weight, np.int64(indices.size), np.int32(dim), np.int64(padding))
        self.launch(REGISTRY["embedding"], f"embedding_bwd_{kernel_suffix(grad.dtype)}", grid, block, args)
        return d_weight.astype(grad.dtype, copy=False)

    # -- optimizer ----------------------------------------------------------------------------
    def adam_step(
        self,
        param: Any,
        grad: Any,
        exp_avg: Any,
        exp_avg_sq: Any,
        max_exp_avg_sq: Any | None,
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
        _check_adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, amsgrad)
        state = [param, exp_avg, exp_avg_sq] + ([max_exp_avg_sq] if amsgrad else [])
        in_place = all(a.flags.c_contiguous and a.dtype == param.dtype for a in state)
        if kernel_suffix(param.dtype) is None or not in_place or param.size == 0:
            return super().adam_step(
                param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step=step, lr=lr, beta1=beta1, beta2=beta2,
                eps=eps, weight_decay=weight_decay, decoupled=decoupled, amsgrad=amsgrad, maximize=maximize,
            )
        grid, block = self._elementwise_grid(param.size)
        args = (
            param, self._contiguous(grad, param.dtype), exp_avg, exp_avg_sq, max_exp_avg_sq if amsgrad else exp_avg_sq,
            np.int64(param.size), np.float32(lr), np.float32(beta1), np.float32(beta2), np.float32(eps),
            np.float32(weight_decay), np.float32(lr / (1.0 - beta1**step)), np.float32((1.0 - beta2**step) ** 0.5),
            np.int32(decoupled), np.int32(amsgrad), np.int32(maximize),
        )
        self.launch(REGISTRY["adam"], f"adam_step_{kernel_suffix(param.dtype)}", grid, block, args)
        return None

    # -- layout -------------------------------------------------------------------------------
    def strided_copy(self, x: Any) -> Any:
        size = str(x.dtype.itemsize)
        if size not in COPY_TYPES or x.ndim == 0 or x.size == 0 or any(s % x.dtype.itemsize for s in x.strides):
            return super().strided_copy(x)
        xp = self.xp
        out = xp.empty(x.shape, dtype=x.dtype)
        meta = xp.asarray(np.array(list(x.shape) + [s // x.dtype.itemsize for s in x.strides], dtype=np.int64))
        grid, block = self._elementwise_grid(x.size)
        self.launch(REGISTRY["strided_copy"], f"strided_copy_{size}", grid, block, (x, out, meta, np.int32(x.ndim), np.int64(x.size)))
        return out

    # -- convolution and pooling --------------------------------------------------------------
    @staticmethod
    def _geometry_args(channels: int, height: int, width: int, kernel, step, pad, dil, out) -> tuple:
        return tuple(np.int32(v) for v in (channels, height, width, *kernel, *step, *pad, *dil, *out))

    def im2col(self, x: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1, *, batched_columns: bool = False) -> Any:
        geometry = conv_geometry("im2col", x.shape, kernel_size, stride, padding, dilation)
        if kernel_suffix(x.dtype) is None or x.size == 0 or batched_columns:
            return super().im2col(x, kernel_size, stride, padding, dilation, batched_columns=batched_columns)
        n, c, kernel, step, pad, dil, out = geometry
        cols = self.xp.empty((n, c * kernel[0] * kernel[1], out[0] * out[1]), dtype=x.dtype)
        grid, block = self._elementwise_grid(cols.size)
        args = (self._contiguous(x), cols, np.int32(n)) + self._geometry_args(c, *x.shape[2:], kernel, step, pad, dil, out)
        self.launch(REGISTRY["im2col"], f"im2col_{kernel_suffix(x.dtype)}", grid, block, args)
        return cols

    def col2im(
        self, cols: Any, output_size: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
        *, batched_columns: bool = False,
    ) -> Any:
        if batched_columns:  # the base class transposes to [N, C*kh*kw, L] and comes back here
            return super().col2im(cols, output_size, kernel_size, stride, padding, dilation, batched_columns=True)
        geometry = col2im_geometry("col2im", cols.shape, output_size, kernel_size, stride, padding, dilation)
        if kernel_suffix(cols.dtype) is None or cols.size == 0:
            return super().col2im(cols, output_size, kernel_size, stride, padding, dilation)
        n, c, kernel, step, pad, dil, out = geometry
        height, width = _pair("col2im", "output_size", output_size)
        image = self.xp.empty((n, c, height, width), dtype=cols.dtype)
        grid, block = self._elementwise_grid(image.size)
        args = (self._contiguous(cols), image, np.int32(n)) + self._geometry_args(c, height, width, kernel, step, pad, dil, out)
        self.launch(REGISTRY["im2col"], f"col2im_{kernel_suffix(cols.dtype)}", grid, block, args)
        return image

    @staticmethod
    def _pool_args(pool: tuple) -> tuple:
        n, c, (height, width), kernel, step, pad, dil, out = pool
        return tuple(np.int32(v) for v in (n * c, height, width, *kernel, *step, *pad, *dil, *out))

    def max_pool2d(
        self, x: Any, kernel_size: Any, stride: Any | None = None, padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False
    ) -> tuple[Any, Any]:
        pool = pool_geometry("max_pool2d", x.shape, x.dtype, kernel_size, stride, padding, dilation, ceil_mode)
        if kernel_suffix(x.dtype) is None or x.size == 0:
            return super().max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)
        xp = self.xp
        n, c, _, _, _, _, _, (oh, ow) = pool
        out = xp.empty((n, c, oh, ow), dtype=x.dtype)
        indices = xp.empty((n, c, oh, ow), dtype=xp.int64)
        grid, block = self._elementwise_grid(out.size)
        self.launch(REGISTRY["pooling"], f"max_pool2d_fwd_{kernel_suffix(x.dtype)}", grid, block,
                    (self._contiguous(x), out, indices) + self._pool_args(pool))
        return out, indices

    def max_pool2d_backward(self, grad: Any, indices: Any, input_shape: tuple[int, ...]) -> Any:
        if kernel_suffix(grad.dtype) is None or grad.size == 0 or grad.shape != indices.shape or len(input_shape) != 4:
            return super().max_pool2d_backward(grad, indices, input_shape)
        xp = self.xp
        n, c, height, width = input_shape
        dx = xp.zeros(tuple(input_shape), dtype=xp.float32)
        grid, block = self._elementwise_grid(grad.size)
        args = (self._contiguous(grad), self._contiguous(indices, xp.int64), dx, np.int32(n * c),
                np.int32(height * width), np.int32(grad.shape[2] * grad.shape[3]))
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
        self.launch(REGISTRY["pooling"], f"avg_pool2d_fwd_{kernel_suffix(x.dtype)}", grid, block,
                    (self._contiguous(x), out, divisor) + self._pool_args(pool))
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
        pool = pool_geometry("avg_pool2d_backward", tuple(input_shape), grad.dtype, kernel_size, stride, padding, 1, ceil_mode)
        n, c, _, _, _, _, _, (oh, ow) = pool
        if kernel_suffix(grad.dtype) is None or grad.size == 0 or tuple(grad.shape) != (n, c, oh, ow):
            return super().avg_pool2d_backward(grad, input_shape, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
        xp = self.xp
        divisor = xp.asarray(avg_pool_divisor(pool, count_include_pad, divisor_override).astype(np.float32))
        dx = xp.empty(tuple(input_shape), dtype=grad.dtype)
        grid, block = self._elementwise_grid(dx.size)
        self.launch(REGISTRY["pooling"], f"avg_pool2d_bwd_{kernel_suffix(grad.dtype)}", grid, block,
                    (self._contiguous(grad), dx, divisor) + self._pool_args(pool))
        return dx

    # -- recurrent cells ----------------------------------------------------------------------
    def _cell_launch(self, name: str, inputs: tuple, outputs: tuple, batch: int, hidden: int, extra: tuple = ()) -> None:
        grid, block = self._elementwise_grid(batch * hidden)
        dtype = outputs[0].dtype
        args = tuple(self._contiguous(a, dtype) for a in inputs) + outputs + (np.int32(batch), np.int32(hidden)) + extra
        self.launch(REGISTRY["rnn"], f"{name}_{kernel_suffix(dtype)}", grid, block, args)

    def lstm_cell(self, gates: Any, c_prev: Any) -> tuple[Any, Any]:
        _check_cell("lstm_cell", gates, c_prev, 4)
        if kernel_suffix(gates.dtype) is None or c_prev.size == 0:
            return super().lstm_cell(gates, c_prev)
        h, c = self.xp.empty(c_prev.shape, dtype=gates.dtype), self.xp.empty(c_prev.shape, dtype=gates.dtype)
        self._cell_launch("lstm_cell_fwd", (gates, c_prev), (h, c), *c_prev.shape)
        return h, c

    def lstm_cell_backward(self, grad_h: Any, grad_c: Any | None, gates: Any, c_prev: Any, c: Any) -> tuple[Any, Any]:
        _check_cell("lstm_cell_backward", gates, c_prev, 4)
        if kernel_suffix(gates.dtype) is None or c_prev.size == 0:
            return super().lstm_cell_backward(grad_h, grad_c, gates, c_prev, c)
        xp = self.xp
        d_gates = xp.empty(gates.shape, dtype=gates.dtype)
        d_c_prev = xp.empty(c_prev.shape, dtype=gates.dtype)
        inputs = (grad_h, grad_c if grad_c is not None else grad_h, gates, c_prev, c)
        self._cell_launch("lstm_cell_bwd", inputs, (d_gates, d_c_prev), *c_prev.shape, extra=(np.int32(grad_c is not None),))
        return d_gates, d_c_prev.astype(c_prev.dtype, copy=False)

    def gru_cell(self, input_gates: Any, hidden_gates: Any, h_prev: Any) -> Any:
        _check_cell("gru_cell", input_gates, h_prev, 3, hidden_gates)
        if kernel_suffix(h_prev.dtype) is None or h_prev.size == 0:
            return super().gru_cell(input_gates, hidden_gates, h_prev)
        h = self.xp.empty(h_prev.shape, dtype=h_prev.dtype)
        self._cell_launch("gru_cell_fwd", (input_gates, hidden_gates, h_prev), (h,), *h_prev.shape)
        return h

    def gru_cell_backward(self, grad_h: Any, input_gates: Any, hidden_gates: Any, h_prev: Any) -> tuple[Any, Any, Any]:
        _check_cell("gru_cell_backward", input_gates, h_prev, 3, hidden_gates)
        if kernel_suffix(h_prev.dtype) is None or h_prev.size == 0:
            return super().gru_cell_backward(grad_h, input_gates, hidden_gates, h_prev)
        xp = self.xp
        outputs = (
            xp.empty(input_gates.shape, dtype=h_prev.dtype),
            xp.empty(hidden_gates.shape, dtype=h_prev.dtype),
            xp.empty(h_prev.shape, dtype=h_prev.dtype),
        )
        self._cell_launch("gru_cell_bwd", (grad_h, input_gates, hidden_gates, h_prev), outputs, *h_prev.shape)
        return outputs[0].astype(input_gates.dtype, copy=False), outputs[1].astype(hidden_gates.dtype, copy=False), outputs[2]

    # -- attention ----------------------------------------------------------------------------
    def _attention_kernels_apply(self, q: Any, k: Any, v: Any) -> bool:
        limit = attention_kernels.MAX_HEAD_DIM
        return (
            kernel_suffix(q.dtype) is not None
            and q.dtype == k.dtype == v.dtype
            and q.shape[3] <= limit
            and v.shape[3] <= limit
            and q.size > 0
            and v.shape[3] > 0
        )

    def _attention_layout(self, q: Any, k: Any, v: Any) -> tuple:
        batch, heads, sq, dim = q.shape
        sk, vdim = k.shape[2], v.shape[3]
        flat = tuple(self._contiguous(a).reshape(batch * heads, a.shape[2], a.shape[3]) for a in (q, k, v))
        return flat, (batch, heads, sq, sk, dim, vdim)

    def flash_attention(self, q: Any, k: Any, v: Any, causal: bool = False, scale: float | None = None) -> tuple[Any, Any]:
        scale = _check_attention("flash_attention", q, k, v, causal, scale)
        if not self._attention_kernels_apply(q, k, v):
            return super().flash_attention(q, k, v, causal, scale)
        xp = self.xp
        (fq, fk, fv), (batch, heads, sq, sk, dim, vdim) = self._attention_layout(q, k, v)
        out = xp.empty((batch, heads, sq, vdim), dtype=q.dtype)
        lse = xp.empty((batch, heads, sq), dtype=xp.float32)
        grid = ((sq + attention_kernels.FWD_ROWS - 1) // attention_kernels.FWD_ROWS, batch * heads)
        args = (fq, fk, fv, out, lse, np.int32(sq), np.int32(sk), np.int32(dim), np.int32(vdim), np.float32(scale), np.int32(causal))
        self.launch(REGISTRY["attention"], f"flash_attn_fwd_{kernel_suffix(q.dtype)}", grid, (attention_kernels.THREADS,), args,
                    shared_mem=attention_kernels.shared_bytes("fwd", dim, vdim))
        return out, lse

    def flash_attention_backward(
        self, grad: Any, q: Any, k: Any, v: Any, out: Any, lse: Any, causal: bool = False, scale: float | None = None
    ) -> tuple[Any, Any, Any]:
        scale = _check_attention("flash_attention_backward", q, k, v, causal, scale)
        if not self._attention_kernels_apply(q, k, v):
            return super().flash_attention_backward(grad, q, k, v, out, lse, causal, scale)
        xp = self.xp
        (fq, fk, fv), (batch, heads, sq, sk, dim, vdim) = self._attention_layout(q, k, v)
        suffix = kernel_suffix(q.dtype)
        family = REGISTRY["attention"]
        fg = self._contiguous(grad, q.dtype)
        lse32 = self._contiguous(lse, xp.float32)
        delta = xp.empty((batch, heads, sq), dtype=xp.float32)
        rows = batch * heads * sq
        self.launch(family, f"flash_attn_bwd_delta_{suffix}", ((rows + 3) // 4,), (attention_kernels.THREADS,),
                    (fg, self._contiguous(out, q.dtype), delta, np.int64(rows), np.int32(vdim)))
        dq, dk, dv = xp.empty_like(fq), xp.empty_like(fk), xp.empty_like(fv)
        sizes = (np.int32(sq), np.int32(sk), np.int32(dim), np.int32(vdim), np.float32(scale), np.int32(causal))
        self.launch(family, f"flash_attn_bwd_dq_{suffix}",
                    ((sq + attention_kernels.DQ_ROWS - 1) // attention_kernels.DQ_ROWS, batch * heads), (attention_kernels.THREADS,),
                    (fq, fk, fv, fg, lse32, delta, dq) + sizes, shared_mem=attention_kernels.shared_bytes("dq", dim, vdim))
        self.launch(family, f"flash_attn_bwd_dkdv_{suffix}",
                    ((sk + attention_kernels.DKDV_ROWS - 1) // attention_kernels.DKDV_ROWS, batch * heads), (attention_kernels.THREADS,),
                    (fq, fk, fv, fg, lse32, delta, dk, dv) + sizes, shared_mem=attention_kernels.shared_bytes("dkdv", dim, vdim))
        return dq.reshape(q.shape), dk.reshape(k.shape), dv.reshape(v.shape)
