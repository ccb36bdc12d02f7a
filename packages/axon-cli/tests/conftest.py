"""Fixtures of the axon-cli tests: the installed ``axon`` entry point, a tiny llama GGUF written by
gguf-py's GGUFWriter (a SentencePiece-style vocabulary and a chat template) and a tiny HF Llama folder
(axon_llm's ``tiny`` preset saved with a byte-level BPE tokenizer.json)."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

AXON = str(Path(sys.executable).with_name("axon"))
D_MODEL, N_HEADS, N_KV, HEAD_DIM, D_FF, VOCAB = 32, 2, 1, 16, 64, 300
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{{ eos_token }}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def run_axon(*args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 180):
    """``axon ARGS`` in ``cwd``; the CompletedProcess (text)."""
    return subprocess.run([AXON, *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def axon() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_axon


def write_tiny_gguf(path: Path, seed: int = 0) -> Path:
    """A random 1-layer llama (f32): GQA 2 heads / 1 KV head, vocab <unk> <s> </s>, 256 byte tokens,
    then ``\u2581w0``, ``\u2581w1``, ... (so the prompt "w3 w7" is two tokens)."""
    import gguf

    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_context_length(128)
    writer.add_embedding_length(D_MODEL)
    writer.add_feed_forward_length(D_FF)
    writer.add_head_count(N_HEADS)
    writer.add_head_count_kv(N_KV)
    writer.add_rope_freq_base(10000.0)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_layer_norm_rms_eps(1e-5)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tokens += [f"\u2581w{i}" for i in range(VOCAB - len(tokens))]
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([-float(i) for i in range(VOCAB)])
    writer.add_token_types([2, 3, 3] + [6] * 256 + [1] * (VOCAB - 259))
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_chat_template(CHAT_TEMPLATE)

    def matrix(name: str, rows: int, cols: int) -> None:
        writer.add_tensor(name, (rng.standard_normal((rows, cols)) / math.sqrt(cols)).astype(np.float32))

    def vector(name: str, n: int) -> None:
        writer.add_tensor(name, (1.0 + 0.2 * rng.standard_normal(n)).astype(np.float32))

    matrix("token_embd.weight", VOCAB, D_MODEL)
    vector("blk.0.attn_norm.weight", D_MODEL)
    matrix("blk.0.attn_q.weight", N_HEADS * HEAD_DIM, D_MODEL)
    matrix("blk.0.attn_k.weight", N_KV * HEAD_DIM, D_MODEL)
    matrix("blk.0.attn_v.weight", N_KV * HEAD_DIM, D_MODEL)
    matrix("blk.0.attn_output.weight", D_MODEL, N_HEADS * HEAD_DIM)
    vector("blk.0.ffn_norm.weight", D_MODEL)
    matrix("blk.0.ffn_gate.weight", D_FF, D_MODEL)
    matrix("blk.0.ffn_up.weight", D_FF, D_MODEL)
    matrix("blk.0.ffn_down.weight", D_MODEL, D_FF)
    vector("output_norm.weight", D_MODEL)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture
def tiny_gguf(tmp_path: Path) -> Path:
    return write_tiny_gguf(tmp_path / "tiny.gguf")


@pytest.fixture
def hf_llama(tmp_path: Path) -> Path:
    """An HF Llama folder: config.json, model.safetensors and a byte-level BPE tokenizer.json."""
    import axon_tensor
    from axon_llm import LlamaForCausalLM
    from axon_text import BPETokenizer

    folder = tmp_path / "hf-llama"
    corpus = ["hello world, the model writes text", "numbers 123 and words", "a cat sat on the mat"] * 20
    tokenizer = BPETokenizer.train(corpus, vocab_size=280, level="byte", add_bos_eos=True)
    axon_tensor.manual_seed(0)
    LlamaForCausalLM.from_preset("tiny", vocab_size=VOCAB).save_pretrained(folder)
    (folder / "tokenizer.json").write_text(tokenizer.to_str())
    return folder
