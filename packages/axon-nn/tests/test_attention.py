"""scaled_dot_product_attention, rotary embeddings, repeat_kv: NumPy references and float64 gradchecks.

The flash path is also checked against the plain path in float32 (forward and backward, causal
and not) and shown to use memory linear in the sequence length.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import axon_nn as nn
import axon_nn.functional as F
from axon_autograd import Variable
from axon_core import DTypeError, ShapeError
from axon_nn.functional.attention import FlashAttentionFunction, SafeSoftmaxFunction, plain_attention
from axon_tensor import manual_seed, tensor

rng = np.random.default_rng(2024)


def randn(*shape: int, dtype: str = "float64") -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def reference_attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    keep: np.ndarray | None = None,
    add: np.ndarray | None = None,
    scale: float | None = None,
) -> np.ndarray:
    """softmax(q kᵀ·scale + add, masked to keep) v in float64; fully masked rows give 0."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = q.astype(np.float64) @ np.swapaxes(k, -1, -2).astype(np.float64) * scale
    if add is not None:
        scores = scores + add
    if keep is not None:
        scores = np.where(keep, scores, -np.inf)
    row_max = scores.max(axis=-1, keepdims=True)
    exps = np.where(np.isneginf(row_max), 0.0, np.exp(scores - np.where(np.isneginf(row_max), 0.0, row_max)))
    sums = exps.sum(axis=-1, keepdims=True)
    weights = np.divide(exps, sums, out=np.zeros_like(exps), where=sums > 0)
    return weights @ v.astype(np.float64)


def top_left_causal(sq: int, sk: int) -> np.ndarray:
    return np.arange(sk)[None, :] <= np.arange(sq)[:, None]


@pytest.mark.parametrize("sq, sk", [(5, 5), (3, 7), (7, 3), (1, 6)])
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_matches_numpy_reference(sq, sk, causal):
    q, k, v = randn(2, 3, sq, 4), randn(2, 3, sk, 4), randn(2, 3, sk, 5)
    out = F.scaled_dot_product_attention(tensor(q), tensor(k), tensor(v), is_causal=causal)
    keep = top_left_causal(sq, sk) if causal else None
    np.testing.assert_allclose(out.numpy(), reference_attention(q, k, v, keep), rtol=1e-12, atol=1e-12)


def test_sdpa_masks_scale_and_ranks():
    q, k, v = randn(2, 3, 4, 6), randn(2, 3, 5, 6), randn(2, 3, 5, 2)
    keep = rng.random((4, 5)) > 0.4
    keep[2] = False  # a fully masked row comes out 0, as PyTorch 2.13 does
    out = F.scaled_dot_product_attention(tensor(q), tensor(k), tensor(v), attn_mask=tensor(keep), scale=0.3)
    expected = reference_attention(q, k, v, keep=keep, scale=0.3)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert np.all(out.numpy()[:, :, 2] == 0)
    add = randn(2, 1, 4, 5)
    out = F.scaled_dot_product_attention(tensor(q), tensor(k), tensor(v), attn_mask=tensor(add))
    np.testing.assert_allclose(out.numpy(), reference_attention(q, k, v, add=add), rtol=1e-12, atol=1e-12)
    # 2-d and 3-d inputs (no head dim), causal on both paths
    for shape in ((4, 6), (3, 4, 6)):
        q2, k2, v2 = randn(*shape), randn(*shape), randn(*shape)
        out = F.scaled_dot_product_attention(tensor(q2), tensor(k2), tensor(v2), is_causal=True)
        np.testing.assert_allclose(
            out.numpy(), reference_attention(q2, k2, v2, top_left_causal(4, 4)), rtol=1e-12, atol=1e-12
        )


def test_sdpa_non_contiguous_and_float32():
    base = randn(2, 6, 3, 8, dtype="float32")
    q = tensor(base).transpose(1, 2)  # [2, 3, 6, 8], strided
    k = tensor(randn(2, 3, 8, 6, dtype="float32")).transpose(-1, -2)
    v = tensor(randn(2, 3, 6, 8, dtype="float32"))[:, :, :, ::2]
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert out.dtype == q.dtype
    np.testing.assert_allclose(
        out.numpy(), reference_attention(q.numpy(), k.numpy(), v.numpy(), top_left_causal(6, 6)), rtol=1e-5, atol=1e-6
    )


