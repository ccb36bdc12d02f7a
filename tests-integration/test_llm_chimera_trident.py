"""Chimera and Trident (no HF counterpart) against independent references.

- float64 finite differences (``axon_autograd.gradcheck``) through a whole tiny model of each:
  every Chimera parameter (the logits and the load-balancing loss); for Trident every parameter
  that is not a ternary latent weight, with activation quantisation off. The straight-through
  estimators are not the derivative of their roundings (that is 0 almost everywhere), so finite
  differences cannot check them: the ternary latent weights and the 8-bit activations are checked
  against a PyTorch reference of the same STE (``w + (q(w) - w).detach()``) in the block tests;
- one decoder layer of each written here with torch ops from the papers' equations (differential
  attention ``(A1 − λ A2) V`` with per-head RMSNorm, dense-weighted top-k MoE; BitLinear with
  absmean ternary weights, per-token 8-bit activations, SubLN, ReLU²), same weights: outputs,
  input and every parameter gradient in float64;
- Trident's architecture against ``transformers``' ``BitNetForCausalLM`` (same parameter names)
  holding the weights ``gguf.quants`` dequantizes from our TQ1_0 export, activations unquantised;
- ``export_ternary``'s bytes equal ``gguf.quants``' TQ1_0/TQ2_0 quantizer on the model's ternary
  weights, and dequantize to them exactly;
- the load-balancing loss equals ``transformers``' Mixtral ``load_balancing_loss_func`` and a float64
  torch formula of Switch's ``N · Σ f_i P_i`` (value and gradient); ``loss()`` adds it to the CE;
- incremental decoding through the KV cache (left padding, a chunk, a beam reorder) equals the full
  forward, and greedy ``generate`` equals the argmax of repeated full forwards; each tiny model
  overfits a small corpus in a fixed number of AdamW steps;
- Trident's preset parameter counts equal ``BitNetForCausalLM``'s (meta device).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
gguf = pytest.importorskip("gguf")
transformers = pytest.importorskip("transformers")

from threadpoolctl import threadpool_limits  # noqa: E402

import axon  # noqa: E402
import axon_optim  # noqa: E402
import axon_tensor  # noqa: E402
from axon_autograd import Variable, gradcheck  # noqa: E402
from axon_llm import (  # noqa: E402
    ChimeraConfig,
    ChimeraForCausalLM,
    TridentConfig,
    TridentForCausalLM,
    export_ternary,
)
from axon_llm.blocks import AttentionInputs, RopeTable  # noqa: E402
from axon_llm.models.chimera import ChimeraDecoderLayer  # noqa: E402
from axon_llm.models.trident import PRESETS as trident_presets  # noqa: E402
from axon_llm.models.trident import TridentDecoderLayer, TridentLinear, ternary_weight_f16_ste  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.torch]


@pytest.fixture(autouse=True)
def one_blas_thread():
    # The matrices here are tiny: on a shared, loaded machine multi-threaded BLAS spins for
    # milliseconds per product (measured 40x slower), so each test runs on one BLAS thread.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def ids_tensor(values) -> axon_tensor.Tensor:
    return axon_tensor.tensor(np.asarray(values, dtype=np.int64))


def numpy_state(module) -> dict[str, np.ndarray]:
    return {name: value.numpy() for name, value in module.state_dict().items()}


def torch_leaves(module) -> dict[str, torch.Tensor]:
    return {name: torch.tensor(p.detach().numpy(), requires_grad=True) for name, p in module.named_parameters()}


def assert_close(actual, expected, what: str, tol: float) -> None:
    actual = actual.detach().numpy() if hasattr(actual, "detach") else np.asarray(actual)
    expected = expected.detach().numpy() if hasattr(expected, "detach") else np.asarray(expected)
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol, err_msg=what)


def randomize_norms(module, rng) -> None:
    """Norm weights (1 at init) and λ vectors drawn away from their init so that they matter."""
    for name, p in module.named_parameters():
        if name.endswith("norm.weight") or name.endswith("subln.weight"):
            p.data.array[...] = 1 + 0.3 * rng.standard_normal(p.shape)
        if "lambda_" in name:
            p.data.array[...] = 0.5 * rng.standard_normal(p.shape)


# -- torch references -------------------------------------------------------------------------
def ref_rms(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def ref_rotate(x, cos, sin):
    """HF's ``rotate_half`` RoPE; ``cos``/``sin`` broadcast to ``x [..., S, d]`` over half of ``d``."""
    half = x.shape[-1] // 2
    cos, sin = torch.cat([cos, cos], -1), torch.cat([sin, sin], -1)
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin


