"""Trident: a BitNet b1.58 decoder (Ma et al. 2024; the b1.58-2B-4T recipe): every projection inside
the blocks is ternary, embeddings and the LM head stay full precision.

A layer is ``x + o_proj(attn_sub_norm(attn(q, k, v)))`` over ``input_layernorm(x)``, then
``x + down_proj(ffn_sub_norm(relu(gate_proj(h))² · up_proj(h)))`` over ``post_attention_layernorm(x)``
(SubLN: an RMSNorm in front of every ternary layer), with RoPE and grouped-query attention. The
parameter names are those of HF's ``BitNetForCausalLM``; ``model_type`` is ``"trident"``.

A ternary layer (:class:`TridentLinear`) keeps full-precision latent weights ``W`` and computes with
``W_q · γ`` (``W_q = clip(round(W / (γ + ε)), -1, 1)``, absmean ``γ = mean|W|``) on inputs quantised
per token to 8 bits; both roundings pass the gradient straight through (axon-nn's ternary ops).
Unlike axon-nn's :class:`~axon_nn.TernaryLinear`, ``γ`` is rounded to float16: that is how GGUF's
TQ1_0/TQ2_0 store it, so :func:`export_ternary` writes exactly the weights the model computes with.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from axon_autograd import Function, once_differentiable
from axon_nn import Linear, Module, PackedTernaryLinear, RMSNorm, TernaryLinear, init
from axon_nn import functional as F
from axon_quant import QuantTensor, quantize_tensor
from axon_tensor.tensor import wrap

from ..blocks.attention import AttentionInputs
from ..config import LLMConfig, rope_parameters_of
from ..errors import LLMError
from ..modeling import CausalLM, PreTrainedModel
from .llama import LlamaModel

__all__ = [
    "PRESETS",
    "TridentAttention",
    "TridentConfig",
    "TridentDecoderLayer",
    "TridentForCausalLM",
    "TridentLinear",
    "TridentMLP",
    "TridentModel",
    "export_ternary",
    "ternary_weight_f16_ste",
]

TERNARY_FORMATS = ("tq1_0", "tq2_0")
_TQ_BLOCK = 256

# Sizes of the presets (parameters, untied embeddings): tiny 0.11M, smoke 1.44M, default_150m 150M,
# medium 336M, 1b 1.03B, 3b 3.02B. Every ternary layer of smoke and larger has rows of whole
# 256-value blocks, so they export to TQ1_0/TQ2_0; tiny does not (hidden 64).
_TOKENS = dict(bos_token_id=1, eos_token_id=2)
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        **_TOKENS,
    ),
    "smoke": dict(
        vocab_size=512,
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        **_TOKENS,
    ),
    "default_150m": dict(
        vocab_size=32000,
        hidden_size=768,
        intermediate_size=2048,
        num_hidden_layers=16,
        num_attention_heads=12,
        num_key_value_heads=4,
        **_TOKENS,
    ),
    "medium": dict(
        vocab_size=32000,
        hidden_size=1024,
        intermediate_size=2816,
        num_hidden_layers=24,
        num_attention_heads=16,
        num_key_value_heads=4,
        **_TOKENS,
    ),
    "1b": dict(
        vocab_size=32000,
        hidden_size=2048,
        intermediate_size=5632,
        num_hidden_layers=20,
        num_attention_heads=32,
        num_key_value_heads=8,
        **_TOKENS,
    ),
    "3b": dict(
        vocab_size=32000,
        hidden_size=3072,
        intermediate_size=8192,
        num_hidden_layers=28,
        num_attention_heads=24,
        num_key_value_heads=8,
        **_TOKENS,
    ),
}


@dataclasses.dataclass
class TridentConfig(LLMConfig):
    """HF ``BitNetConfig``'s fields and defaults (BitNet b1.58-2B-4T's shape) plus the quantisation.

    ``activation_bits`` (8 as in BitNet; None keeps activations in full precision) and
    ``quant_eps`` (the ``ε`` of both quantisers) configure every :class:`TridentLinear`.
    """

    model_type: ClassVar[str] = "trident"
    architectures: ClassVar[tuple[str, ...]] = ("TridentForCausalLM",)

    vocab_size: int = 128256
    hidden_size: int = 2560
    intermediate_size: int = 6912
    num_hidden_layers: int = 30
    num_attention_heads: int = 20
    num_key_value_heads: int | None = 5
    head_dim: int | None = None
    hidden_act: str = "relu2"
    max_position_embeddings: int = 2048
    rms_norm_eps: float = 1e-5
    rope_parameters: dict[str, Any] | None = None
    attention_bias: bool = False
    attention_dropout: float = 0.0
    bos_token_id: int | None = 128000
    eos_token_id: int | list[int] | None = 128001
    activation_bits: int | None = 8
    quant_eps: float = 1e-5

    def __post_init__(self, rope_theta: float | None = None, rope_scaling: dict | None = None) -> None:
        super().__post_init__(rope_theta, rope_scaling)
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.num_attention_heads % self.num_key_value_heads:
            raise LLMError(
                f"TridentConfig: num_attention_heads {self.num_attention_heads} is not a multiple of "
                f"num_key_value_heads {self.num_key_value_heads}"
            )
        if self.hidden_act != "relu2":
            raise LLMError(f"TridentConfig: hidden_act must be 'relu2' (BitNet's ReLU²), got {self.hidden_act!r}")
        if self.activation_bits is not None and not 2 <= self.activation_bits <= 16:
            raise LLMError(f"TridentConfig: activation_bits must be None or in [2, 16], got {self.activation_bits}")
        if "rope_theta" not in self.extra and not (self.rope_parameters or {}).get("rope_theta"):
            self.extra["rope_theta"] = 500000.0  # BitNetConfig's default_theta
        self.rope_parameters = rope_parameters_of(self)
        self.extra.pop("rope_theta", None)
        self.extra.pop("rope_scaling", None)


class TernaryWeightF16STE(Function):
    """``W -> W_q · fp16(γ)`` (axon-nn's absmean codes, the scale rounded to float16); backward: the identity."""

    @staticmethod
    def forward(ctx, weight, eps):
        codes, gamma = F.ternary_quantize(weight, eps)
        scale = gamma.array.astype(np.float16).astype(weight.array.dtype)
        return wrap(codes.array.astype(weight.array.dtype) * scale, weight.device)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        return grad, None


def ternary_weight_f16_ste(weight: Any, eps: float = 1e-5) -> Any:
    """The ternary weight ``W_q · fp16(γ)`` of ``weight [out, in]``, gradient passed straight through."""
    return TernaryWeightF16STE.apply(weight, float(eps))


class TridentLinear(TernaryLinear):
    """BitNet's BitLinear: ``[*, in_features] -> [*, out_features]`` computed as
    ``Q8(x) · (W_q · fp16(γ))ᵀ`` (see the module docstring); the parameters are
    :class:`~axon_nn.TernaryLinear`'s (``weight [out, in]`` latent, optional ``bias``)."""

    def forward(self, input: Any) -> Any:
        if self.activation_bits is not None:
            input = F.activation_quant_ste(input, self.activation_bits, self.eps)
        return F.linear(input, ternary_weight_f16_ste(self.weight, self.eps), self.bias)

    def ternary_codes(self) -> tuple[np.ndarray, float]:
        """``(W_q int8 [out, in] in {-1, 0, 1}, fp16(γ) as a float)``: what the forward multiplies."""
        codes, gamma = F.ternary_quantize(self.weight, self.eps)
        return codes.numpy(), float(np.float16(gamma.numpy()))

    def ternary_weight(self) -> np.ndarray:
        """The weight the forward computes with, ``W_q · fp16(γ)``, as float32 ``[out, in]`` (exact)."""
        codes, scale = self.ternary_codes()
        return codes.astype(np.float32) * np.float32(scale)

    def pack(self) -> PackedTernaryLinear:
        """The inference layer (2-bit packed ``W_q``, the float16-rounded ``γ``, the bias)."""
        codes, gamma = F.ternary_quantize(self.weight, self.eps)
        scale = wrap(gamma.array.astype(np.float16).astype(gamma.array.dtype), gamma.device)
        bias = None if self.bias is None else self.bias.data.clone()
        return PackedTernaryLinear(F.pack_ternary(codes), scale, self.in_features, bias, self.activation_bits, self.eps)


def _relu2(x: Any) -> Any:
    """BitNet's ``relu2`` activation, ``relu(x)²``."""
    positive = F.relu(x)
    return positive * positive


class TridentAttention(Module):
    """Ternary ``q_proj``/``k_proj``/``v_proj``, RoPE, GQA, then ``o_proj(attn_sub_norm(.))``:
    ``[B, S, hidden] -> [B, S, hidden]``."""

    def __init__(self, config: TridentConfig, layer_idx: int) -> None:
        super().__init__()
        heads, kv_heads, dim = config.num_attention_heads, config.num_key_value_heads, config.head_dim
        self.num_heads, self.num_kv_heads, self.head_dim, self.layer_idx = heads, kv_heads, dim, layer_idx

        def ternary(fan_in: int, fan_out: int) -> TridentLinear:
            return TridentLinear(fan_in, fan_out, config.attention_bias, config.activation_bits, config.quant_eps)

        self.q_proj = ternary(config.hidden_size, heads * dim)
        self.k_proj = ternary(config.hidden_size, kv_heads * dim)
        self.v_proj = ternary(config.hidden_size, kv_heads * dim)
        self.o_proj = ternary(heads * dim, config.hidden_size)
        self.attn_sub_norm = RMSNorm(heads * dim, eps=config.rms_norm_eps)

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        batch, seq, _ = hidden.shape
        query = self.q_proj(hidden).reshape(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)
        key = self.k_proj(hidden).reshape(batch, seq, self.num_kv_heads, self.head_dim).transpose(1, 2)
        value = self.v_proj(hidden).reshape(batch, seq, self.num_kv_heads, self.head_dim).transpose(1, 2)
        query, key = inputs.rotate(query), inputs.rotate(key)
        return self.o_proj(self.attn_sub_norm(inputs.attend(query, key, value, self.layer_idx)))


class TridentMLP(Module):
    """``down_proj(ffn_sub_norm(relu(gate_proj(x))² · up_proj(x)))``, all three ternary:
    ``[*, hidden] -> [*, hidden]``."""

    def __init__(self, config: TridentConfig) -> None:
        super().__init__()
        hidden, inner = config.hidden_size, config.intermediate_size
        bits, eps = config.activation_bits, config.quant_eps
        self.gate_proj = TridentLinear(hidden, inner, False, bits, eps)
        self.up_proj = TridentLinear(hidden, inner, False, bits, eps)
        self.down_proj = TridentLinear(inner, hidden, False, bits, eps)
        self.ffn_sub_norm = RMSNorm(inner, eps=config.rms_norm_eps)

    def forward(self, x: Any) -> Any:
        return self.down_proj(self.ffn_sub_norm(_relu2(self.gate_proj(x)) * self.up_proj(x)))


class TridentDecoderLayer(Module):
    """``x + self_attn(input_layernorm(x))``, then ``x + mlp(post_attention_layernorm(x))``:
    ``[B, S, hidden] -> [B, S, hidden]``."""

    def __init__(self, config: TridentConfig, layer_idx: int) -> None:
        super().__init__()
        self.self_attn = TridentAttention(config, layer_idx)
        self.mlp = TridentMLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        hidden = hidden + self.self_attn(self.input_layernorm(hidden), inputs)
        return hidden + self.mlp(self.post_attention_layernorm(hidden))


def _init_ternary(model: PreTrainedModel) -> None:
    # HF's init covers Linear and Embedding; the latent ternary weights get the same N(0, std).
    for module in model.modules():
        if isinstance(module, TridentLinear):
            init.normal_(module.weight, 0.0, model.config.initializer_range)
            if module.bias is not None:
                init.zeros_(module.bias)


class TridentModel(LlamaModel):
    """The decoder stack: ``input_ids [B, S]`` -> final hidden states ``[B, S, hidden]`` (LLaMA's, with
    this model's layers)."""

    config_class = TridentConfig
    presets = PRESETS
    layer_class = TridentDecoderLayer

    def init_weights(self) -> None:
        """HF's init (``N(0, initializer_range)`` weights, unit norms), the latent ternary weights included."""
        super().init_weights()
        _init_ternary(self)


class TridentForCausalLM(CausalLM):
    """``model`` (:class:`TridentModel`) plus a full-precision ``lm_head``:
    ``input_ids [B, S]`` -> logits ``[B, S, vocab]``."""

    config_class = TridentConfig
    presets = PRESETS
    tied_weights = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: TridentConfig) -> None:
        super().__init__(config)
        self.model = TridentModel(config)
        self.lm_head = Linear(config.hidden_size, config.vocab_size, bias=False)
        init.normal_(self.lm_head.weight, 0.0, config.initializer_range)
        self.tie_weights()

    def init_weights(self) -> None:
        """As :meth:`TridentModel.init_weights` (what :meth:`materialize` runs), the LM head included."""
        super().init_weights()
        _init_ternary(self)

    def forward(self, input_ids: Any, attention_mask: Any = None, position_ids: Any = None, cache: Any = None) -> Any:
        return self.lm_head(self.model(input_ids, attention_mask, position_ids, cache))