def test_sdpa_empty_and_nan():
    q, k, v = randn(1, 2, 0, 4), randn(1, 2, 3, 4), randn(1, 2, 3, 5)
    assert F.scaled_dot_product_attention(tensor(q), tensor(k), tensor(v)).shape == (1, 2, 0, 5)
    # no keys at all: zeros (PyTorch gives zeros too), and a zero gradient for q
    qv = Variable(tensor(randn(1, 2, 3, 4)), requires_grad=True)
    out = F.scaled_dot_product_attention(qv, tensor(randn(1, 2, 0, 4)), tensor(randn(1, 2, 0, 5)))
    np.testing.assert_array_equal(out.detach().numpy(), np.zeros((1, 2, 3, 5)))
    out.sum().backward()
    np.testing.assert_array_equal(qv.grad.numpy(), np.zeros((1, 2, 3, 4)))
    # a NaN key poisons every row that sees it, on the flash path
    k = randn(1, 1, 4, 4)
    k[0, 0, 2, 1] = np.nan
    with F.attention_path("flash"):
        out = F.scaled_dot_product_attention(
            tensor(randn(1, 1, 4, 4)), tensor(k), tensor(randn(1, 1, 4, 3)), is_causal=True
        ).numpy()
    assert np.isfinite(out[0, 0, :2]).all() and np.isnan(out[0, 0, 2:]).all()


def test_sdpa_grouped_query_attention_equals_repeated_heads():
    q, k, v = randn(2, 6, 5, 4), randn(2, 2, 5, 4), randn(2, 2, 5, 3)
    out = F.scaled_dot_product_attention(tensor(q), tensor(k), tensor(v), is_causal=True, enable_gqa=True)
    np.testing.assert_allclose(
        out.numpy(),
        reference_attention(q, np.repeat(k, 3, axis=1), np.repeat(v, 3, axis=1), top_left_causal(5, 5)),
        rtol=1e-12,
    )


def test_repeat_kv_layout_and_gradient(gradcheck):
    x = randn(2, 3, 4, 5)
    np.testing.assert_array_equal(F.repeat_kv(tensor(x), 2).numpy(), np.repeat(x, 2, axis=1))
    assert F.repeat_kv(tensor(x), 1).shape == x.shape
    gradcheck(lambda t: F.repeat_kv(t, 3), randn(1, 2, 3, 2))
    with pytest.raises(ValueError, match="n_rep"):
        F.repeat_kv(tensor(x), 0)
    with pytest.raises(ShapeError, match="repeat_kv"):
        F.repeat_kv(tensor(randn(3, 4)), 2)


def test_sdpa_errors():
    q, k, v = tensor(randn(1, 2, 3, 4)), tensor(randn(1, 2, 5, 4)), tensor(randn(1, 2, 5, 4))
    with pytest.raises(ShapeError, match="enable_gqa"):
        F.scaled_dot_product_attention(tensor(randn(1, 4, 3, 4)), k, v)
    with pytest.raises(ShapeError, match="multiple"):
        F.scaled_dot_product_attention(tensor(randn(1, 3, 3, 4)), k, v, enable_gqa=True)
    with pytest.raises(ShapeError, match="head dims"):
        F.scaled_dot_product_attention(q, tensor(randn(1, 2, 5, 3)), v)
    with pytest.raises(DTypeError, match="share a dtype"):
        F.scaled_dot_product_attention(q, k, tensor(randn(1, 2, 5, 4, dtype="float32")))
    with pytest.raises(DTypeError, match="floating-point"):
        F.scaled_dot_product_attention(
            tensor(np.ones((1, 2, 3, 4), dtype=np.int64)), *(tensor(np.ones((1, 2, 5, 4), dtype=np.int64)),) * 2
        )
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=tensor(np.ones((3, 5), dtype=bool)), is_causal=True)
    with pytest.raises(ShapeError, match="does not broadcast"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=tensor(np.ones((4, 5), dtype=bool)))
    with pytest.raises(DTypeError, match="bool or floating"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=tensor(np.ones((3, 5), dtype=np.int64)))
    with pytest.raises(ValueError, match="dropout_p"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.5)


def test_sdpa_dropout_is_seeded_and_p1_drops_everything():
    q, k, v = tensor(randn(1, 2, 4, 4)), tensor(randn(1, 2, 4, 4)), tensor(randn(1, 2, 4, 3))
    manual_seed(7)
    first = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    manual_seed(7)
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy(), first)
    assert not np.allclose(first, reference_attention(q.numpy(), k.numpy(), v.numpy()))
    np.testing.assert_array_equal(
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy(), np.zeros((1, 2, 4, 3))
    )


