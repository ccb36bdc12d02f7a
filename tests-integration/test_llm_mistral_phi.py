"""LLaMA (GQA + llama3 RoPE), Mistral (sliding window), Mixtral, Phi and Phi-3 against transformers 5.23.

One row per case in ``CASES``: a tiny random HF model (float32, eager attention) saved with
``save_pretrained`` and loaded by ``axon_llm.from_pretrained``. Each case checks logits (plain and
left-padded), the loss with ``labels`` and every parameter gradient, KV-cache decoding (token by
token, a prompt longer than the sliding window then single tokens, a left-padded batch) against our
full forward, transformers' full forward and transformers' own cache, and our ``save_pretrained``
loaded back by transformers. Mixtral adds the load-balancing loss (``load_balancing_loss_func``),
transformers 5's fused-expert files and router jitter; the presets' parameter counts are HF's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import axon  # noqa: E402
import axon_llm  # noqa: E402
import axon_tensor  # noqa: E402
from axon_autograd import no_grad  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.torch]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """These models are tiny: torch's thread pool only spins (25 ms a matmul on a shared 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


VOCAB = 96
TINY = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
)
LLAMA3 = {
    "rope_type": "llama3",
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 16,
    "rope_theta": 500000.0,
}
# name: (HF config class, HF model class, our class, config changes). Windows are shorter than SEQ.
CASES = {
    "llama_gqa_llama3": ("LlamaConfig", "LlamaForCausalLM", axon_llm.LlamaForCausalLM, {"rope_parameters": LLAMA3}),
    "mistral_window": ("MistralConfig", "MistralForCausalLM", axon_llm.MistralForCausalLM, {"sliding_window": 4}),
    "mixtral": (
        "MixtralConfig",
        "MixtralForCausalLM",
        axon_llm.MixtralForCausalLM,
        {"num_local_experts": 4, "sliding_window": 5, "output_router_logits": True, "router_aux_loss_coef": 0.1},
    ),
    "phi_tied": (
        "PhiConfig",
        "PhiForCausalLM",
        axon_llm.PhiForCausalLM,
        {"partial_rotary_factor": 0.5, "tie_word_embeddings": True},
    ),
    "phi_qk_layernorm": (
        "PhiConfig",
        "PhiForCausalLM",
        axon_llm.PhiForCausalLM,
        {"hidden_size": 40, "partial_rotary_factor": 0.4, "qk_layernorm": True, "num_key_value_heads": 4},
    ),
    "phi3_window": (
        "Phi3Config",
        "Phi3ForCausalLM",
        axon_llm.Phi3ForCausalLM,
        {"sliding_window": 4, "pad_token_id": 0, "eos_token_id": 2},
    ),
    "phi3_partial_rotary": (
        "Phi3Config",
        "Phi3ForCausalLM",
        axon_llm.Phi3ForCausalLM,
        {"partial_rotary_factor": 0.5, "pad_token_id": 0, "eos_token_id": 2},
    ),
}
SEQ = 13
IDS = np.random.default_rng(1).integers(3, VOCAB, (2, SEQ))
LOGITS_ATOL = 1e-5


def build(tmp_path, case, seed=0):
    """The HF reference (eval mode), its folder, and our model loaded from that folder."""
    config_name, model_name, ours_class, changes = CASES[case]
    torch.manual_seed(seed)
    config = getattr(transformers, config_name)(**{**TINY, **changes}, attn_implementation="eager")
    reference = getattr(transformers, model_name)(config).eval()
    folder = tmp_path / case
    reference.save_pretrained(folder)
    ours = axon_llm.from_pretrained(folder)
    assert type(ours) is ours_class
    return reference, folder, ours


def hf_logits(model, ids, mask=None):
    with torch.no_grad():
        kwargs = {} if mask is None else {"attention_mask": torch.tensor(mask)}
        return model(torch.tensor(ids), **kwargs).logits.numpy()


def our_logits(model, ids, **kwargs):
    with no_grad():
        return model(axon.tensor(ids), **kwargs).numpy()


def left_padding_mask():
    mask = np.ones_like(IDS)
    mask[0, :5] = 0
    return mask


