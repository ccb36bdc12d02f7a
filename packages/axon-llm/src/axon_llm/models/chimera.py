"""Chimera: a decoder whose layers pair differential attention (Ye et al. 2024) with a top-k routed
sparse mixture of SwiGLU experts (Switch / Mixtral), trained with the load-balancing auxiliary loss.

Each layer is ``x + attn(norm(x))`` then ``x + moe(norm(x))``. The attention is axon-nn's
:class:`~axon_nn.DifferentialAttention` (two softmax maps per head, ``A1 − λ·A2``, per-head RMSNorm,
``λ_init`` by depth) with RoPE on both maps and the shared KV cache; the feed-forward is axon-nn's
:class:`~axon_nn.MoELayer`. There is no HF counterpart: ``model_type`` is ``"chimera"``, and the
parameter names are ours (``model.layers.{i}.self_attn.*``, ``.moe.gate``, ``.moe.experts.{e}.w1/w2/w3``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from axon_nn import DifferentialAttention, Linear, Module, MoELayer, RMSNorm, init
from axon_nn import functional as F

from ..blocks.attention import AttentionInputs
from ..cache import KVCache
from ..config import LLMConfig, rope_parameters_of
from ..errors import LLMError
from ..modeling import CausalLM
from .llama import LlamaModel

__all__ = [
    "PRESETS",
    "ChimeraAttention",
    "ChimeraConfig",
    "ChimeraDecoderLayer",
    "ChimeraForCausalLM",
    "ChimeraModel",
]

# Sizes of the presets (parameters with untied embeddings; active: those one token runs through):
# tiny 0.25M (4 experts, top-2), small 140M (64M active), default_2b 2.04B (0.80B active; 8 experts, top-2).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        num_local_experts=4,
        num_experts_per_tok=2,
        max_position_embeddings=512,
    ),
    "small": dict(
        vocab_size=32000,
        hidden_size=512,
        intermediate_size=1024,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=4,
        num_local_experts=8,
        num_experts_per_tok=2,
        max_position_embeddings=2048,
    ),
    "default_2b": dict(
        vocab_size=32000,
        hidden_size=2048,
        intermediate_size=1408,
        num_hidden_layers=24,
        num_attention_heads=16,
        num_key_value_heads=4,
        num_local_experts=8,
        num_experts_per_tok=2,
        max_position_embeddings=4096,
    ),
}


@dataclasses.dataclass
class ChimeraConfig(LLMConfig):
    """Chimera's hyper-parameters; the MoE fields carry Mixtral's ``config.json`` names.

    ``num_attention_heads`` counts differential heads: each has two query/key maps of
    ``head_dim = hidden_size / num_attention_heads / 2`` and one value of ``2·head_dim``.
    ``intermediate_size`` is one expert's hidden width. ``router_aux_loss_coef`` weighs the
    load-balancing loss in :meth:`ChimeraForCausalLM.loss`. ``capacity_factor`` (None: no token is
    dropped) caps each expert's assignments per forward; with it set, a token's output depends on
    the other tokens of the batch, so incremental decoding no longer equals the full forward.
    """

    model_type: ClassVar[str] = "chimera"
    architectures: ClassVar[tuple[str, ...]] = ("ChimeraForCausalLM",)

    vocab_size: int = 32000
    hidden_size: int = 2048
    intermediate_size: int = 1408
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    num_key_value_heads: int | None = None
    num_local_experts: int = 8
    num_experts_per_tok: int = 2
    norm_topk_prob: bool = True
    capacity_factor: float | None = None
    router_aux_loss_coef: float = 0.01
    rms_norm_eps: float = 1e-5
    rope_parameters: dict[str, Any] | None = None
    attention_dropout: float = 0.0

    def __post_init__(self, rope_theta: float | None = None, rope_scaling: dict | None = None) -> None:
        super().__post_init__(rope_theta, rope_scaling)
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.hidden_size % (2 * self.num_attention_heads):
            raise LLMError(
                f"ChimeraConfig: hidden_size {self.hidden_size} must be a multiple of 2 * num_attention_heads "
                f"({2 * self.num_attention_heads}): each differential head has two maps"
            )
        if self.num_attention_heads % self.num_key_value_heads:
            raise LLMError(
                f"ChimeraConfig: num_attention_heads {self.num_attention_heads} is not a multiple of "
                f"num_key_value_heads {self.num_key_value_heads}"
            )
        if not 1 <= self.num_experts_per_tok <= self.num_local_experts:
            raise LLMError(
                f"ChimeraConfig: num_experts_per_tok {self.num_experts_per_tok} must be in [1, num_local_experts="
                f"{self.num_local_experts}]"
            )
        self.rope_parameters = rope_parameters_of(self)
        self.extra.pop("rope_theta", None)
        self.extra.pop("rope_scaling", None)

    @property
    def head_dim(self) -> int:
        """One score map's query/key width: ``hidden_size / num_attention_heads / 2``."""
        return self.hidden_size // self.num_attention_heads // 2


