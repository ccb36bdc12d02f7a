"""Flash attention over key blocks (memory linear in the sequence), forward and backward.

The reference implementation, written against ``self.xp`` (NumPy or CuPy); the CUDA backend
overrides it in ``backend/cuda/attention.py`` with the kernels of ``kernels/attention.py``.
"""

from __future__ import annotations

from typing import Any

from ..checks import check_attention
from ..numerics import upcast

__all__ = ["AttentionReference"]

Array = Any
Pair = Any  # an int or an (h, w) pair of ints


class AttentionReference:
    """Reference attention ops of :class:`~axon_core.backend.Backend` (a mixin; needs ``self.xp``)."""

    def flash_attention(
        self, q: Array, k: Array, v: Array, causal: bool = False, scale: float | None = None
    ) -> tuple[Array, Array]:
        """``softmax(scale q k^T [+ causal mask]) v`` without materializing the scores.

        ``q [B, H, Sq, D]``, ``k [B, H, Sk, D]``, ``v [B, H, Sk, Dv]``; ``scale`` defaults to
        ``1/sqrt(D)``; ``causal`` masks key ``j > i + (Sk - Sq)`` (bottom-right, needs
        ``Sk >= Sq``). Returns ``(out [B, H, Sq, Dv], lse [B, H, Sq])`` with ``lse`` the
        logsumexp of each row of scaled scores in the compute dtype. Runs over key blocks
        (:func:`_key_blocks`), so memory grows linearly with the sequence.
        """
        scale = check_attention("flash_attention", q, k, v, causal, scale)
        xp = self.xp
        work_q = upcast(xp, q) * scale
        work_k, work_v = upcast(xp, k), upcast(xp, v)
        acc = xp.zeros(q.shape[:3] + (v.shape[3],), dtype=work_q.dtype)
        row_max = xp.full(q.shape[:3], -xp.inf, dtype=work_q.dtype)
        row_sum = xp.zeros(q.shape[:3], dtype=work_q.dtype)
        for start, stop, rows, keep in _key_blocks(xp, q.shape, k.shape[2], causal):
            scores = self.matmul(work_q[:, :, rows:], xp.swapaxes(work_k[:, :, start:stop], -1, -2))
            if keep is not None:
                xp.copyto(scores, -xp.inf, where=~keep)
            new_max = xp.maximum(row_max[:, :, rows:], scores.max(axis=-1))
            safe_max = xp.where(xp.isneginf(new_max), 0, new_max)
            correction = xp.exp(row_max[:, :, rows:] - safe_max)
            scores -= safe_max[..., None]
            probs = xp.exp(scores, out=scores)
            row_sum[:, :, rows:] *= correction
            row_sum[:, :, rows:] += probs.sum(axis=-1)
            acc[:, :, rows:] *= correction[..., None]
            acc[:, :, rows:] += self.matmul(probs, work_v[:, :, start:stop])
            row_max[:, :, rows:] = new_max
        acc /= row_sum[..., None]
        row_sum = xp.log(row_sum, out=row_sum)
        row_sum += row_max
        return acc.astype(q.dtype, copy=False), row_sum

    def flash_attention_backward(
        self,
        grad: Array,
        q: Array,
        k: Array,
        v: Array,
        out: Array,
        lse: Array,
        causal: bool = False,
        scale: float | None = None,
    ) -> tuple[Array, Array, Array]:
        """``(dq, dk, dv)`` of :meth:`flash_attention` given ``grad [B, H, Sq, Dv]`` and the
        forward's ``out`` and ``lse``; recomputes each block's probabilities from ``lse`` with
        one product, ``P = exp(scale q k^T - lse)``.
        """
        scale = check_attention("flash_attention_backward", q, k, v, causal, scale)
        xp = self.xp
        work_q = upcast(xp, q) * scale
        work_k, work_v = upcast(xp, k), upcast(xp, v)
        work_g = upcast(xp, grad)
        work_lse = lse.astype(work_q.dtype, copy=False)[..., None]
        delta = (work_g * upcast(xp, out)).sum(axis=-1)[..., None]
        dq = xp.zeros_like(work_q)
        dk = xp.zeros_like(work_k)
        dv = xp.zeros_like(work_v)
        for start, stop, rows, keep in _key_blocks(xp, q.shape, k.shape[2], causal):
            key_block, g_rows, q_rows = work_k[:, :, start:stop], work_g[:, :, rows:], work_q[:, :, rows:]
            probs = self.matmul(q_rows, xp.swapaxes(key_block, -1, -2))
            probs -= work_lse[:, :, rows:]
            if keep is not None:
                xp.copyto(probs, -xp.inf, where=~keep)
            probs = xp.exp(probs, out=probs)
            dv[:, :, start:stop] = self.matmul(xp.swapaxes(probs, -1, -2), g_rows)
            # d(scaled scores) = P * (dP - delta); q was scaled, so dk needs no further factor
            d_scores = self.matmul(g_rows, xp.swapaxes(work_v[:, :, start:stop], -1, -2))
            d_scores -= delta[:, :, rows:]
            d_scores *= probs
            dq[:, :, rows:] += self.matmul(d_scores, key_block)
            dk[:, :, start:stop] = self.matmul(xp.swapaxes(d_scores, -1, -2), q_rows)
        dq *= scale
        return dq.astype(q.dtype, copy=False), dk.astype(k.dtype, copy=False), dv.astype(v.dtype, copy=False)


# Flash attention holds one ``[B, H, rows, keys]`` score tile at a time: as many keys per block as
# fit this many elements, but never fewer than _ATTENTION_MIN_BLOCK (so memory stays linear in Sq).
_ATTENTION_TILE_ELEMENTS = 1 << 21
_ATTENTION_MIN_BLOCK = 256


def _key_blocks(xp: Any, q_shape: tuple[int, ...], sk: int, causal: bool) -> Any:
    """Yield ``(start, stop, rows, keep)`` for each key block ``[start, stop)`` of flash attention.

    Query rows before ``rows`` see no key of the block (causal, bottom-right aligned), so they
    are skipped; ``keep [Sq - rows, stop - start]`` is True where a row sees a key, or None when
    every row of ``rows:`` sees the whole block.
    """
    batch, heads, sq = q_shape[:3]
    block = max(_ATTENTION_MIN_BLOCK, _ATTENTION_TILE_ELEMENTS // max(1, batch * heads * sq))
    shift = sk - sq
    for start in range(0, sk, block):
        stop = min(sk, start + block)
        rows = max(0, start - shift) if causal else 0
        if rows >= sq:
            break
        keep = None
        if causal and stop - 1 > rows + shift:
            keep = xp.arange(start, stop)[None, :] <= xp.arange(rows, sq)[:, None] + shift
        yield start, stop, rows, keep
