"""Hydra has no HF counterpart. Its oracles: float64 central differences through a whole (micro)
Hydra for every parameter, with sequences longer than the attention window; one Mamba layer and
one windowed-attention layer written here again with torch ops (forward and every gradient); and
the tiny preset overfitting a small corpus."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import axon  # noqa: E402
import axon_optim  # noqa: E402
from axon_autograd import Variable, gradcheck  # noqa: E402
from axon_llm import HydraConfig, HydraForCausalLM  # noqa: E402
from axon_llm.blocks.attention import AttentionInputs  # noqa: E402
from axon_llm.models.hydra import HydraDecoderLayer  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.torch]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The models are tiny: torch's thread pool only spins on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


MICRO = dict(
    vocab_size=7,
    hidden_size=8,
    intermediate_size=8,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    sliding_window=3,
    state_size=3,
    conv_kernel=3,
    max_position_embeddings=32,
    initializer_range=0.3,
)


def test_gradcheck_float64_through_a_whole_hydra():
    """Every parameter of a two-layer Hydra (one SSM, one windowed-attention layer), element by
    element: 6 positions against a window of 3, a padded row, ignored labels."""
    axon.manual_seed(0)
    model = HydraForCausalLM(HydraConfig(**MICRO)).to(dtype=axon.float64)
    ids = axon.tensor(np.random.default_rng(0).integers(0, 7, (2, 6)))
    mask = np.ones((2, 6), dtype=np.int64)
    mask[1, :2] = 0
    labels = ids.numpy().copy()
    labels[1, :3] = -100
    params = [p for _, p in model.named_parameters()]
    assert sum(p.numel() for p in params) > 1000

    def loss(*_):
        return model.loss(ids, labels=labels, attention_mask=mask)

    assert gradcheck(loss, params, eps=1e-6, atol=1e-8, rtol=1e-6)


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def mlp(x, p, prefix):
    gate = torch.nn.functional.silu(x @ p[prefix + "gate_proj.weight"].T)
    return (gate * (x @ p[prefix + "up_proj.weight"].T)) @ p[prefix + "down_proj.weight"].T


def torch_mamba_layer(x, p, config):
    """Mamba's mixer, step by step (as its paper's Algorithm 2), between RMSNorms and a SwiGLU MLP."""
    width, rank, states = config.ssm_intermediate_size, config.time_step_rank, config.state_size
    h_in = rms_norm(x, p["input_layernorm.weight"], config.rms_norm_eps)
    xz = h_in @ p["mixer.in_proj.weight"].T
    u, z = xz[..., :width], xz[..., width:]
    conv = torch.nn.functional.conv1d(
        u.transpose(1, 2),
        p["mixer.conv1d.weight"],
        p["mixer.conv1d.bias"],
        padding=config.conv_kernel - 1,
        groups=width,
    )[..., : x.shape[1]]
    u = torch.nn.functional.silu(conv).transpose(1, 2)
    dbc = u @ p["mixer.x_proj.weight"].T
    dt = torch.nn.functional.softplus(dbc[..., :rank] @ p["mixer.dt_proj.weight"].T + p["mixer.dt_proj.bias"])
    B, C = dbc[..., rank : rank + states], dbc[..., rank + states :]
    A = -torch.exp(p["mixer.A_log"])
    h = torch.zeros(x.shape[0], width, states, dtype=x.dtype)
    ys = []
    for t in range(x.shape[1]):
        h = torch.exp(dt[:, t, :, None] * A) * h + (dt[:, t, :, None] * B[:, t, None, :]) * u[:, t, :, None]
        ys.append((h * C[:, t, None, :]).sum(-1) + p["mixer.D"] * u[:, t])
    y = torch.stack(ys, 1) * torch.nn.functional.silu(z)
    hidden = x + y @ p["mixer.out_proj.weight"].T
    return hidden + mlp(rms_norm(hidden, p["pre_ff_layernorm.weight"], config.rms_norm_eps), p, "mlp.")


def torch_attention_layer(x, p, config):
    """Causal attention limited to the last ``sliding_window`` keys, RoPE (split halves), GQA."""
    batch, seq, _ = x.shape
    heads, kv_heads, dim = config.num_attention_heads, config.num_key_value_heads, config.head_dim
    h_in = rms_norm(x, p["input_layernorm.weight"], config.rms_norm_eps)
    q = (h_in @ p["self_attn.q_proj.weight"].T).view(batch, seq, heads, dim).transpose(1, 2)
    k = (h_in @ p["self_attn.k_proj.weight"].T).view(batch, seq, kv_heads, dim).transpose(1, 2)
    v = (h_in @ p["self_attn.v_proj.weight"].T).view(batch, seq, kv_heads, dim).transpose(1, 2)
    theta = config.rope_parameters["rope_theta"]
    inv_freq = 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    angles = torch.arange(seq, dtype=torch.float64)[:, None] * inv_freq
    cos, sin = torch.cat([angles.cos()] * 2, -1).to(x.dtype), torch.cat([angles.sin()] * 2, -1).to(x.dtype)

    def rotate(t):
        half = t.shape[-1] // 2
        return t * cos + torch.cat([-t[..., half:], t[..., :half]], -1) * sin

    q, k = rotate(q), rotate(k)
    k, v = k.repeat_interleave(heads // kv_heads, 1), v.repeat_interleave(heads // kv_heads, 1)
    i, j = torch.arange(seq)[:, None], torch.arange(seq)[None, :]
    visible = (j <= i) & (j > i - config.sliding_window)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(dim)
    attn = torch.softmax(scores.masked_fill(~visible, float("-inf")), -1) @ v
    hidden = x + attn.transpose(1, 2).reshape(batch, seq, heads * dim) @ p["self_attn.o_proj.weight"].T
    return hidden + mlp(rms_norm(hidden, p["pre_ff_layernorm.weight"], config.rms_norm_eps), p, "mlp.")


@pytest.mark.parametrize("layer_idx", [0, 1])
def test_one_layer_of_each_type_equals_torch(layer_idx):
    """A layer of the tiny preset (0: Mamba, 1: attention with a window of 16) over 40 positions."""
    axon.manual_seed(1)
    config = HydraConfig(**HydraForCausalLM.presets["tiny"])
    layer = HydraDecoderLayer(config, layer_idx, 0).to(dtype=axon.float64)
    x = np.random.default_rng(2).standard_normal((2, 40, config.hidden_size))
    weight = np.random.default_rng(3).standard_normal(x.shape)
    ours_x = Variable(axon.tensor(x), requires_grad=True)
    # RoPE tables in float64 on both sides (the model's own are float32, as transformers' are).
    dim = config.head_dim
    angles = np.arange(40)[:, None] / config.rope_parameters["rope_theta"] ** (np.arange(0, dim, 2) / dim)
    inputs = AttentionInputs(np.arange(40), cos=axon.tensor(np.cos(angles)), sin=axon.tensor(np.sin(angles)))
    out = layer(ours_x, inputs)
    (out * Variable(axon.tensor(weight))).sum().backward()

    params = {name: torch.tensor(p.detach().numpy(), requires_grad=True) for name, p in layer.named_parameters()}
    torch_x = torch.tensor(x, requires_grad=True)
    reference = torch_mamba_layer if config.layer_types[layer_idx] == "mamba" else torch_attention_layer
    want = reference(torch_x, params, config)
    (want * torch.tensor(weight)).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours_x.grad.numpy(), torch_x.grad.numpy(), rtol=1e-9, atol=1e-10)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), params[name].grad.numpy(), rtol=1e-9, atol=1e-10, err_msg=name)


CORPUS = (
    b"the quick brown fox jumps over the lazy dog; a state space remembers,"
    b" a window of attention looks back a little way."
)
OVERFIT_LOSS = 0.1


def test_tiny_hydra_overfits_a_small_corpus():
    """Bytes as tokens, 32-byte windows of a 116-byte text, 50 AdamW steps: the loss falls below 0.1
    (0.054 measured)."""
    axon.manual_seed(0)
    model = HydraForCausalLM.from_preset("tiny")
    data = np.frombuffer(CORPUS, dtype=np.uint8).astype(np.int64)
    rows = np.stack([data[s : s + 32] for s in range(0, len(data) - 32, 14)])
    ids = axon.tensor(rows)
    optimizer = axon_optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    first = None
    for _ in range(50):
        loss = model.loss(ids)
        first = float(loss.item()) if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    final = float(model.loss(ids).item())
    assert first > 5.0 and final < OVERFIT_LOSS, (first, final)
