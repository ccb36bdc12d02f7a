"""GGUF files of LLaMA models: ``load_gguf`` dequantizes one into a :class:`LlamaForCausalLM`,
``save_gguf`` writes one that llama.cpp and ``python -m axon_quant generate`` run.

Names: llama.cpp's ``token_embd`` / ``blk.N.attn_q`` / ``output`` ... are HF's
``model.embed_tokens`` / ``model.layers.N.self_attn.q_proj`` / ``lm_head`` ... (:data:`GLOBAL_NAMES`,
:data:`LAYER_NAMES`). Rotary layout: convert_hf_to_gguf.py permutes the rows of Q and K
(``LlamaModel.permute``) so that ggml's rotation of adjacent pairs ``(x[2i], x[2i+1])`` equals HF's
rotation of split halves ``(x[i], x[i + d/2])``; loading undoes that permutation per head, saving
applies it. The config comes from the ``llama.*`` metadata keys, the special token ids from
``tokenizer.ggml.*``; ``output.weight`` absent means tied embeddings.

Tokenizer metadata (``save_gguf(..., tokenizer=)``) is llama.cpp's ``gpt2`` vocabulary: tokens in id
order with their types (normal, control for special added tokens, user-defined for other added
tokens, unused for ids the tokenizer lacks), the BPE merges, the pre-tokenizer name that matches
the tokenizer.json's (``gpt-2`` for GPT-2's byte-level regex, ``smollm`` for digits then byte-level,
``llama-bpe`` and ``qwen2`` for their split regexes), BOS/EOS/UNK/PAD ids, whether BOS/EOS are added,
and the chat template.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import tokenizers

import axon_tensor
from axon_nn import deferred_init
from axon_quant import GGUFError, QuantError, QuantTensor, read_gguf, write_gguf
from axon_quant import quantize as quantize_values
from axon_quant.formats import block_format
from axon_quant.gguf import GGUFValueType
from axon_text import Tokenizer

from ..errors import LLMError, ModelLoadError
from ..models.llama import LlamaConfig, LlamaForCausalLM
from .hf import load_into

__all__ = [
    "GGUF_FORMATS",
    "GLOBAL_NAMES",
    "LAYER_NAMES",
    "gguf_to_hf_name",
    "hf_to_gguf_name",
    "load_gguf",
    "save_gguf",
]

#: llama.cpp name -> HF name of the tensors outside the layers.
GLOBAL_NAMES = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
#: llama.cpp name -> HF name inside layer N (``blk.N.`` -> ``model.layers.N.``).
LAYER_NAMES = {
    "attn_norm": "input_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_norm": "post_attention_layernorm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_HF_GLOBAL = {hf: gg for gg, hf in GLOBAL_NAMES.items()}
_HF_LAYER = {hf: gg for gg, hf in LAYER_NAMES.items()}

#: ``save_gguf`` formats -> llama.cpp's ``general.file_type`` (``LLAMA_FTYPE_*``). Every one of them
#: the axon-quant runtime embeds and multiplies, and llama.cpp runs.
GGUF_FORMATS: dict[str, int] = {
    "f32": 0,
    "f16": 1,
    "q4_0": 2,
    "q4_1": 3,
    "q8_0": 7,
    "q5_0": 8,
    "q5_1": 9,
    "bf16": 32,
}

# llama.cpp's token types (llama_token_type)
_NORMAL, _UNUSED, _CONTROL, _USER_DEFINED = 1, 5, 3, 4

# HF tokenizer.json split regexes -> llama.cpp pre-tokenizer names (llama-vocab.cpp), and whether
# that name's BPE looks up whole words before merging (``ignore_merges``).
_SPLIT_TAIL = r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_LLAMA3_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}" + _SPLIT_TAIL
_QWEN2_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}" + _SPLIT_TAIL
_SPLIT_PRE = {_LLAMA3_SPLIT: ("llama-bpe", True), _QWEN2_SPLIT: ("qwen2", False)}


def gguf_to_hf_name(name: str) -> str | None:
    """The HF name of a llama.cpp tensor name (``blk.3.attn_q.weight`` -> ``model.layers.3.self_attn.q_proj.weight``),
    None for a name outside the tables."""
    base, dot, kind = name.rpartition(".")
    if not dot or kind not in ("weight", "bias"):
        return None
    if base in GLOBAL_NAMES:
        return f"{GLOBAL_NAMES[base]}.{kind}"
    match = re.fullmatch(r"blk\.(\d+)\.(\w+)", base)
    if match and match.group(2) in LAYER_NAMES:
        return f"model.layers.{match.group(1)}.{LAYER_NAMES[match.group(2)]}.{kind}"
    return None


def hf_to_gguf_name(name: str) -> str | None:
    """The llama.cpp name of an HF Llama tensor name (the inverse of :func:`gguf_to_hf_name`)."""
    base, dot, kind = name.rpartition(".")
    if not dot or kind not in ("weight", "bias"):
        return None
    if base in _HF_GLOBAL:
        return f"{_HF_GLOBAL[base]}.{kind}"
    match = re.fullmatch(r"model\.layers\.(\d+)\.(.+)", base)
    if match and match.group(2) in _HF_LAYER:
        return f"blk.{match.group(1)}.{_HF_LAYER[match.group(2)]}.{kind}"
    return None


def _permute(rows: np.ndarray, heads: int) -> np.ndarray:
    """convert_hf_to_gguf.py's ``LlamaModel.permute``: per head, rows ``[half0 | half1]`` ->
    interleaved ``(half0[i], half1[i])`` pairs. ``rows``: ``[heads * head_dim, ...]``."""
    return rows.reshape(heads, 2, rows.shape[0] // heads // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def _unpermute(rows: np.ndarray, heads: int) -> np.ndarray:
    """The inverse of :func:`_permute`: interleaved pairs back to HF's split halves."""
    return rows.reshape(heads, rows.shape[0] // heads // 2, 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


# -- loading -----------------------------------------------------------------------------------
def _key(metadata: Mapping[str, Any], key: str, path: str, default: Any = None, kind: type = int) -> Any:
    value = metadata.get(key, default)
    if value is None:
        raise ModelLoadError(f"GGUF metadata key {key!r} is missing", path=path)
    if isinstance(value, list):  # per-layer values: only one shared by all layers is supported
        if not value or any(v != value[0] for v in value):
            raise ModelLoadError(
                f"GGUF metadata {key!r} differs between layers ({value[:8]}); not supported", path=path
            )
        value = value[0]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
        raise ModelLoadError(f"GGUF metadata {key!r} must be a positive integer, got {value!r}", path=path)
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0):
        raise ModelLoadError(f"GGUF metadata {key!r} must be a positive number, got {value!r}", path=path)
    return kind(value)


