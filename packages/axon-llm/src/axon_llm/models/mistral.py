"""Mistral (Jiang et al. 2023) and Mixtral (Jiang et al. 2024) as HF's ``MistralForCausalLM`` and
``MixtralForCausalLM``.

Mistral is LLaMA with sliding-window attention: every layer's queries see the last
``sliding_window`` positions (the KV cache keeps a ring of that many slots). Mixtral replaces each
layer's MLP with a sparse mixture of SwiGLU experts (``block_sparse_moe``): a softmax router picks
``num_experts_per_tok`` experts per token, weighted by their renormalised probabilities, and the
Switch-Transformer load-balancing loss of HF's ``load_balancing_loss_func`` keeps them balanced.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

import axon_autograd
import axon_tensor
from axon_nn import Module, MoELayer, RMSNorm
from axon_nn import functional as F

from ..blocks.attention import AttentionInputs, SelfAttention
from ..errors import LLMError
from .llama import LlamaConfig, LlamaForCausalLM, LlamaModel

__all__ = [
    "MIXTRAL_PRESETS",
    "PRESETS",
    "MistralConfig",
    "MistralForCausalLM",
    "MistralModel",
    "MixtralConfig",
    "MixtralDecoderLayer",
    "MixtralForCausalLM",
    "MixtralModel",
    "MixtralSparseMoeBlock",
]

_MISTRAL_7B = {
    "vocab_size": 32000,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-5,
}
# Config kwargs of the published shapes (the config.json of mistralai's HF repositories).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "vocab_size": 256,
        "hidden_size": 64,
        "intermediate_size": 172,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 256,
        "sliding_window": 32,
    },
    # Mistral-7B-v0.1: a 4096-token window over rope_theta 1e4.
    "mistral_7b": {**_MISTRAL_7B, "rope_theta": 10000.0, "sliding_window": 4096},
    # Mistral-7B-Instruct-v0.2: no window, rope_theta 1e6.
    "mistral_7b_instruct": {**_MISTRAL_7B, "rope_theta": 1000000.0, "sliding_window": None},
}
MIXTRAL_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "vocab_size": 256,
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 256,
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
    },
    # Mixtral-8x7B-v0.1.
    "mixtral_8x7b": {
        **_MISTRAL_7B,
        "rope_theta": 1000000.0,
        "sliding_window": None,
        "num_local_experts": 8,
        "num_experts_per_tok": 2,
        "router_aux_loss_coef": 0.02,
    },
}


@dataclasses.dataclass
class MistralConfig(LlamaConfig):
    """HF ``MistralConfig``'s fields and defaults (Mistral 7B's shape): LLaMA's plus ``sliding_window``
    (None: full causal attention). HF's Mistral has no attention or MLP biases."""

    model_type: ClassVar[str] = "mistral"
    architectures: ClassVar[tuple[str, ...]] = ("MistralForCausalLM",)

    intermediate_size: int = 14336
    num_key_value_heads: int | None = 8
    max_position_embeddings: int = 4096 * 32
    sliding_window: int | None = 4096

    def __post_init__(self, rope_theta: float | None = None, rope_scaling: dict | None = None) -> None:
        super().__post_init__(rope_theta, rope_scaling)
        if self.sliding_window is not None and (not isinstance(self.sliding_window, int) or self.sliding_window <= 0):
            raise LLMError(
                f"{type(self).__name__}: sliding_window must be a positive int or None, got {self.sliding_window!r}"
            )
        if self.attention_bias or self.mlp_bias:
            raise LLMError(
                f"{type(self).__name__}: attention_bias and mlp_bias are LLaMA options; {self.model_type} has no biases"
            )


class MistralModel(LlamaModel):
    """LLaMA's decoder stack whose every layer attends within ``config.sliding_window``."""

    config_class = MistralConfig

    def make_layer(self, config: MistralConfig, layer_idx: int) -> Module:
        return self.layer_class(config, layer_idx, sliding_window=config.sliding_window)


class MistralForCausalLM(LlamaForCausalLM):
    """``model`` (:class:`MistralModel`) plus ``lm_head``: ``input_ids [B, S]`` -> logits ``[B, S, vocab]``."""

    config_class = MistralConfig
    presets = PRESETS
    base_model_class = MistralModel