# -- float64 gradchecks of the attention Functions ------------------------------------------
@pytest.mark.parametrize(
    "sq, sk, causal, lower_right",
    [(4, 4, False, False), (4, 4, True, False), (3, 5, True, False), (5, 3, True, False), (3, 5, True, True)],
)
def test_flash_attention_function_gradcheck(gradcheck, sq, sk, causal, lower_right):
    gradcheck(
        lambda q, k, v: FlashAttentionFunction.apply(q, k, v, 0.7, causal, lower_right),
        randn(1, 2, sq, 3),
        randn(1, 2, sk, 3),
        randn(1, 2, sk, 2),
    )


def test_safe_softmax_function_gradcheck(gradcheck):
    mask = np.zeros((3, 4))
    mask[1] = -np.inf
    mask[2, :2] = -np.inf
    gradcheck(lambda x: SafeSoftmaxFunction.apply(x + tensor(mask)), randn(2, 3, 4))


@pytest.mark.parametrize("kind", ["bool", "float", "causal", "gqa"])
def test_sdpa_gradcheck(gradcheck, kind):
    keep = rng.random((3, 4)) > 0.3
    keep[:, 0] = True
    add = randn(3, 4)
    if kind == "bool":
        fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=tensor(keep))
    elif kind == "float":
        fn = lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.5)
    elif kind == "causal":
        fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)
    else:
        fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    heads_q = 4 if kind == "gqa" else 2
    arrays = [randn(1, heads_q, 3, 3), randn(1, 2, 4, 3), randn(1, 2, 4, 2)] + ([add] if kind == "float" else [])
    gradcheck(fn, *arrays)


# -- flash path against the plain path --------------------------------------------------------
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("sq, sk", [(300, 300), (200, 520), (520, 200)])
def test_flash_equals_plain_float32(causal, sq, sk):
    arrays = [
        randn(2, 2, sq, 16, dtype="float32"),
        randn(2, 2, sk, 16, dtype="float32"),
        randn(2, 2, sk, 8, dtype="float32"),
    ]
    cotangent = tensor(randn(2, 2, sq, 8, dtype="float32"))
    results = []
    for path in ("flash", "plain"):
        q, k, v = (Variable(tensor(a), requires_grad=True) for a in arrays)
        if path == "flash":
            with F.attention_path("flash"):
                out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        else:
            keep = top_left_causal(sq, sk) if causal else np.ones((sq, sk), dtype=bool)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=tensor(keep))
        out.backward(cotangent)
        results.append([out.detach().numpy(), q.grad.numpy(), k.grad.numpy(), v.grad.numpy()])
    for name, flash, plain in zip(("out", "dq", "dk", "dv"), *results):
        assert flash.dtype == np.float32
        np.testing.assert_allclose(flash, plain, rtol=1e-4, atol=2e-5, err_msg=name)


def test_attention_path_by_score_size_and_forced(monkeypatch):
    q, k, v = randn(2, 3, 5, 4, dtype="float32"), randn(2, 3, 6, 4, dtype="float32"), randn(2, 3, 6, 2, dtype="float32")
    expected = reference_attention(q, k, v)
    backend = tensor(q).device.backend
    score_bytes = 2 * 3 * 5 * 6 * 4

    def run() -> type:
        qv = Variable(tensor(q), requires_grad=True)
        out = F.scaled_dot_product_attention(qv, tensor(k), tensor(v))
        np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-5, atol=1e-6)
        return out.grad_fn._function

    if backend.name == "cpu":
        assert backend.flash_attention_min_score_bytes == 64 * 2**20
        assert run() is not FlashAttentionFunction  # small scores: plain path on the CPU
    monkeypatch.setattr(backend, "flash_attention_min_score_bytes", score_bytes)
    assert run() is FlashAttentionFunction  # scores at the threshold: flash
    with F.attention_path("plain"):
        assert run() is not FlashAttentionFunction
    monkeypatch.setattr(backend, "flash_attention_min_score_bytes", score_bytes + 1)
    assert run() is not FlashAttentionFunction
    with F.attention_path("flash"):
        assert run() is FlashAttentionFunction
        # a mask or dropout cannot take the flash path: forcing it is an error, not a fallback
        with pytest.raises(ValueError, match="flash path was forced"):
            F.scaled_dot_product_attention(
                tensor(q), tensor(k), tensor(v), attn_mask=tensor(np.ones((5, 6), dtype=bool))
            )
        with pytest.raises(ValueError, match="flash path was forced"):
            F.scaled_dot_product_attention(tensor(q), tensor(k), tensor(v), dropout_p=0.5)
    assert run() is not FlashAttentionFunction  # the context is restored on exit
    with pytest.raises(ValueError, match="attention_path"):
        with F.attention_path("fused"):
            pass


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_flash_memory_grows_linearly_with_sequence():
    def run(seq: int, flash: bool):
        arrays = [randn(1, 1, seq, 16, dtype="float32") for _ in range(3)]

        def step() -> None:
            q, k, v = (Variable(tensor(a), requires_grad=True) for a in arrays)
            mask = None if flash else tensor(np.ones((seq, seq), dtype=bool))
            with F.attention_path("flash" if flash else "plain"):
                F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=flash).sum().backward()

        return _peak_bytes(step)

    flash_small, flash_large = run(1024, True), run(4096, True)
    # 4x the sequence: ~4x the memory (block-sized score tiles), not ~16x (a full score matrix)
    assert flash_large / flash_small < 6, (flash_small, flash_large)
    assert flash_large < 4096 * 4096 * 4, flash_large
    plain_small, plain_large = run(512, False), run(2048, False)
    assert plain_large / plain_small > 10, (plain_small, plain_large)