def gguf_config(metadata: Mapping[str, Any], tensor_shapes: Mapping[str, tuple[int, ...]], path: str) -> LlamaConfig:
    """The :class:`LlamaConfig` of a llama GGUF file from its metadata (and the shapes of its
    tensors, for the vocabulary size and the biases)."""
    arch = metadata.get("general.architecture")
    if arch != "llama":
        raise ModelLoadError(
            f"GGUF architecture {arch!r} is not one load_gguf builds (supported: 'llama', which Mistral files use too)",
            path=path,
        )
    if "token_embd.weight" not in tensor_shapes:
        raise ModelLoadError("the GGUF file has no token_embd.weight", path=path, tensor="token_embd.weight")
    hidden = _key(metadata, "llama.embedding_length", path)
    heads = _key(metadata, "llama.attention.head_count", path)
    kv_heads = _key(metadata, "llama.attention.head_count_kv", path, heads)
    head_dim = _key(metadata, "llama.attention.key_length", path, hidden // heads)
    if _key(metadata, "llama.attention.value_length", path, head_dim) != head_dim:
        raise ModelLoadError("llama.attention.value_length differs from key_length; not supported", path=path)
    if _key(metadata, "llama.rope.dimension_count", path, head_dim) != head_dim:
        raise ModelLoadError(
            f"llama.rope.dimension_count {metadata.get('llama.rope.dimension_count')} is not the head size "
            f"{head_dim} (partial rotary is not LLaMA)",
            path=path,
        )
    if metadata.get("llama.expert_count"):
        raise ModelLoadError("mixture-of-experts llama GGUF files (llama.expert_count) are not supported", path=path)
    if "rope_freqs.weight" in tensor_shapes:
        raise ModelLoadError(
            "rope_freqs.weight (llama 3.1 rope scaling as per-dimension factors) cannot be mapped back to an HF "
            "rope_parameters dict; not supported",
            path=path,
            tensor="rope_freqs.weight",
        )
    rope = {"rope_type": "default", "rope_theta": _key(metadata, "llama.rope.freq_base", path, 10000.0, float)}
    scaling = metadata.get("llama.rope.scaling.type", "none")
    factor = metadata.get("llama.rope.scaling.factor", metadata.get("llama.rope.scale_linear"))
    if scaling == "linear" or (scaling == "none" and factor not in (None, 0, 1, 1.0)):
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0:
            raise ModelLoadError(f"linear rope scaling needs a positive factor, got {factor!r}", path=path)
        rope = {**rope, "rope_type": "linear", "factor": float(factor)}
    elif scaling != "none":
        raise ModelLoadError(f"llama.rope.scaling.type {scaling!r} is not supported (none, linear)", path=path)
    vocab = tensor_shapes["token_embd.weight"][0]
    if metadata.get("llama.vocab_size", vocab) != vocab:
        raise ModelLoadError(
            f"llama.vocab_size {metadata['llama.vocab_size']} differs from token_embd's {vocab} rows", path=path
        )

    def token_id(key: str) -> int | None:
        value = metadata.get(f"tokenizer.ggml.{key}")
        return int(value) if isinstance(value, int) and 0 <= value < vocab else None

    return LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=_key(metadata, "llama.feed_forward_length", path),
        num_hidden_layers=_key(metadata, "llama.block_count", path),
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=head_dim,
        max_position_embeddings=_key(metadata, "llama.context_length", path),
        rms_norm_eps=_key(metadata, "llama.attention.layer_norm_rms_epsilon", path, kind=float),
        rope_parameters=rope,
        attention_bias="blk.0.attn_q.bias" in tensor_shapes,
        mlp_bias="blk.0.ffn_gate.bias" in tensor_shapes,
        tie_word_embeddings="output.weight" not in tensor_shapes,
        bos_token_id=token_id("bos_token_id"),
        eos_token_id=token_id("eos_token_id"),
        pad_token_id=token_id("padding_token_id"),
    )


