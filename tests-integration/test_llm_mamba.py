"""axon-llm's Mamba against transformers' MambaForCausalLM (its torch path: no CUDA kernels here):
logits of a batch (max abs error <= 1e-4; measured ~1e-6), left padding, the loss and every
parameter's gradient, greedy decoding through the recurrent cache against ``generate`` for 32
tokens, folders both ways, and the presets' parameter counts."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import axon  # noqa: E402
import axon_llm  # noqa: E402
from axon_autograd import no_grad  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.torch]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The models are tiny: torch's thread pool only spins on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY = dict(vocab_size=128, hidden_size=32, num_hidden_layers=2, state_size=16, conv_kernel=4)
IDS = np.random.default_rng(1).integers(0, TINY["vocab_size"], (3, 21))
# float32 through two layers of a 21-step scan: both sides sum the same products in other orders.
LOGITS_ATOL = 1e-4


def hf_mamba(tmp_path, name="hf", seed=0, **changes):
    torch.manual_seed(seed)
    model = transformers.MambaForCausalLM(transformers.MambaConfig(**{**TINY, **changes})).eval()
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


@pytest.mark.parametrize("changes", [{}, {"use_bias": True, "use_conv_bias": False, "expand": 3, "state_size": 7}])
def test_logits_of_a_batch_equal_transformers(tmp_path, changes):
    reference, folder = hf_mamba(tmp_path, **changes)
    ours = axon_llm.from_pretrained(folder)
    assert isinstance(ours, axon_llm.MambaForCausalLM)
    assert ours.lm_head.weight is ours.backbone.embeddings.weight
    assert ours.num_parameters() == reference.num_parameters()
    got, want = our_logits(ours, IDS), hf_logits(reference, IDS)
    assert np.abs(got - want).max() <= LOGITS_ATOL


def test_left_padded_batch_equals_transformers(tmp_path):
    reference, folder = hf_mamba(tmp_path)
    ours = axon_llm.from_pretrained(folder)
    mask = np.ones_like(IDS)
    mask[0, :5] = 0
    mask[2, :1] = 0
    got, want = our_logits(ours, IDS, attention_mask=mask), hf_logits(reference, IDS, mask)
    assert np.abs(got[mask == 1] - want[mask == 1]).max() <= LOGITS_ATOL


def test_loss_and_every_gradient_equal_transformers(tmp_path):
    reference, folder = hf_mamba(tmp_path, tie_word_embeddings=False)
    reference.train()
    ours = axon_llm.from_pretrained(folder)
    ours.train()
    labels = IDS.copy()
    labels[1, 4] = -100
    hf_loss = reference(torch.tensor(IDS), labels=torch.tensor(labels)).loss
    hf_loss.backward()
    loss = ours.loss(axon.tensor(IDS), labels=labels)
    loss.backward()
    assert abs(float(loss.item()) - float(hf_loss.detach())) < 1e-5
    grads = {name: p.grad.numpy() for name, p in reference.named_parameters()}
    names = [name for name, _ in ours.named_parameters()]
    assert sorted(names) == sorted(grads)
    for name, param in ours.named_parameters():
        want = grads[name]
        np.testing.assert_allclose(
            param.grad.numpy(), want, atol=2e-5 * max(1.0, np.abs(want).max()), rtol=1e-3, err_msg=name
        )


def test_recurrent_cache_steps_equal_the_full_forward(tmp_path):
    reference, folder = hf_mamba(tmp_path)
    ours = axon_llm.from_pretrained(folder)
    want = hf_logits(reference, IDS)
    cache = ours.new_cache(IDS.shape[0], IDS.shape[1])
    steps = [our_logits(ours, IDS[:, :6], cache=cache)]
    steps.append(our_logits(ours, IDS[:, 6:9], cache=cache))
    for t in range(9, IDS.shape[1]):
        steps.append(our_logits(ours, IDS[:, t : t + 1], cache=cache))
    assert cache.seq_len == IDS.shape[1]
    assert np.abs(np.concatenate(steps, axis=1) - want).max() <= LOGITS_ATOL


def greedy_with_cache(model, ids, new_tokens, mask=None):
    """Greedy decoding over the cache protocol: a prefill (with the padding mask), then one token per step."""
    cache = model.new_cache(ids.shape[0], ids.shape[1] + new_tokens)
    logits = our_logits(model, ids, cache=cache, attention_mask=mask)[:, -1]
    out = [ids]
    for _ in range(new_tokens):
        token = logits.argmax(-1)[:, None]
        out.append(token)
        logits = our_logits(model, token, cache=cache)[:, -1]
    assert cache.seq_len == ids.shape[1] + new_tokens
    return np.concatenate(out, axis=1)


@pytest.mark.parametrize("padded", [False, True])
def test_greedy_decoding_with_the_cache_equals_transformers_generate(tmp_path, padded):
    # Untied and with wider weights, a random tiny model's greedy continuation varies (22-27
    # distinct tokens of 32 per row here; the narrowest top-2 logit margin is 0.02).
    reference, folder = hf_mamba(tmp_path, seed=3, tie_word_embeddings=False, initializer_range=0.5)
    ours = axon_llm.from_pretrained(folder)
    prompt = IDS[:, :7]
    mask = np.ones_like(prompt)
    if padded:
        mask[1, :3] = 0
    with torch.no_grad():
        want = reference.generate(
            torch.tensor(prompt),
            attention_mask=torch.tensor(mask),
            max_new_tokens=32,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
        ).numpy()
    assert want.shape == (3, 7 + 32)
    assert min(len(set(row[7:].tolist())) for row in want) > 10
    np.testing.assert_array_equal(greedy_with_cache(ours, prompt, 32, mask if padded else None), want)
    got = ours.generate(axon.tensor(prompt), attention_mask=mask, max_new_tokens=32, do_sample=False, eos_token_id=None)
    np.testing.assert_array_equal(np.asarray(got.numpy() if hasattr(got, "numpy") else got), want)


def test_our_folder_loads_in_transformers_to_the_same_logits(tmp_path):
    reference, folder = hf_mamba(tmp_path)
    ours = axon_llm.from_pretrained(folder)
    ours.save_pretrained(tmp_path / "ours")
    back = transformers.MambaForCausalLM.from_pretrained(tmp_path / "ours").eval()
    np.testing.assert_array_equal(hf_logits(back, IDS), hf_logits(reference, IDS))
    assert back.config.intermediate_size == reference.config.intermediate_size
    assert back.config.time_step_rank == reference.config.time_step_rank


def test_a_fresh_model_of_ours_loads_in_transformers(tmp_path):
    """Our own initialisation, saved, read by transformers: same logits, tied head."""
    ours = axon_llm.MambaForCausalLM(axon_llm.MambaConfig(**TINY))
    ours.save_pretrained(tmp_path / "fresh")
    back = transformers.MambaForCausalLM.from_pretrained(tmp_path / "fresh").eval()
    assert np.abs(our_logits(ours, IDS) - hf_logits(back, IDS)).max() <= LOGITS_ATOL


@pytest.mark.parametrize("preset", ["tiny", "mamba_130m", "mamba_370m", "mamba_790m", "mamba_1.4b", "mamba_2.8b"])
def test_preset_parameter_counts_equal_transformers(preset):
    ours = axon_llm.MambaForCausalLM.from_preset(preset, deferred=True)
    with torch.device("meta"):
        reference = transformers.MambaForCausalLM(transformers.MambaConfig(**axon_llm.MambaForCausalLM.presets[preset]))
    assert ours.num_parameters() == reference.num_parameters()


def test_from_d_model_is_the_published_shape():
    config = axon_llm.MambaConfig.from_d_model(768, 50280)
    reference = transformers.MambaConfig(hidden_size=768, vocab_size=50280, num_hidden_layers=24)
    for name in ("intermediate_size", "state_size", "conv_kernel", "time_step_rank", "num_hidden_layers"):
        assert getattr(config, name) == getattr(reference, name), name
