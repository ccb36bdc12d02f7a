"""The training demo (examples/train_llm.py) learns, matches PyTorch, and resumes bit for bit.

- The loop against PyTorch: the tiny LLaMA written here in ``torch.nn`` (checked first against
  ``transformers``' LlamaForCausalLM on the same weights), started from the axon model's initial
  weights and trained on the same batches with ``torch.optim.AdamW``, PyTorch's
  ``SequentialLR(LinearLR, CosineAnnealingLR)`` and ``clip_grad_norm_``, gives the same loss at
  every one of the first 50 steps within LOSS_TOLERANCE.
- Learning: the tiny size trained for LEARN_STEPS steps on the standard-library corpus gets a
  validation perplexity below PERPLEXITY_FRACTION of the unigram baseline of the same tokenizer,
  and its Q8_0 GGUF decodes greedily as the float model for as many tokens as their argmaxes agree.
- Resume: a run stopped after k steps and resumed ends with the same parameter bytes and loss
  history as the run that never stopped.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.slow, pytest.mark.torch]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

from llm_demo.corpus import load_corpus  # noqa: E402
from llm_demo.data import WindowSampler  # noqa: E402
from llm_demo.sizes import model_config  # noqa: E402
from llm_demo.tokenizer import END_OF_TEXT, encode_documents, train_tokenizer  # noqa: E402
from llm_demo.training import RunConfig, Trainer  # noqa: E402

# Float32 in both frameworks, different summation orders (flash attention's blockwise softmax, the
# BLAS's blocking): the losses of the first 50 steps differ by at most 1.9e-7 relative here (both
# paths); the bound leaves room for other CPUs' kernels.
LOSS_TOLERANCE = 1e-5
CURVE_STEPS = 50
LEARN_STEPS = 300
PERPLEXITY_FRACTION = 0.5
CORPUS_CHARS = 300_000


def _train_llm():
    spec = importlib.util.spec_from_file_location("train_llm", EXAMPLES / "train_llm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    # Tiny matrices on a shared 2-core machine: OpenBLAS's and PyTorch's spinning threads only slow them down.
    from threadpoolctl import threadpool_limits

    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(torch_threads)


@pytest.fixture(scope="module")
def data():
    corpus = load_corpus(max_chars=CORPUS_CHARS)
    tokenizer = train_tokenizer(corpus.train, 512)
    return tokenizer, encode_documents(tokenizer, corpus.train), encode_documents(tokenizer, corpus.validation)


# -- the PyTorch twin of axon-llm's LLaMA, written from the LLaMA paper / HF's modeling_llama --------------


class TorchRMSNorm(torch.nn.Module):
    def __init__(self, size: int, eps: float) -> None:
        super().__init__()
        self.weight, self.eps = torch.nn.Parameter(torch.ones(size)), eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def _rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class TorchAttention(torch.nn.Module):
    def __init__(self, cfg) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        hidden = cfg.hidden_size
        self.q_proj = torch.nn.Linear(hidden, self.heads * self.head_dim, bias=False)
        self.k_proj = torch.nn.Linear(hidden, self.kv_heads * self.head_dim, bias=False)
        self.v_proj = torch.nn.Linear(hidden, self.kv_heads * self.head_dim, bias=False)
        self.o_proj = torch.nn.Linear(self.heads * self.head_dim, hidden, bias=False)

    def forward(self, x, cos, sin):
        batch, seq, _ = x.shape
        q = self.q_proj(x).view(batch, seq, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin
        groups = self.heads // self.kv_heads
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        causal = torch.ones(seq, seq, dtype=torch.bool).tril()
        weights = scores.masked_fill(~causal, float("-inf")).softmax(-1)
        return self.o_proj((weights @ v).transpose(1, 2).reshape(batch, seq, -1))


class TorchLayer(torch.nn.Module):
    def __init__(self, cfg) -> None:
        super().__init__()
        self.self_attn = TorchAttention(cfg)
        self.mlp = torch.nn.Module()
        self.mlp.gate_proj = torch.nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.mlp.up_proj = torch.nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.mlp.down_proj = torch.nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)
        self.input_layernorm = TorchRMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = TorchRMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        h = self.post_attention_layernorm(x)
        return x + self.mlp.down_proj(torch.nn.functional.silu(self.mlp.gate_proj(h)) * self.mlp.up_proj(h))


class TorchLlama(torch.nn.Module):
    """``input_ids [B, S]`` -> logits ``[B, S, V]``; parameter names as HF's LlamaForCausalLM."""

    def __init__(self, cfg) -> None:
        super().__init__()
        self.model = torch.nn.Module()
        self.model.embed_tokens = torch.nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.model.layers = torch.nn.ModuleList(TorchLayer(cfg) for _ in range(cfg.num_hidden_layers))
        self.model.norm = TorchRMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.lm_head = torch.nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        theta = cfg.rope_parameters["rope_theta"]
        self.inv_freq = 1.0 / theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.float32) / cfg.head_dim)

    def forward(self, ids):
        angles = torch.arange(ids.shape[1], dtype=torch.float32)[:, None] * self.inv_freq
        angles = torch.cat((angles, angles), dim=-1)
        cos, sin = angles.cos(), angles.sin()
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.model.norm(x))

    def loss(self, ids):
        logits = self(ids)
        return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def _torch_copy(trainer: Trainer) -> TorchLlama:
    reference = TorchLlama(trainer.model_config)
    state = {name: torch.from_numpy(value.numpy().copy()) for name, value in trainer.model.state_dict().items()}
    missing, unexpected = reference.load_state_dict(state, strict=True)
    assert not missing and not unexpected
    return reference