def load_gguf(path: str | os.PathLike[str], dtype: Any = None) -> LlamaForCausalLM:
    """A :class:`LlamaForCausalLM` with the weights of the llama GGUF file at ``path``, dequantized
    by axon-quant to float32 (``dtype`` converts the model afterwards, as ``from_pretrained``'s).

    Q and K rows are put back in HF's order (see the module docstring). ModelLoadError naming the
    file (and tensor) for another architecture, missing metadata, an unknown tensor name, a shape
    the config does not imply, or a tensor the model needs that the file lacks.
    """
    path = os.fspath(path)
    try:
        source = read_gguf(path)
    except (GGUFError, OSError) as exc:
        raise ModelLoadError(f"cannot read the GGUF file: {exc}", path=path) from exc
    with source:
        shapes = {name: tuple(t.shape) for name, t in source.tensors.items()}
        config = gguf_config(source.metadata, shapes, path)
        state: dict[str, Any] = {}
        for name, tensor in source.tensors.items():
            hf_name = gguf_to_hf_name(name)
            if hf_name is None:
                raise ModelLoadError(
                    "a tensor load_gguf does not know how to map to an HF name", path=path, tensor=name
                )
            try:
                values = tensor.dequantize()
            except QuantError as exc:
                raise ModelLoadError(
                    f"cannot dequantize {tensor.ggml_type.name}: {exc}", path=path, tensor=name
                ) from exc
            if hf_name.endswith(("q_proj.weight", "q_proj.bias")):
                values = _unpermute(values, config.num_attention_heads)
            elif hf_name.endswith(("k_proj.weight", "k_proj.bias")):
                values = _unpermute(values, config.num_key_value_heads)
            state[hf_name] = axon_tensor.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
    # Built without storage, then given the file's arrays: a random initialisation that the file
    # overwrites costs 18 s for SmolLM2-135M. A tensor left out here (missing, or of another shape)
    # stays deferred and load_into reports it.
    with deferred_init():
        model = LlamaForCausalLM(config)
    own = model.state_dict(keep_vars=True)
    for name, value in state.items():
        if name in own and tuple(own[name].shape) == tuple(value.shape):
            own[name].data = value
    load_into(model, state, dict.fromkeys(state, path))
    if dtype is not None and dtype != "auto":
        model.to(dtype=dtype)
    model.eval()
    return model


