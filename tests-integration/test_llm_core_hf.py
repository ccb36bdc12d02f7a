"""axon-llm's core against transformers: HF folders both ways (tied, sharded, bf16), presets' parameter
counts, llama3 RoPE frequencies, left-padded batches and KV-cache decoding of a tiny LLaMA."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import axon  # noqa: E402
import axon_core  # noqa: E402
import axon_llm  # noqa: E402
from axon_autograd import no_grad  # noqa: E402
from axon_llm.blocks.rope import ROPE_TYPES, rope_inv_freq  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.torch]

TINY = dict(
    vocab_size=96,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
)


def hf_llama(tmp_path, name="hf", seed=0, **changes):
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(**{**TINY, **changes}, attn_implementation="eager")
    model = transformers.LlamaForCausalLM(config).eval()
    folder = tmp_path / name
    model.save_pretrained(folder)
    return model, folder


def hf_logits(model, ids, mask=None):
    with torch.no_grad():
        kwargs = {} if mask is None else {"attention_mask": torch.tensor(mask)}
        return model(torch.tensor(ids), **kwargs).logits.float().numpy()


def our_logits(model, ids, **kwargs):
    with no_grad():
        return model(axon.tensor(ids), **kwargs).numpy()


IDS = np.random.default_rng(1).integers(0, TINY["vocab_size"], (2, 11))


@pytest.mark.parametrize("preset", ["llama2_7b", "llama2_13b", "llama3_8b", "tiny"])
def test_preset_parameter_counts_equal_transformers(preset):
    ours = axon_llm.LlamaForCausalLM.from_preset(preset)
    config = transformers.LlamaConfig(**axon_llm.LlamaForCausalLM.presets[preset])
    with torch.device("meta"):
        reference = transformers.LlamaForCausalLM(config)
    assert ours.num_parameters() == reference.num_parameters()
    assert axon_llm.LlamaForCausalLM.from_preset(preset).num_parameters() == sum(
        int(np.prod(p.shape)) for p in reference.parameters()
    )


def test_llama3_rope_frequencies_equal_transformers():
    """The scalings bit for bit on transformers' own base frequencies; the base frequencies within
    one float32 ulp (ours are the correctly rounded powers; torch's float32 pow is off by up to an ulp
    on some CPUs, AVX-512 machines), a difference the llama3 blend amplifies."""
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    def transformers_base(theta: float, dim: int) -> np.ndarray:  # as every ROPE_INIT_FUNCTIONS entry begins
        return (1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).to(dtype=torch.float) / dim))).numpy()

    scaling = {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
        "rope_theta": 500000.0,
    }
    config = transformers.LlamaConfig(
        hidden_size=4096, num_attention_heads=32, max_position_embeddings=131072, rope_parameters=scaling
    )
    reference, _ = ROPE_INIT_FUNCTIONS["llama3"](config, "cpu")
    base = transformers_base(500000.0, 128)
    np.testing.assert_array_max_ulp(rope_inv_freq(128, {"rope_theta": 500000.0}), base, maxulp=1)
    np.testing.assert_array_equal(ROPE_TYPES["llama3"](base, scaling), reference.numpy())
    # The blend's smooth factor is old_context / wavelen, so an ulp in a medium frequency moves the
    # result by a few ulp (measured 3): a relative bound of 8 float32 ulp.
    np.testing.assert_allclose(rope_inv_freq(128, scaling), reference.numpy(), rtol=8 * 2**-23, atol=0)
    linear = {"rope_type": "linear", "factor": 4.0, "rope_theta": 10000.0}
    config = transformers.LlamaConfig(hidden_size=256, num_attention_heads=4, rope_parameters=linear)
    reference, _ = ROPE_INIT_FUNCTIONS["linear"](config, "cpu")
    np.testing.assert_array_equal(ROPE_TYPES["linear"](transformers_base(10000.0, 64), linear), reference.numpy())
    np.testing.assert_array_max_ulp(rope_inv_freq(64, linear), reference.numpy(), maxulp=1)


def test_rope_scaled_model_logits(tmp_path):
    scaling = {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 32,
        "rope_theta": 500000.0,
    }
    reference, folder = hf_llama(tmp_path, rope_parameters=scaling)
    ours = axon_llm.from_pretrained(folder)
    np.testing.assert_allclose(our_logits(ours, IDS), hf_logits(reference, IDS), atol=1e-5, rtol=0)


def test_tied_embeddings_both_directions(tmp_path):
    reference, folder = hf_llama(tmp_path, tie_word_embeddings=True)
    ours = axon_llm.from_pretrained(folder)
    assert ours.lm_head.weight is ours.model.embed_tokens.weight
    assert ours.num_parameters() == reference.num_parameters()
    np.testing.assert_allclose(our_logits(ours, IDS), hf_logits(reference, IDS), atol=1e-5, rtol=0)
    ours.save_pretrained(tmp_path / "ours")
    back = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "ours").eval()
    np.testing.assert_allclose(hf_logits(back, IDS), hf_logits(reference, IDS), atol=1e-6, rtol=0)


def test_sharded_folders_both_directions(tmp_path):
    reference, _ = hf_llama(tmp_path)
    reference.save_pretrained(tmp_path / "hf_sharded", max_shard_size="20KB")
    assert (tmp_path / "hf_sharded" / "model.safetensors.index.json").exists()
    ours = axon_llm.from_pretrained(tmp_path / "hf_sharded")
    np.testing.assert_allclose(our_logits(ours, IDS), hf_logits(reference, IDS), atol=1e-5, rtol=0)
    ours.save_pretrained(tmp_path / "ours_sharded", max_shard_size=20_000)
    shards = sorted(p.name for p in (tmp_path / "ours_sharded").glob("model-*.safetensors"))
    assert len(shards) > 1
    back = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "ours_sharded").eval()
    np.testing.assert_allclose(hf_logits(back, IDS), hf_logits(reference, IDS), atol=1e-6, rtol=0)


def test_bf16_files_convert_to_float32_or_stay(tmp_path):
    reference, _ = hf_llama(tmp_path)
    reference.to(torch.bfloat16).save_pretrained(tmp_path / "bf16")
    upcast = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "bf16", dtype=torch.float32).eval()
    ours = axon_llm.from_pretrained(tmp_path / "bf16")
    assert next(iter(ours.parameters())).dtype == axon_core.float32
    np.testing.assert_allclose(our_logits(ours, IDS), hf_logits(upcast, IDS), atol=1e-5, rtol=0)
    kept = axon_llm.from_pretrained(tmp_path / "bf16", dtype="auto")
    assert next(iter(kept.parameters())).dtype == axon_core.bfloat16
    np.testing.assert_array_equal(
        kept.model.embed_tokens.weight.detach().numpy().astype(np.float32),
        upcast.model.embed_tokens.weight.detach().numpy(),
    )


def test_left_padded_batch_equals_transformers(tmp_path):
    reference, folder = hf_llama(tmp_path)
    ours = axon_llm.from_pretrained(folder)
    mask = np.ones_like(IDS)
    mask[0, :4] = 0
    got, want = our_logits(ours, IDS, attention_mask=mask), hf_logits(reference, IDS, mask)
    np.testing.assert_allclose(got[mask == 1], want[mask == 1], atol=1e-5, rtol=0)


def test_kv_cache_decoding_equals_the_full_forward_of_transformers(tmp_path):
    reference, folder = hf_llama(tmp_path)
    ours = axon_llm.from_pretrained(folder)
    want = hf_logits(reference, IDS)
    cache = ours.new_cache(IDS.shape[0], IDS.shape[1])
    steps = [our_logits(ours, IDS[:, :5], cache=cache)]
    for t in range(5, IDS.shape[1]):
        steps.append(our_logits(ours, IDS[:, t : t + 1], cache=cache))
    assert cache.seq_len == IDS.shape[1]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), want, atol=1e-5, rtol=0)


def test_loss_and_gradients_equal_transformers(tmp_path):
    reference, folder = hf_llama(tmp_path)
    ours = axon_llm.from_pretrained(folder)
    ours.train()
    labels = IDS.copy()
    labels[1, 3] = -100
    hf_loss = reference(torch.tensor(IDS), labels=torch.tensor(labels)).loss
    hf_loss.backward()
    loss = ours.loss(axon.tensor(IDS), labels=labels)
    loss.backward()
    assert abs(float(loss.item()) - float(hf_loss.detach())) < 1e-6
    grads = {name: p.grad for name, p in reference.named_parameters()}
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad.numpy(), grads[name].numpy(), atol=1e-6, rtol=1e-4, err_msg=name)


def test_generation_config_json_is_read_and_written(tmp_path):
    reference, folder = hf_llama(tmp_path, seed=3)
    reference.generation_config = transformers.GenerationConfig(
        eos_token_id=[5, 7], pad_token_id=0, max_new_tokens=12, repetition_penalty=1.3, do_sample=False
    )
    reference.save_pretrained(folder)
    ours = axon_llm.from_pretrained(folder)
    assert ours.generation_config.eos_token_id == [5, 7] and ours.generation_config.repetition_penalty == 1.3
    prompt = IDS[:1, :6]
    with torch.no_grad():
        want = reference.generate(torch.tensor(prompt)).numpy()
    np.testing.assert_array_equal(ours.generate(axon.tensor(prompt)).numpy(), want)
    ours.save_pretrained(tmp_path / "ours")
    again = transformers.GenerationConfig.from_pretrained(tmp_path / "ours")
    assert again.eos_token_id == [5, 7] and again.max_new_tokens == 12 and again.repetition_penalty == 1.3