def ref_rope_tables(position_ids: np.ndarray, dim: int, theta: float):
    """float64 ``cos``/``sin`` ``[B, S, dim/2]`` of ``θ_i = theta^(-2i/dim)``."""
    inv_freq = 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    angles = torch.tensor(position_ids, dtype=torch.float64)[..., None] * inv_freq
    return angles.cos(), angles.sin()


def ref_keep(padding: np.ndarray) -> torch.Tensor:
    """Causal and padding mask ``[B, 1, S, S]`` (True = attend)."""
    seq = padding.shape[1]
    causal = torch.ones(seq, seq, dtype=torch.bool).tril()
    return causal[None, None] & torch.tensor(padding, dtype=torch.bool)[:, None, None, :]


def ref_softmax(scores, keep):
    """Masked softmax; a query that sees no key gets all-zero probabilities."""
    empty = ~keep.any(-1, keepdim=True)
    scores = torch.where(keep, scores, torch.tensor(float("-inf"), dtype=scores.dtype))
    scores = torch.where(empty, torch.zeros_like(scores), scores)
    return torch.softmax(scores, -1) * (~empty)


def positions_of(padding: np.ndarray) -> np.ndarray:
    """Position ids counting each row's real tokens (left padding skipped; pads at 1), as HF's generate."""
    return np.where(padding, np.cumsum(padding, axis=1) - 1, 1)