@pytest.mark.parametrize("case", CASES)
def test_logits_equal_transformers(tmp_path, case):
    reference, _, ours = build(tmp_path, case)
    assert ours.num_parameters() == reference.num_parameters()
    np.testing.assert_allclose(our_logits(ours, IDS), hf_logits(reference, IDS), atol=LOGITS_ATOL, rtol=0)
    mask = left_padding_mask()
    got, want = our_logits(ours, IDS, attention_mask=mask), hf_logits(reference, IDS, mask)
    np.testing.assert_allclose(got[mask == 1], want[mask == 1], atol=LOGITS_ATOL, rtol=0)


def hf_gradients_in_our_names(reference, config):
    """HF's parameter gradients under our names: transformers 5 keeps Mixtral's experts fused
    (``mlp.experts.gate_up_proj [E, 2I, H]``, ``down_proj [E, H, I]``, router ``mlp.gate``)."""
    grads = {}
    inter = config.intermediate_size
    for name, param in reference.named_parameters():
        grad = param.grad.numpy()
        if ".mlp.experts.gate_up_proj" in name:
            stem = name.replace(".mlp.experts.gate_up_proj", ".block_sparse_moe.experts")
            for j in range(grad.shape[0]):
                grads[f"{stem}.{j}.w1.weight"], grads[f"{stem}.{j}.w3.weight"] = grad[j, :inter], grad[j, inter:]
        elif ".mlp.experts.down_proj" in name:
            stem = name.replace(".mlp.experts.down_proj", ".block_sparse_moe.experts")
            for j in range(grad.shape[0]):
                grads[f"{stem}.{j}.w2.weight"] = grad[j]
        elif ".mlp.gate.weight" in name and "experts" not in name and config.model_type == "mixtral":
            grads[name.replace(".mlp.gate.", ".block_sparse_moe.gate.")] = grad
        else:
            grads[name] = grad
    return grads


@pytest.mark.parametrize("case", CASES)
def test_loss_and_every_gradient_equal_transformers(tmp_path, case):
    reference, _, ours = build(tmp_path, case)
    ours.train()
    labels = IDS.copy()
    labels[0, 4] = labels[1, 9] = -100
    hf_loss = reference(torch.tensor(IDS), labels=torch.tensor(labels)).loss
    hf_loss.backward()
    loss = ours.loss(axon.tensor(IDS), labels=labels)
    loss.backward()
    assert abs(float(loss.item()) - float(hf_loss.detach())) < 1e-6
    grads = hf_gradients_in_our_names(reference, reference.config)
    names = [name for name, _ in ours.named_parameters()]
    assert sorted(names) == sorted(grads)
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad.numpy(), grads[name], atol=1e-6, rtol=1e-4, err_msg=name)


def hf_cached_steps(reference, ids, prompt, mask=None):
    """transformers' logits from its own cache: the prompt in one call, then one token per call."""

    def inputs(start, end):
        if mask is None:
            return {}
        # Position ids as generate counts them: real tokens only (left padding skipped).
        positions = np.maximum(np.cumsum(mask, axis=1) - 1, 0)
        return {"attention_mask": torch.tensor(mask[:, :end]), "position_ids": torch.tensor(positions[:, start:end])}

    # transformers' Mixtral cannot pool its router loss over a cached step's [B, past+1] mask; not needed here.
    moe = {"output_router_logits": False} if reference.config.model_type == "mixtral" else {}
    with torch.no_grad():
        out = reference(torch.tensor(ids[:, :prompt]), use_cache=True, **inputs(0, prompt), **moe)
        steps, past = [out.logits.numpy()], out.past_key_values
        for t in range(prompt, ids.shape[1]):
            step = torch.tensor(ids[:, t : t + 1])
            out = reference(step, past_key_values=past, use_cache=True, **inputs(t, t + 1), **moe)
            steps.append(out.logits.numpy())
            past = out.past_key_values
    return np.concatenate(steps, axis=1)


def our_cached_steps(ours, ids, prompt, mask=None, max_len=None):
    cache = ours.new_cache(ids.shape[0], max_len or ids.shape[1])
    kwargs = {} if mask is None else {"attention_mask": mask[:, :prompt]}
    steps = [our_logits(ours, ids[:, :prompt], cache=cache, **kwargs)]
    for t in range(prompt, ids.shape[1]):
        kwargs = {} if mask is None else {"attention_mask": mask[:, : t + 1]}
        steps.append(our_logits(ours, ids[:, t : t + 1], cache=cache, **kwargs))
    assert cache.seq_len == ids.shape[1]
    return np.concatenate(steps, axis=1)


