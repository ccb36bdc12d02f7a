"""Hydra: a small hybrid language model whose layers alternate a Mamba (selective state space)
mixer with windowed local attention; every layer then has a SwiGLU MLP.

Layer ``i`` is ``x + mixer(RMSNorm(x))`` then ``x + mlp(RMSNorm(x))``, where the mixer is a
:class:`~axon_llm.models.mamba.MambaMixer` when ``layer_types[i] == "mamba"`` and the shared
:class:`~axon_llm.blocks.SelfAttention` (RoPE, GQA, a causal ``sliding_window``) when it is
``"attention"``. The SSM layers carry long-range context at a fixed cost per token; the attention
layers see exactly the last ``sliding_window`` positions. There is no HF counterpart: the weights
save and load as an HF-style folder (``model_type`` ``hydra``) that axon reads back.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

from axon_autograd import tensor_of
from axon_core import ShapeError
from axon_nn import Embedding, Linear, Module, ModuleList, RMSNorm, init

from ..blocks.attention import AttentionInputs, SelfAttention
from ..blocks.mlp import GatedMLP
from ..blocks.rope import RopeTable
from ..cache import KVCache
from ..config import LLMConfig, rope_parameters_of
from ..errors import LLMError
from ..modeling import CausalLM, PreTrainedModel
from .mamba import MambaCache, MambaMixer, _padding_mask

__all__ = ["PRESETS", "HydraCache", "HydraConfig", "HydraDecoderLayer", "HydraForCausalLM", "HydraModel"]

LAYER_TYPES = ("mamba", "attention")

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "vocab_size": 256,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "sliding_window": 16,
        "state_size": 8,
        "max_position_embeddings": 512,
    },
    "small": {
        "vocab_size": 32000,
        "hidden_size": 512,
        "intermediate_size": 2048,
        "num_hidden_layers": 12,
        "num_attention_heads": 8,
        "sliding_window": 128,
    },
    "base": {
        "vocab_size": 32000,
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 24,
        "num_attention_heads": 12,
        "sliding_window": 256,
    },
}


@dataclasses.dataclass
class HydraConfig(LLMConfig):
    """Hydra's hyper-parameters, named as HF names them in LLaMA (attention, MLP) and Mamba (SSM) configs.

    ``layer_types`` (one of :data:`LAYER_TYPES` per layer) defaults to ``mamba, attention, mamba,
    ...``; the Mamba fields are those of :class:`~axon_llm.MambaConfig` (``intermediate_size`` there
    is ``ssm_expand * hidden_size`` here, ``intermediate_size`` being the MLP's).
    """

    model_type: ClassVar[str] = "hydra"
    architectures: ClassVar[tuple[str, ...]] = ("HydraForCausalLM",)

    vocab_size: int = 32000
    hidden_size: int = 768
    intermediate_size: int = 3072
    num_hidden_layers: int = 24
    num_attention_heads: int = 12
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    sliding_window: int = 256
    max_position_embeddings: int = 4096
    layer_types: list[str] | None = None
    hidden_act: str = "silu"
    rms_norm_eps: float = 1e-6
    rope_parameters: dict[str, Any] | None = None
    attention_bias: bool = False
    state_size: int = 16
    ssm_expand: int = 2
    conv_kernel: int = 4
    time_step_rank: int | str = "auto"
    use_conv_bias: bool = True
    use_bias: bool = False
    tie_word_embeddings: bool = False

    def __post_init__(self, rope_theta: float | None = None, rope_scaling: dict | None = None) -> None:
        super().__post_init__(rope_theta, rope_scaling)
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.time_step_rank == "auto":
            self.time_step_rank = math.ceil(self.hidden_size / 16)
        if self.layer_types is None:
            self.layer_types = [LAYER_TYPES[i % 2] for i in range(self.num_hidden_layers)]
        self.layer_types = list(self.layer_types)
        if len(self.layer_types) != self.num_hidden_layers or not set(self.layer_types) <= set(LAYER_TYPES):
            raise LLMError(
                f"HydraConfig: layer_types must name {self.num_hidden_layers} layers, each one of {LAYER_TYPES}, "
                f"got {self.layer_types}"
            )
        if len(set(self.layer_types)) != len(LAYER_TYPES):
            raise LLMError(f"HydraConfig: a hybrid needs layers of both types {LAYER_TYPES}, got {self.layer_types}")
        for name in ("sliding_window", "state_size", "ssm_expand", "conv_kernel", "time_step_rank"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise LLMError(f"HydraConfig: {name} must be a positive int, got {value!r}")
        self.rope_parameters = rope_parameters_of(self)
        self.extra.pop("rope_theta", None)
        self.extra.pop("rope_scaling", None)

    @property
    def ssm_intermediate_size(self) -> int:
        return self.ssm_expand * self.hidden_size


class HydraCache:
    """The decoding state of a Hydra: a :class:`KVCache` for the attention layers (a ring of
    ``sliding_window`` slots each) and a :class:`MambaCache` for the SSM layers; ``seq_len``,
    ``advance`` and ``reorder`` act on both."""

    def __init__(self, attention: KVCache, ssm: MambaCache) -> None:
        self.attention, self.ssm = attention, ssm

    @property
    def seq_len(self) -> int:
        return self.attention.seq_len

    @property
    def batch_size(self) -> int:
        return self.ssm.batch_size

    def advance(self, seq: int) -> None:
        self.attention.advance(seq)
        self.ssm.advance(seq)

    def reorder(self, index: Any) -> None:
        self.attention.reorder(index)
        self.ssm.reorder(index)


class HydraDecoderLayer(Module):
    """``x + mixer(input_layernorm(x))`` then ``x + mlp(pre_ff_layernorm(x))``; the mixer is
    ``self.mixer`` (Mamba) or ``self.self_attn`` (windowed attention). ``[B, S, hidden]`` in and out."""

    def __init__(self, config: HydraConfig, layer_idx: int, kind_index: int) -> None:
        super().__init__()
        self.layer_type = config.layer_types[layer_idx]
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        if self.layer_type == "mamba":
            self.mixer = MambaMixer(
                config.hidden_size,
                config.ssm_intermediate_size,
                config.state_size,
                config.conv_kernel,
                config.time_step_rank,
                config.use_bias,
                config.use_conv_bias,
                "silu",
                kind_index,
            )
        else:
            self.self_attn = SelfAttention(
                config.hidden_size,
                config.num_attention_heads,
                config.num_key_value_heads,
                config.head_dim,
                kind_index,
                bias=config.attention_bias,
                sliding_window=config.sliding_window,
            )
        self.pre_ff_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.mlp = GatedMLP(config.hidden_size, config.intermediate_size, config.hidden_act)

    def forward(self, hidden: Any, inputs: AttentionInputs, mask: Any = None, cache: HydraCache | None = None) -> Any:
        normed = self.input_layernorm(hidden)
        if self.layer_type == "mamba":
            mixed = self.mixer(normed, mask, None if cache is None else cache.ssm)
        else:
            mixed = self.self_attn(normed, inputs)
        hidden = hidden + mixed
        return hidden + self.mlp(self.pre_ff_layernorm(hidden))


class HydraModel(PreTrainedModel):
    """Embeddings, the hybrid layers and the final norm: ``input_ids [B, S]`` -> ``[B, S, hidden]``."""

    config_class = HydraConfig

    def __init__(self, config: HydraConfig) -> None:
        super().__init__(config)
        self.embed_tokens = Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        counts = {kind: 0 for kind in LAYER_TYPES}
        layers = []
        for i, kind in enumerate(config.layer_types):
            layers.append(HydraDecoderLayer(config, i, counts[kind]))
            counts[kind] += 1
        self.layers = ModuleList(layers)
        self.norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rope = RopeTable(config.head_dim, config.rope_parameters)
        self.init_weights()

    def init_weights(self) -> None:
        """Linear/Embedding ``N(0, initializer_range)`` as the decoders here, then Mamba's own
        initialisation of each SSM mixer (its A, D, dt and Kaiming projections)."""
        super().init_weights()
        for module in self.modules():
            if isinstance(module, MambaMixer):
                module.reset_parameters()

    def forward(
        self, input_ids: Any, attention_mask: Any = None, position_ids: Any = None, cache: HydraCache | None = None
    ) -> Any:
        if len(input_ids.shape) != 2:
            raise ShapeError(f"Hydra: input_ids must be [batch, seq], got {tuple(input_ids.shape)}")
        batch, seq = input_ids.shape
        if cache is not None and cache.batch_size != batch:
            raise ShapeError(f"Hydra: a cache of batch {cache.batch_size} for input_ids {tuple(input_ids.shape)}")
        hidden = self.embed_tokens(input_ids)
        inputs = AttentionInputs.build(
            (batch, seq),
            attention_mask,
            position_ids,
            None if cache is None else cache.attention,
            self.rope,
            hidden.device,
        )
        mask = _padding_mask(attention_mask, batch, seq, hidden)
        for layer in self.layers:
            hidden = layer(hidden, inputs, mask, cache)
        if cache is not None:
            cache.advance(seq)
        return self.norm(hidden)


class HydraForCausalLM(CausalLM):
    """``model`` (:class:`HydraModel`) plus ``lm_head``: ``input_ids [B, S]`` -> logits ``[B, S, vocab]``."""

    config_class = HydraConfig
    presets = PRESETS
    tied_weights = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: HydraConfig) -> None:
        super().__init__(config)
        self.model = HydraModel(config)
        self.lm_head = Linear(config.hidden_size, config.vocab_size, bias=False)
        init.normal_(self.lm_head.weight, 0.0, config.initializer_range)
        self.tie_weights()

    def init_weights(self) -> None:
        self.model.init_weights()
        if not self.config.tie_word_embeddings:
            init.normal_(self.lm_head.weight, 0.0, self.config.initializer_range)

    def new_cache(self, batch_size: int, max_len: int) -> HydraCache:
        """Zero states for the SSM layers and ``sliding_window``-slot rings for the attention layers."""
        config = self.config
        weight = tensor_of(self.lm_head.weight)
        kinds = config.layer_types
        attention = KVCache(
            kinds.count("attention"),
            batch_size,
            config.num_key_value_heads,
            config.head_dim,
            max_len,
            weight.dtype,
            weight.device,
            [config.sliding_window] * kinds.count("attention"),
        )
        ssm = MambaCache(
            kinds.count("mamba"),
            batch_size,
            config.ssm_intermediate_size,
            config.state_size,
            config.conv_kernel,
            weight.dtype,
            weight.device,
            max_len,
        )
        return HydraCache(attention, ssm)

    def forward(self, input_ids: Any, attention_mask: Any = None, position_ids: Any = None, cache: Any = None) -> Any:
        return self.lm_head(self.model(input_ids, attention_mask, position_ids, cache))
