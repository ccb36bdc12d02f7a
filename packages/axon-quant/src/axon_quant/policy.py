"""``quantize_model``: a whole model's tensors in one ggml type, with llama-quantize's per-tensor
policy (llama.cpp ``src/llama-quant.cpp``) deciding which tensors keep a float type.

Per tensor, in llama-quantize's order:

1. Tensors llama-quantize never quantizes keep their float type (F16 for float16 arrays, BF16 for
   bfloat16, else F32): 1-D tensors (norm weights, biases), names not ending in ``weight``, norms
   (``*_norm.weight``; also Hugging Face ``*norm.weight``), and the small or special tensors of
   :data:`NEVER_QUANTIZED` (MoE routers, position embeddings, conv1d of SSMs, ...).
2. The output head (``output.weight``, ``lm_head.weight``; with tied embeddings, i.e. no head, the
   token embedding) takes ``policy.output_type``; ``"auto"`` is llama-quantize's rule: Q8_0 when the
   target is Q8_0 or its blocks do not fit the row, Q6_K otherwise.
3. The token embedding (``token_embd.weight``, ``embed_tokens.weight``, ``wte.weight``) takes
   ``policy.token_embedding_type``; ``"auto"`` is the target (Q4_K for the ternary TQ1_0/TQ2_0).
4. ``policy.overrides`` (regex, type) pairs, first match wins (llama-quantize's ``--tensor-type``).
5. A row that is not a whole number of blocks falls back as llama-quantize does (Q2_K/Q3_K/TQ ->
   Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0) and, where no block fits (and for the 32-value
   formats, where llama-quantize gives up), to ``policy.fallback`` (F16); the report says so.

With a float target (F32/F16/BF16) every quantizable tensor takes it, as in llama-quantize.
llama-quantize's layer-dependent mixtures (Q4_K_M's Q6_K ``attn_v``/``ffn_down`` in some layers,
Q2_K's Q3_K ``ffn_down``) are ftypes, not ggml types, and are not implemented.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .errors import QuantError
from .formats import block_format
from .ggml_types import GGMLType, ggml_type
from .quantize import dequantize, quantize
from .tensor import QuantTensor

__all__ = ["NEVER_QUANTIZED", "QuantPolicy", "QuantReport", "TensorReport", "quantize_model"]

#: (name fragment, why) of tensors llama-quantize keeps as they are (``tensor_allows_quantization``).
NEVER_QUANTIZED: tuple[tuple[str, str], ...] = (
    ("ffn_gate_inp.weight", "MoE expert router"),
    ("ffn_gate_tid2eid.weight", "token-to-expert routing table"),
    ("altup", "AltUp tensor (tiny)"),
    ("laurel", "LAuReL tensor (tiny)"),
    ("per_layer_model_proj", "per-layer model projection"),
    ("position_embd.weight", "position embedding"),
    ("token_types.weight", "token type embedding"),
    ("ssm_conv1d", "SSM conv1d (small)"),
    ("shortconv.conv.weight", "short convolution (small)"),
    ("indexer.k_proj.weight", "indexer projection (tiny)"),
    ("indexer.q_proj.weight", "indexer projection (tiny)"),
    ("time_mix_", "RWKV time-mix tensor (small)"),
    ("attn_rel_b.weight", "relative position bias"),
)
_OUTPUT_NAMES = ("output.weight", "lm_head.weight")
_TOKEN_EMBEDDING_NAMES = ("token_embd.weight", "per_layer_token_embd.weight", "embed_tokens.weight", "wte.weight")
#: llama-quantize's ``tensor_type_fallback`` for rows its 256-value blocks do not fit.
_FALLBACK = {
    "q2_k": "q4_0",
    "q3_k": "q4_0",
    "tq1_0": "q4_0",
    "tq2_0": "q4_0",
    "q4_k": "q5_0",
    "q5_k": "q5_1",
    "q6_k": "q8_0",
}
_FLOAT_TYPES = ("f32", "f16", "bf16")


def _is(name: str, candidates: tuple[str, ...]) -> bool:
    return any(name == c or name.endswith("." + c) for c in candidates)


def _kept_reason(name: str, shape: tuple[int, ...]) -> str | None:
    """Why llama-quantize would leave this tensor unquantized, or None."""
    if len(shape) < 2:
        return f"{len(shape)}-D tensor"
    if not name.endswith("weight"):
        return "not a weight"
    parts = name.split(".")
    if len(parts) >= 2 and parts[-2].endswith("norm"):
        return "norm weight"
    for fragment, why in NEVER_QUANTIZED:
        if fragment in name:
            return why
    return None


def _float_type(dtype: np.dtype) -> str:
    return {"float16": "f16", "bfloat16": "bf16"}.get(np.dtype(dtype).name, "f32")


@dataclass(frozen=True)
class QuantPolicy:
    """Per-tensor choices of :func:`quantize_model` (see the module docstring for the order).

    ``output_type`` / ``token_embedding_type``: a ggml type, ``"auto"`` (llama-quantize's default) or
    None (keep the float type). ``fallback``: the float type for rows no block fits. ``overrides``:
    (regex, ggml type) pairs searched in tensor names, first match wins."""

    output_type: str | None = "auto"
    token_embedding_type: str | None = "auto"
    fallback: str = "f16"
    overrides: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if ggml_type(self.fallback).name not in _FLOAT_TYPES:
            raise QuantError(f"policy fallback must be a float type (f32, f16, bf16), got {self.fallback!r}")
        for fmt in (self.output_type, self.token_embedding_type, *(t for _, t in self.overrides)):
            if fmt not in (None, "auto"):
                block_format(fmt)
        for pattern, _ in self.overrides:
            try:
                re.compile(pattern)
            except re.error as e:
                raise QuantError(f"policy override pattern {pattern!r} is not a regular expression: {e}") from None

    def choose(
        self, name: str, shape: tuple[int, ...], dtype: np.dtype, fmt: str | int | GGMLType, tied_embeddings: bool
    ) -> tuple[GGMLType, str]:
        """(ggml type, reason) for tensor ``name`` of ``shape``/``dtype`` when the model's target is
        ``fmt``; ``tied_embeddings``: the model has no output head, the token embedding serves as one.
        The order is ``llama_tensor_get_type``'s."""
        target = ggml_type(fmt)
        kept = _kept_reason(name, shape)
        if kept is not None:
            return ggml_type(_float_type(dtype)), f"kept: {kept}"
        if target.name in _FLOAT_TYPES:
            return target, "target"
        head, embedding = _is(name, _OUTPUT_NAMES), _is(name, _TOKEN_EMBEDDING_NAMES)
        if head and self.output_type is None:
            return ggml_type(_float_type(dtype)), "kept: output head"
        if embedding and self.token_embedding_type is None:
            return ggml_type(_float_type(dtype)), "kept: token embedding"
        if embedding and self.token_embedding_type != "auto":
            chosen, reason = ggml_type(self.token_embedding_type), "token embedding (policy)"
        elif head and self.output_type != "auto":
            chosen, reason = ggml_type(self.output_type), "output head (policy)"
        else:
            chosen, reason = self._default(name, target, shape[-1], head or (tied_embeddings and embedding), embedding)
        return self._fit(chosen, reason, shape[-1])

    def _default(self, name: str, target: GGMLType, row: int, as_head: bool, embedding: bool) -> tuple[GGMLType, str]:
        for pattern, override in self.overrides:
            if re.search(pattern, name):
                return ggml_type(override), f"override {pattern!r}"
        if as_head:
            if self.output_type not in (None, "auto"):  # a tied embedding takes the head's type
                return ggml_type(self.output_type), "output head (policy)"
            if target.name == "q8_0" or row % target.block_size:
                return ggml_type("q8_0"), "output head (llama-quantize: q8_0)"
            return ggml_type("q6_k"), "output head (llama-quantize: q6_k)"
        if embedding:
            if target.name in ("tq1_0", "tq2_0"):
                return ggml_type("q4_k"), "token embedding (llama-quantize: q4_k for ternary)"
            return target, "token embedding"
        return target, "target"

    def _fit(self, chosen: GGMLType, reason: str, row: int) -> tuple[GGMLType, str]:
        if row % chosen.block_size == 0:
            return chosen, reason
        step = ggml_type(_FALLBACK.get(chosen.name, self.fallback))
        if row % step.block_size:
            step = ggml_type(self.fallback)
        return step, (
            f"{reason}; fallback: rows of {row} values are not whole {chosen.block_size}-value "
            f"{chosen.name} blocks -> {step.name}"
        )


@dataclass(frozen=True)
class TensorReport:
    """One tensor of a :class:`QuantReport`: the type chosen and why, its bytes (and those of the
    source array), and the error of its decoded values against the source (float64 math)."""

    name: str
    shape: tuple[int, ...]
    ggml_type: str
    reason: str
    nbytes: int
    source_nbytes: int
    rms_error: float
    max_abs_error: float
    rms_source: float

    @property
    def fallback(self) -> bool:
        return "fallback:" in self.reason

    @property
    def relative_rms_error(self) -> float:
        """``rms_error / rms(source)`` (0 for an all-zero source)."""
        return self.rms_error / self.rms_source if self.rms_source else 0.0


@dataclass(frozen=True)
class QuantReport:
    """What :func:`quantize_model` did, one :class:`TensorReport` per tensor in input order."""

    fmt: str
    tensors: tuple[TensorReport, ...] = field(default=())

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    @property
    def source_nbytes(self) -> int:
        return sum(t.source_nbytes for t in self.tensors)

    @property
    def fallbacks(self) -> tuple[TensorReport, ...]:
        return tuple(t for t in self.tensors if t.fallback)

    def counts(self) -> dict[str, int]:
        """Tensors per chosen ggml type."""
        out: dict[str, int] = {}
        for t in self.tensors:
            out[t.ggml_type] = out.get(t.ggml_type, 0) + 1
        return out

    def to_dict(self) -> dict:
        """JSON-ready: the target, totals, type counts and one entry per tensor."""
        return {
            "fmt": self.fmt,
            "nbytes": self.nbytes,
            "source_nbytes": self.source_nbytes,
            "counts": self.counts(),
            "tensors": [
                {**t.__dict__, "shape": list(t.shape), "relative_rms_error": t.relative_rms_error} for t in self.tensors
            ],
        }


def _errors(x: np.ndarray, decoded: np.ndarray) -> tuple[float, float, float]:
    source = np.asarray(x, dtype=np.float64)
    diff = decoded.astype(np.float64) - source
    if diff.size == 0:
        return 0.0, 0.0, 0.0
    return (float(np.sqrt(np.mean(diff * diff))), float(np.max(np.abs(diff))), float(np.sqrt(np.mean(source * source))))


def quantize_model(
    tensors: Mapping[str, np.ndarray],
    fmt: str | int | GGMLType,
    policy: QuantPolicy | None = None,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[dict[str, QuantTensor], QuantReport]:
    """Quantize a model's float tensors (name -> array, GGUF or Hugging Face names, NumPy order
    ``[out_features, in_features]``) to ggml type ``fmt`` under ``policy`` (llama-quantize's defaults).

    Returns (name -> :class:`QuantTensor`, in input order; tensors kept in a float type are F32/F16/
    BF16 QuantTensors) and a :class:`QuantReport`. ``progress(name, index, total)`` is called before
    each tensor. QuantError names the tensor for non-float input, values a format cannot take, or a
    ``fmt`` without a quantizer.
    """
    policy = policy or QuantPolicy()
    target = block_format(fmt).ggml
    tied = not any(_is(name, _OUTPUT_NAMES) for name in tensors)
    out: dict[str, QuantTensor] = {}
    rows: list[TensorReport] = []
    for index, (name, array) in enumerate(tensors.items()):
        if progress is not None:
            progress(name, index, len(tensors))
        x = np.asarray(array)
        if x.dtype.kind != "f" and x.dtype.name != "bfloat16":
            raise QuantError(
                f"tensor {name!r}: quantize_model takes float tensors, got {x.dtype} of shape {list(x.shape)}"
            )
        shape = tuple(x.shape) or (1,)
        x = x.reshape(shape)
        chosen, reason = policy.choose(name, shape, x.dtype, target, tied)
        source = x.astype(np.float32) if x.dtype.name == "bfloat16" else x
        try:
            qt = QuantTensor(quantize(source, chosen), chosen, shape)
        except QuantError as e:
            raise QuantError(f"tensor {name!r}: {e}") from None
        out[name] = qt
        rms, worst, scale = _errors(source, dequantize(qt.raw, chosen))
        rows.append(TensorReport(name, shape, chosen.name, reason, qt.nbytes, int(x.nbytes), rms, worst, scale))
    return out, QuantReport(target.name, tuple(rows))