class ChimeraAttention(DifferentialAttention):
    """Differential attention over the KV cache: ``[B, S, hidden] -> [B, S, hidden]``.

    The parameters and ``λ`` are :class:`~axon_nn.DifferentialAttention`'s (``q_proj``, ``k_proj``,
    ``v_proj``, ``out_proj``, ``lambda_q1/k1/q2/k2``, ``subln``; ``λ_init`` of 1-based depth
    ``layer_idx + 1``). The forward takes the model's :class:`AttentionInputs` instead of a mask:
    RoPE at the tokens' positions, the cache and the causal/padding masks. The cache holds
    ``2·num_kv_heads`` maps ``[B, 2·Hkv, T, head_dim]``: the two keys of each key head, and each
    value head cut into its two halves, so one :class:`KVCache` layer stores both.
    """

    def __init__(self, config: ChimeraConfig, layer_idx: int) -> None:
        super().__init__(
            config.hidden_size,
            config.num_attention_heads,
            layer_idx=layer_idx + 1,
            num_kv_heads=config.num_key_value_heads,
            eps=config.rms_norm_eps,
        )
        self.cache_idx = layer_idx

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        batch, seq, _ = hidden.shape
        heads, kv_heads, dim = self.num_heads, self.num_kv_heads, self.head_dim
        # Map 2h + j (j = 0, 1) is query j of head h; key maps likewise; value halves likewise.
        query = self.q_proj(hidden).reshape(batch, seq, 2 * heads, dim).transpose(1, 2)
        key = self.k_proj(hidden).reshape(batch, seq, 2 * kv_heads, dim).transpose(1, 2)
        value = self.v_proj(hidden).reshape(batch, seq, 2 * kv_heads, dim).transpose(1, 2)
        query, key = inputs.rotate(query), inputs.rotate(key)
        key, value, mask, is_causal = inputs.keys_and_mask(key, value, self.cache_idx)
        length = key.shape[2]
        # Head h of group g reads both key maps of key head g: view those two maps as one sequence of
        # 2·length so repeat_kv copies them together (as DifferentialAttention does).
        key = F.repeat_kv(key.reshape(batch, kv_heads, 2 * length, dim), self.n_rep)
        key = key.reshape(batch, 2 * heads, length, dim)
        value = value.transpose(1, 2).reshape(batch, length, kv_heads, 2 * dim).transpose(1, 2)
        value = F.repeat_kv(F.repeat_kv(value, self.n_rep), 2)
        maps = F.scaled_dot_product_attention(
            query, key, value, attn_mask=mask, is_causal=is_causal, dropout_p=inputs.dropout_p
        )
        maps = maps.reshape(batch, heads, 2, seq, 2 * dim)
        out = maps.select(2, 0) - self.lambda_full() * maps.select(2, 1)
        out = self.subln(out).transpose(1, 2).reshape(batch, seq, self.embed_dim)
        return self.out_proj(out * (1.0 - self.lambda_init))


class ChimeraDecoderLayer(Module):
    """``x + self_attn(input_layernorm(x))``, then ``x + moe(post_attention_layernorm(x))``:
    ``[B, S, hidden] -> [B, S, hidden]``; ``moe.aux_loss`` holds the layer's load-balancing loss."""

    def __init__(self, config: ChimeraConfig, layer_idx: int) -> None:
        super().__init__()
        self.self_attn = ChimeraAttention(config, layer_idx)
        self.moe = MoELayer(
            config.hidden_size,
            config.intermediate_size,
            config.num_local_experts,
            config.num_experts_per_tok,
            normalize_top_k=config.norm_topk_prob,
            capacity_factor=config.capacity_factor,
        )
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        hidden = hidden + self.self_attn(self.input_layernorm(hidden), inputs)
        return hidden + self.moe(self.post_attention_layernorm(hidden))


