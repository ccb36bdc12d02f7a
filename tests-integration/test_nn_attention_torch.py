"""Attention and transformer layers of axon-nn against PyTorch 2.13 CPU.

- ``scaled_dot_product_attention`` against ``torch.nn.functional.scaled_dot_product_attention``
  (bool/float masks of several broadcast shapes, causal with Sq ==, <, > Sk, scale, GQA);
- ``MultiheadAttention`` against ``torch.nn.MultiheadAttention`` with copied weights (every
  option), ``TransformerEncoderLayer``/``DecoderLayer``/``Encoder``/``Decoder``/``Transformer``
  likewise (pre/post-norm, relu/gelu, masks), and ``Seq2SeqTransformer`` against the same model
  assembled from torch modules; outputs, attention weights, input and parameter gradients in
  float64, eval mode so dropout does not differ;
- ``DifferentialAttention`` and rotary embeddings against references written here with torch
  ops from the papers' equations (HF's ``rotate_half`` for rotary), forward and gradients.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import axon_nn as nn  # noqa: E402
import axon_nn.functional as F  # noqa: E402
from axon_autograd import Variable  # noqa: E402
from axon_tensor import tensor  # noqa: E402

pytestmark = pytest.mark.torch

TOL = 1e-10
rng = np.random.default_rng(5)


def randn(*shape: int, dtype: str = "float64") -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def leaves(arrays: list[np.ndarray]) -> tuple[list[Variable], list[Any]]:
    ax = [Variable(tensor(a), requires_grad=True) for a in arrays]
    th = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ax, th


def close(actual: Any, expected: Any, what: str, tol: float = TOL) -> None:
    actual = actual.detach().numpy() if hasattr(actual, "detach") else actual.numpy()
    np.testing.assert_allclose(actual, expected.detach().numpy(), rtol=tol, atol=tol, err_msg=what)


def backward_both(ax_out: Any, th_out: Any) -> None:
    cotangent = randn(*th_out.shape, dtype=str(th_out.dtype).replace("torch.", ""))
    ax_out.backward(tensor(cotangent))
    th_out.backward(torch.tensor(cotangent))


def compare_grads(ax_leaves: list, th_leaves: list, what: str, tol: float = TOL) -> None:
    for i, (a, t) in enumerate(zip(ax_leaves, th_leaves)):
        close(a.grad, t.grad, f"{what}: grad of input {i}", tol)


def copy_weights(th_module: Any, ax_module: Any) -> None:
    ax_module.load_state_dict({k: v.detach().numpy() for k, v in th_module.state_dict().items()})


def compare_param_grads(th_module: Any, ax_module: Any, what: str) -> None:
    th_params = dict(th_module.named_parameters())
    ax_params = dict(ax_module.named_parameters())
    assert set(th_params) == set(ax_params), f"{what}: parameter names differ"
    for name, param in ax_params.items():
        close(param.grad, th_params[name].grad, f"{what}: grad of {name}")


# -- scaled_dot_product_attention -----------------------------------------------------------
SDPA_CASES = [
    ("plain", (2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 6), {}),
    ("causal_square", (2, 3, 6, 4), (2, 3, 6, 4), (2, 3, 6, 4), {"is_causal": True}),
    ("causal_fewer_queries", (2, 2, 3, 4), (2, 2, 7, 4), (2, 2, 7, 5), {"is_causal": True}),
    ("causal_more_queries", (2, 2, 7, 4), (2, 2, 3, 4), (2, 2, 3, 5), {"is_causal": True}),
    ("causal_long", (1, 2, 300, 8), (1, 2, 600, 8), (1, 2, 600, 8), {"is_causal": True}),
    ("scale", (2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 4), {"scale": 0.37}),
    ("gqa", (2, 6, 5, 4), (2, 2, 5, 4), (2, 2, 5, 3), {"enable_gqa": True}),
    (
        "gqa_causal_scale",
        (2, 4, 5, 4),
        (2, 1, 8, 4),
        (2, 1, 8, 4),
        {"enable_gqa": True, "is_causal": True, "scale": 0.2},
    ),
    ("rank3", (3, 5, 4), (3, 6, 4), (3, 6, 2), {"is_causal": True}),
    ("rank5", (2, 2, 2, 5, 4), (2, 2, 2, 5, 4), (2, 2, 2, 5, 4), {"is_causal": True}),
]


@pytest.mark.parametrize("name, q_shape, k_shape, v_shape, kwargs", SDPA_CASES, ids=[c[0] for c in SDPA_CASES])
def test_sdpa_against_torch(name, q_shape, k_shape, v_shape, kwargs):
    ax, th = leaves([randn(*q_shape), randn(*k_shape), randn(*v_shape)])
    ax_out = F.scaled_dot_product_attention(*ax, **kwargs)
    th_out = torch.nn.functional.scaled_dot_product_attention(*th, **kwargs)
    close(ax_out, th_out, name)
    backward_both(ax_out, th_out)
    compare_grads(ax, th, name)


MASK_CASES = [
    ("bool_2d", (5, 7), "bool"),
    ("bool_4d", (2, 3, 5, 7), "bool"),
    ("bool_head_broadcast", (2, 1, 5, 7), "bool"),
    ("bool_key_broadcast", (1, 1, 1, 7), "bool"),
    ("float_2d", (5, 7), "float"),
    ("float_4d", (2, 3, 5, 7), "float"),
    ("bool_fully_masked_row", (5, 7), "bool_empty_row"),
]


@pytest.mark.parametrize("name, mask_shape, kind", MASK_CASES, ids=[c[0] for c in MASK_CASES])
def test_sdpa_masks_against_torch(name, mask_shape, kind):
    arrays = [randn(2, 3, 5, 4), randn(2, 3, 7, 4), randn(2, 3, 7, 6)]
    if kind == "float":
        mask = randn(*mask_shape)
        mask[..., 0, 2] = -np.inf
        arrays.append(mask)
        ax, th = leaves(arrays)
        ax_mask, th_mask = ax.pop(), th.pop()
    else:
        mask = rng.random(mask_shape) > 0.35
        mask[..., 0] = True
        if kind == "bool_empty_row":
            mask[1] = False
        ax, th = leaves(arrays)
        ax_mask, th_mask = tensor(mask), torch.tensor(mask)
    ax_out = F.scaled_dot_product_attention(*ax, attn_mask=ax_mask, scale=0.6)
    th_out = torch.nn.functional.scaled_dot_product_attention(*th, attn_mask=th_mask, scale=0.6)
    close(ax_out, th_out, name)
    backward_both(ax_out, th_out)
    compare_grads(ax, th, name)
    if kind == "float":
        close(ax_mask.grad, th_mask.grad, f"{name}: grad of the float mask")


def test_sdpa_float32_against_torch():
    ax, th = leaves(
        [
            randn(2, 4, 64, 16, dtype="float32"),
            randn(2, 4, 80, 16, dtype="float32"),
            randn(2, 4, 80, 16, dtype="float32"),
        ]
    )
    ax_out = F.scaled_dot_product_attention(*ax, is_causal=True)
    th_out = torch.nn.functional.scaled_dot_product_attention(*th, is_causal=True)
    assert ax_out.dtype.name == "float32"
    close(ax_out, th_out, "float32", tol=1e-5)
    backward_both(ax_out, th_out)
    compare_grads(ax, th, "float32", tol=1e-5)


# -- MultiheadAttention -------------------------------------------------------------------
MHA_CASES = [
    ("default", {}, {}),
    ("batch_first_no_weights", {"batch_first": True}, {"need_weights": False}),
    ("per_head_weights", {}, {"average_attn_weights": False}),
    ("kdim_vdim", {"kdim": 5, "vdim": 3}, {}),
    ("no_bias", {"bias": False}, {}),
    (
        "bias_kv_zero_attn",
        {"add_bias_kv": True, "add_zero_attn": True},
        {"key_padding_mask": "bool", "attn_mask": "bool2d"},
    ),
    (
        "zero_attn_float_masks",
        {"add_zero_attn": True, "batch_first": True},
        {"key_padding_mask": "float", "attn_mask": "float3d"},
    ),
    ("key_padding_bool", {}, {"key_padding_mask": "bool", "need_weights": False}),
    ("attn_mask_3d_bool", {}, {"attn_mask": "bool3d", "average_attn_weights": False}),
    ("causal_hint", {"batch_first": True}, {"attn_mask": "causal", "is_causal": True, "need_weights": False}),
    ("self_attention", {}, {"self": True, "attn_mask": "causal", "key_padding_mask": "bool"}),
    ("unbatched", {}, {"unbatched": True, "key_padding_mask": "bool"}),
    ("dropout_eval", {"dropout": 0.3}, {}),
]


def _mha_masks(spec: dict, n: int, heads: int, length: int, source: int, batched: bool) -> tuple[dict, dict]:
    ax_kwargs, th_kwargs = {}, {}
    kpm = spec.get("key_padding_mask")
    if kpm is not None:
        shape = (n, source) if batched else (source,)
        padding = rng.random(shape) < 0.3
        padding[..., 0] = False
        value = padding if kpm == "bool" else np.where(padding, -1e9, 0.0) + randn(*shape) * 0.1
        ax_kwargs["key_padding_mask"], th_kwargs["key_padding_mask"] = tensor(value), torch.tensor(value)
    attn = spec.get("attn_mask")
    if attn is not None:
        if attn == "causal":
            value = np.triu(np.ones((length, source), dtype=bool), 1)
        elif attn == "bool2d":
            value = rng.random((length, source)) < 0.3
            value[:, 0] = False
        elif attn == "bool3d":
            value = rng.random((n * heads, length, source)) < 0.3
            value[..., 0] = False
        else:
            value = randn(n * heads, length, source)
        ax_kwargs["attn_mask"], th_kwargs["attn_mask"] = tensor(value), torch.tensor(value)
    for key in ("need_weights", "average_attn_weights", "is_causal"):
        if key in spec:
            ax_kwargs[key] = th_kwargs[key] = spec[key]
    return ax_kwargs, th_kwargs


@pytest.mark.parametrize("name, ctor, spec", MHA_CASES, ids=[c[0] for c in MHA_CASES])
def test_multihead_attention_against_torch(name, ctor, spec):
    embed, heads, n, length, source = 8, 2, 3, 5, 6
    torch.manual_seed(0)
    th_mha = torch.nn.MultiheadAttention(embed, heads, **ctor).double().eval()
    ax_mha = nn.MultiheadAttention(embed, heads, **ctor).to("float64").eval()
    copy_weights(th_mha, ax_mha)
    batched = not spec.get("unbatched", False)
    if spec.get("self"):
        source = length
    kdim, vdim = ctor.get("kdim", embed), ctor.get("vdim", embed)

    def shape(seq: int, dim: int) -> tuple[int, ...]:
        if not batched:
            return (seq, dim)
        return (n, seq, dim) if ctor.get("batch_first") else (seq, n, dim)

    if spec.get("self"):
        ax, th = leaves([randn(*shape(length, embed))])
        ax, th = ax * 3, th * 3
    else:
        ax, th = leaves([randn(*shape(length, embed)), randn(*shape(source, kdim)), randn(*shape(source, vdim))])
    ax_kwargs, th_kwargs = _mha_masks(spec, n, heads, length, source, batched)
    ax_out, ax_weights = ax_mha(*ax, **ax_kwargs)
    th_out, th_weights = th_mha(*th, **th_kwargs)
    close(ax_out, th_out, f"{name}: output")
    assert (ax_weights is None) == (th_weights is None)
    if th_weights is not None:
        close(ax_weights, th_weights, f"{name}: attention weights")
    backward_both(ax_out, th_out)
    compare_grads(ax[:1] if spec.get("self") else ax, th[:1] if spec.get("self") else th, name)
    compare_param_grads(th_mha, ax_mha, name)


# -- Transformer layers ---------------------------------------------------------------------
LAYER_VARIANTS = [
    ("post_relu", {"norm_first": False, "activation": "relu"}),
    ("pre_gelu", {"norm_first": True, "activation": "gelu"}),
    ("post_gelu_batch_first", {"norm_first": False, "activation": "gelu", "batch_first": True}),
    ("pre_relu_no_bias", {"norm_first": True, "activation": "relu", "bias": False, "layer_norm_eps": 1e-6}),
]


def _layer_inputs(batch_first: bool, n: int, seq: int, d: int) -> np.ndarray:
    return randn(n, seq, d) if batch_first else randn(seq, n, d)


def _padding(n: int, seq: int) -> np.ndarray:
    padding = rng.random((n, seq)) < 0.3
    padding[:, 0] = False
    return padding


@pytest.mark.parametrize("name, kwargs", LAYER_VARIANTS, ids=[v[0] for v in LAYER_VARIANTS])
@pytest.mark.parametrize("masks", ["none", "causal_and_padding"])
def test_encoder_layer_against_torch(name, kwargs, masks):
    torch.manual_seed(1)
    th_layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1, **kwargs).double().eval()
    ax_layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1, **kwargs).to("float64").eval()
    copy_weights(th_layer, ax_layer)
    ax, th = leaves([_layer_inputs(kwargs.get("batch_first", False), 3, 6, 8)])
    ax_kwargs, th_kwargs = {}, {}
    if masks != "none":
        causal = torch.nn.Transformer.generate_square_subsequent_mask(6, dtype=torch.float64)
        padding = _padding(3, 6)
        ax_kwargs = {"src_mask": tensor(causal.numpy()), "src_key_padding_mask": tensor(padding), "is_causal": True}
        th_kwargs = {"src_mask": causal, "src_key_padding_mask": torch.tensor(padding), "is_causal": True}
    ax_out, th_out = ax_layer(*ax, **ax_kwargs), th_layer(*th, **th_kwargs)
    close(ax_out, th_out, f"encoder {name}")
    backward_both(ax_out, th_out)
    compare_grads(ax, th, f"encoder {name}")
    compare_param_grads(th_layer, ax_layer, f"encoder {name}")


@pytest.mark.parametrize("name, kwargs", LAYER_VARIANTS, ids=[v[0] for v in LAYER_VARIANTS])
def test_decoder_layer_against_torch(name, kwargs):
    torch.manual_seed(2)
    th_layer = torch.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.1, **kwargs).double().eval()
    ax_layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.1, **kwargs).to("float64").eval()
    copy_weights(th_layer, ax_layer)
    bf = kwargs.get("batch_first", False)
    ax, th = leaves([_layer_inputs(bf, 3, 5, 8), _layer_inputs(bf, 3, 7, 8)])
    causal = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    tgt_padding, memory_padding = _padding(3, 5), _padding(3, 7)
    memory_mask = rng.random((5, 7)) < 0.2
    memory_mask[:, 0] = False
    ax_out = ax_layer(
        *ax,
        tgt_mask=tensor(causal.numpy()),
        memory_mask=tensor(memory_mask),
        tgt_key_padding_mask=tensor(tgt_padding),
        memory_key_padding_mask=tensor(memory_padding),
        tgt_is_causal=True,
    )
    th_out = th_layer(
        *th,
        tgt_mask=causal,
        memory_mask=torch.tensor(memory_mask),
        tgt_key_padding_mask=torch.tensor(tgt_padding),
        memory_key_padding_mask=torch.tensor(memory_padding),
        tgt_is_causal=True,
    )
    close(ax_out, th_out, f"decoder {name}")
    backward_both(ax_out, th_out)
    compare_grads(ax, th, f"decoder {name}")
    compare_param_grads(th_layer, ax_layer, f"decoder {name}")


@pytest.mark.parametrize("norm", [False, True])
def test_encoder_and_decoder_stacks_against_torch(norm):
    torch.manual_seed(3)
    th_enc = (
        torch.nn.TransformerEncoder(
            torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True),
            2,
            norm=torch.nn.LayerNorm(8) if norm else None,
            enable_nested_tensor=False,
        )
        .double()
        .eval()
    )
    ax_enc = (
        nn.TransformerEncoder(
            nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2, norm=nn.LayerNorm(8) if norm else None
        )
        .to("float64")
        .eval()
    )
    th_dec = (
        torch.nn.TransformerDecoder(
            torch.nn.TransformerDecoderLayer(8, 2, 16, batch_first=True),
            3,
            norm=torch.nn.LayerNorm(8) if norm else None,
        )
        .double()
        .eval()
    )
    ax_dec = (
        nn.TransformerDecoder(
            nn.TransformerDecoderLayer(8, 2, 16, batch_first=True), 3, norm=nn.LayerNorm(8) if norm else None
        )
        .to("float64")
        .eval()
    )
    copy_weights(th_enc, ax_enc)
    copy_weights(th_dec, ax_dec)
    ax, th = leaves([randn(2, 6, 8), randn(2, 4, 8)])
    causal = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    padding = _padding(2, 6)
    ax_out = ax_dec(
        ax[1],
        ax_enc(ax[0], src_key_padding_mask=tensor(padding)),
        tgt_mask=tensor(causal.numpy()),
        memory_key_padding_mask=tensor(padding),
    )
    th_out = th_dec(
        th[1],
        th_enc(th[0], src_key_padding_mask=torch.tensor(padding)),
        tgt_mask=causal,
        memory_key_padding_mask=torch.tensor(padding),
    )
    close(ax_out, th_out, "stacks")
    backward_both(ax_out, th_out)
    compare_grads(ax, th, "stacks")
    compare_param_grads(th_enc, ax_enc, "encoder stack")
    compare_param_grads(th_dec, ax_dec, "decoder stack")


@pytest.mark.parametrize("norm_first, activation", [(False, "relu"), (True, "gelu")])
def test_transformer_against_torch(norm_first, activation):
    torch.manual_seed(4)
    kwargs = dict(
        d_model=8,
        nhead=2,
        num_encoder_layers=2,
        num_decoder_layers=2,
        dim_feedforward=16,
        activation=activation,
        norm_first=norm_first,
    )
    th_model = torch.nn.Transformer(**kwargs).double().eval()
    ax_model = nn.Transformer(**kwargs).to("float64").eval()
    copy_weights(th_model, ax_model)
    ax, th = leaves([randn(7, 3, 8), randn(5, 3, 8)])
    causal = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    src_padding = _padding(3, 7)
    ax_out = ax_model(
        *ax,
        tgt_mask=tensor(causal.numpy()),
        src_key_padding_mask=tensor(src_padding),
        memory_key_padding_mask=tensor(src_padding),
    )
    th_out = th_model(
        *th,
        tgt_mask=causal,
        src_key_padding_mask=torch.tensor(src_padding),
        memory_key_padding_mask=torch.tensor(src_padding),
    )
    close(ax_out, th_out, "transformer")
    backward_both(ax_out, th_out)
    compare_grads(ax, th, "transformer")
    compare_param_grads(th_model, ax_model, "transformer")


def test_seq2seq_against_torch_modules():
    """Seq2SeqTransformer = embeddings·sqrt(d) + sinusoidal positions -> nn.Transformer -> Linear."""
    d, vocab_src, vocab_tgt = 8, 11, 13
    ax_model = nn.Seq2SeqTransformer(2, 2, d, 2, vocab_src, vocab_tgt, dim_feedforward=16).to("float64").eval()
    th_transformer = torch.nn.Transformer(d, 2, 2, 2, 16, batch_first=True).double().eval()
    th_src, th_tgt, th_gen = (
        torch.nn.Embedding(vocab_src, d).double(),
        torch.nn.Embedding(vocab_tgt, d).double(),
        torch.nn.Linear(d, vocab_tgt).double(),
    )
    state = {k: v.numpy() for k, v in ax_model.state_dict().items()}
    th_transformer.load_state_dict(
        {k[len("transformer.") :]: torch.tensor(v) for k, v in state.items() if k.startswith("transformer.")}
    )
    th_src.weight.data = torch.tensor(state["src_embedding.weight"])
    th_tgt.weight.data = torch.tensor(state["tgt_embedding.weight"])
    th_gen.weight.data, th_gen.bias.data = (
        torch.tensor(state["generator.weight"]),
        torch.tensor(state["generator.bias"]),
    )

    def positions(seq: int) -> Any:
        pos = torch.arange(seq, dtype=torch.float64)[:, None]
        div = torch.exp(torch.arange(0, d, 2, dtype=torch.float64) * (-math.log(10000.0) / d))
        table = torch.zeros(seq, d, dtype=torch.float64)
        table[:, 0::2], table[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
        return table

    src, tgt = rng.integers(0, vocab_src, (3, 7)), rng.integers(0, vocab_tgt, (3, 5))
    padding = _padding(3, 7)
    th_src_x = th_src(torch.tensor(src)) * math.sqrt(d) + positions(7)
    th_tgt_x = th_tgt(torch.tensor(tgt)) * math.sqrt(d) + positions(5)
    causal = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    th_logits = th_gen(
        th_transformer(
            th_src_x,
            th_tgt_x,
            tgt_mask=causal,
            src_key_padding_mask=torch.tensor(padding),
            memory_key_padding_mask=torch.tensor(padding),
        )
    )
    ax_logits = ax_model(tensor(src), tensor(tgt), src_key_padding_mask=tensor(padding))
    close(ax_logits, th_logits, "seq2seq logits")
    backward_both(ax_logits, th_logits)
    close(ax_model.src_embedding.weight.grad, th_src.weight.grad, "seq2seq src embedding grad")
    close(ax_model.generator.weight.grad, th_gen.weight.grad, "seq2seq generator grad")


# -- DifferentialAttention: the paper's equations in torch ------------------------------------
def differential_reference(
    p: dict, x: Any, heads: int, kv_heads: int, layer_idx: int, norm: str, keep: Any = None, rotary_dim: int = 0
) -> Any:
    """Ye et al. (2024): [Q1;Q2] = X W_Q, [K1;K2] = X W_K, V = X W_V;
    head = (softmax(Q1 K1ᵀ/√d) − λ softmax(Q2 K2ᵀ/√d)) V, λ = exp(λq1·λk1) − exp(λq2·λk2) + λ_init;
    out = concat((1 − λ_init) · Norm(head)) W_O."""
    n, length, e = x.shape
    d = e // heads // 2
    lambda_init = 0.8 - 0.6 * math.exp(-0.3 * (layer_idx - 1))
    q = (x @ p["q_proj.weight"].T).view(n, length, heads, 2, d)
    k = (x @ p["k_proj.weight"].T).view(n, length, kv_heads, 2, d).repeat_interleave(heads // kv_heads, dim=2)
    v = (x @ p["v_proj.weight"].T).view(n, length, kv_heads, 2 * d).repeat_interleave(heads // kv_heads, dim=2)
    if rotary_dim:
        q, k = rope_hf(q, rotary_dim, interleaved=True), rope_hf(k, rotary_dim, interleaved=True)
    q1, q2 = q[..., 0, :].transpose(1, 2), q[..., 1, :].transpose(1, 2)
    k1, k2 = k[..., 0, :].transpose(1, 2), k[..., 1, :].transpose(1, 2)
    v = v.transpose(1, 2)
    mask = 0.0 if keep is None else torch.where(keep, 0.0, float("-inf")).double()
    a1 = torch.softmax(q1 @ k1.transpose(-1, -2) / math.sqrt(d) + mask, dim=-1)
    a2 = torch.softmax(q2 @ k2.transpose(-1, -2) / math.sqrt(d) + mask, dim=-1)
    lam = (
        torch.exp(torch.dot(p["lambda_q1"], p["lambda_k1"]))
        - torch.exp(torch.dot(p["lambda_q2"], p["lambda_k2"]))
        + lambda_init
    )
    head = (a1 - lam * a2) @ v
    if norm == "rms":
        head = head * torch.rsqrt(head.pow(2).mean(-1, keepdim=True) + 1e-5) * p["subln.weight"]
        merged = head.transpose(1, 2).reshape(n, length, e)
    else:
        merged = torch.nn.functional.group_norm(
            head.transpose(1, 2).reshape(n * length, e), heads, p["group_norm.weight"], p["group_norm.bias"], 1e-5
        ).view(n, length, e)
    return ((1 - lambda_init) * merged) @ p["out_proj.weight"].T


def rope_hf(x: Any, rotary_dim: int, interleaved: bool = False, offset: int = 0, base: float = 10000.0) -> Any:
    """HF's formulation: x·cos + rotate_half(x)·sin on the first rotary_dim features, positions on dim -3
    for x [N, S, H, D] (as the Differential reference lays them out) or dim -2 for x [N, H, S, D]."""
    seq_dim = -4 if x.ndim == 5 else -2
    seq = x.shape[seq_dim]
    inv_freq = 1.0 / (base ** (torch.arange(0, rotary_dim, 2, dtype=torch.float64) / rotary_dim))
    freqs = torch.outer(torch.arange(offset, offset + seq, dtype=torch.float64), inv_freq)
    if interleaved:
        emb = freqs.repeat_interleave(2, dim=-1)
    else:
        emb = torch.cat([freqs, freqs], dim=-1)
    cos, sin = emb.cos(), emb.sin()
    if x.ndim == 5:
        cos, sin = cos[:, None, None, :], sin[:, None, None, :]
    rot, rest = x[..., :rotary_dim], x[..., rotary_dim:]
    if interleaved:
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
        rotated = torch.stack([-x2, x1], dim=-1).flatten(-2)
    else:
        x1, x2 = rot[..., : rotary_dim // 2], rot[..., rotary_dim // 2 :]
        rotated = torch.cat([-x2, x1], dim=-1)
    return torch.cat([rot * cos + rotated * sin, rest], dim=-1)


@pytest.mark.parametrize(
    "heads, kv_heads, norm, masked, rotary_dim",
    [(2, 2, "rms", False, 0), (4, 2, "rms", True, 0), (2, 1, "group", True, 0), (2, 2, "rms", True, 4)],
)
def test_differential_attention_against_paper_reference(heads, kv_heads, norm, masked, rotary_dim):
    embed, n, length = 16, 2, 6
    rotary = nn.RotaryEmbedding(rotary_dim, interleaved=True) if rotary_dim else None
    layer = nn.DifferentialAttention(
        embed, heads, layer_idx=4, num_kv_heads=kv_heads, head_norm=norm, rotary=rotary
    ).to("float64")
    th_params = {name: torch.tensor(p.detach().numpy(), requires_grad=True) for name, p in layer.named_parameters()}
    ax, th = leaves([randn(n, length, embed)])
    keep = np.tril(np.ones((length, length), dtype=bool)) if masked else None
    ax_out = layer(ax[0], is_causal=True) if masked else layer(ax[0])
    th_out = differential_reference(
        th_params, th[0], heads, kv_heads, 4, norm, None if keep is None else torch.tensor(keep), rotary_dim
    )
    close(ax_out, th_out, "differential attention")
    backward_both(ax_out, th_out)
    compare_grads(ax, th, "differential attention")
    for name, param in layer.named_parameters():
        close(param.grad, th_params[name].grad, f"differential attention: grad of {name}")


# -- rotary embeddings: HF's rotate_half ----------------------------------------------------
@pytest.mark.parametrize("interleaved", [False, True])
@pytest.mark.parametrize("rotary_dim, offset", [(8, 0), (4, 0), (6, 5)])
def test_rotary_against_hf_rotate_half(interleaved, rotary_dim, offset):
    ax, th = leaves([randn(2, 3, 5, 8)])
    ax_out = nn.RotaryEmbedding(rotary_dim, base=500.0, interleaved=interleaved)(ax[0], offset=offset)
    th_out = rope_hf(th[0], rotary_dim, interleaved, offset, base=500.0)
    close(ax_out, th_out, "rotary")
    backward_both(ax_out, th_out)
    compare_grads(ax, th, "rotary")
