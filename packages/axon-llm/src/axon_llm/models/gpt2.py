"""GPT-2 (Radford et al. 2019) as HF's ``GPT2LMHeadModel``: learned position embeddings, pre-norm
blocks with a fused ``c_attn`` projection, a GELU-tanh MLP, the LM head tied to the token embeddings.

Parameter names are ``transformers``'; HF stores its ``Conv1D`` weights ``[in, out]``, so the load
and save hooks transpose them to and from axon's ``Linear`` layout ``[out, in]``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

import axon_tensor
from axon_nn import Embedding, LayerNorm, Linear, Module, ModuleList, init
from axon_nn import functional as F

from ..blocks.attention import AttentionInputs
from ..blocks.mlp import activation
from ..config import LLMConfig
from ..errors import LLMError
from ..modeling import CausalLM, PreTrainedModel
from ._base_prefix import match_base_prefix

__all__ = ["GPT2Attention", "GPT2Block", "GPT2Config", "GPT2LMHeadModel", "GPT2MLP", "GPT2Model", "PRESETS"]

# HF's GPT2Config.attribute_map: LLMConfig's shared names -> GPT-2's own.
_ATTRIBUTE_MAP = {
    "hidden_size": "n_embd",
    "max_position_embeddings": "n_positions",
    "num_attention_heads": "n_head",
    "num_hidden_layers": "n_layer",
}
_ALIAS_OF = {name: alias for alias, name in _ATTRIBUTE_MAP.items()}
# The weights HF keeps as Conv1D ``[in, out]``.
_CONV1D_SUFFIXES = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")

# OpenAI's four sizes (HF's gpt2, gpt2-medium, gpt2-large, gpt2-xl) and a tiny one for tests.
# Parameters with the tied head: small 124,439,808; medium 354,823,168; large 774,030,080; xl 1,557,611,200.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"vocab_size": 256, "n_positions": 128, "n_embd": 64, "n_layer": 2, "n_head": 4},
    "small": {"n_embd": 768, "n_layer": 12, "n_head": 12},
    "medium": {"n_embd": 1024, "n_layer": 24, "n_head": 16},
    "large": {"n_embd": 1280, "n_layer": 36, "n_head": 20},
    "xl": {"n_embd": 1600, "n_layer": 48, "n_head": 25},
}


@dataclasses.dataclass
class GPT2Config(LLMConfig):
    """HF ``GPT2Config``'s fields and defaults (gpt2 small).

    ``hidden_size``, ``num_hidden_layers``, ``num_attention_heads`` and ``max_position_embeddings``
    alias ``n_embd``, ``n_layer``, ``n_head`` and ``n_positions`` as HF's ``attribute_map`` does:
    given to the constructor they set the GPT-2 field, read or assigned later they are the same value,
    and ``config.json`` holds only the GPT-2 names.
    """

    model_type: ClassVar[str] = "gpt2"
    architectures: ClassVar[tuple[str, ...]] = ("GPT2LMHeadModel",)
    attribute_map: ClassVar[dict[str, str]] = _ATTRIBUTE_MAP

    vocab_size: int = 50257
    hidden_size: int | None = None
    num_hidden_layers: int | None = None
    num_attention_heads: int | None = None
    max_position_embeddings: int | None = None
    tie_word_embeddings: bool = True
    bos_token_id: int | None = 50256
    eos_token_id: int | list[int] | None = 50256
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    n_inner: int | None = None
    activation_function: str = "gelu_new"
    resid_pdrop: float = 0.1
    embd_pdrop: float = 0.1
    attn_pdrop: float = 0.1
    layer_norm_epsilon: float = 1e-5
    scale_attn_weights: bool = True
    scale_attn_by_inverse_layer_idx: bool = False
    reorder_and_upcast_attn: bool = False
    add_cross_attention: bool = False
    use_cache: bool = True

    def __post_init__(self, rope_theta: float | None = None, rope_scaling: dict | None = None) -> None:
        for alias, name in _ATTRIBUTE_MAP.items():
            if getattr(self, alias) is not None:
                object.__setattr__(self, name, getattr(self, alias))
            object.__setattr__(self, alias, getattr(self, name))
        object.__setattr__(self, "_aliases_bound", True)
        super().__post_init__(rope_theta, rope_scaling)
        if self.n_embd % self.n_head:
            raise LLMError(f"GPT2Config: n_embd {self.n_embd} is not a multiple of n_head {self.n_head}")
        if self.add_cross_attention:
            raise LLMError("GPT2Config: add_cross_attention (GPT-2 as an encoder-decoder's decoder) is not supported")
        activation(self.activation_function)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        twin = _ATTRIBUTE_MAP.get(name) or _ALIAS_OF.get(name)
        if twin is not None and self.__dict__.get("_aliases_bound"):
            object.__setattr__(self, twin, value)

    @property
    def inner_size(self) -> int:
        """The MLP's width: ``n_inner``, or ``4 * n_embd`` when that is None (HF's rule)."""
        return self.n_inner if self.n_inner is not None else 4 * self.n_embd

    def to_dict(self) -> dict[str, Any]:
        values = super().to_dict()
        for alias in _ATTRIBUTE_MAP:
            values.pop(alias, None)
        return values

    def replace(self, **changes: Any) -> "GPT2Config":
        changes = {_ATTRIBUTE_MAP.get(name, name): value for name, value in changes.items()}
        return dataclasses.replace(self, **{alias: None for alias in _ATTRIBUTE_MAP}, **changes)


def _conv1d_transposed(state: dict[str, Any]) -> dict[str, Any]:
    """Conv1D ``[in, out]`` <-> Linear ``[out, in]`` (the same swap both ways)."""
    return {
        name: value.transpose(0, 1) if name.endswith(_CONV1D_SUFFIXES) and len(value.shape) == 2 else value
        for name, value in state.items()
    }


class GPT2Attention(Module):
    """Causal self-attention with one fused projection ``c_attn`` (``[q | k | v]``) and ``c_proj``.

    ``[B, S, n_embd] -> [B, S, n_embd]``; scores scaled by ``1/sqrt(head_dim)`` (``scale_attn_weights``)
    and by ``1/(layer_idx + 1)`` (``scale_attn_by_inverse_layer_idx``), as HF.
    """

    def __init__(self, config: GPT2Config, layer_idx: int) -> None:
        super().__init__()
        self.num_heads, self.head_dim = config.n_head, config.n_embd // config.n_head
        self.layer_idx, self.resid_pdrop = layer_idx, config.resid_pdrop
        self.scale = self.head_dim**-0.5 if config.scale_attn_weights else 1.0
        if config.scale_attn_by_inverse_layer_idx:
            self.scale /= float(layer_idx + 1)
        self.c_attn = Linear(config.n_embd, 3 * config.n_embd)
        self.c_proj = Linear(config.n_embd, config.n_embd)

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        batch, seq, _ = hidden.shape
        qkv = self.c_attn(hidden).reshape(batch, seq, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        out = inputs.attend(qkv[0], qkv[1], qkv[2], self.layer_idx, scale=self.scale)
        return F.dropout(self.c_proj(out), self.resid_pdrop, self.training)


class GPT2MLP(Module):
    """``c_proj(act(c_fc(x)))``: ``[*, n_embd] -> [*, n_embd]`` through ``inner_size`` features."""

    def __init__(self, config: GPT2Config) -> None:
        super().__init__()
        self.act = activation(config.activation_function)
        self.resid_pdrop = config.resid_pdrop
        self.c_fc = Linear(config.n_embd, config.inner_size)
        self.c_proj = Linear(config.inner_size, config.n_embd)

    def forward(self, x: Any) -> Any:
        return F.dropout(self.c_proj(self.act(self.c_fc(x))), self.resid_pdrop, self.training)


class GPT2Block(Module):
    """``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``: ``[B, S, n_embd] -> [B, S, n_embd]``."""

    def __init__(self, config: GPT2Config, layer_idx: int) -> None:
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config, layer_idx)
        self.ln_2 = LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(config)

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        hidden = hidden + self.attn(self.ln_1(hidden), inputs)
        return hidden + self.mlp(self.ln_2(hidden))


class GPT2Model(PreTrainedModel):
    """Token and learned position embeddings, ``n_layer`` blocks, ``ln_f``:
    ``input_ids [B, S]`` -> final hidden states ``[B, S, n_embd]``."""

    config_class = GPT2Config
    presets = PRESETS
    # Old checkpoints carry the causal mask as a buffer; ours is built per forward.
    ignored_on_load = (".attn.bias", ".attn.masked_bias")

    def __init__(self, config: GPT2Config) -> None:
        super().__init__(config)
        self.wte = Embedding(config.vocab_size, config.n_embd)
        self.wpe = Embedding(config.n_positions, config.n_embd)
        self.h = ModuleList([GPT2Block(config, i) for i in range(config.n_layer)])
        self.ln_f = LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.init_weights()

    def init_weights(self) -> None:
        """HF's: ``N(0, initializer_range)`` everywhere, the residual projections ``c_proj`` with the
        std divided by ``sqrt(2 * n_layer)`` (GPT-2's scaling of the residual path)."""
        super().init_weights()
        std = self.config.initializer_range / np.sqrt(2 * self.config.n_layer)
        for module in self.modules():
            if isinstance(module, (GPT2Attention, GPT2MLP)):
                init.normal_(module.c_proj.weight, 0.0, float(std))

    @classmethod
    def from_hf_state(cls, state: dict[str, Any], config: LLMConfig) -> dict[str, Any]:
        return _conv1d_transposed(match_base_prefix(state, "transformer", is_base=True))

    def to_hf_state(self, state: dict[str, Any]) -> dict[str, Any]:
        return _conv1d_transposed(state)

    def forward(
        self,
        input_ids: Any,
        attention_mask: Any = None,
        position_ids: Any = None,
        cache: Any = None,
        token_type_ids: Any = None,
    ) -> Any:
        """``input_ids [B, S]``; ``attention_mask [B, past+S]`` (1 keep, 0 pad); ``position_ids [B, S]``
        (default: cache offset onward, counting only real tokens under left padding); ``token_type_ids
        [B, S]`` embedded with ``wte`` as HF does. Returns ``[B, S, n_embd]``."""
        config = self.config
        inputs = AttentionInputs.build(
            tuple(input_ids.shape),
            attention_mask,
            position_ids,
            cache,
            dropout_p=config.attn_pdrop if self.training else 0.0,
        )
        positions = inputs.position_ids
        if positions.size and (positions.min() < 0 or positions.max() >= config.n_positions):
            raise LLMError(
                f"GPT-2: position ids {int(positions.min())}..{int(positions.max())} are outside the model's "
                f"n_positions {config.n_positions}"
            )
        hidden = self.wte(input_ids)
        hidden = hidden + self.wpe(axon_tensor.tensor(positions, device=hidden.device))
        if token_type_ids is not None:
            hidden = hidden + self.wte(token_type_ids)
        hidden = F.dropout(hidden, config.embd_pdrop, self.training)
        for block in self.h:
            hidden = block(hidden, inputs)
        if cache is not None:
            cache.advance(int(input_ids.shape[1]))
        return self.ln_f(hidden)


class GPT2LMHeadModel(CausalLM):
    """``transformer`` (:class:`GPT2Model`) plus ``lm_head`` (tied to ``transformer.wte``):
    ``input_ids [B, S]`` -> logits ``[B, S, vocab]``."""

    config_class = GPT2Config
    presets = PRESETS
    tied_weights = {"lm_head.weight": "transformer.wte.weight"}
    ignored_on_load = GPT2Model.ignored_on_load

    def __init__(self, config: GPT2Config) -> None:
        super().__init__(config)
        self.transformer = GPT2Model(config)
        self.lm_head = Linear(config.n_embd, config.vocab_size, bias=False)
        init.normal_(self.lm_head.weight, 0.0, config.initializer_range)
        self.tie_weights()

    @classmethod
    def from_hf_state(cls, state: dict[str, Any], config: LLMConfig) -> dict[str, Any]:
        return _conv1d_transposed(match_base_prefix(state, "transformer", is_base=False))

    def to_hf_state(self, state: dict[str, Any]) -> dict[str, Any]:
        return _conv1d_transposed(state)

    def forward(
        self,
        input_ids: Any,
        attention_mask: Any = None,
        position_ids: Any = None,
        cache: Any = None,
        token_type_ids: Any = None,
    ) -> Any:
        return self.lm_head(self.transformer(input_ids, attention_mask, position_ids, cache, token_type_ids))