# -- saving ------------------------------------------------------------------------------------
def _engine_of(tokenizer: Any) -> tuple[tokenizers.Tokenizer, dict[str, str | None], str | None]:
    """(the HF tokenizers engine, {bos, eos, unk, pad: token text}, chat template) of what save_gguf was given."""
    from ..tokenization import PretrainedTokenizer

    if isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = PretrainedTokenizer.from_pretrained(tokenizer)
    if isinstance(tokenizer, tokenizers.Tokenizer):
        tokenizer = Tokenizer(tokenizer)
    if isinstance(tokenizer, PretrainedTokenizer):
        template = tokenizer.chat_template
        if isinstance(template, dict):
            template = template.get("default")
        roles = {r: getattr(tokenizer, f"{r}_token") for r in ("bos", "eos", "unk", "pad")}
        return tokenizer.tokenizer.engine, roles, template
    if isinstance(tokenizer, Tokenizer):
        return tokenizer.engine, {r: tokenizer.special_tokens.get(r) for r in ("bos", "eos", "unk", "pad")}, None
    raise LLMError(
        "save_gguf: tokenizer must be a PretrainedTokenizer, an axon_text.Tokenizer, a tokenizers.Tokenizer, "
        f"or a path to a tokenizer folder / tokenizer.json; got {type(tokenizer).__name__}"
    )


def _pre_tokenizer_name(spec: Any) -> tuple[str, bool]:
    """llama.cpp's pre-tokenizer name for a tokenizer.json ``pre_tokenizer`` (and its ignore_merges)."""

    def byte_level(item: Any, regex: bool) -> bool:
        return (
            isinstance(item, dict)
            and item.get("type") == "ByteLevel"
            and bool(item.get("use_regex", True)) == regex
            and not item.get("add_prefix_space", False)
        )

    if byte_level(spec, True):
        return "gpt-2", False
    items = spec.get("pretokenizers") if isinstance(spec, dict) and spec.get("type") == "Sequence" else None
    if items and len(items) == 2:
        first, second = items
        if first.get("type") == "Digits" and first.get("individual_digits") and byte_level(second, True):
            return "smollm", False
        if first.get("type") == "Split" and byte_level(second, False):
            pattern = (first.get("pattern") or {}).get("Regex")
            if pattern in _SPLIT_PRE and first.get("behavior") == "Isolated" and not first.get("invert"):
                return _SPLIT_PRE[pattern]
    raise LLMError(
        "save_gguf: the tokenizer's pre-tokenizer has no llama.cpp equivalent we know "
        f"(GPT-2 byte-level, digits + byte-level, or the llama-3 / qwen2 split regexes): {json.dumps(spec)[:300]}"
    )


