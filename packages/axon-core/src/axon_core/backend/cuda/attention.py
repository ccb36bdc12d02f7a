"""CUDA overrides of the attention family: the kernels of ``kernels/attention.py``.

The reference implementation is ``reference/attention.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels import REGISTRY, kernel_suffix
from ...kernels import attention as attention_kernels
from ..checks import check_attention

__all__ = ["AttentionKernels"]


class AttentionKernels:
    """Attention ops of :class:`~axon_core.backend.cuda.CudaBackend` (a mixin over :class:`.runtime.CudaRuntime`)."""

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

    def flash_attention(
        self, q: Any, k: Any, v: Any, causal: bool = False, scale: float | None = None
    ) -> tuple[Any, Any]:
        scale = check_attention("flash_attention", q, k, v, causal, scale)
        if not self._attention_kernels_apply(q, k, v):
            return super().flash_attention(q, k, v, causal, scale)
        xp = self.xp
        (fq, fk, fv), (batch, heads, sq, sk, dim, vdim) = self._attention_layout(q, k, v)
        out = xp.empty((batch, heads, sq, vdim), dtype=q.dtype)
        lse = xp.empty((batch, heads, sq), dtype=xp.float32)
        grid = ((sq + attention_kernels.FWD_ROWS - 1) // attention_kernels.FWD_ROWS, batch * heads)
        args = (
            fq,
            fk,
            fv,
            out,
            lse,
            np.int32(sq),
            np.int32(sk),
            np.int32(dim),
            np.int32(vdim),
            np.float32(scale),
            np.int32(causal),
        )
        self.launch(
            REGISTRY["attention"],
            f"flash_attn_fwd_{kernel_suffix(q.dtype)}",
            grid,
            (attention_kernels.THREADS,),
            args,
            shared_mem=attention_kernels.shared_bytes("fwd", dim, vdim),
        )
        return out, lse

    def flash_attention_backward(
        self, grad: Any, q: Any, k: Any, v: Any, out: Any, lse: Any, causal: bool = False, scale: float | None = None
    ) -> tuple[Any, Any, Any]:
        scale = check_attention("flash_attention_backward", q, k, v, causal, scale)
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
        self.launch(
            family,
            f"flash_attn_bwd_delta_{suffix}",
            ((rows + 3) // 4,),
            (attention_kernels.THREADS,),
            (fg, self._contiguous(out, q.dtype), delta, np.int64(rows), np.int32(vdim)),
        )
        dq, dk, dv = xp.empty_like(fq), xp.empty_like(fk), xp.empty_like(fv)
        sizes = (np.int32(sq), np.int32(sk), np.int32(dim), np.int32(vdim), np.float32(scale), np.int32(causal))
        self.launch(
            family,
            f"flash_attn_bwd_dq_{suffix}",
            ((sq + attention_kernels.DQ_ROWS - 1) // attention_kernels.DQ_ROWS, batch * heads),
            (attention_kernels.THREADS,),
            (fq, fk, fv, fg, lse32, delta, dq) + sizes,
            shared_mem=attention_kernels.shared_bytes("dq", dim, vdim),
        )
        self.launch(
            family,
            f"flash_attn_bwd_dkdv_{suffix}",
            ((sk + attention_kernels.DKDV_ROWS - 1) // attention_kernels.DKDV_ROWS, batch * heads),
            (attention_kernels.THREADS,),
            (fq, fk, fv, fg, lse32, delta, dk, dv) + sizes,
            shared_mem=attention_kernels.shared_bytes("dkdv", dim, vdim),
        )
        return dq.reshape(q.shape), dk.reshape(k.shape), dv.reshape(v.shape)