@dataclasses.dataclass
class MixtralConfig(MistralConfig):
    """HF ``MixtralConfig``'s fields and defaults (Mixtral 8x7B's shape; RoPE base 1e6 by default)."""

    model_type: ClassVar[str] = "mixtral"
    architectures: ClassVar[tuple[str, ...]] = ("MixtralForCausalLM",)

    rms_norm_eps: float = 1e-5
    sliding_window: int | None = None
    num_local_experts: int = 8
    num_experts_per_tok: int = 2
    output_router_logits: bool = False
    router_aux_loss_coef: float = 0.001
    router_jitter_noise: float = 0.0

    def __post_init__(self, rope_theta: float | None = None, rope_scaling: dict | None = None) -> None:
        # HF's MixtralConfig defaults rope_theta to 1e6 (LLaMA's is 1e4).
        if not self.rope_parameters and "rope_theta" not in self.extra:
            self.rope_parameters = {"rope_type": "default", "rope_theta": 1000000.0}
        super().__post_init__(rope_theta, rope_scaling)
        if not 1 <= self.num_experts_per_tok <= self.num_local_experts:
            raise LLMError(
                f"MixtralConfig: num_experts_per_tok must be in [1, num_local_experts={self.num_local_experts}], "
                f"got {self.num_experts_per_tok}"
            )
        if self.hidden_act not in ("silu", "swish"):
            raise LLMError(f"MixtralConfig: the experts are SwiGLU; hidden_act {self.hidden_act!r} is not supported")
        if not 0.0 <= self.router_jitter_noise < 1.0:
            raise LLMError(f"MixtralConfig: router_jitter_noise must be in [0, 1), got {self.router_jitter_noise}")


class MixtralSparseMoeBlock(MoELayer):
    """HF's ``MixtralSparseMoeBlock``: ``gate`` (the router) and ``experts.{j}.w1/w2/w3`` (SwiGLU),
    ``[B, S, hidden] -> [B, S, hidden]`` (axon-nn's :class:`MoELayer`: softmax, top-k, renormalised,
    no capacity limit).

    In training with ``router_jitter_noise`` the input is first scaled by ``U(1 - noise, 1 + noise)``
    per element, as HF does (both the router and the experts see the scaled input). Each forward
    keeps ``router_logits`` ``[B·S, num_experts]`` for the load-balancing loss.
    """

    def __init__(self, config: MixtralConfig) -> None:
        super().__init__(
            config.hidden_size, config.intermediate_size, config.num_local_experts, config.num_experts_per_tok
        )
        self.jitter_noise = config.router_jitter_noise
        self.router_logits: Any = None
        self.gate.register_forward_hook(self._keep_router_logits)

    def _keep_router_logits(self, gate: Module, args: tuple, logits: Any) -> None:
        self.router_logits = logits

    def forward(self, hidden: Any) -> Any:
        if self.training and self.jitter_noise > 0:
            noise = axon_tensor.rand(*hidden.shape, dtype=hidden.dtype, device=hidden.device)
            hidden = hidden * (noise * (2 * self.jitter_noise) + (1.0 - self.jitter_noise))
        return super().forward(hidden)


class MixtralDecoderLayer(Module):
    """``x + attn(norm(x))``, then ``x + moe(norm(x))``: ``[B, S, hidden] -> [B, S, hidden]``."""

    def __init__(self, config: MixtralConfig, layer_idx: int, sliding_window: int | None = None) -> None:
        super().__init__()
        self.self_attn = SelfAttention(
            config.hidden_size,
            config.num_attention_heads,
            config.num_key_value_heads,
            config.head_dim,
            layer_idx,
            sliding_window=sliding_window,
        )
        self.block_sparse_moe = MixtralSparseMoeBlock(config)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        hidden = hidden + self.self_attn(self.input_layernorm(hidden), inputs)
        return hidden + self.block_sparse_moe(self.post_attention_layernorm(hidden))


class MixtralModel(MistralModel):
    """Mistral's decoder stack with a sparse MoE in every layer."""

    config_class = MixtralConfig
    layer_class = MixtralDecoderLayer