def _adds(post_processor: Any, token_id: int | None, at: int) -> bool:
    """Whether a tokenizer.json post-processor puts ``token_id`` at position ``at`` (0 or -1) of a single text."""
    if post_processor is None or token_id is None:
        return False
    kind = post_processor.get("type")
    if kind == "Sequence":
        return any(_adds(p, token_id, at) for p in post_processor.get("processors", []))
    if kind == "ByteLevel":
        return False
    if kind == "TemplateProcessing":
        single = post_processor.get("single") or []
        if not single or "SpecialToken" not in single[at]:
            return False
        name = single[at]["SpecialToken"]["id"]
        return token_id in (post_processor.get("special_tokens", {}).get(name, {}).get("ids") or [])
    raise LLMError(f"save_gguf: post-processor {kind!r} has no llama.cpp equivalent (BOS/EOS flags)")


def tokenizer_metadata(tokenizer: Any, vocab_size: int) -> dict[str, Any]:
    """llama.cpp's ``tokenizer.*`` metadata (``gpt2`` BPE) for a byte-level BPE tokenizer whose
    vocabulary fits ``vocab_size`` (ids it lacks become unused ``[PAD<id>]`` tokens)."""
    engine, roles, template = _engine_of(tokenizer)
    spec = json.loads(engine.to_str())
    model = spec.get("model") or {}
    if model.get("type") != "BPE":
        raise LLMError(f"save_gguf: only BPE tokenizers have a gguf form here, got {model.get('type')!r}")
    if model.get("byte_fallback") or model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        raise LLMError("save_gguf: a BPE with byte fallback or sub-word affixes is not byte-level BPE")
    if spec.get("normalizer") is not None:
        raise LLMError(f"save_gguf: llama.cpp's gpt2 vocabulary has no normalizer; this one has {spec['normalizer']}")
    pre, ignore_merges = _pre_tokenizer_name(spec.get("pre_tokenizer"))
    if bool(model.get("ignore_merges", False)) != ignore_merges:
        raise LLMError(f"save_gguf: ignore_merges={model.get('ignore_merges')} disagrees with llama.cpp's {pre!r}")
    vocab = engine.get_vocab(with_added_tokens=True)
    if not vocab or max(vocab.values()) >= vocab_size:
        raise LLMError(
            f"save_gguf: the tokenizer has ids up to {max(vocab.values(), default=-1)}; the model {vocab_size}"
        )
    tokens = [f"[PAD{i}]" for i in range(vocab_size)]
    types = [_UNUSED] * vocab_size
    for token, index in vocab.items():
        tokens[index], types[index] = token, _NORMAL
    for index, added in engine.get_added_tokens_decoder().items():
        types[index] = _CONTROL if added.special else _USER_DEFINED
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    ids = {role: (engine.token_to_id(text) if text is not None else None) for role, text in roles.items()}
    metadata: dict[str, Any] = {
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": pre,
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.merges": merges,
    }
    names = {"bos": "bos_token_id", "eos": "eos_token_id", "unk": "unknown_token_id", "pad": "padding_token_id"}
    for role, key in names.items():
        if ids[role] is not None:
            metadata[f"tokenizer.ggml.{key}"] = ids[role]
    post = spec.get("post_processor")
    metadata["tokenizer.ggml.add_bos_token"] = _adds(post, ids["bos"], 0)
    metadata["tokenizer.ggml.add_eos_token"] = _adds(post, ids["eos"], -1)
    if template:
        metadata["tokenizer.chat_template"] = template
    return metadata


def _weight_format(name: str, shape: tuple[int, ...], fmt: str) -> str:
    """The ggml type a tensor is written in: norms and biases stay f32 (as convert_hf_to_gguf.py
    keeps 1-d tensors), matrices take ``fmt`` when their rows are whole blocks, else f32."""
    if len(shape) < 2:
        return "f32"
    return fmt if shape[-1] % block_format(fmt).ggml.block_size == 0 else "f32"