def _run(data, steps: int, **changes) -> RunConfig:
    tokenizer, _, _ = data
    fields = dict(size="tiny", vocab_size=tokenizer.vocab_size, seq_len=64, batch=8, steps=steps, lr=3e-3, warmup=5)
    return RunConfig(**{**fields, **changes})


def _trainer(data, run: RunConfig) -> Trainer:
    tokenizer, train_tokens, val_tokens = data
    config = model_config("tiny", tokenizer.vocab_size, run.seq_len, tokenizer.token_to_id(END_OF_TEXT))
    return Trainer(run, config, train_tokens, val_tokens)


def test_torch_twin_is_transformers_llama(data) -> None:
    # The reference is only as good as its own check: HF's LlamaForCausalLM on the same weights.
    from transformers import LlamaConfig as HFLlamaConfig
    from transformers import LlamaForCausalLM as HFLlama

    trainer = _trainer(data, _run(data, 10))
    reference = _torch_copy(trainer)
    hf = HFLlama(HFLlamaConfig(**trainer.model_config.to_dict(), attn_implementation="eager"))
    hf.load_state_dict(reference.state_dict(), strict=True)
    ids = torch.from_numpy(trainer.sampler.next_batch())
    with torch.no_grad():
        ours, theirs = reference(ids), hf(input_ids=ids).logits
    assert torch.allclose(ours, theirs, atol=1e-5, rtol=0), float((ours - theirs).abs().max())


@pytest.mark.parametrize("attention", ["flash", "plain"])
def test_loss_curve_matches_pytorch_for_50_steps(data, attention) -> None:
    run = _run(data, 200, attention=attention)
    trainer = _trainer(data, run)
    reference = _torch_copy(trainer)
    decay = [p for p in reference.parameters() if p.ndim >= 2]
    plain = [p for p in reference.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": run.weight_decay}, {"params": plain, "weight_decay": 0.0}],
        lr=run.lr,
        betas=(run.beta1, run.beta2),
        eps=run.eps,
    )
    schedule = torch.optim.lr_scheduler.SequentialLR(
        optimizer,
        [
            torch.optim.lr_scheduler.LinearLR(optimizer, 1.0 / run.warmup, 1.0, run.warmup),
            torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, run.steps - run.warmup, run.lr * run.min_lr_ratio),
        ],
        milestones=[run.warmup],
    )
    batches = WindowSampler(data[1], run.seq_len, run.batch, seed=run.seed + 1)
    axon_losses, torch_losses, axon_lrs, torch_lrs = [], [], [], []
    for _ in range(CURVE_STEPS):
        axon_losses.append(trainer.train_step().loss)
        axon_lrs.append(trainer.scheduler.get_last_lr()[0])
        ids = torch.from_numpy(batches.next_batch())
        optimizer.zero_grad()
        loss = reference.loss(ids)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(reference.parameters(), run.clip)
        optimizer.step()
        schedule.step()
        torch_losses.append(loss.item())
        torch_lrs.append(schedule.get_last_lr()[0])
    np.testing.assert_allclose(axon_lrs, torch_lrs, rtol=1e-12)
    axon_losses, torch_losses = np.array(axon_losses), np.array(torch_losses)
    assert torch_losses[-1] < torch_losses[0] - 1.0, torch_losses  # the curve is a learning curve
    np.testing.assert_allclose(axon_losses, torch_losses, rtol=LOSS_TOLERANCE)


@pytest.mark.parametrize("attention", ["flash", "plain"])
def test_activation_checkpointing_gives_the_same_bits(data, attention) -> None:
    # The backward recomputes each layer with the same ops on the same inputs (and on the same
    # attention path as the forward, which the layer sets again): the same bits.
    plain = _trainer(data, _run(data, 20, attention=attention))
    checkpointed = _trainer(data, _run(data, 20, attention=attention, activation_checkpointing=True))
    for _ in range(4):
        assert checkpointed.train_step().loss == plain.train_step().loss
    for (name, a), (_, b) in zip(plain.model.state_dict().items(), checkpointed.model.state_dict().items()):
        assert a.numpy().tobytes() == b.numpy().tobytes(), name


