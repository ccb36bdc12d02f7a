"""Mamba's pieces without transformers (tests-integration/test_llm_mamba.py holds the HF oracle):
the mixer against a float64 NumPy reference written here, the cache's reorder, the whole model on
cuda-sim against the CPU, and typed errors."""

from __future__ import annotations

import numpy as np
import pytest

import axon
import axon_llm
from axon_autograd import no_grad
from axon_core import ShapeError
from axon_llm import LLMError, MambaCache, MambaConfig, MambaForCausalLM
from axon_llm.models.mamba import MambaMixer

TINY = dict(vocab_size=64, hidden_size=16, num_hidden_layers=2, state_size=6, conv_kernel=3)


def numpy_mixer(p: dict, x: np.ndarray, rank: int, states: int) -> np.ndarray:
    """The Mamba mixer in float64 NumPy, step by step over time (HF's slow path, transcribed)."""
    width = p["D"].shape[0]
    xz = x @ p["in_proj.weight"].T
    u, z = xz[..., :width], xz[..., width:]
    kernel = p["conv1d.weight"].shape[-1]
    padded = np.concatenate([np.zeros((x.shape[0], kernel - 1, width)), u], axis=1)
    conv = sum(padded[:, k : k + x.shape[1]] * p["conv1d.weight"][:, 0, k] for k in range(kernel)) + p["conv1d.bias"]
    u = conv / (1 + np.exp(-conv))
    dbc = u @ p["x_proj.weight"].T
    dt = np.log1p(np.exp(dbc[..., :rank] @ p["dt_proj.weight"].T + p["dt_proj.bias"]))
    B, C = dbc[..., rank : rank + states], dbc[..., rank + states :]
    A = -np.exp(p["A_log"])
    h = np.zeros((x.shape[0], width, states))
    ys = []
    for t in range(x.shape[1]):
        h = np.exp(dt[:, t, :, None] * A) * h + dt[:, t, :, None] * B[:, t, None] * u[:, t, :, None]
        ys.append((h * C[:, t, None]).sum(-1) + p["D"] * u[:, t])
    y = np.stack(ys, 1) * z / (1 + np.exp(-z))
    return y @ p["out_proj.weight"].T


def test_mixer_equals_a_numpy_float64_reference():
    mixer = MambaMixer(12, 20, state_size=5, conv_kernel=4, time_step_rank=3).to(dtype=axon.float64)
    params = {name: value.numpy() for name, value in mixer.state_dict().items()}
    x = np.random.default_rng(0).standard_normal((2, 9, 12))
    with no_grad():
        got = mixer(axon.tensor(x)).numpy()
    np.testing.assert_allclose(got, numpy_mixer(params, x, 3, 5), rtol=1e-11, atol=1e-12)


def test_initialisation_is_hf_mambas():
    mixer = MambaMixer(32, 64, state_size=4, time_step_rank=2)
    np.testing.assert_allclose(np.exp(mixer.A_log.detach().numpy()), np.tile(np.arange(1, 5), (64, 1)), rtol=1e-6)
    np.testing.assert_array_equal(mixer.D.detach().numpy(), 1.0)
    dt = np.log1p(np.exp(mixer.dt_proj.bias.detach().numpy().astype(np.float64)))
    assert dt.min() >= 1e-3 * (1 - 1e-5) and dt.max() <= 0.1 * (1 + 1e-5)
    assert np.abs(mixer.dt_proj.weight.detach().numpy()).max() <= 2**-0.5


def test_reorder_keeps_the_chosen_rows():
    """Reordered rows continue as those rows would: [2, 0, 0] of a batch decodes like a batch of them."""
    model = MambaForCausalLM(MambaConfig(**TINY))
    ids = np.random.default_rng(1).integers(0, 64, (3, 8))
    rows = np.array([2, 0, 0])
    cache = model.new_cache(3, 10)
    with no_grad():
        model(axon.tensor(ids[:, :6]), cache=cache)
        cache.reorder(rows)
        got = model(axon.tensor(ids[rows, 6:]), cache=cache).numpy()
        want = model(axon.tensor(ids[rows])).numpy()[:, 6:]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert cache.seq_len == 8 and cache.batch_size == 3
    assert tuple(cache.conv_states[0].shape) == (3, 32, 3) and tuple(cache.ssm_states[1].shape) == (3, 32, 6)


def test_the_whole_model_on_cuda_sim_equals_the_cpu():
    """Loss and every gradient with the CUDA kernels (under cuda-sim) against the CPU path."""
    model = MambaForCausalLM(MambaConfig(**TINY))
    ids = np.random.default_rng(2).integers(0, 64, (2, 11))
    loss = model.loss(axon.tensor(ids))
    loss.backward()
    cpu = {name: p.grad.numpy() for name, p in model.named_parameters()}
    model.zero_grad()
    model.to("cuda-sim")
    sim_loss = model.loss(axon.tensor(ids, device="cuda-sim"))
    sim_loss.backward()
    assert abs(float(sim_loss.item()) - float(loss.item())) < 1e-6
    for name, p in model.named_parameters():
        assert str(p.device) == "cuda-sim"
        np.testing.assert_allclose(p.grad.numpy(), cpu[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_presets_and_from_d_model():
    big = MambaForCausalLM.from_preset("mamba_2.8b")
    assert big.config.num_hidden_layers == 64 and big.config.intermediate_size == 5120
    assert axon_llm.ARCHITECTURES["mamba"]["MambaForCausalLM"] is MambaForCausalLM
    model = MambaForCausalLM.from_d_model(48, 100, num_hidden_layers=1)
    assert model.config.time_step_rank == 3 and model.config.intermediate_size == 96
    assert model.config.to_dict()["model_type"] == "mamba"
    assert "num_attention_heads" not in model.config.to_dict()


def test_bad_input_gets_typed_errors():
    model = MambaForCausalLM(MambaConfig(**TINY))
    with pytest.raises(ShapeError, match="input_ids"):
        model(axon.tensor(np.zeros(4, dtype=np.int64)))
    with pytest.raises(ShapeError, match="cache"):
        model(axon.tensor(np.zeros((2, 3), dtype=np.int64)), cache=model.new_cache(3, 5))
    with pytest.raises(ShapeError, match="attention_mask"):
        model(axon.tensor(np.zeros((2, 3), dtype=np.int64)), attention_mask=np.ones((2, 2)))
    with pytest.raises(ShapeError, match="out of range"):
        model.new_cache(2, 5).reorder([0, 2])
    with pytest.raises(LLMError, match="hidden_act"):
        MambaConfig(**TINY, hidden_act="nope")
    with pytest.raises(LLMError, match="state_size"):
        MambaConfig(**{**TINY, "state_size": 0})
    with pytest.raises(LLMError, match="positive"):
        MambaCache(0, 1, 4, 4, 4)
