"""Scaled dot-product attention with a flash path, and the grouped-query helper ``repeat_kv``.

Two paths compute ``softmax(q kᵀ · scale + mask) v``:

- the flash path (no arbitrary mask, no dropout) calls the backend's ``flash_attention``: an
  online softmax over key blocks that never holds the ``[Sq, Sk]`` score matrix, forward and
  backward (:class:`FlashAttentionFunction`);
- the plain path materialises the scores, adds the mask, takes a softmax whose fully masked rows
  are 0 (as PyTorch 2.13 does) and, if asked, drops weights out (:func:`plain_attention`).

Where both apply, the backend decides by the size of the score tensor: flash once
``batch·heads·Sq·Sk·itemsize`` reaches ``backend.flash_attention_min_score_bytes`` (64 MiB on the
CPU, where batched BLAS products over small score matrices beat the blockwise loop; 0 on CUDA,
whose fused kernel always wins). :func:`attention_path` overrides the choice.

Both paths are twice differentiable. Under ``create_graph=True`` the flash path's gradients are
those of the same attention with the scores materialised (:func:`_flash_composite` through
:func:`~._twice.graph_backward`; memory quadratic in the sequence, as PyTorch's math path, the
one of its CPU kernels with a double backward), and the safe softmax's gradient is its rule in
Variable ops of the saved weights (as PyTorch's softmax). Without a graph the fused backwards
run as before.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

import numpy as np

from axon_autograd import Function, once_differentiable
from axon_core import DTypeError, ShapeError

from ._twice import graph_backward, wants_graph
from ._util import out_like, saved, tensor_of, xp_of
from .dropout import dropout

__all__ = ["scaled_dot_product_attention", "repeat_kv", "attention_path"]

_PATHS = ("auto", "flash", "plain")
_chosen_path: ContextVar[str] = ContextVar("attention_path", default="auto")


@contextmanager
def attention_path(path: str) -> Iterator[None]:
    """Within the block, attention takes ``path``: ``"flash"``, ``"plain"`` or ``"auto"``.

    ``"auto"`` (the default) picks by the size of the score tensor (see the module docstring).
    ``"flash"`` forces the flash path, and raises ValueError for a call it cannot serve (a mask
    or dropout); ``"plain"`` always materialises the scores. Like ``torch.nn.attention.sdpa_kernel``.
    """
    if path not in _PATHS:
        raise ValueError(f"attention_path: path must be one of {_PATHS}, got {path!r}")
    token = _chosen_path.set(path)
    try:
        yield
    finally:
        _chosen_path.reset(token)


def _causal_segments(sq: int, sk: int, causal: bool, lower_right: bool) -> list[tuple[int, int, int, bool]]:
    """Split a query range into ``(q_start, q_stop, k_stop, causal)`` calls of the backend kernel.

    The kernel's causal mask is bottom-right aligned (query ``i`` sees keys ``j <= i + Sk - Sq``).
    PyTorch's ``is_causal`` is top-left aligned (``j <= i``). With ``Sq <= Sk`` the keys past
    ``Sq`` are seen by no query, so top-left equals bottom-right over the first ``Sq`` keys. With
    ``Sq > Sk`` the first ``Sk`` queries form a square causal block and the rest see every key.
    """
    if not causal:
        return [(0, sq, sk, False)]
    if lower_right:
        return [(0, sq, sk, True)]
    if sq <= sk:
        return [(0, sq, sq, True)]
    return [(0, sk, sk, True), (sk, sq, sk, False)]


def _flash_composite(ctx: Any, q: Any, k: Any, v: Any) -> Any:
    """:class:`FlashAttentionFunction` as Variable ops over the whole score matrix, each causal
    segment's keys beyond its ``k_stop`` and above its diagonal masked out."""
    data = tensor_of(q)
    xp = xp_of(data)
    sq, sk = q.shape[2], k.shape[2]
    keep = xp.zeros((sq, sk), dtype=bool)
    for q_start, q_stop, k_stop, seg_causal in ctx.segments:
        if seg_causal:  # the kernel's bottom-right alignment within the segment
            keep[q_start:q_stop, :k_stop] = causal_keep_mask(xp, q_stop - q_start, k_stop, True)
        else:
            keep[q_start:q_stop, :k_stop] = True
    scores = (q * ctx.scale) @ k.transpose(-2, -1)
    if not bool(keep.all()):
        scores = scores + out_like(xp.where(keep, data.dtype.np.type(0), data.dtype.np.type(-np.inf)), data)
    return SafeSoftmaxFunction.apply(scores) @ v


