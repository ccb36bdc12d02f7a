"""Model presets: a LLaMA shape (axon-llm's ``LlamaConfig``, HF field names) and the batch shape
and learning rate it trains well with on two CPU cores."""

from __future__ import annotations

from dataclasses import dataclass

from axon_llm import LlamaConfig

__all__ = ["SIZES", "ModelSize", "model_config"]


@dataclass(frozen=True)
class ModelSize:
    """A preset: the LLaMA shape, and the defaults of the run (``steps``, ``batch``, ``seq_len``, ``lr``)."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    vocab_size: int
    seq_len: int
    batch: int
    steps: int
    lr: float


SIZES: dict[str, ModelSize] = {
    # ~0.16 M parameters: tests and cuda-sim smoke runs. Row lengths are multiples of 32 (Q8_0/Q4_0 blocks).
    "tiny": ModelSize(64, 2, 4, 2, 192, 512, 64, 8, 200, 3e-3),
    # ~3 M parameters: a quick run.
    "small": ModelSize(192, 4, 6, 2, 512, 2048, 128, 16, 300, 2e-3),
    # ~12.6 M parameters (the seed's 12M LLM): the demo's default.
    "12m": ModelSize(384, 6, 6, 2, 1024, 4096, 128, 8, 300, 1e-3),
}


def model_config(size: str, vocab_size: int, seq_len: int, eos_token_id: int) -> LlamaConfig:
    """The ``LlamaConfig`` of preset ``size`` for a tokenizer of ``vocab_size`` ids and windows of ``seq_len``."""
    if size not in SIZES:
        raise ValueError(f"model_config: unknown size {size!r}; expected one of {', '.join(SIZES)}")
    preset = SIZES[size]
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=preset.hidden_size,
        num_hidden_layers=preset.num_hidden_layers,
        num_attention_heads=preset.num_attention_heads,
        num_key_value_heads=preset.num_key_value_heads,
        intermediate_size=preset.intermediate_size,
        max_position_embeddings=seq_len,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=eos_token_id,
        pad_token_id=None,
    )
