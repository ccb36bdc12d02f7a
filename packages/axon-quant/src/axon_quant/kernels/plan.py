"""``MatmulPlan``: ``quant_matmul`` for one weight with everything but the kernel done once.

The decode loop multiplies the same weights by one activation row 211 times a token (SmolLM2),
and each general :func:`~axon_quant.kernels.quant_matmul` call spent about 19 us in Python around
its kernel (checks, lookups, views, the thread count) — 3.4 ms of an 18.5 ms token. A plan does
the checks, lookups and views at construction and keeps its own activation buffers, so a call is
a few attribute compares, the activation preparation and the kernel.
"""

from __future__ import annotations

import numpy as np

from ..errors import QuantError
from ..tensor import QuantTensor
from . import matmul as _matmul

__all__ = ["MatmulPlan"]


class MatmulPlan:
    """``plan(x, out)`` = ``quant_matmul(x, w, out, threads=threads)`` for ``w`` ``[m, k]``.

    The fast path takes one activation row, ``x`` float32 ``[k]`` or ``[1, k]`` (C-contiguous),
    into ``out`` float32 ``[m]`` or ``[1, m]``; other row counts, dense formats and devices go
    through the general call (which then checks everything as usual). Results are those of the
    general call, bit for bit: the same kernel runs with the same arguments.
    """

    def __init__(self, w: QuantTensor, threads: int | None = None) -> None:
        m, k = w.shape if isinstance(w, QuantTensor) and len(w.shape) == 2 else (0, 0)
        probe_x, probe_out = np.zeros(k, np.float32), np.zeros(m, np.float32)
        _matmul._check(probe_x, w, probe_out)  # the general call's validation of w, once
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise QuantError(f"MatmulPlan: threads must be a positive int, got {threads!r}")
        self.w, self.threads, self.m, self.k = w, threads, m, k
        name = w.ggml_type.name
        self._fast = name in _matmul._KERNELS and m > 0 and k > 0
        if not self._fast:
            return
        spec = _matmul._KERNELS[name]
        from ._numba import F16_TO_F32
        from ._prepare import block_sums, scale_high_nibbles

        self._spec, self._kernel, self._f16 = spec, _matmul._function(name), F16_TO_F32
        self._scale_high_nibbles, self._block_sums = scale_high_nibbles, block_sums
        self._raw = w.raw.reshape(-1)
        self._codes = self._raw.view(np.int8)
        self._blocks = k // w.ggml_type.block_size
        wanted = threads if threads is not None else _matmul.default_threads()
        self._used = max(1, min(wanted, m, m * k // _matmul._WORK_PER_THREAD))
        self._xs = np.empty(k, np.float32) if spec.group else None
        self._sums = np.empty(k // spec.sum_size if spec.sum_size else 1, np.float32)

    def __call__(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        if (
            not self._fast
            or type(x) is not np.ndarray
            or type(out) is not np.ndarray
            or x.size != self.k
            or out.size != self.m
            or x.ndim != out.ndim
            or x.dtype != np.float32
            or out.dtype != np.float32
            or not x.flags.c_contiguous
            or not out.flags.c_contiguous
            or not out.flags.writeable
            or x.ndim > 2
        ):
            return _matmul.quant_matmul(x, self.w, out, threads=self.threads)
        flat_x, flat_out = x.reshape(-1), out.reshape(-1)
        if np.may_share_memory(flat_out, flat_x):
            raise QuantError(f"MatmulPlan: out {list(out.shape)} overlaps x")
        spec, xs = self._spec, flat_x
        if spec.group:
            xs = self._xs
            self._scale_high_nibbles(flat_x, xs, self.k, spec.group)
        if spec.sum_size:
            self._block_sums(flat_x, self._sums, self.k, spec.sum_size)
        _matmul.set_kernel_threads(self._used)
        self._kernel(
            self._raw, self._codes, xs, self._sums, flat_out, self.m, 1, self._blocks, self._f16, spec.inner, self._used
        )
        return out