class FlashAttentionFunction(Function):
    """``q [B, H, Sq, D]``, ``k [B, H, Sk, D]``, ``v [B, H, Sk, Dv]`` -> ``[B, H, Sq, Dv]``.

    ``causal`` masks top-left aligned (PyTorch's ``is_causal``) unless ``lower_right``. Saves
    only the inputs, the output and the per-row logsumexp: memory is linear in the sequence.
    """

    @staticmethod
    def forward(ctx, q, k, v, scale, causal, lower_right):
        backend = q.backend
        xp = backend.xp
        qd, kd, vd = q.array, k.array, v.array
        segments = _causal_segments(qd.shape[2], kd.shape[2], causal, lower_right)
        outs, lses = [], []
        for q_start, q_stop, k_stop, seg_causal in segments:
            out, lse = backend.flash_attention(
                qd[:, :, q_start:q_stop], kd[:, :, :k_stop], vd[:, :, :k_stop], seg_causal, scale
            )
            outs.append(out)
            lses.append(lse)
        out = outs[0] if len(outs) == 1 else xp.concatenate(outs, axis=2)
        ctx.save_for_backward(q, k, v)
        ctx.segments, ctx.scale, ctx.outs, ctx.lses = segments, scale, outs, lses
        return out_like(out, q)

    @staticmethod
    @graph_backward(_flash_composite)
    def backward(ctx, grad):
        q, k, v = saved(ctx)
        backend = q.backend
        xp = backend.xp
        qd, kd, vd, g = q.array, k.array, v.array, grad.array
        full_keys = kd.shape[2]
        dqs, dk, dv = [], None, None
        for (q_start, q_stop, k_stop, seg_causal), out, lse in zip(ctx.segments, ctx.outs, ctx.lses):
            dq_seg, dk_seg, dv_seg = backend.flash_attention_backward(
                g[:, :, q_start:q_stop],
                qd[:, :, q_start:q_stop],
                kd[:, :, :k_stop],
                vd[:, :, :k_stop],
                out,
                lse,
                seg_causal,
                ctx.scale,
            )
            dqs.append(dq_seg)
            if dk is None and k_stop == full_keys:
                dk, dv = dk_seg, dv_seg
                continue
            if dk is None:
                dk, dv = xp.zeros_like(kd), xp.zeros_like(vd)
            dk[:, :, :k_stop] += dk_seg
            dv[:, :, :k_stop] += dv_seg
        dq = dqs[0] if len(dqs) == 1 else xp.concatenate(dqs, axis=2)
        return out_like(dq, q), out_like(dk, k), out_like(dv, v), None, None, None


class SafeSoftmaxFunction(Function):
    """Softmax over the last dim whose rows of only ``-inf`` come out 0 (not NaN): ``[*, Sk]``."""

    @staticmethod
    def forward(ctx, scores):
        backend = scores.backend
        xp, data = backend.xp, scores.array
        if data.shape[-1] == 0:
            y = data.copy()
        else:
            fully_masked = xp.isneginf(data.max(axis=-1, keepdims=True))
            if bool(fully_masked.any()):
                y = xp.where(fully_masked, 0, backend.softmax(xp.where(fully_masked, 0, data), -1)).astype(
                    data.dtype, copy=False
                )
            else:
                y = backend.softmax(data, -1)
        weights = out_like(y, scores)
        ctx.save_for_backward(weights)  # the output itself: under create_graph it leads back here
        return weights

    @staticmethod
    def backward(ctx, grad):
        if not wants_graph(ctx, (grad,)):
            return _safe_softmax_backward(ctx, grad)
        # Differentiable again as PyTorch's softmax: the rule in Variable ops of the saved output
        # (whose gradient comes back to this node); fully masked rows have y = 0, so 0 again.
        (y,) = ctx.saved_tensors
        return y * (grad - (grad * y).sum(-1, keepdim=True))


@once_differentiable
def _safe_softmax_backward(ctx: Any, grad: Any) -> Any:
    (y,) = saved(ctx)
    if y.array.shape[-1] == 0:
        return out_like(grad.array.copy(), grad)
    return out_like(y.backend.softmax_backward(grad.array, y.array, -1), grad)


def repeat_kv(x: Any, n_rep: int) -> Any:
    """Repeat each key/value head ``n_rep`` times: ``[*, H_kv, S, D] -> [*, H_kv * n_rep, S, D]``.

    Head ``h`` of the result is head ``h // n_rep`` of ``x`` (LLaMA's grouped-query layout, the
    same as ``x.repeat_interleave(n_rep, dim=-3)``). Differentiable: the gradient of a shared
    head is the sum over its copies.
    """
    if n_rep < 1:
        raise ValueError(f"repeat_kv: n_rep must be >= 1, got {n_rep}")
    shape = tuple(x.shape)
    if len(shape) < 3:
        raise ShapeError(f"repeat_kv: expected [*, heads, seq, dim], got shape {shape}")
    if n_rep == 1:
        return x
    lead, heads, rest = shape[:-3], shape[-3], shape[-2:]
    expanded = x.unsqueeze(len(lead) + 1).expand(*lead, heads, n_rep, *rest)
    return expanded.reshape(*lead, heads * n_rep, *rest)


