"""Model hyper-parameters of a LLaMA-family GGUF file, read from its metadata and checked against its tensors.

GGUF keys are ``{arch}.block_count``, ``{arch}.embedding_length`` ... as llama.cpp's
``llama-arch.cpp`` names them. Each supported architecture is one row of :data:`ARCHS` saying how
its graph differs from llama's (rotary layout, biases, extra norms, activation), the way
llama.cpp's ``llama_model_rope_type`` and graph builders do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import GGUFError
from ..tensor import QuantTensor

__all__ = ["ARCHS", "ArchSpec", "ModelConfig"]


@dataclass(frozen=True)
class ArchSpec:
    """How one architecture's graph differs from llama's.

    ``rope_style``: ``"normal"`` rotates adjacent pairs ``(x[2i], x[2i+1])`` (llama: convert_hf_to_gguf
    permutes Q/K so that layout is right), ``"neox"`` rotates ``(x[i], x[i + dim/2])``.
    ``qkv_bias``: Q/K/V projections carry biases. ``qk_norm``: RMSNorm over each head of Q and K.
    ``post_norms``: RMSNorm on the attention and FFN outputs before the residual add.
    ``activation``: the gate's activation in the gated FFN. ``embed_scale``: embeddings times
    ``sqrt(d_model)``. ``swa_pattern``: every ``swa_pattern``-th layer is global, the others use the
    sliding window (0: every layer global).
    """

    rope_style: str
    qkv_bias: bool = False
    qk_norm: bool = False
    post_norms: bool = False
    activation: str = "silu"
    embed_scale: bool = False
    swa_pattern: int = 0


#: architecture name in ``general.architecture`` -> how its graph differs from llama's.
#: Mistral models are written by convert_hf_to_gguf as arch ``llama`` and run as such.
ARCHS: dict[str, ArchSpec] = {
    "llama": ArchSpec("normal"),
    "qwen2": ArchSpec("neox", qkv_bias=True),
    "gemma3": ArchSpec("neox", qk_norm=True, post_norms=True, activation="gelu_tanh", embed_scale=True, swa_pattern=6),
}

# Gemma 3's local (sliding-window) layers use this rope base when the file does not say
# (llama.cpp: hparams.rope_freq_base_train_swa = 10000.0f for LLM_ARCH_GEMMA3).
_GEMMA3_LOCAL_ROPE_BASE = 10000.0


@dataclass(frozen=True)
class ModelConfig:
    """Shapes and constants of one model. Head sizes are in values, ``rope_base`` the RoPE
    ``theta`` base, ``rope_scale`` the linear position scale (1.0: none), ``sliding_window`` in
    positions (0: none), ``attn_scale`` the factor on ``q . k``."""

    arch: str
    spec: ArchSpec
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_ff: int
    vocab_size: int
    context_length: int
    rms_eps: float
    rope_base: float
    rope_dim: int
    rope_scale: float
    rope_base_local: float
    sliding_window: int
    attn_scale: float
    tied_output: bool

    @property
    def q_dim(self) -> int:
        return self.n_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.n_kv_heads * self.head_dim

    def is_local_layer(self, layer: int) -> bool:
        """Whether ``layer`` attends through the sliding window (Gemma 3: all but every 6th)."""
        pattern = self.spec.swa_pattern
        return bool(pattern and self.sliding_window and (layer + 1) % pattern)

    @classmethod
    def from_gguf(
        cls, metadata: Mapping[str, Any], tensors: Mapping[str, QuantTensor], *, path: str | None = None
    ) -> ModelConfig:
        """Read the config from GGUF ``metadata`` and check every tensor the graph uses exists in
        ``tensors`` with the shape the config implies; GGUFError naming the key or tensor if not."""
        arch = metadata.get("general.architecture")
        if arch not in ARCHS:
            raise GGUFError(
                f"architecture {arch!r} is not supported; supported: {', '.join(ARCHS)}",
                path=path,
                field="general.architecture",
            )
        spec = ARCHS[arch]

        def key(name: str, kind: type, default: Any = None) -> Any:
            field = f"{arch}.{name}"
            value = metadata.get(field, default)
            if value is None:
                raise GGUFError(f"missing metadata key {field!r}", path=path, field=field)
            if isinstance(value, list):  # per-layer arrays (head counts): one value for all layers only
                if not value or any(v != value[0] for v in value):
                    raise GGUFError(
                        f"{field} differs between layers ({value[:8]}...); not supported", path=path, field=field
                    )
                value = value[0]
            if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise GGUFError(f"{field} must be a positive integer, got {value!r}", path=path, field=field)
            if kind is float and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0
            ):
                raise GGUFError(f"{field} must be a positive finite number, got {value!r}", path=path, field=field)
            return kind(value)

        n_layers, d_model = key("block_count", int), key("embedding_length", int)
        n_heads = key("attention.head_count", int)
        n_kv_heads = key("attention.head_count_kv", int, n_heads)
        head_dim = key("attention.key_length", int, d_model // n_heads if d_model % n_heads == 0 else None)
        if key("attention.value_length", int, head_dim) != head_dim:
            raise GGUFError(
                "attention.value_length differs from key_length; not supported",
                path=path,
                field=f"{arch}.attention.value_length",
            )
        if n_heads % n_kv_heads:
            raise GGUFError(
                f"{n_heads} attention heads are not a multiple of {n_kv_heads} KV heads",
                path=path,
                field=f"{arch}.attention.head_count_kv",
            )
        rope_dim = key("rope.dimension_count", int, head_dim)
        if rope_dim > head_dim or rope_dim % 2:
            raise GGUFError(
                f"rope.dimension_count {rope_dim} must be even and at most the head size {head_dim}",
                path=path,
                field=f"{arch}.rope.dimension_count",
            )
        scaling = metadata.get(f"{arch}.rope.scaling.type", "none")
        factor = metadata.get(f"{arch}.rope.scaling.factor", metadata.get(f"{arch}.rope.scale_linear", 1.0))
        if scaling not in ("none", "linear") and factor not in (0, 1, 1.0):
            raise GGUFError(
                f"rope scaling {scaling!r} is not supported (only linear)", path=path, field=f"{arch}.rope.scaling.type"
            )
        if not isinstance(factor, (int, float)) or not math.isfinite(factor) or factor < 0:
            raise GGUFError(
                f"rope scaling factor must be a finite number >= 0, got {factor!r}",
                path=path,
                field=f"{arch}.rope.scaling.factor",
            )
        sliding_window = key("attention.sliding_window", int, 1 << 62) if spec.swa_pattern else 0
        if sliding_window == 1 << 62:
            sliding_window = 0
        if metadata.get(f"{arch}.final_logit_softcapping") or metadata.get(f"{arch}.attn_logit_softcapping"):
            raise GGUFError("logit soft-capping is not supported", path=path, field=f"{arch}.final_logit_softcapping")
        # llama.cpp scales Gemma 3 27B (62 layers) by 1/sqrt(d_model / heads), the others by 1/sqrt(head size)
        attn_scale = 1.0 / math.sqrt(d_model / n_heads if arch == "gemma3" and n_layers == 62 else head_dim)
        token_embd = _tensor(tensors, "token_embd.weight", path)
        vocab_size = token_embd.shape[0]
        config = cls(
            arch=arch,
            spec=spec,
            n_layers=n_layers,
            d_model=d_model,
            n_heads=n_heads,
            n_kv_heads=n_kv_heads,
            head_dim=head_dim,
            d_ff=key("feed_forward_length", int),
            vocab_size=vocab_size,
            context_length=key("context_length", int),
            rms_eps=key("attention.layer_norm_rms_epsilon", float),
            rope_base=key("rope.freq_base", float, 10000.0),
            rope_dim=rope_dim,
            rope_scale=1.0 if factor in (0, 1) else 1.0 / float(factor),
            rope_base_local=key("rope.freq_base_swa", float, _GEMMA3_LOCAL_ROPE_BASE),
            sliding_window=sliding_window,
            attn_scale=attn_scale,
            tied_output="output.weight" not in tensors,
        )
        config._check_tensors(tensors, path)
        return config

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        """Tensor name -> NumPy shape (``[out_features, in_features]``) for every tensor the graph reads."""
        d, q, kv, ff = self.d_model, self.q_dim, self.kv_dim, self.d_ff
        shapes: dict[str, tuple[int, ...]] = {"token_embd.weight": (self.vocab_size, d), "output_norm.weight": (d,)}
        if not self.tied_output:
            shapes["output.weight"] = (self.vocab_size, d)
        for i in range(self.n_layers):
            b = f"blk.{i}."
            shapes.update(
                {
                    b + "attn_norm.weight": (d,),
                    b + "attn_q.weight": (q, d),
                    b + "attn_k.weight": (kv, d),
                    b + "attn_v.weight": (kv, d),
                    b + "attn_output.weight": (d, q),
                    b + "ffn_norm.weight": (d,),
                    b + "ffn_gate.weight": (ff, d),
                    b + "ffn_up.weight": (ff, d),
                    b + "ffn_down.weight": (d, ff),
                }
            )
            if self.spec.qkv_bias:
                shapes.update({b + "attn_q.bias": (q,), b + "attn_k.bias": (kv,), b + "attn_v.bias": (kv,)})
            if self.spec.qk_norm:
                shapes.update({b + "attn_q_norm.weight": (self.head_dim,), b + "attn_k_norm.weight": (self.head_dim,)})
            if self.spec.post_norms:
                shapes.update({b + "post_attention_norm.weight": (d,), b + "post_ffw_norm.weight": (d,)})
        return shapes

    def _check_tensors(self, tensors: Mapping[str, QuantTensor], path: str | None) -> None:
        for name, shape in self.expected_shapes().items():
            tensor = _tensor(tensors, name, path)
            if tuple(tensor.shape) != shape:
                raise GGUFError(
                    f"tensor {name!r} has shape {list(tensor.shape)}, the config implies {list(shape)}",
                    path=path,
                    field=name,
                )
            if len(shape) == 1 and tensor.ggml_type.name != "f32":
                raise GGUFError(
                    f"tensor {name!r} is {tensor.ggml_type.name}; norms and biases must be f32", path=path, field=name
                )


def _tensor(tensors: Mapping[str, QuantTensor], name: str, path: str | None) -> QuantTensor:
    if name not in tensors:
        raise GGUFError(f"missing tensor {name!r}", path=path, field=name)
    return tensors[name]