def export_ternary(model: Module, fmt: str = "tq2_0") -> dict[str, QuantTensor]:
    """Every :class:`TridentLinear` weight of ``model`` as a GGUF ternary tensor, keyed by its
    ``state_dict`` name (``model.layers.0.self_attn.q_proj.weight``, ...).

    ``fmt``: ``"tq1_0"`` (1.69 bits a weight) or ``"tq2_0"`` (2.06). Each tensor's ``dequantize()``
    equals :meth:`TridentLinear.ternary_weight` exactly (the codes, and ``fp16(γ)`` as every block's
    scale; an all-zero block stores 0). Biases, norms, embeddings and the LM head are not ternary and
    are not part of the result. Raises :class:`LLMError` for another format or for a layer whose
    rows are not whole 256-value blocks (ggml's TQ block).
    """
    if fmt not in TERNARY_FORMATS:
        raise LLMError(f"export_ternary: fmt must be one of {TERNARY_FORMATS}, got {fmt!r}")
    exported: dict[str, QuantTensor] = {}
    for name, module in model.named_modules():
        if not isinstance(module, TridentLinear):
            continue
        tensor_name = f"{name}.weight" if name else "weight"
        if module.in_features % _TQ_BLOCK:
            raise LLMError(
                f"export_ternary: {tensor_name} has rows of {module.in_features} weights; {fmt} stores whole "
                f"blocks of {_TQ_BLOCK} (use a config whose hidden_size, head count × head_dim and "
                "intermediate_size are multiples of 256)"
            )
        exported[tensor_name] = quantize_tensor(module.ternary_weight(), fmt)
    if not exported:
        raise LLMError(f"export_ternary: {type(model).__name__} has no ternary (TridentLinear) layers")
    return exported