@pytest.mark.parametrize("case", CASES)
def test_kv_cache_decoding_equals_full_forwards_and_transformers_cache(tmp_path, case):
    reference, _, ours = build(tmp_path, case)
    window = reference.config.to_dict().get("sliding_window")
    full_ours, full_hf = our_logits(ours, IDS), hf_logits(reference, IDS)
    # Token by token from the first token; then a prompt longer than any window, then single tokens.
    for prompt in (1, 7):
        assert window is None or prompt == 1 or prompt > window
        stepped = our_cached_steps(ours, IDS, prompt)
        np.testing.assert_allclose(stepped, full_ours, atol=LOGITS_ATOL, rtol=0)
        np.testing.assert_allclose(stepped, full_hf, atol=LOGITS_ATOL, rtol=0)
        np.testing.assert_allclose(stepped, hf_cached_steps(reference, IDS, prompt), atol=LOGITS_ATOL, rtol=0)
    # Chunked prefill: chunks shorter than the window, and one longer than it over a filled ring.
    for chunks in ((3, 3, 3, 4), (2, 9, 2)):
        cache, starts = ours.new_cache(IDS.shape[0], SEQ), np.cumsum((0,) + chunks)
        stepped = np.concatenate(
            [our_logits(ours, IDS[:, a:b], cache=cache) for a, b in zip(starts[:-1], starts[1:])], axis=1
        )
        np.testing.assert_allclose(stepped, full_hf, atol=LOGITS_ATOL, rtol=0)
    # A left-padded batch, prompt then single tokens (the way generate runs), against transformers' cache.
    mask = left_padding_mask()
    stepped = our_cached_steps(ours, IDS, 7, mask=mask)
    want = hf_cached_steps(reference, IDS, 7, mask=mask)
    np.testing.assert_allclose(stepped[mask == 1], want[mask == 1], atol=LOGITS_ATOL, rtol=0)
    np.testing.assert_allclose(stepped[mask == 1], hf_logits(reference, IDS, mask)[mask == 1], atol=LOGITS_ATOL)


@pytest.mark.parametrize("case", CASES)
def test_our_save_pretrained_loads_in_transformers(tmp_path, case):
    reference, folder, ours = build(tmp_path, case)
    ours.save_pretrained(tmp_path / "ours")
    config = json.loads((tmp_path / "ours" / "config.json").read_text())
    assert config["model_type"] == reference.config.model_type
    back = getattr(transformers, CASES[case][1]).from_pretrained(tmp_path / "ours", attn_implementation="eager")
    np.testing.assert_allclose(hf_logits(back.eval(), IDS), hf_logits(reference, IDS), atol=1e-6, rtol=0)
    again = axon_llm.from_pretrained(tmp_path / "ours")
    np.testing.assert_array_equal(our_logits(again, IDS), our_logits(ours, IDS))


def test_mixtral_load_balancing_loss_equals_transformers(tmp_path):
    from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func

    reference, _, ours = build(tmp_path, "mixtral")
    config = reference.config
    mask = left_padding_mask()
    for attention_mask in (None, mask):
        hf_kwargs = {} if attention_mask is None else {"attention_mask": torch.tensor(attention_mask)}
        out = reference(torch.tensor(IDS), output_router_logits=True, **hf_kwargs)
        want = load_balancing_loss_func(
            out.router_logits, config.num_local_experts, config.num_experts_per_tok, hf_kwargs.get("attention_mask")
        )
        ours(axon.tensor(IDS), attention_mask=attention_mask)
        # Padding tokens' hidden states differ (they attend to nothing here, to everything in HF's
        # eager path) and are left out of the loss; the real tokens' router logits agree.
        real = np.ones(IDS.size, dtype=bool) if attention_mask is None else attention_mask.reshape(-1) == 1
        for got_logits, want_logits in zip(ours.router_logits, out.router_logits):
            np.testing.assert_allclose(got_logits.detach().numpy()[real], want_logits.detach().numpy()[real], atol=1e-6)
        aux = ours.load_balancing_loss(attention_mask)
        assert abs(float(aux.item()) - float(want.detach())) < 1e-6
        # Its gradient reaches the routers, as HF's does.
        want.backward()
        aux.backward()
        for i, layer in enumerate(ours.model.layers):
            np.testing.assert_allclose(
                layer.block_sparse_moe.gate.weight.grad.numpy(),
                reference.model.layers[i].mlp.gate.weight.grad.numpy(),
                atol=1e-7,
                rtol=1e-4,
            )
            layer.block_sparse_moe.gate.weight.grad = None
        reference.zero_grad()
    # With output_router_logits off (HF's default) the loss is the cross-entropy alone, as HF's.
    hf_plain = reference(torch.tensor(IDS), labels=torch.tensor(IDS), output_router_logits=False).loss
    plain = ours.loss(axon.tensor(IDS), output_router_logits=False)
    assert abs(float(plain.item()) - float(hf_plain.detach())) < 1e-6