def test_cuda_sim_steps_match_the_cpu(data) -> None:
    # cuda-sim runs the CUDA backend's kernels (fused AdamW, flash attention, norms, cross-entropy)
    # on the CPU; against the CPU backend they differ only in float32 rounding.
    cpu = _trainer(data, _run(data, 20))
    sim = Trainer(cpu.run, cpu.model_config, data[1], data[2], device="cuda-sim")
    cpu_losses = [cpu.train_step().loss for _ in range(3)]
    sim_losses = [sim.train_step().loss for _ in range(3)]
    np.testing.assert_allclose(sim_losses, cpu_losses, rtol=1e-5)
    for (name, a), (_, b) in zip(cpu.model.state_dict().items(), sim.model.state_dict().items()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=0, atol=1e-5, err_msg=name)


def test_progress_and_monitor_show_the_run(data) -> None:
    # The live TrainingMonitor (its JSON endpoint, as the browser page polls it) gets every step and
    # every evaluation, with the trainer's numbers; the rich bar ends at the last step.
    import json
    import urllib.request

    from llm_demo.progress import TrainingDisplay
    from llm_demo.training import fit
    from rich.console import Console

    from axon import TrainingMonitor

    trainer = _trainer(data, _run(data, 12))
    with TrainingMonitor("test", trainer.model.num_parameters()).total_epochs(3).launch() as monitor:
        console = Console(record=True, width=160)
        display = TrainingDisplay(12, 0, trainer.run.tokens_per_step, monitor, console)
        with display:
            fit(trainer, None, 4, 0, on_step=display.on_step, on_eval=display.on_eval)
        with urllib.request.urlopen(monitor.url + "api/metrics", timeout=10) as response:
            served = json.load(response)
    assert [s["step"] for s in served["steps"]] == list(range(1, 13))
    assert [s["loss"] for s in served["steps"]] == pytest.approx(trainer.state.loss_history, rel=1e-6)
    assert [e["val_loss"] for e in served["epochs"]] == pytest.approx(trainer.state.metric_histories["val_loss"])
    assert all(s["extras"]["tokens_per_s"] > 0 for s in served["steps"])
    text = console.export_text()
    assert "12/12" in text and text.count("val loss") == 3, text


def test_tiny_model_learns_and_its_gguf_decodes_like_it(tmp_path) -> None:
    summary = _train_llm().main(
        ["--size", "tiny", "--steps", str(LEARN_STEPS), "--max-corpus-chars", str(CORPUS_CHARS), "--threads", "1"]
        + ["--eval-every", "100", "--checkpoint-every", "0", "--out", str(tmp_path), "--greedy-tokens", "24"]
        + ["--prompt", "    def __init__(self"]
    )
    assert summary["status"] == "done" and summary["steps"] == LEARN_STEPS
    assert summary["perplexity_ratio"] < PERPLEXITY_FRACTION, summary["perplexity_ratio"]
    history = list(summary["val_history"].values())
    assert history == sorted(history, reverse=True), history  # validation loss falls at every evaluation
    # The greedy text is not one token repeated, so agreeing on it means something.
    assert len(set(summary["greedy"]["tokens"])) >= 8, summary["greedy"]
    for fmt in ("q8_0", "q4_0"):
        info = summary["gguf"][fmt]
        assert (tmp_path / f"model-{fmt}.gguf").is_file()
        assert info["cli_follows"], info
    assert summary["gguf"]["q8_0"]["agreeing"] >= 8, summary["gguf"]


def test_resumed_run_ends_bit_for_bit_like_the_uninterrupted_run(tmp_path) -> None:
    train_llm = _train_llm()
    common = ["--size", "tiny", "--steps", "24", "--max-corpus-chars", "120000", "--eval-every", "5"]
    common += ["--checkpoint-every", "5", "--no-export"]
    straight = train_llm.main(common + ["--out", str(tmp_path / "straight")])
    stopped = train_llm.main(common + ["--out", str(tmp_path / "resumed"), "--stop-after", "13"])
    assert stopped["status"] == "stopped" and stopped["steps"] == 13
    resumed = train_llm.main(common + ["--out", str(tmp_path / "resumed"), "--resume"])
    assert resumed["status"] == "done" and resumed["steps"] == 24 and resumed["resumed_from"] == 13
    with pytest.raises(ValueError, match="another run.*steps: checkpoint 24, now 30"):
        train_llm.main(common[:2] + ["--steps", "30"] + common[4:] + ["--out", str(tmp_path / "resumed"), "--resume"])
    assert resumed["loss_history"] == straight["loss_history"]
    assert resumed["val_history"] == straight["val_history"]

    from safetensors.numpy import load_file

    straight_weights = load_file(tmp_path / "straight" / "model" / "model.safetensors")
    resumed_weights = load_file(tmp_path / "resumed" / "model" / "model.safetensors")
    assert straight_weights.keys() == resumed_weights.keys()
    for name, value in straight_weights.items():
        assert value.tobytes() == resumed_weights[name].tobytes(), name