def causal_keep_mask(xp: Any, sq: int, sk: int, lower_right: bool = False) -> Any:
    """Boolean ``[Sq, Sk]``, True where query ``i`` may see key ``j``: ``j <= i`` (top-left, as
    PyTorch's ``is_causal``) or ``j <= i + Sk - Sq`` (bottom-right, for a KV cache)."""
    shift = sk - sq if lower_right else 0
    return xp.arange(sk)[None, :] <= xp.arange(sq)[:, None] + shift


def additive_mask(mask: Any, dtype: Any, op: str, true_masks: bool = False) -> Any:
    """An attention mask as a float Tensor/Variable to add to the scores.

    Boolean masks keep where True (``0``) and drop where False (``-inf``), or the other way
    round with ``true_masks`` (``nn.MultiheadAttention``'s convention); float masks are
    returned as they are (cast to ``dtype``), so a float mask that requires grad gets one.
    """
    data = tensor_of(mask)
    if data.dtype.name == "bool":
        xp = xp_of(data)
        keep, drop = (-np.inf, 0.0) if true_masks else (0.0, -np.inf)
        # typed scalars: the mask is built in its own dtype, with no float64 temporary
        return out_like(xp.where(data.array, dtype.np.type(keep), dtype.np.type(drop)), data)
    if not data.dtype.is_floating_point:
        raise DTypeError(f"{op}: masks must be bool or floating point, got {data.dtype}")
    return mask if data.dtype == dtype else mask.to(dtype)


def plain_attention(
    q: Any, k: Any, v: Any, mask: Any = None, dropout_p: float = 0.0, scale: float | None = None
) -> tuple[Any, Any]:
    """``softmax(q kᵀ · scale + mask) v`` with the weights materialised; returns ``(out, weights)``.

    ``q [*, Sq, D]``, ``k [*, Sk, D]``, ``v [*, Sk, Dv]``; ``mask`` an additive float mask
    broadcastable to ``[*, Sq, Sk]`` or None. ``out [*, Sq, Dv]``, ``weights [*, Sq, Sk]`` (after
    dropout, which runs when ``dropout_p > 0``). Fully masked rows give zero weights.
    """
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = (q * scale) @ k.transpose(-2, -1)
    if mask is not None:
        scores = scores + mask
    weights = SafeSoftmaxFunction.apply(scores)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights @ v, weights