def test_mixtral_fused_expert_files_load(tmp_path):
    """transformers 5 keeps experts fused in memory (``mlp.experts.gate_up_proj``); files in that
    layout load into the per-expert modules."""
    from safetensors.torch import save_file

    reference, folder, _ = build(tmp_path, "mixtral")
    fused = tmp_path / "fused"
    fused.mkdir()
    state = {name: tensor.detach().contiguous() for name, tensor in reference.state_dict().items()}
    assert any(".mlp.experts.gate_up_proj" in name for name in state)
    save_file(state, str(fused / "model.safetensors"), metadata={"format": "pt"})
    (fused / "config.json").write_text((folder / "config.json").read_text())
    ours = axon_llm.from_pretrained(fused)
    np.testing.assert_allclose(our_logits(ours, IDS), hf_logits(reference, IDS), atol=LOGITS_ATOL, rtol=0)


def test_mixtral_router_jitter_scales_the_moe_input_as_transformers(tmp_path):
    """In training, HF multiplies the block's input by U(1 - noise, 1 + noise) before routing; the
    same draws (re-seeded here) through HF's block with jitter off give our block's output."""
    reference, _, ours = build(tmp_path, "mixtral")
    noise = 0.2
    block = ours.model.layers[0].block_sparse_moe
    block.jitter_noise = noise
    block.train()
    hidden = np.random.default_rng(3).standard_normal((2, 5, TINY["hidden_size"])).astype(np.float32)
    axon_tensor.manual_seed(11)
    got = block(axon.tensor(hidden)).detach().numpy()
    axon_tensor.manual_seed(11)
    scale = axon_tensor.rand(*hidden.shape, dtype=axon.float32).numpy() * (2 * noise) + (1 - noise)
    with torch.no_grad():
        want = reference.model.layers[0].mlp(torch.tensor(hidden * scale)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    block.eval()
    with no_grad(), torch.no_grad():
        np.testing.assert_allclose(
            block(axon.tensor(hidden)).numpy(), reference.model.layers[0].mlp(torch.tensor(hidden)).numpy(), atol=1e-6
        )


PRESETS = (
    [
        (axon_llm.MistralForCausalLM, "MistralConfig", "MistralForCausalLM", name)
        for name in ("tiny", "mistral_7b", "mistral_7b_instruct")
    ]
    + [(axon_llm.MixtralForCausalLM, "MixtralConfig", "MixtralForCausalLM", name) for name in ("tiny", "mixtral_8x7b")]
    + [(axon_llm.PhiForCausalLM, "PhiConfig", "PhiForCausalLM", name) for name in ("tiny", "phi1", "phi2")]
    + [(axon_llm.Phi3ForCausalLM, "Phi3Config", "Phi3ForCausalLM", name) for name in ("tiny", "phi3_mini")]
)


@pytest.mark.parametrize(
    "ours_class, config_name, model_name, preset", PRESETS, ids=lambda v: getattr(v, "__name__", v)
)
def test_preset_parameter_counts_equal_transformers(ours_class, config_name, model_name, preset):
    ours = ours_class.from_preset(preset)
    # Our config as config.json, read by transformers: the same shapes on torch's meta device.
    config = getattr(transformers, config_name)(**ours.config.to_dict())
    with torch.device("meta"):
        reference = getattr(transformers, model_name)(config)
    assert ours.num_parameters() == reference.num_parameters()