def _reset_lambdas(model: Module) -> None:
    # HF's init draws every Linear from N(0, initializer_range); λ keeps the paper's N(0, 0.1²).
    for module in model.modules():
        if isinstance(module, DifferentialAttention):
            module.reset_lambda()


class ChimeraModel(LlamaModel):
    """The decoder stack: ``input_ids [B, S]`` -> final hidden states ``[B, S, hidden]`` (LLaMA's, with
    this model's layers)."""

    config_class = ChimeraConfig
    presets = PRESETS
    layer_class = ChimeraDecoderLayer

    def init_weights(self) -> None:
        """HF's init of the Linear, Embedding and norm weights; the λ vectors ``N(0, 0.1²)``."""
        super().init_weights()
        _reset_lambdas(self)

    def load_balancing_loss(self) -> Any:
        """The mean over layers of each layer's ``N · Σ_i f_i · P_i`` from the latest forward (0-d)."""
        losses = [layer.moe.aux_loss for layer in self.layers]
        if any(loss is None for loss in losses):
            raise LLMError("ChimeraModel: no forward has run yet, so there is no load-balancing loss")
        total = losses[0]
        for loss in losses[1:]:
            total = total + loss
        return total / float(len(losses))


class ChimeraForCausalLM(CausalLM):
    """``model`` (:class:`ChimeraModel`) plus ``lm_head``: ``input_ids [B, S]`` -> logits ``[B, S, vocab]``.

    :meth:`forward_with_loss` also returns the load-balancing loss (the mean over layers of
    Switch's ``N · Σ_i f_i · P_i``, with ``f_i`` counting all ``k`` choices of every token, padding
    included); :meth:`loss` is the causal-LM cross-entropy plus ``router_aux_loss_coef`` times it.
    """

    config_class = ChimeraConfig
    presets = PRESETS
    tied_weights = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: ChimeraConfig) -> None:
        super().__init__(config)
        self.model = ChimeraModel(config)
        self.lm_head = Linear(config.hidden_size, config.vocab_size, bias=False)
        init.normal_(self.lm_head.weight, 0.0, config.initializer_range)
        self.tie_weights()

    def init_weights(self) -> None:
        """As :meth:`ChimeraModel.init_weights` (what :meth:`materialize` runs), the LM head included."""
        super().init_weights()
        _reset_lambdas(self)

    def forward(self, input_ids: Any, attention_mask: Any = None, position_ids: Any = None, cache: Any = None) -> Any:
        return self.lm_head(self.model(input_ids, attention_mask, position_ids, cache))

    def forward_with_loss(
        self, input_ids: Any, attention_mask: Any = None, position_ids: Any = None, cache: Any = None
    ) -> tuple[Any, Any]:
        """``(logits [B, S, vocab], lb_loss 0-d)`` of one forward."""
        logits = self(input_ids, attention_mask, position_ids, cache)
        return logits, self.model.load_balancing_loss()

    def loss(self, input_ids: Any, labels: Any = None, attention_mask: Any = None) -> Any:
        """HF's shifted causal-LM cross-entropy (see :meth:`CausalLM.loss`) plus
        ``router_aux_loss_coef · lb_loss`` of the same forward, as Mixtral's ``output_router_logits``."""
        lm_loss = super().loss(input_ids, labels, attention_mask)
        return lm_loss + self.model.load_balancing_loss() * float(self.config.router_aux_loss_coef)

    def new_cache(self, batch_size: int, max_len: int) -> KVCache:
        """A :class:`KVCache` of ``2·num_key_value_heads`` maps of ``head_dim`` per layer (see
        :class:`ChimeraAttention`)."""
        config = self.config
        first = next(iter(self.parameters()))
        return KVCache(
            config.num_hidden_layers,
            batch_size,
            2 * config.num_key_value_heads,
            config.head_dim,
            max_len,
            first.dtype,
            first.device,
        )