def ref_chimera_layer(x, p, cfg: ChimeraConfig, depth: int, padding: np.ndarray):
    """One Chimera layer: differential attention (Ye et al. 2024, eq. 1-3 with GQA), then top-k MoE."""
    batch, seq, hidden = x.shape
    heads, groups, dim = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
    lambda_init = 0.8 - 0.6 * math.exp(-0.3 * depth)
    cos, sin = ref_rope_tables(positions_of(padding), dim, cfg.rope_parameters["rope_theta"])
    cos, sin = cos[:, None, None], sin[:, None, None]  # [B, 1, 1, S, d/2]

    h = ref_rms(x, p["input_layernorm.weight"], cfg.rms_norm_eps)
    q = (h @ p["self_attn.q_proj.weight"].T).view(batch, seq, heads, 2, dim).permute(0, 2, 3, 1, 4)
    k = (h @ p["self_attn.k_proj.weight"].T).view(batch, seq, groups, 2, dim).permute(0, 2, 3, 1, 4)
    v = (h @ p["self_attn.v_proj.weight"].T).view(batch, seq, groups, 2 * dim).permute(0, 2, 1, 3)
    q, k = ref_rotate(q, cos, sin), ref_rotate(k, cos, sin)
    group_of = [head // (heads // groups) for head in range(heads)]
    k, v = k[:, group_of], v[:, group_of]  # head h reads key/value head h // (H / Hkv)
    scores = q @ k.transpose(-1, -2) / math.sqrt(dim)  # [B, H, 2, S, S]
    probs = ref_softmax(scores, ref_keep(padding)[:, :, None])
    lam = (
        torch.exp((p["self_attn.lambda_q1"] * p["self_attn.lambda_k1"]).sum())
        - torch.exp((p["self_attn.lambda_q2"] * p["self_attn.lambda_k2"]).sum())
        + lambda_init
    )
    attn = (probs[:, :, 0] - lam * probs[:, :, 1]) @ v  # [B, H, S, 2d]
    attn = ref_rms(attn, p["self_attn.subln.weight"], cfg.rms_norm_eps) * (1 - lambda_init)
    x = x + attn.transpose(1, 2).reshape(batch, seq, hidden) @ p["self_attn.out_proj.weight"].T

    h = ref_rms(x, p["post_attention_layernorm.weight"], cfg.rms_norm_eps).reshape(-1, hidden)
    router = torch.softmax(h @ p["moe.gate.weight"].T, -1)
    top_weights, top_experts = router.topk(cfg.num_experts_per_tok, -1)
    top_weights = top_weights / top_weights.sum(-1, keepdim=True)
    # Dense form: every expert on every token, weighted by its (mostly zero) routing weight.
    dense = torch.zeros_like(router).scatter(1, top_experts, top_weights)
    out = torch.zeros_like(h)
    for e in range(cfg.num_local_experts):
        w1, w2, w3 = (p[f"moe.experts.{e}.{n}.weight"] for n in ("w1", "w2", "w3"))
        out = out + dense[:, e : e + 1] * ((torch.nn.functional.silu(h @ w1.T) * (h @ w3.T)) @ w2.T)
    return x + out.view(batch, seq, hidden)


def ref_bitlinear(x, weight, bits: int | None, eps: float):
    """BitNet b1.58's BitLinear with straight-through estimators, the absmean scale kept in float16."""
    gamma = weight.detach().abs().mean()
    codes = (weight.detach() / (gamma + eps)).round().clamp(-1, 1)
    ternary = codes * gamma.to(torch.float16).to(weight.dtype)
    weight = weight + (ternary - weight).detach()
    if bits is not None:
        top = 2 ** (bits - 1)
        scale = (top - 1) / x.detach().abs().amax(-1, keepdim=True).clamp(min=eps)
        x = x + ((x.detach() * scale).round().clamp(-top, top - 1) / scale - x).detach()
    return x @ weight.T


def ref_trident_layer(x, p, cfg: TridentConfig, cos, sin, padding: np.ndarray):
    """One BitNet b1.58 layer: SubLN attention with RoPE and GQA, then the ReLU²-gated SubLN FFN."""
    batch, seq, hidden = x.shape
    heads, groups, dim = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
    eps, bits, qe = cfg.rms_norm_eps, cfg.activation_bits, cfg.quant_eps

    def lin(h, name):
        return ref_bitlinear(h, p[name], bits, qe)

    h = ref_rms(x, p["input_layernorm.weight"], eps)
    q = lin(h, "self_attn.q_proj.weight").view(batch, seq, heads, dim).transpose(1, 2)
    k = lin(h, "self_attn.k_proj.weight").view(batch, seq, groups, dim).transpose(1, 2)
    v = lin(h, "self_attn.v_proj.weight").view(batch, seq, groups, dim).transpose(1, 2)
    q, k = ref_rotate(q, cos, sin), ref_rotate(k, cos, sin)
    k, v = k.repeat_interleave(heads // groups, 1), v.repeat_interleave(heads // groups, 1)
    probs = ref_softmax(q @ k.transpose(-1, -2) / math.sqrt(dim), ref_keep(padding))
    attn = (probs @ v).transpose(1, 2).reshape(batch, seq, heads * dim)
    x = x + lin(ref_rms(attn, p["self_attn.attn_sub_norm.weight"], eps), "self_attn.o_proj.weight")

    h = ref_rms(x, p["post_attention_layernorm.weight"], eps)
    inner = torch.relu(lin(h, "mlp.gate_proj.weight")) ** 2 * lin(h, "mlp.up_proj.weight")
    return x + lin(ref_rms(inner, p["mlp.ffn_sub_norm.weight"], eps), "mlp.down_proj.weight")


# -- one block each against torch ------------------------------------------------------------
BLOCK_PADDING = [
    np.ones((2, 7), dtype=bool),
    np.array([[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]], dtype=bool),
]


def run_block(layer, cfg, padding, rng):
    """Our layer on random ``x [2, 7, hidden]`` with a random cotangent: ``(x, cot, out, inputs)``."""
    x = rng.standard_normal((2, 7, cfg.hidden_size))
    cot = rng.standard_normal((2, 7, cfg.hidden_size))
    rope = RopeTable(cfg.head_dim, cfg.rope_parameters)
    mask = None if padding.all() else padding.astype(np.int64)
    inputs = AttentionInputs.build((2, 7), mask, None, None, rope)
    xv = Variable(axon_tensor.tensor(x), requires_grad=True)
    out = layer(xv, inputs)
    out.backward(axon_tensor.tensor(cot))
    return x, cot, xv, out, inputs


def compare_block(layer, xv, out, xt, expected, cot, params, tol: float, what: str) -> None:
    expected.backward(torch.tensor(cot))
    assert_close(out, expected, f"{what}: output", tol)
    assert_close(xv.grad.numpy(), xt.grad, f"{what}: input gradient", tol)
    ours = dict(layer.named_parameters())
    assert set(ours) == set(params), f"{what}: parameter names differ"
    for name, p in ours.items():
        assert p.grad is not None, f"{what}: {name} got no gradient"
        assert_close(p.grad.numpy(), params[name].grad, f"{what}: gradient of {name}", tol)


@pytest.mark.parametrize("padding", BLOCK_PADDING, ids=["causal", "left_padded"])
def test_chimera_block_matches_torch(padding):
    # Tolerance 2e-6 (6.4e-7 measured, on the gradients): the reference's RoPE tables are float64,
    # ours float32 as HF's (1 ulp of float32 in cos/sin); with shared tables all agrees to ~1e-14.
    axon.manual_seed(0)
    rng = np.random.default_rng(0)
    cfg = ChimeraConfig(
        vocab_size=16,
        hidden_size=16,
        intermediate_size=12,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        num_local_experts=4,
        num_experts_per_tok=2,
    )
    layer = ChimeraDecoderLayer(cfg, layer_idx=1)
    layer.to(axon.float64)
    randomize_norms(layer, rng)
    x, cot, xv, out, _ = run_block(layer, cfg, padding, rng)
    params = torch_leaves(layer)
    xt = torch.tensor(x, requires_grad=True)
    expected = ref_chimera_layer(xt, params, cfg, depth=1, padding=padding)
    compare_block(layer, xv, out, xt, expected, cot, params, 2e-6, "chimera layer")
    assert set(layer.moe.expert_counts) != {0}, "no token was routed"


@pytest.mark.parametrize("padding", BLOCK_PADDING, ids=["causal", "left_padded"])
@pytest.mark.parametrize("bits", [8, None], ids=["act8", "act_fp"])
def test_trident_block_matches_torch_ste(padding, bits):
    # The reference gets our RoPE tables (float32 as HF's, checked against HF by the Llama and
    # BitNet oracles): the 8-bit rounding of activations must see identical inputs, and float32
    # cos/sin from torch and NumPy differ in the last bit.
    axon.manual_seed(1)
    rng = np.random.default_rng(1)
    cfg = TridentConfig(
        vocab_size=16,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        activation_bits=bits,
    )
    layer = TridentDecoderLayer(cfg, layer_idx=0)
    layer.to(axon.float64)
    for name, p in layer.named_parameters():
        if name.endswith("proj.weight"):
            p.data.array[...] = 0.05 * rng.standard_normal(p.shape)
    randomize_norms(layer, rng)
    x, cot, xv, out, inputs = run_block(layer, cfg, padding, rng)
    cos = torch.tensor(inputs.cos.numpy(), dtype=torch.float64)
    sin = torch.tensor(inputs.sin.numpy(), dtype=torch.float64)
    if cos.ndim == 2:
        cos, sin = cos[None, None], sin[None, None]
    params = torch_leaves(layer)
    xt = torch.tensor(x, requires_grad=True)
    expected = ref_trident_layer(xt, params, cfg, cos, sin, padding)
    compare_block(layer, xv, out, xt, expected, cot, params, 1e-10, "trident layer")


# -- gradcheck through whole tiny models ---------------------------------------------------------
def test_chimera_gradcheck_whole_model_float64():
    """Every parameter of a 2-layer Chimera; outputs: a random projection of the logits and lb_loss."""
    axon.manual_seed(2)
    rng = np.random.default_rng(2)
    cfg = ChimeraConfig(
        vocab_size=5,
        hidden_size=4,
        intermediate_size=2,
        num_hidden_layers=2,
        num_attention_heads=1,
        num_key_value_heads=1,
        num_local_experts=3,
        num_experts_per_tok=2,
        max_position_embeddings=16,
    )
    model = ChimeraForCausalLM(cfg)
    model.to(axon.float64)
    randomize_norms(model, rng)
    ids = ids_tensor(rng.integers(0, 5, (2, 4)))
    projection = axon_tensor.tensor(rng.standard_normal((2, 4, 5)))
    params = list(model.parameters())

    def outputs(*_):
        logits, lb_loss = model.forward_with_loss(ids)
        return (logits * projection).sum(), lb_loss

    assert gradcheck(outputs, params, eps=1e-6, atol=1e-7, rtol=1e-5)


def test_trident_gradcheck_whole_model_float64():
    """Embeddings, every norm (SubLN included) and the LM head of a 2-layer Trident, activations
    unquantised: the ternary weights are constants for these parameters, so the gradient is exact."""
    axon.manual_seed(3)
    rng = np.random.default_rng(3)
    cfg = TridentConfig(
        vocab_size=7,
        hidden_size=8,
        intermediate_size=12,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        activation_bits=None,
        max_position_embeddings=16,
    )
    model = TridentForCausalLM(cfg)
    model.to(axon.float64)
    randomize_norms(model, rng)
    ids = ids_tensor(rng.integers(0, 7, (2, 5)))
    projection = axon_tensor.tensor(rng.standard_normal((2, 5, 7)))
    latent = {id(m.weight) for m in model.modules() if isinstance(m, TridentLinear)}
    params = [p for p in model.parameters() if id(p) not in latent]
    assert len(params) == 1 + 4 * 2 + 2  # embed, 4 norms a layer, final norm, lm_head
    assert gradcheck(lambda *_: (model(ids) * projection).sum(), params, eps=1e-6, atol=1e-7, rtol=1e-5)


# -- load balancing --------------------------------------------------------------------------
def test_load_balancing_loss_matches_switch_formula_and_transformers():
    from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func

    axon.manual_seed(4)
    rng = np.random.default_rng(4)
    model = ChimeraForCausalLM.from_preset("tiny", num_local_experts=5, num_experts_per_tok=2, router_aux_loss_coef=0.1)
    cfg = model.config
    model.to(axon.float64)
    for layer in model.model.layers:  # a larger router spread, so routing is far from uniform
        layer.moe.gate.weight.data.array[...] *= 40
    seen: list[np.ndarray] = []
    for layer in model.model.layers:
        layer.moe.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().numpy().copy()))
    ids = ids_tensor(rng.integers(0, cfg.vocab_size, (3, 9)))
    logits, lb_loss = model.forward_with_loss(ids)
    lb_loss.backward()

    per_layer, hf_per_layer = [], []
    last_gate = None
    for layer, moe_input in zip(model.model.layers, seen):
        gate = torch.tensor(layer.moe.gate.weight.detach().numpy(), requires_grad=True)
        router_logits = torch.tensor(moe_input).reshape(-1, cfg.hidden_size) @ gate.T
        probs = torch.softmax(router_logits, -1)
        chosen = probs.topk(cfg.num_experts_per_tok, -1).indices
        fraction = torch.bincount(chosen.reshape(-1), minlength=cfg.num_local_experts).double() / probs.shape[0]
        per_layer.append(cfg.num_local_experts * (fraction * probs.mean(0)).sum())  # Switch: N Σ f_i P_i
        hf_per_layer.append(
            load_balancing_loss_func((router_logits.detach().float(),), cfg.num_local_experts, cfg.num_experts_per_tok)
        )
        last_gate = gate
    expected = torch.stack(per_layer).mean()
    assert float(expected.detach()) > cfg.num_experts_per_tok * 1.05, "routing is too uniform to test anything"
    assert_close(lb_loss.detach().numpy(), expected, "lb loss vs Switch formula", 1e-12)
    assert_close(lb_loss.detach().numpy(), torch.stack(hf_per_layer).mean().double(), "lb loss vs transformers", 1e-6)
    # The last layer's gate reaches the loss only through its own router probabilities.
    per_layer[-1].backward()
    assert_close(
        model.model.layers[-1].moe.gate.weight.grad.numpy() * len(per_layer),
        last_gate.grad,
        "gradient of lb w.r.t. the last gate",
        1e-12,
    )
    # loss() = HF's shifted cross-entropy + coef · lb of the same forward.
    total = model.loss(ids)
    target = torch.tensor(ids.numpy())[:, 1:].reshape(-1)
    ce = torch.nn.functional.cross_entropy(
        torch.tensor(logits.detach().numpy())[:, :-1].reshape(-1, cfg.vocab_size), target
    )
    assert_close(total.detach().numpy(), ce + 0.1 * expected, "loss = CE + coef * lb", 1e-12)


