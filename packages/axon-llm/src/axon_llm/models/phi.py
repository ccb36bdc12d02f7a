"""Phi (phi-1, phi-1.5, phi-2; Gunasekar et al. 2023) and Phi-3 (Abdin et al. 2024) as HF's
``PhiForCausalLM`` and ``Phi3ForCausalLM``.

Phi runs attention and the MLP in parallel off one LayerNorm (``x + attn(ln(x)) + mlp(ln(x))``),
rotates only the first ``partial_rotary_factor`` of each head's features, uses biased q/k/v and a
``dense`` output projection, a GELU (``gelu_new``) MLP ``fc1``/``fc2``, a ``final_layernorm`` and a
biased ``lm_head``. Phi-3 is LLaMA-shaped (RMSNorm, SwiGLU) with fused projections — ``qkv_proj``
(queries, keys, values stacked) and ``gate_up_proj`` (gate, up) — and an optional sliding window.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from axon_nn import Embedding, LayerNorm, Linear, Module, ModuleList, RMSNorm, init
from axon_nn import functional as F

from ..blocks.attention import AttentionInputs
from ..blocks.mlp import activation
from ..blocks.rope import RopeTable
from ..config import LLMConfig, rope_parameters_of
from ..errors import LLMError
from ..modeling import CausalLM, PreTrainedModel
from .mistral import MistralConfig, MistralForCausalLM, MistralModel

__all__ = [
    "PHI3_PRESETS",
    "PRESETS",
    "Phi3Attention",
    "Phi3Config",
    "Phi3DecoderLayer",
    "Phi3ForCausalLM",
    "Phi3MLP",
    "Phi3Model",
    "PhiAttention",
    "PhiConfig",
    "PhiDecoderLayer",
    "PhiForCausalLM",
    "PhiMLP",
    "PhiModel",
]

_PHI = {"vocab_size": 51200, "max_position_embeddings": 2048, "bos_token_id": 50256, "eos_token_id": 50256}
# Config kwargs of the published shapes (the config.json of microsoft's HF repositories).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "vocab_size": 256,
        "hidden_size": 64,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": 256,
        "partial_rotary_factor": 0.5,
    },
    "phi1": {
        **_PHI,
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 24,
        "num_attention_heads": 32,
        "partial_rotary_factor": 0.5,
    },
    "phi2": {
        **_PHI,
        "hidden_size": 2560,
        "intermediate_size": 10240,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "partial_rotary_factor": 0.4,
        "resid_pdrop": 0.1,
    },
}
PHI3_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "vocab_size": 256,
        "hidden_size": 64,
        "intermediate_size": 172,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 256,
        "original_max_position_embeddings": 256,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 0,
    },
    # Phi-3-mini-4k-instruct.
    "phi3_mini": {
        "vocab_size": 32064,
        "hidden_size": 3072,
        "intermediate_size": 8192,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
        "max_position_embeddings": 4096,
        "original_max_position_embeddings": 4096,
        "sliding_window": 2047,
        "bos_token_id": 1,
        "eos_token_id": 32000,
        "pad_token_id": 32000,
    },
}


def _rotary_settings(config: Any, default_factor: float) -> None:
    """Fill ``rope_parameters`` (with ``partial_rotary_factor``, which transformers 5 keeps there and
    older configs at the top level; the former wins, as in transformers) and check the rotary width."""
    config.rope_parameters = rope_parameters_of(config)
    config.extra.pop("rope_theta", None)
    config.extra.pop("rope_scaling", None)
    factor = config.partial_rotary_factor if config.partial_rotary_factor is not None else default_factor
    factor = float(config.rope_parameters.setdefault("partial_rotary_factor", factor))
    if not 0.0 < factor <= 1.0:
        raise LLMError(f"{type(config).__name__}: partial_rotary_factor must be in (0, 1], got {factor}")
    config.partial_rotary_factor = factor
    if config.rotary_dim < 2 or config.rotary_dim % 2:
        raise LLMError(
            f"{type(config).__name__}: head_dim {config.head_dim} x partial_rotary_factor {factor} gives "
            f"{config.rotary_dim} rotary features; RoPE needs a positive even number"
        )


@dataclasses.dataclass
class PhiConfig(LLMConfig):
    """HF ``PhiConfig``'s fields and defaults (phi-1's shape)."""

    model_type: ClassVar[str] = "phi"
    architectures: ClassVar[tuple[str, ...]] = ("PhiForCausalLM",)

    vocab_size: int = 51200
    hidden_size: int = 2048
    intermediate_size: int = 8192
    num_hidden_layers: int = 24
    num_attention_heads: int = 32
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    resid_pdrop: float = 0.0
    embd_pdrop: float = 0.0
    attention_dropout: float = 0.0
    hidden_act: str = "gelu_new"
    layer_norm_eps: float = 1e-5
    rope_parameters: dict[str, Any] | None = None
    partial_rotary_factor: float | None = None
    qk_layernorm: bool = False

    def __post_init__(self, rope_theta: float | None = None, rope_scaling: dict | None = None) -> None:
        super().__post_init__(rope_theta, rope_scaling)
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        _rotary_settings(self, 0.5)

    @property
    def rotary_dim(self) -> int:
        """Features of each head that RoPE rotates (``int(head_dim · partial_rotary_factor)``, as HF)."""
        return int(self.head_dim * self.partial_rotary_factor)


def _heads(x: Any, heads: int, head_dim: int) -> Any:
    """``[B, S, heads·head_dim] -> [B, heads, S, head_dim]``."""
    batch, seq, _ = x.shape
    return x.reshape(batch, seq, heads, head_dim).transpose(1, 2)


class PhiAttention(Module):
    """Phi's attention: biased ``q_proj``/``k_proj``/``v_proj``, optional per-head ``q_layernorm`` /
    ``k_layernorm`` (``qk_layernorm``), partial RoPE, GQA, and the biased ``dense`` output.
    ``[B, S, hidden] -> [B, S, hidden]``."""

    def __init__(self, config: PhiConfig, layer_idx: int) -> None:
        super().__init__()
        self.num_heads, self.num_kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim, self.layer_idx = config.head_dim, layer_idx
        if self.num_heads % self.num_kv_heads:
            raise LLMError(f"PhiAttention: {self.num_heads} query heads are not a multiple of {self.num_kv_heads}")
        self.q_proj = Linear(config.hidden_size, self.num_heads * self.head_dim)
        self.k_proj = Linear(config.hidden_size, self.num_kv_heads * self.head_dim)
        self.v_proj = Linear(config.hidden_size, self.num_kv_heads * self.head_dim)
        self.dense = Linear(self.num_heads * self.head_dim, config.hidden_size)
        self.qk_layernorm = config.qk_layernorm
        if self.qk_layernorm:
            self.q_layernorm = LayerNorm(self.head_dim, eps=config.layer_norm_eps)
            self.k_layernorm = LayerNorm(self.head_dim, eps=config.layer_norm_eps)

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        query = _heads(self.q_proj(hidden), self.num_heads, self.head_dim)
        key = _heads(self.k_proj(hidden), self.num_kv_heads, self.head_dim)
        value = _heads(self.v_proj(hidden), self.num_kv_heads, self.head_dim)
        if self.qk_layernorm:
            query, key = self.q_layernorm(query), self.k_layernorm(key)
        query, key = inputs.rotate(query), inputs.rotate(key)
        return self.dense(inputs.attend(query, key, value, self.layer_idx))


class PhiMLP(Module):
    """``fc2(act(fc1(x)))`` with biases: ``[*, hidden] -> [*, hidden]``."""

    def __init__(self, config: PhiConfig) -> None:
        super().__init__()
        self.act = activation(config.hidden_act)
        self.fc1 = Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x: Any) -> Any:
        return self.fc2(self.act(self.fc1(x)))


class PhiDecoderLayer(Module):
    """The parallel block ``attn(ln(x)) + mlp(ln(x)) + x`` (one ``input_layernorm``):
    ``[B, S, hidden] -> [B, S, hidden]``; ``resid_pdrop`` drops both branches in training."""

    def __init__(self, config: PhiConfig, layer_idx: int) -> None:
        super().__init__()
        self.resid_pdrop = config.resid_pdrop
        self.self_attn = PhiAttention(config, layer_idx)
        self.mlp = PhiMLP(config)
        self.input_layernorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        normed = self.input_layernorm(hidden)
        attended = F.dropout(self.self_attn(normed, inputs), self.resid_pdrop, self.training)
        fed = F.dropout(self.mlp(normed), self.resid_pdrop, self.training)
        return attended + fed + hidden


class PhiModel(PreTrainedModel):
    """The decoder stack: ``input_ids [B, S]`` -> ``final_layernorm`` hidden states ``[B, S, hidden]``."""

    config_class = PhiConfig
    ignored_on_load = ("rotary_emb.inv_freq",)

    def __init__(self, config: PhiConfig) -> None:
        super().__init__(config)
        self.embed_tokens = Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.layers = ModuleList([PhiDecoderLayer(config, i) for i in range(config.num_hidden_layers)])
        self.final_layernorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.rope = RopeTable(config.rotary_dim, config.rope_parameters)
        self.init_weights()

    def forward(self, input_ids: Any, attention_mask: Any = None, position_ids: Any = None, cache: Any = None) -> Any:
        hidden = F.dropout(self.embed_tokens(input_ids), self.config.embd_pdrop, self.training)
        inputs = AttentionInputs.build(
            tuple(input_ids.shape),
            attention_mask,
            position_ids,
            cache,
            self.rope,
            hidden.device,
            dropout_p=self.config.attention_dropout if self.training else 0.0,
        )
        for layer in self.layers:
            hidden = layer(hidden, inputs)
        if cache is not None:
            cache.advance(int(input_ids.shape[1]))
        return self.final_layernorm(hidden)


class PhiForCausalLM(CausalLM):
    """``model`` (:class:`PhiModel`) plus a biased ``lm_head``: ``input_ids [B, S]`` -> logits ``[B, S, vocab]``."""

    config_class = PhiConfig
    presets = PRESETS
    tied_weights = {"lm_head.weight": "model.embed_tokens.weight"}
    ignored_on_load = ("rotary_emb.inv_freq",)

    def __init__(self, config: PhiConfig) -> None:
        super().__init__(config)
        self.model = PhiModel(config)
        self.lm_head = Linear(config.hidden_size, config.vocab_size)
        init.normal_(self.lm_head.weight, 0.0, config.initializer_range)
        init.zeros_(self.lm_head.bias)
        self.tie_weights()

    def forward(self, input_ids: Any, attention_mask: Any = None, position_ids: Any = None, cache: Any = None) -> Any:
        return self.lm_head(self.model(input_ids, attention_mask, position_ids, cache))


@dataclasses.dataclass
class Phi3Config(MistralConfig):
    """HF ``Phi3Config``'s fields and defaults (Phi-3-mini's shape). RoPE ``longrope`` (the 128k
    models) is not supported: building such a model raises :class:`LLMError`."""

    model_type: ClassVar[str] = "phi3"
    architectures: ClassVar[tuple[str, ...]] = ("Phi3ForCausalLM",)

    vocab_size: int = 32064
    hidden_size: int = 3072
    intermediate_size: int = 8192
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int | None = None
    max_position_embeddings: int = 4096
    rms_norm_eps: float = 1e-5
    bos_token_id: int | None = 1
    eos_token_id: int | list[int] | None = 32000
    pad_token_id: int | None = 32000
    sliding_window: int | None = None
    original_max_position_embeddings: int = 4096
    resid_pdrop: float = 0.0
    embd_pdrop: float = 0.0
    partial_rotary_factor: float | None = None

    def __post_init__(self, rope_theta: float | None = None, rope_scaling: dict | None = None) -> None:
        super().__post_init__(rope_theta, rope_scaling)
        _rotary_settings(self, 1.0)

    @property
    def rotary_dim(self) -> int:
        """Features of each head that RoPE rotates (``int(head_dim · partial_rotary_factor)``, as HF)."""
        return int(self.head_dim * self.partial_rotary_factor)


class Phi3Attention(Module):
    """Phi-3's attention: one fused ``qkv_proj`` (queries, then keys, then values), RoPE, GQA, an
    optional sliding window, ``o_proj``; no biases. ``[B, S, hidden] -> [B, S, hidden]``."""

    def __init__(self, config: Phi3Config, layer_idx: int, sliding_window: int | None = None) -> None:
        super().__init__()
        self.num_heads, self.num_kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim, self.layer_idx, self.sliding_window = config.head_dim, layer_idx, sliding_window
        if self.num_heads % self.num_kv_heads:
            raise LLMError(f"Phi3Attention: {self.num_heads} query heads are not a multiple of {self.num_kv_heads}")
        fused = (self.num_heads + 2 * self.num_kv_heads) * self.head_dim
        self.qkv_proj = Linear(config.hidden_size, fused, bias=False)
        self.o_proj = Linear(self.num_heads * self.head_dim, config.hidden_size, bias=False)

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        qkv = self.qkv_proj(hidden)
        queries, kv = self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        query = _heads(qkv[..., :queries], self.num_heads, self.head_dim)
        key = _heads(qkv[..., queries : queries + kv], self.num_kv_heads, self.head_dim)
        value = _heads(qkv[..., queries + kv :], self.num_kv_heads, self.head_dim)
        query, key = inputs.rotate(query), inputs.rotate(key)
        return self.o_proj(inputs.attend(query, key, value, self.layer_idx, self.sliding_window))


class Phi3MLP(Module):
    """``down_proj(up · act(gate))`` with ``gate, up = gate_up_proj(x)`` halves: ``[*, hidden] -> [*, hidden]``."""

    def __init__(self, config: Phi3Config) -> None:
        super().__init__()
        self.act = activation(config.hidden_act)
        self.gate_up_proj = Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.down_proj = Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x: Any) -> Any:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(up * self.act(gate))


class Phi3DecoderLayer(Module):
    """``x + drop(attn(norm(x)))``, then ``x + drop(mlp(norm(x)))`` (``resid_pdrop`` in training):
    ``[B, S, hidden] -> [B, S, hidden]``."""

    def __init__(self, config: Phi3Config, layer_idx: int, sliding_window: int | None = None) -> None:
        super().__init__()
        self.resid_pdrop = config.resid_pdrop
        self.self_attn = Phi3Attention(config, layer_idx, sliding_window)
        self.mlp = Phi3MLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        attended = self.self_attn(self.input_layernorm(hidden), inputs)
        hidden = hidden + F.dropout(attended, self.resid_pdrop, self.training)
        fed = self.mlp(self.post_attention_layernorm(hidden))
        return hidden + F.dropout(fed, self.resid_pdrop, self.training)


class Phi3Model(MistralModel):
    """Mistral's decoder stack with Phi-3's layers, partial RoPE and embedding dropout (``embd_pdrop``)."""

    config_class = Phi3Config
    layer_class = Phi3DecoderLayer

    def __init__(self, config: Phi3Config) -> None:
        super().__init__(config)
        self.rope = RopeTable(config.rotary_dim, config.rope_parameters)
        if config.embd_pdrop:
            self.embed_tokens.register_forward_hook(self._embedding_dropout)

    def _embedding_dropout(self, embedding: Module, args: tuple, output: Any) -> Any:
        return F.dropout(output, self.config.embd_pdrop, embedding.training)


class Phi3ForCausalLM(MistralForCausalLM):
    """``model`` (:class:`Phi3Model`) plus ``lm_head``: ``input_ids [B, S]`` -> logits ``[B, S, vocab]``."""

    config_class = Phi3Config
    presets = PHI3_PRESETS
    base_model_class = Phi3Model