class MixtralForCausalLM(MistralForCausalLM):
    """``model`` (:class:`MixtralModel`) plus ``lm_head``: ``input_ids [B, S]`` -> logits ``[B, S, vocab]``.

    Weights load from both layouts ``transformers`` uses: per-expert ``block_sparse_moe.experts.{j}.w1``
    / ``w2`` / ``w3`` (what ``save_pretrained`` writes, and this model's own names) and transformers
    5's fused ``mlp.experts.gate_up_proj [E, 2·I, hidden]`` / ``down_proj [E, hidden, I]``.
    """

    config_class = MixtralConfig
    presets = MIXTRAL_PRESETS
    base_model_class = MixtralModel

    @property
    def router_logits(self) -> tuple[Any, ...]:
        """Each layer's router logits ``[B·S, num_experts]`` from the last forward (HF's ``router_logits``)."""
        return tuple(layer.block_sparse_moe.router_logits for layer in self.model.layers)

    def load_balancing_loss(self, attention_mask: Any = None) -> Any:
        """HF's ``load_balancing_loss_func`` over every layer of the last forward, as a scalar.

        ``E · Σ_e f_e · P_e`` with ``f_e`` the share of top-k assignments to expert ``e`` and ``P_e``
        its mean router probability, both pooled over all layers' tokens (not a mean of per-layer
        losses); tokens where ``attention_mask [B, S]`` (or ``[B, past+S]``: its last ``S`` columns)
        is 0 are left out.
        """
        logits = self.router_logits
        if any(layer_logits is None for layer_logits in logits):
            raise LLMError("MixtralForCausalLM.load_balancing_loss: run a forward first")
        config = self.config
        routed = [F.top_k_routing(layer_logits, config.num_experts_per_tok) for layer_logits in logits]
        probs = axon_autograd.cat([r[0] for r in routed], dim=0)
        experts = np.concatenate([r[2].numpy() for r in routed], axis=0)
        if attention_mask is not None:
            mask = np.asarray(attention_mask.numpy() if hasattr(attention_mask, "numpy") else attention_mask)
            seq = int(logits[0].shape[0]) // mask.shape[0]
            keep = mask[:, mask.shape[1] - seq :].reshape(-1).astype(bool)
            rows = np.flatnonzero(np.tile(keep, len(logits)))
            probs = probs.index_select(0, axon_tensor.tensor(rows, device=probs.device))
            experts = experts[rows]
        return F.load_balancing_loss(probs, axon_tensor.tensor(experts), config.num_local_experts)

    def loss(
        self, input_ids: Any, labels: Any = None, attention_mask: Any = None, output_router_logits: bool | None = None
    ) -> Any:
        """The causal-LM loss, plus ``router_aux_loss_coef`` times :meth:`load_balancing_loss` when
        ``output_router_logits`` (default: the config's), as HF's ``MixtralForCausalLM`` with labels."""
        loss = super().loss(input_ids, labels=labels, attention_mask=attention_mask)
        if output_router_logits is None:
            output_router_logits = self.config.output_router_logits
        if output_router_logits:
            loss = loss + self.load_balancing_loss(attention_mask) * self.config.router_aux_loss_coef
        return loss

    @classmethod
    def from_hf_state(cls, state: dict[str, Any], config: MixtralConfig) -> dict[str, Any]:
        """transformers 5's fused expert tensors (``mlp.gate``, ``mlp.experts.gate_up_proj`` /
        ``down_proj``) -> the per-expert ``block_sparse_moe`` names; per-expert files pass unchanged."""
        out: dict[str, Any] = {}
        inter = config.intermediate_size
        for name, value in state.items():
            prefix, fused, rest = name.partition(".mlp.")
            if not fused:
                out[name] = value
            elif rest == "gate.weight":
                out[f"{prefix}.block_sparse_moe.gate.weight"] = value
            elif rest in ("experts.gate_up_proj", "experts.down_proj"):
                array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
                for j in range(array.shape[0]):
                    expert = f"{prefix}.block_sparse_moe.experts.{j}"
                    if rest == "experts.down_proj":
                        out[f"{expert}.w2.weight"] = array[j]
                    else:
                        out[f"{expert}.w1.weight"], out[f"{expert}.w3.weight"] = array[j, :inter], array[j, inter:]
            else:
                out[name] = value
        return out
