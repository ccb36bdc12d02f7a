"""The runtime's float32 Numba kernels between the quantized matmuls: norms, RoPE, KV store,
causal attention, gated activations. Every kernel writes into a buffer it is given (arena
views), so calling one allocates nothing.

The math follows llama.cpp's CPU ops (``ggml-cpu/ops.cpp``): RMSNorm sums squares in double,
``y = x / sqrt(mean(x²) + eps) * w``; RoPE rotates ``(x[2i], x[2i+1])`` ("normal") or
``(x[i], x[i + dim/2])`` ("neox") by ``pos * base^(-2i/dim)``; SiLU is ``x / (1 + exp(-x))``;
GELU is the tanh approximation. Attention scores go to an arena scratch row per (token, head);
the loops over head dimensions index flat arrays with unsigned offsets so LLVM vectorises them
(a signed index makes Numba test for wrap-around on every access), and the heads sharing a KV
head read its keys and values once.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from numba import uint64 as u64

# Reassociation lets LLVM vectorise the reductions; no nnan/ninf, so -inf masks stay meaningful.
_FAST = {"reassoc", "contract", "nsz", "arcp", "afn"}


@njit(cache=True, fastmath=_FAST)
def rmsnorm(x, weight, eps, out):
    """``out[r] = x[r] / sqrt(mean(x[r]²) + eps) * weight`` for rows of ``x`` [n, d] float32 (in place if out is x)."""
    n, d = x.shape
    for r in range(n):
        acc = 0.0
        for j in range(d):
            acc += np.float64(x[r, j] * x[r, j])
        scale = np.float32(1.0 / math.sqrt(acc / d + eps))
        for j in range(d):
            out[r, j] = x[r, j] * scale * weight[j]


@njit(cache=True, fastmath=_FAST)
def add_rmsnorm(x, delta, weight, eps, out):
    """``x += delta`` (the residual add), then ``out = rmsnorm(x) * weight``; rows of [n, d] float32."""
    n, d = x.shape
    for r in range(n):
        acc = 0.0
        for j in range(d):
            v = x[r, j] + delta[r, j]
            x[r, j] = v
            acc += np.float64(v * v)
        scale = np.float32(1.0 / math.sqrt(acc / d + eps))
        for j in range(d):
            out[r, j] = x[r, j] * scale * weight[j]


@njit(cache=True, fastmath=_FAST)
def scale_rows(x, factor):
    """``x *= factor`` in place (Gemma's ``sqrt(d_model)`` on the embeddings)."""
    n, d = x.shape
    f = np.float32(factor)
    for r in range(n):
        for j in range(d):
            x[r, j] *= f


@njit(cache=True, fastmath=_FAST, inline="always")
def _rotate(row, base, head_dim, rope_dim, cos, sin, p, neox):
    half = rope_dim // 2
    if neox:
        for i in range(half):
            c, s = cos[p, i], sin[p, i]
            a, b = row[base + i], row[base + i + half]
            row[base + i] = a * c - b * s
            row[base + i + half] = a * s + b * c
    else:
        for i in range(half):
            c, s = cos[p, i], sin[p, i]
            a, b = row[base + 2 * i], row[base + 2 * i + 1]
            row[base + 2 * i] = a * c - b * s
            row[base + 2 * i + 1] = a * s + b * c


@njit(cache=True, fastmath=_FAST)
def rope_store(q, k, v, cos, sin, start, n_heads, n_kv_heads, head_dim, rope_dim, neox, k_cache, v_cache):
    """Rotate ``q`` [n, n_heads*head_dim] in place and ``k`` [n, n_kv_heads*head_dim] by positions
    ``start .. start+n-1``, and store the rotated K and V rows at those positions of ``k_cache`` /
    ``v_cache`` [n_kv_heads, ctx, head_dim]."""
    n = q.shape[0]
    for r in range(n):
        p = start + r
        qr, kr, vr = q[r], k[r], v[r]
        for h in range(n_heads):
            _rotate(qr, h * head_dim, head_dim, rope_dim, cos, sin, p, neox)
        for h in range(n_kv_heads):
            _rotate(kr, h * head_dim, head_dim, rope_dim, cos, sin, p, neox)
            for j in range(head_dim):
                k_cache[h, p, j] = kr[h * head_dim + j]
                v_cache[h, p, j] = vr[h * head_dim + j]


@njit(cache=True, fastmath=_FAST, inline="always")
def _attend_group(q, k, v, scores, out, r, g, start, n_heads, n_kv_heads, head_dim, ctx, scale, window):
    """Query row ``r``'s heads that share KV head ``g``: one pass over the keys scores them all,
    one pass over the values sums them all, so K and V are read once per group (GQA)."""
    pos = start + r
    first = 0 if window <= 0 else max(0, pos - window + 1)
    group = n_heads // n_kv_heads
    hd, width = u64(head_dim), u64(ctx)
    kv_base = u64(g) * width * hd
    q_base = (u64(r) * u64(n_heads) + u64(g * group)) * hd
    s_base = (u64(r) * u64(n_heads) + u64(g * group)) * width
    for t in range(first, pos + 1):
        key = kv_base + u64(t) * hd
        for h in range(group):
            qo = q_base + u64(h) * hd
            dot = np.float32(0.0)
            for j in range(head_dim):
                dot += q[qo + u64(j)] * k[key + u64(j)]
            scores[s_base + u64(h) * width + u64(t)] = dot * scale
    for h in range(group):
        so = s_base + u64(h) * width
        best = -np.inf
        for t in range(first, pos + 1):
            best = max(best, scores[so + u64(t)])
        total = np.float32(0.0)
        for t in range(first, pos + 1):
            e = np.exp(scores[so + u64(t)] - best)
            scores[so + u64(t)] = e
            total += e
        inv = np.float32(1.0) / total
        for t in range(first, pos + 1):
            scores[so + u64(t)] *= inv
        qo = q_base + u64(h) * hd
        for j in range(head_dim):
            out[qo + u64(j)] = 0.0
    for t in range(first, pos + 1):
        value = kv_base + u64(t) * hd
        for h in range(group):
            weight = scores[s_base + u64(h) * width + u64(t)]
            qo = q_base + u64(h) * hd
            for j in range(head_dim):
                out[qo + u64(j)] += weight * v[value + u64(j)]


@njit(cache=True, fastmath=_FAST)
def attention(q, k_cache, v_cache, scores, out, start, n, n_heads, n_kv_heads, head_dim, ctx, scale, window):
    """Causal GQA attention of ``n`` query rows at positions ``start..start+n-1``.

    Flat float32 arrays: ``q`` and ``out`` [n * n_heads * head_dim], ``k_cache``/``v_cache`` one
    layer's [n_kv_heads * ctx * head_dim], ``scores`` scratch [n * n_heads * ctx]. Row ``r`` attends
    to positions up to its own, and no further back than ``window`` positions when ``window > 0``.
    Softmax of ``scale * q . k`` in float32 with the row maximum subtracted. Serial: for decode
    steps over short contexts, where starting threads costs more than the work.
    """
    for r in range(n):
        for g in range(n_kv_heads):
            _attend_group(
                q, k_cache, v_cache, scores, out, r, g, start, n_heads, n_kv_heads, head_dim, ctx, scale, window
            )


@njit(cache=True, fastmath=_FAST, parallel=True)
def attention_parallel(q, k_cache, v_cache, scores, out, start, n, n_heads, n_kv_heads, head_dim, ctx, scale, window):
    """:func:`attention` with the (row, KV head) pairs spread over Numba's threads (prompts, long contexts)."""
    for task in prange(n * n_kv_heads):
        _attend_group(
            q,
            k_cache,
            v_cache,
            scores,
            out,
            task // n_kv_heads,
            task % n_kv_heads,
            start,
            n_heads,
            n_kv_heads,
            head_dim,
            ctx,
            scale,
            window,
        )


@njit(cache=True, fastmath=_FAST)
def silu_mul(gate, up):
    """``gate = silu(gate) * up`` in place, [n, d_ff] float32 (SwiGLU)."""
    n, d = gate.shape
    for r in range(n):
        for j in range(d):
            g = gate[r, j]
            gate[r, j] = g / (np.float32(1.0) + np.exp(-g)) * up[r, j]


@njit(cache=True, fastmath=_FAST)
def gelu_mul(gate, up):
    """``gate = gelu_tanh(gate) * up`` in place, [n, d_ff] float32 (GeGLU, Gemma)."""
    n, d = gate.shape
    c = np.float32(math.sqrt(2.0 / math.pi))
    for r in range(n):
        for j in range(d):
            g = gate[r, j]
            gate[r, j] = (
                np.float32(0.5) * g * (np.float32(1.0) + np.tanh(c * (g + np.float32(0.044715) * g * g * g))) * up[r, j]
            )


@njit(cache=True, fastmath=_FAST)
def add_bias(x, bias):
    """``x[r] += bias`` for rows of ``x`` [n, d] float32."""
    n, d = x.shape
    for r in range(n):
        for j in range(d):
            x[r, j] += bias[j]


@njit(cache=True)
def argmax(x):
    """Index of the first largest value of ``x`` [n] (llama.cpp's greedy pick; NaN never wins)."""
    best, at = x[0], 0
    for i in range(1, x.shape[0]):
        if x[i] > best:
            best, at = x[i], i
    return at