def save_gguf(
    model: LlamaForCausalLM,
    path: str | os.PathLike[str],
    fmt: str = "q8_0",
    tokenizer: Any = None,
    *,
    name: str | None = None,
) -> dict[str, str]:
    """Write ``model`` (a Llama) to a GGUF file at ``path``, atomically; returns tensor name -> ggml type.

    ``fmt``: one of :data:`GGUF_FORMATS` for the weight matrices (1-d tensors stay f32; a matrix whose
    rows are not whole blocks stays f32). ``tokenizer``: a byte-level BPE tokenizer (a
    :class:`~axon_llm.tokenization.PretrainedTokenizer`, an :class:`axon_text.Tokenizer`, a
    ``tokenizers.Tokenizer``, or a path to a tokenizer folder / tokenizer.json); without one the file
    has no vocabulary (``tokenizer.ggml.model = "none"``: llama.cpp runs token ids, no text).
    ``name`` is ``general.name``. LLMError for another architecture, an unknown format, rope scaling
    llama.cpp cannot be told, or a tokenizer with no llama.cpp form.
    """
    config = getattr(model, "config", None)
    if not isinstance(model, LlamaForCausalLM) or not isinstance(config, LlamaConfig):
        raise LLMError(f"save_gguf writes LlamaForCausalLM models, got {type(model).__name__}")
    fmt = str(fmt).lower()
    if fmt not in GGUF_FORMATS:
        raise LLMError(f"save_gguf: format {fmt!r} is not one of {sorted(GGUF_FORMATS)}")
    rope = dict(config.rope_parameters or {})
    rope_type = rope.get("rope_type", "default")
    if rope_type not in ("default", "linear"):
        raise LLMError(f"save_gguf: rope_type {rope_type!r} is not written (default and linear are)")
    metadata: dict[str, Any] = {
        "general.architecture": "llama",
        "general.name": name or "axon-llama",
        "general.file_type": GGUF_FORMATS[fmt],
        "general.quantization_version": 2,
        "llama.vocab_size": config.vocab_size,
        "llama.context_length": config.max_position_embeddings,
        "llama.embedding_length": config.hidden_size,
        "llama.block_count": config.num_hidden_layers,
        "llama.feed_forward_length": config.intermediate_size,
        "llama.rope.dimension_count": config.head_dim,
        "llama.attention.head_count": config.num_attention_heads,
        "llama.attention.head_count_kv": config.num_key_value_heads,
        "llama.attention.layer_norm_rms_epsilon": float(config.rms_norm_eps),
        "llama.rope.freq_base": float(rope.get("rope_theta", 10000.0)),
    }
    if config.head_dim * config.num_attention_heads != config.hidden_size:
        metadata["llama.attention.key_length"] = config.head_dim
        metadata["llama.attention.value_length"] = config.head_dim
    if rope_type == "linear":
        metadata["llama.rope.scaling.type"] = "linear"
        metadata["llama.rope.scaling.factor"] = float(rope["factor"])
    types: dict[str, Any] = {}
    if tokenizer is not None:
        metadata.update(tokenizer_metadata(tokenizer, config.vocab_size))
        types["tokenizer.ggml.token_type"] = GGUFValueType.INT32  # as llama.cpp's converters write it
    else:
        metadata["tokenizer.ggml.model"] = "none"
    own = dict(model.state_dict())
    if config.tie_word_embeddings:
        own.pop("lm_head.weight", None)
    tensors: dict[str, Any] = {}
    written: dict[str, str] = {}
    for hf_name, value in own.items():
        if any(hf_name.endswith(suffix) for suffix in model.ignored_on_load):  # derived buffers (rope tables)
            continue
        gguf_name = hf_to_gguf_name(hf_name)
        if gguf_name is None:
            raise LLMError(f"save_gguf: parameter {hf_name!r} has no llama.cpp name")
        array = np.asarray(value.numpy(), dtype=np.float32)
        if hf_name.endswith(("q_proj.weight", "q_proj.bias")):
            array = _permute(array, config.num_attention_heads)
        elif hf_name.endswith(("k_proj.weight", "k_proj.bias")):
            array = _permute(array, config.num_key_value_heads)
        kind = _weight_format(gguf_name, array.shape, fmt)
        if kind == "f32":
            tensors[gguf_name] = np.ascontiguousarray(array)
        else:
            tensors[gguf_name] = QuantTensor(quantize_values(array, kind), kind, array.shape)
        written[gguf_name] = kind
    write_gguf(path, metadata, tensors, types=types)
    return written
