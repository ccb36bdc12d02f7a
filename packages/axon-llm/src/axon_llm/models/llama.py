"""LLaMA (Touvron et al. 2023) as HF's ``LlamaForCausalLM``: RMSNorm, RoPE (with llama3 scaling),
grouped-query attention, a SwiGLU MLP; parameter names and numbers as ``transformers``'."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from axon_nn import Embedding, Linear, Module, ModuleList, RMSNorm, init

from ..blocks.attention import AttentionInputs, SelfAttention
from ..blocks.mlp import GatedMLP
from ..blocks.rope import RopeTable
from ..config import LLMConfig, rope_parameters_of
from ..modeling import CausalLM, PreTrainedModel

__all__ = ["PRESETS", "LlamaConfig", "LlamaDecoderLayer", "LlamaForCausalLM", "LlamaModel"]

_LLAMA2 = {"vocab_size": 32000, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5}
# Config kwargs of the published shapes (Meta's params.json, as HF's config.json).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "vocab_size": 256,
        "hidden_size": 64,
        "intermediate_size": 172,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 256,
    },
    "llama2_7b": {
        **_LLAMA2,
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
    },
    "llama2_13b": {
        **_LLAMA2,
        "hidden_size": 5120,
        "intermediate_size": 13824,
        "num_hidden_layers": 40,
        "num_attention_heads": 40,
    },
    "llama3_8b": {
        "vocab_size": 128256,
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "max_position_embeddings": 8192,
        "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0,
        "bos_token_id": 128000,
        "eos_token_id": 128001,
    },
}


@dataclasses.dataclass
class LlamaConfig(LLMConfig):
    """HF ``LlamaConfig``'s fields and defaults (LLaMA-2 7B's shape)."""

    model_type: ClassVar[str] = "llama"
    architectures: ClassVar[tuple[str, ...]] = ("LlamaForCausalLM",)

    intermediate_size: int = 11008
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    hidden_act: str = "silu"
    rms_norm_eps: float = 1e-6
    rope_parameters: dict[str, Any] | None = None
    attention_bias: bool = False
    attention_dropout: float = 0.0
    mlp_bias: bool = False

    def __post_init__(self, rope_theta: float | None = None, rope_scaling: dict | None = None) -> None:
        super().__post_init__(rope_theta, rope_scaling)
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        self.rope_parameters = rope_parameters_of(self)
        self.extra.pop("rope_theta", None)
        self.extra.pop("rope_scaling", None)


class LlamaDecoderLayer(Module):
    """``x + attn(norm(x))``, then ``x + mlp(norm(x))``: ``[B, S, hidden] -> [B, S, hidden]``."""

    def __init__(self, config: LlamaConfig, layer_idx: int, sliding_window: int | None = None) -> None:
        super().__init__()
        self.self_attn = SelfAttention(
            config.hidden_size,
            config.num_attention_heads,
            config.num_key_value_heads,
            config.head_dim,
            layer_idx,
            bias=config.attention_bias,
            sliding_window=sliding_window,
        )
        self.mlp = GatedMLP(config.hidden_size, config.intermediate_size, config.hidden_act, config.mlp_bias)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        hidden = hidden + self.self_attn(self.input_layernorm(hidden), inputs)
        return hidden + self.mlp(self.post_attention_layernorm(hidden))


class LlamaModel(PreTrainedModel):
    """The decoder stack: ``input_ids [B, S]`` -> final hidden states ``[B, S, hidden]``."""

    config_class = LlamaConfig
    ignored_on_load = ("rotary_emb.inv_freq",)
    layer_class: ClassVar[type[Module]] = LlamaDecoderLayer

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        self.embed_tokens = Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.layers = ModuleList([self.make_layer(config, i) for i in range(config.num_hidden_layers)])
        self.norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rope = RopeTable(config.head_dim, config.rope_parameters)
        self.init_weights()

    def make_layer(self, config: LlamaConfig, layer_idx: int) -> Module:
        return self.layer_class(config, layer_idx)

    def forward(self, input_ids: Any, attention_mask: Any = None, position_ids: Any = None, cache: Any = None) -> Any:
        hidden = self.embed_tokens(input_ids)
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
        return self.norm(hidden)


class LlamaForCausalLM(CausalLM):
    """``model`` (:class:`LlamaModel`) plus ``lm_head``: ``input_ids [B, S]`` -> logits ``[B, S, vocab]``."""

    config_class = LlamaConfig
    presets = PRESETS
    base_model_class: ClassVar[type[PreTrainedModel]] = LlamaModel
    tied_weights = {"lm_head.weight": "model.embed_tokens.weight"}
    ignored_on_load = ("rotary_emb.inv_freq",)

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        self.model = self.base_model_class(config)
        self.lm_head = Linear(config.hidden_size, config.vocab_size, bias=False)
        init.normal_(self.lm_head.weight, 0.0, config.initializer_range)
        self.tie_weights()

    def forward(self, input_ids: Any, attention_mask: Any = None, position_ids: Any = None, cache: Any = None) -> Any:
        return self.lm_head(self.model(input_ids, attention_mask, position_ids, cache))