# -- rotary embeddings -----------------------------------------------------------------------
def rotary_reference(
    x: np.ndarray, positions: np.ndarray, rotary_dim: int, interleaved: bool, base: float = 10000.0
) -> np.ndarray:
    """RoPE as complex multiplication: pairs (re, im) times exp(i·p·θ_j), θ_j = base^(-2j/r)."""
    theta = base ** (-np.arange(0, rotary_dim, 2) / rotary_dim)
    phase = np.exp(1j * positions[:, None] * theta)
    rot = x[..., :rotary_dim]
    if interleaved:
        z = (rot[..., 0::2] + 1j * rot[..., 1::2]) * phase
        out = np.stack([z.real, z.imag], axis=-1).reshape(rot.shape)
    else:
        half = rotary_dim // 2
        z = (rot[..., :half] + 1j * rot[..., half:]) * phase
        out = np.concatenate([z.real, z.imag], axis=-1)
    return np.concatenate([out, x[..., rotary_dim:]], axis=-1)


@pytest.mark.parametrize("interleaved", [False, True])
@pytest.mark.parametrize("rotary_dim", [8, 4])
def test_rotary_matches_complex_reference(interleaved, rotary_dim):
    x = randn(2, 3, 5, 8)
    rope = nn.RotaryEmbedding(rotary_dim, interleaved=interleaved)
    np.testing.assert_allclose(
        rope(tensor(x)).numpy(), rotary_reference(x, np.arange(5), rotary_dim, interleaved), rtol=1e-12, atol=1e-12
    )
    # a KV-cache offset rotates as the same rows of a longer sequence would be
    np.testing.assert_allclose(
        rope(tensor(x[:, :, 2:]), offset=2).numpy(),
        rotary_reference(x, np.arange(5), rotary_dim, interleaved)[:, :, 2:],
        rtol=1e-12,
        atol=1e-12,
    )
    positions = [7, 3, 0, 11, 4]
    np.testing.assert_allclose(
        rope(tensor(x), positions=positions).numpy(),
        rotary_reference(x, np.array(positions), rotary_dim, interleaved),
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize("interleaved", [False, True])
def test_rotary_gradcheck(gradcheck, interleaved):
    cos, sin = F.rotary_cos_sin(range(3, 7), 4, base=100.0, dtype="float64")
    gradcheck(lambda x: F.apply_rotary_emb(x, cos, sin, interleaved), randn(2, 4, 6))


def test_rotary_keeps_norms_and_checks_inputs():
    x = randn(3, 6, 8)
    cos, sin = F.rotary_cos_sin(range(6), 8, dtype="float64")
    out = F.apply_rotary_emb(tensor(x), cos, sin).numpy()
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-12)
    out32 = F.apply_rotary_emb(tensor(x.astype(np.float32)), cos, sin)
    assert out32.dtype.name == "float32"
    with pytest.raises(ShapeError, match="apply_rotary_emb"):
        F.apply_rotary_emb(tensor(randn(3, 6, 6)), cos, sin)
    with pytest.raises(ShapeError, match="broadcast"):
        F.apply_rotary_emb(tensor(randn(3, 5, 8)), cos, sin)
    with pytest.raises(DTypeError):
        F.apply_rotary_emb(tensor(np.ones((6, 8), dtype=np.int64)), cos, sin)
    with pytest.raises(ValueError, match="even"):
        nn.RotaryEmbedding(5)
    with pytest.raises(ShapeError, match="positions"):
        nn.RotaryEmbedding(8)(tensor(x), positions=[0, 1])


def test_plain_attention_returns_weights():
    q, k, v = randn(2, 3, 4), randn(2, 5, 4), randn(2, 5, 2)
    out, weights = plain_attention(tensor(q), tensor(k), tensor(v))
    scores = q @ np.swapaxes(k, -1, -2) / 2.0
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(out.numpy(), expected @ v, rtol=1e-12)