# -- KV cache ----------------------------------------------------------------------------------
def decode_matches_full(model, vocab: int, seed: int) -> None:
    """Prefill 6 (row 0 left-padded by 2), 3 single steps, a chunk of 2, a beam reorder, 1 step."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, (2, 12))
    mask = np.ones((2, 12), dtype=np.int64)
    mask[0, :2] = 0
    full = model(ids_tensor(ids), attention_mask=mask).detach().numpy()
    cache = model.new_cache(2, 12)
    steps = [(0, 6), (6, 7), (7, 8), (8, 9), (9, 11)]
    for start, end in steps:
        got = model(ids_tensor(ids[:, start:end]), attention_mask=mask[:, :end], cache=cache).detach().numpy()
        assert cache.seq_len == end
        np.testing.assert_allclose(got[0, max(start, 2) - start :], full[0, max(start, 2) : end], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(got[1], full[1, start:end], rtol=1e-9, atol=1e-9)
    # Beam search's reorder: both rows continue row 1's history.
    cache.reorder(np.array([1, 1]))
    both = np.stack([ids[1], ids[1]])
    step = model(ids_tensor(both[:, 11:12]), attention_mask=np.ones((2, 12), dtype=np.int64), cache=cache)
    np.testing.assert_allclose(step.detach().numpy()[:, 0], full[[1, 1], 11], rtol=1e-9, atol=1e-9)


def test_chimera_incremental_decoding_equals_full_forward():
    axon.manual_seed(5)
    model = ChimeraForCausalLM.from_preset("tiny")
    model.to(axon.float64)
    randomize_norms(model, np.random.default_rng(5))
    model.eval()
    decode_matches_full(model, 256, 5)


def test_trident_incremental_decoding_equals_full_forward():
    # float64, so that the two paths' last-bit differences cannot move an 8-bit activation rounding.
    axon.manual_seed(6)
    model = TridentForCausalLM.from_preset("tiny")
    model.to(axon.float64)
    model.eval()
    decode_matches_full(model, 256, 6)


@pytest.mark.parametrize("model_class", [ChimeraForCausalLM, TridentForCausalLM])
def test_greedy_generate_with_cache_equals_argmax_of_full_forwards(model_class):
    axon.manual_seed(11)
    model = model_class.from_preset("tiny")
    model.to(axon.float64)
    model.eval()
    prompt = np.array([[5, 6, 7, 8], [9, 10, 11, 12]])
    generated = model.generate(ids_tensor(prompt), max_new_tokens=8, do_sample=False).numpy()
    expected = prompt
    for _ in range(8):
        logits = model(ids_tensor(expected)).detach().numpy()
        expected = np.concatenate([expected, logits[:, -1].argmax(-1)[:, None]], axis=1)
    np.testing.assert_array_equal(generated, expected)


# -- Trident: TQ1_0 / TQ2_0 export, BitNet oracle ----------------------------------------------
@pytest.mark.parametrize("fmt", ["tq1_0", "tq2_0"])
def test_export_ternary_matches_gguf_quantizer(fmt):
    axon.manual_seed(7)
    model = TridentForCausalLM.from_preset("smoke")
    layer = model.model.layers[0].mlp.down_proj
    layer.weight.data.array[:, :256] = 0  # whole all-zero blocks: gguf stores scale 0 there
    exported = export_ternary(model, fmt)
    names = {f"{n}.weight" for n, m in model.named_modules() if isinstance(m, TridentLinear)}
    assert set(exported) == names and len(names) == 2 * 7
    kind = gguf.GGMLQuantizationType[fmt.upper()]
    for name, tq in exported.items():
        module = model.get_submodule(name.rsplit(".", 1)[0])
        latent = torch.tensor(module.weight.detach().numpy())
        gamma = latent.abs().mean()
        codes = (latent / (gamma + 1e-5)).round().clamp(-1, 1)
        reference = (codes * gamma.to(torch.float16).float()).numpy()  # codes · fp16(γ), in torch
        used = ternary_weight_f16_ste(module.weight).detach().numpy()  # what the forward multiplies
        np.testing.assert_array_equal(used, reference, err_msg=name)
        np.testing.assert_array_equal(tq.raw, gguf.quants.quantize(reference, kind), err_msg=name)
        np.testing.assert_array_equal(gguf.quants.dequantize(tq.raw, kind), reference, err_msg=name)
        np.testing.assert_array_equal(tq.dequantize(), reference, err_msg=name)
        assert tq.shape == tuple(module.weight.shape) and tq.ggml_type.name == fmt
    bits = 8 * sum(t.nbytes for t in exported.values()) / sum(int(np.prod(t.shape)) for t in exported.values())
    assert bits == pytest.approx({"tq1_0": 54 * 8 / 256, "tq2_0": 66 * 8 / 256}[fmt])


def bitnet_config(config: TridentConfig):
    """transformers' ``BitNetConfig`` of the same shape (our quantisation fields left out)."""
    from transformers import BitNetConfig

    ours_only = ("model_type", "architectures", "activation_bits", "quant_eps")
    return BitNetConfig(**{k: v for k, v in config.to_dict().items() if k not in ours_only})