def _check_sdpa(q: Any, k: Any, v: Any, attn_mask: Any, dropout_p: float, is_causal: bool, enable_gqa: bool) -> int:
    """Validate the inputs; returns how many query heads share a key/value head."""
    op = "scaled_dot_product_attention"
    shapes = f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ShapeError(f"{op}: expected q [*, Sq, D], k [*, Sk, D], v [*, Sk, Dv] of the same rank, got {shapes}")
    if q.dtype != k.dtype or q.dtype != v.dtype:
        raise DTypeError(f"{op}: q, k and v must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if not q.dtype.is_floating_point:
        raise DTypeError(f"{op}: expected floating-point q, k, v, got {q.dtype}")
    if q.device is not k.device or q.device is not v.device:
        from axon_core import DeviceError

        raise DeviceError(f"{op}: q, k and v must be on one device, got {q.device}, {k.device}, {v.device}")
    if q.shape[-1] != k.shape[-1] or k.shape[:-1] != v.shape[:-1]:
        raise ShapeError(f"{op}: head dims or key/value lengths disagree: {shapes}")
    n_rep = 1
    if q.shape[:-3] != k.shape[:-3] or (q.ndim >= 3 and q.shape[-3] != k.shape[-3]):
        heads_q, heads_k = (q.shape[-3], k.shape[-3]) if q.ndim >= 3 else (1, 1)
        if not enable_gqa or q.shape[:-3] != k.shape[:-3] or heads_q % heads_k:
            hint = (
                " (pass enable_gqa=True for grouped-query attention)" if heads_q != heads_k and not enable_gqa else ""
            )
            raise ShapeError(
                f"{op}: batch/head dims of q and k must match{hint}; with enable_gqa the query heads must be a "
                f"multiple of the key heads: {shapes}"
            )
        n_rep = heads_q // heads_k
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: pass either attn_mask or is_causal=True, not both")
    if attn_mask is not None:
        scores_shape = tuple(q.shape[:-1]) + (k.shape[-2],)
        try:
            broadcast = np.broadcast_shapes(tuple(attn_mask.shape), scores_shape)
        except ValueError:
            broadcast = None
        if broadcast != scores_shape:
            raise ShapeError(
                f"{op}: attn_mask of shape {tuple(attn_mask.shape)} does not broadcast to the scores {scores_shape}"
            )
    return n_rep


def _flash_4d(q: Any, k: Any, v: Any, scale: float, causal: bool, lower_right: bool) -> Any:
    """Run :class:`FlashAttentionFunction` on ``[*, S, D]`` inputs viewed as ``[B, H, S, D]``."""
    shape = tuple(q.shape)
    if len(shape) == 4:
        return FlashAttentionFunction.apply(q, k, v, scale, causal, lower_right)
    lead = math.prod(shape[:-2])

    def as4(x: Any) -> Any:
        return x.reshape(1, lead, *x.shape[-2:])

    out = FlashAttentionFunction.apply(as4(q), as4(k), as4(v), scale, causal, lower_right)
    return out.reshape(*shape[:-1], v.shape[-1])


def _use_flash(q: Any, k: Any, mask: Any, dropout_p: float) -> bool:
    """Whether :func:`attention` takes the flash path (see :func:`attention_path`)."""
    path = _chosen_path.get()
    sq, sk = q.shape[-2], k.shape[-2]
    if mask is not None or dropout_p > 0.0:
        if path == "flash":
            raise ValueError(
                "attention: the flash path was forced but takes no attn_mask and no dropout (mask given: "
                f"{mask is not None}, dropout_p={dropout_p})"
            )
        return False
    if path != "auto":
        return path == "flash" and sq > 0 and sk > 0 and q.shape[-1] > 0
    if sq == 0 or sk == 0 or q.shape[-1] == 0:
        return False
    score_bytes = math.prod(q.shape[:-1]) * sk * q.dtype.np.itemsize
    return score_bytes >= tensor_of(q).backend.flash_attention_min_score_bytes


def attention(
    q: Any,
    k: Any,
    v: Any,
    mask: Any = None,
    dropout_p: float = 0.0,
    causal: bool = False,
    scale: float | None = None,
    lower_right: bool = False,
) -> Any:
    """Pick the path (flash or plain, see :func:`attention_path`) and attend.

    ``mask`` is additive (see :func:`additive_mask`); ``causal`` is top-left aligned unless
    ``lower_right`` (the KV-cache alignment). Shapes as in :func:`scaled_dot_product_attention`.
    """
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    sq, sk = q.shape[-2], k.shape[-2]
    if _use_flash(q, k, mask, dropout_p):
        return _flash_4d(q, k, v, scale, causal, lower_right)
    if causal:
        if lower_right and sk < sq:
            raise ShapeError(f"attention: a bottom-right causal mask needs Sk >= Sq, got Sq={sq}, Sk={sk}")
        xp = xp_of(tensor_of(q))
        keep = causal_keep_mask(xp, sq, sk, lower_right)
        causal_mask = out_like(xp.where(keep, q.dtype.np.type(0), q.dtype.np.type(-np.inf)), tensor_of(q))
        mask = causal_mask if mask is None else mask + causal_mask
    return plain_attention(q, k, v, mask, dropout_p, scale)[0]


def scaled_dot_product_attention(
    query: Any,
    key: Any,
    value: Any,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Any:
    """``softmax(q kᵀ · scale + mask) v`` with PyTorch's semantics.

    ``query [*, Hq, Sq, D]``, ``key [*, Hk, Sk, D]``, ``value [*, Hk, Sk, Dv]`` -> ``[*, Hq, Sq, Dv]``
    (any rank >= 2; the leading dims must match). ``attn_mask`` broadcasts to ``[*, Hq, Sq, Sk]``:
    a bool mask keeps where True, a float mask is added. ``is_causal`` keeps key ``j <= i``
    (top-left aligned, as PyTorch). ``scale`` defaults to ``1/sqrt(D)``. ``dropout_p`` drops
    attention weights (always, as PyTorch: pass 0 in eval). ``enable_gqa`` lets ``Hq`` be a
    multiple of ``Hk``; key/value heads are then shared by groups of query heads.

    Without a mask and without dropout, and once the scores would take
    ``backend.flash_attention_min_score_bytes`` (or under ``attention_path("flash")``), this runs
    the flash path (memory linear in the sequence). Rows whose keys are all masked give 0, as in
    PyTorch 2.13.
    """
    n_rep = _check_sdpa(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
    if n_rep > 1:
        key, value = repeat_kv(key, n_rep), repeat_kv(value, n_rep)
    mask = None if attn_mask is None else additive_mask(attn_mask, query.dtype, "scaled_dot_product_attention")
    return attention(query, key, value, mask, float(dropout_p), is_causal, scale)