@pytest.mark.parametrize("name", sorted(trident_presets))
def test_trident_preset_parameter_counts_equal_transformers_bitnet(name):
    """Every preset (1b and 3b deferred: no storage) has BitNetForCausalLM's count on the meta device."""
    from transformers import BitNetForCausalLM

    ours = TridentForCausalLM.from_preset(name, deferred=True)
    with torch.device("meta"):
        theirs = BitNetForCausalLM(bitnet_config(ours.config))
    assert ours.num_parameters() == theirs.num_parameters()


def test_trident_matches_transformers_bitnet_with_exported_weights():
    """HF's BitNet architecture holding gguf's dequantized TQ1_0 export gives our logits
    (activations unquantised, which HF's plain-Linear BitNet does not do; float64)."""
    from transformers import BitNetForCausalLM

    axon.manual_seed(8)
    model = TridentForCausalLM.from_preset("smoke", activation_bits=None, num_hidden_layers=1)
    cfg = model.config
    randomize_norms(model, np.random.default_rng(8))
    # float64 before exporting: the codes and γ come from the latent weights in the model's dtype
    # (a float32 mean can round a weight at a code boundary differently from a float64 one).
    model.to(axon.float64)
    state = numpy_state(model)
    for name, tq in export_ternary(model, "tq1_0").items():
        state[name] = gguf.quants.dequantize(tq.raw, gguf.GGMLQuantizationType.TQ1_0)
    hf_config = bitnet_config(cfg)
    hf_config._attn_implementation = "eager"
    hf = BitNetForCausalLM(hf_config).double().eval()
    missing, unexpected = hf.load_state_dict(
        {k: torch.tensor(v, dtype=torch.float64) for k, v in state.items()}, strict=False
    )
    assert not unexpected and all("rotary" in k for k in missing), (missing, unexpected)
    ids = np.random.default_rng(8).integers(0, cfg.vocab_size, (2, 10))
    ours = model(ids_tensor(ids)).detach().numpy()
    with torch.no_grad():
        theirs = hf(torch.tensor(ids)).logits.numpy()
    # 1e-6: HF's float32 cos/sin tables and NumPy's differ in the last bit.
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


# -- overfitting a small corpus ----------------------------------------------------------------
CORPUS = b"the quick brown fox jumps over the lazy dog. pack my box with five dozen liquor jugs! "


def overfit(model, steps: int, lr: float) -> float:
    data = np.frombuffer(CORPUS, dtype=np.uint8).astype(np.int64)
    batch = ids_tensor(np.stack([data[0:32], data[40:72]]))
    optimizer = axon_optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = model.loss(batch)
        loss.backward()
        optimizer.step()
    model.eval()
    return float(model.loss(batch).detach().numpy())


def test_chimera_overfits_small_corpus():
    # 64 byte tokens; from ln(256) = 5.55 to below 0.15 (CE + 0.01 · lb) in 60 AdamW steps (0.033 measured).
    axon.manual_seed(9)
    assert overfit(ChimeraForCausalLM.from_preset("tiny"), steps=60, lr=5e-3) < 0.15


def test_trident_overfits_small_corpus():
    # Ternary weights and 8-bit activations throughout; from 5.55 to below 0.05 in 90 steps (0.0066 measured).
    axon.manual_seed(10)
    assert overfit(TridentForCausalLM.from_preset("tiny"), steps=90, lr=5e-3) < 0.05
