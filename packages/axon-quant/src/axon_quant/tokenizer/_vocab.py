"""A GGUF vocabulary read from its metadata the way llama.cpp's ``llama_vocab::impl::load`` reads it.

Token attributes, special ids and their defaults, ``add_bos``/``add_eos``, the end-of-generation
set and the list of special tokens that text is split on all follow llama.cpp, including its
name-based fixes (a ``<|im_end|>`` that is not a control token becomes one).
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import GGUFError, QuantError
from ._pretokenize import PRE_TOKENIZERS, PreTokenizer

__all__ = ["TokenAttr", "TokenizerError", "Vocab", "read_vocab"]


class TokenizerError(QuantError):
    """Text or ids a tokenizer cannot take (an id outside the vocabulary, text that is not UTF-8)."""


class TokenAttr(enum.IntFlag):
    """llama.cpp's ``llama_token_attr`` bits."""

    UNDEFINED = 0
    UNKNOWN = 1 << 0
    UNUSED = 1 << 1
    NORMAL = 1 << 2
    CONTROL = 1 << 3
    USER_DEFINED = 1 << 4
    BYTE = 1 << 5
    NORMALIZED = 1 << 6
    LSTRIP = 1 << 7
    RSTRIP = 1 << 8
    SINGLE_WORD = 1 << 9


# Plain ints for the per-token work (IntFlag arithmetic is slow over 262,144 tokens).
UNKNOWN, UNUSED, NORMAL, CONTROL, USER_DEFINED, BYTE, LSTRIP, RSTRIP = (
    int(a)
    for a in (
        TokenAttr.UNKNOWN,
        TokenAttr.UNUSED,
        TokenAttr.NORMAL,
        TokenAttr.CONTROL,
        TokenAttr.USER_DEFINED,
        TokenAttr.BYTE,
        TokenAttr.LSTRIP,
        TokenAttr.RSTRIP,
    )
)

# GGUF tokenizer.ggml.token_type values (llama_token_type) to attributes.
_TYPE_ATTR = {0: 0, 1: NORMAL, 2: UNKNOWN, 3: CONTROL, 4: USER_DEFINED, 5: UNUSED, 6: BYTE}

_KEY = "tokenizer.ggml."

# Token texts llama.cpp takes for special roles when the file names no id (llama-vocab.cpp).
_ROLE_TEXTS: dict[str, tuple[str, ...]] = {
    "eot": (
        "<|eot_id|>",
        "<|im_end|>",
        "<|end|>",
        "<end_of_turn>",
        "<|endoftext|>",
        "<|end_of_text|>",
        "<EOT>",
        "_<EOT>",
        "[EOT]",
        "<｜end▁of▁sentence｜>",
        "<end_of_utterance>",
    ),
    "eom": ("<|eom_id|>",),
    "fim_pre": (
        "<|fim_prefix|>",
        "<fim-prefix>",
        "<fim_prefix>",
        "<｜fim▁begin｜>",
        "<PRE>",
        "▁<PRE>",
        "<|code_prefix|>",
        "<|prefix|>",
    ),
    "fim_suf": (
        "<|fim_suffix|>",
        "<fim-suffix>",
        "<fim_suffix>",
        "<｜fim▁hole｜>",
        "<SUF>",
        "▁<SUF>",
        "<|code_suffix|>",
        "<|suffix|>",
    ),
    "fim_mid": (
        "<|fim_middle|>",
        "<fim-middle>",
        "<fim_middle>",
        "<｜fim▁end｜>",
        "<MID>",
        "▁<MID>",
        "<|code_middle|>",
        "<|middle|>",
    ),
    "fim_pad": ("<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"),
    "fim_rep": ("<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"),
    "fim_sep": ("<|file_sep|>",),
}
_EOG_TEXTS = frozenset(
    (
        "<|eot_id|>",
        "<|im_end|>",
        "<|end|>",
        "<|return|>",
        "<|call|>",
        "<|flush|>",
        "<|calls|>",
        "<end_of_turn>",
        "<|endoftext|>",
        "</s>",
        "<|eom_id|>",
        "<EOT>",
        "_<EOT>",
        "[EOT]",
        "[EOS]",
        "<|end_of_text|>",
        "<end_of_utterance>",
        "<eos>",
        "<turn|>",
        "<|tool_response>",
        "<｜end▁of▁sentence｜>",
        "[e~[",
    )
)
# The metadata key of each special role (the deprecated prefix/suffix/middle keys feed fim_*).
_ROLE_KEYS: tuple[tuple[str, str], ...] = (
    ("bos", "bos_token_id"),
    ("eos", "eos_token_id"),
    ("eot", "eot_token_id"),
    ("eom", "eom_token_id"),
    ("unk", "unknown_token_id"),
    ("sep", "seperator_token_id"),
    ("pad", "padding_token_id"),
    ("mask", "mask_token_id"),
    ("fim_pre", "fim_pre_token_id"),
    ("fim_suf", "fim_suf_token_id"),
    ("fim_mid", "fim_mid_token_id"),
    ("fim_pad", "fim_pad_token_id"),
    ("fim_rep", "fim_rep_token_id"),
    ("fim_sep", "fim_sep_token_id"),
    ("fim_pre", "prefix_token_id"),
    ("fim_suf", "suffix_token_id"),
    ("fim_mid", "middle_token_id"),
)


@dataclass
class Vocab:
    """Everything the tokenizer needs from the metadata; ids index ``tokens``."""

    model: str  # "gpt2" (byte-level BPE) or "llama" (SPM)
    tokens: list[str]
    token_to_id: dict[str, int]
    scores: list[float]
    attrs: list[int]  # TokenAttr bits
    special: dict[str, int | None]  # role ("bos", "eos", "eot", ...) -> id
    add_bos: bool
    add_eos: bool
    add_space_prefix: bool
    clean_spaces: bool
    pre: PreTokenizer | None  # BPE only
    merges: dict[tuple[str, str], int] = field(default_factory=dict)
    eog_ids: frozenset[int] = frozenset()
    special_tokens: list[int] = field(default_factory=list)  # matched in text, longest (in bytes) first


def _get(metadata: Mapping[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    key = _KEY + name
    if key not in metadata:
        return default
    value = metadata[key]
    if kind is list:
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
            raise GGUFError(f"{key} must be an array, got {type(value).__name__}", field=key)
        return list(value)
    if kind is bool:
        if not isinstance(value, (bool, int)) or isinstance(value, float):
            raise GGUFError(f"{key} must be a bool, got {value!r}", field=key)
        return bool(value)
    if kind is int:
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise GGUFError(f"{key} must be an integer, got {value!r}", field=key)
        return int(value)
    if not isinstance(value, kind):
        raise GGUFError(f"{key} must be a {kind.__name__}, got {type(value).__name__}", field=key)
    return value


def _read_tokens(metadata: Mapping[str, Any]) -> tuple[list[str], dict[str, int]]:
    raw = _get(metadata, "tokens", list)
    if raw is None:
        raise GGUFError("no tokenizer vocabulary (tokenizer.ggml.tokens)", field=_KEY + "tokens")
    tokens: list[str] = []
    token_to_id: dict[str, int] = {}
    for i, word in enumerate(raw):
        if not isinstance(word, str):
            raise GGUFError(f"token {i} is a {type(word).__name__}, not a string", field=_KEY + "tokens")
        if not word:
            word = f"[EMPTY_{i}]"  # llama.cpp's name for an empty token
        if word in token_to_id:
            raise GGUFError(f"token {i} {word!r} repeats token {token_to_id[word]}", field=_KEY + "tokens")
        token_to_id[word] = i
        tokens.append(word)
    return tokens, token_to_id


def _read_array(metadata: Mapping[str, Any], name: str, n: int, item: type) -> list | None:
    values = _get(metadata, name, list)
    if values is None:
        return None
    if len(values) < n:
        raise GGUFError(f"{len(values)} entries for {n} tokens", field=_KEY + name)
    try:
        return [item(v) for v in values[:n]]
    except (TypeError, ValueError) as exc:
        raise GGUFError(f"entries must be numbers ({exc})", field=_KEY + name) from exc


def _read_merges(metadata: Mapping[str, Any]) -> dict[tuple[str, str], int]:
    raw = _get(metadata, "merges", list)
    if raw is None:
        raise GGUFError("a gpt2 tokenizer needs tokenizer.ggml.merges", field=_KEY + "merges")
    ranks: dict[tuple[str, str], int] = {}
    for rank, merge in enumerate(raw):
        if not isinstance(merge, str):
            raise GGUFError(f"merge {rank} is not a string", field=_KEY + "merges")
        cut = merge.find(" ", 1)  # the first space after the first character, as llama.cpp splits it
        pair = (merge[:cut], merge[cut + 1 :]) if cut >= 0 else ("", "")
        ranks.setdefault(pair, rank)
    return ranks


def _pre_tokenizer(metadata: Mapping[str, Any]) -> PreTokenizer:
    name = _get(metadata, "pre", str, "") or "default"
    try:
        return PRE_TOKENIZERS[name]
    except KeyError:
        raise GGUFError(
            f"pre-tokenizer {name!r} is not supported (known: {', '.join(sorted(PRE_TOKENIZERS))})",
            field=_KEY + "pre",
        ) from None


def _special_ids(metadata: Mapping[str, Any], model: str, n: int, pre: PreTokenizer | None) -> dict[str, int | None]:
    special: dict[str, int | None] = dict.fromkeys(
        (
            "bos",
            "eos",
            "eot",
            "eom",
            "unk",
            "sep",
            "pad",
            "mask",
            "fim_pre",
            "fim_suf",
            "fim_mid",
            "fim_pad",
            "fim_rep",
            "fim_sep",
        )
    )
    if model == "llama":
        special.update(bos=1, eos=2, unk=0)
    else:
        special.update(bos=11, eos=11)
    if pre is not None and pre.bos_null:
        special["bos"] = None
    for role, name in _ROLE_KEYS:
        if special[role] is not None and special[role] >= n:
            special[role] = None  # a default outside the vocabulary is disabled
        value = _get(metadata, name, int)
        if value is None:
            continue
        if 0 <= value < n:
            special[role] = value
        else:
            warnings.warn(
                f"{_KEY + name} = {value} is outside the vocabulary of {n}; keeping {special[role]}", stacklevel=4
            )
    return special


def _mark_control(attrs: list[int], i: int) -> None:
    attrs[i] |= CONTROL


def _find_roles(vocab: Vocab) -> None:
    # llama.cpp walks an unordered map; lowest id first is our deterministic order.
    for role, texts in _ROLE_TEXTS.items():
        if vocab.special[role] is not None:
            continue
        for text in texts:
            i = vocab.token_to_id.get(text)
            if i is not None and (vocab.special[role] is None or i < vocab.special[role]):
                vocab.special[role] = i
        if vocab.special[role] is not None:
            _mark_control(vocab.attrs, vocab.special[role])
    attrs = vocab.attrs
    for i, text in enumerate(vocab.tokens):
        if attrs[i] & CONTROL and "unused" in text:
            attrs[i] |= UNUSED


def _end_of_generation(vocab: Vocab) -> frozenset[int]:
    eog = {vocab.special[role] for role in ("fim_pad", "fim_rep", "fim_sep")} - {None}
    for text in _EOG_TEXTS:
        i = vocab.token_to_id.get(text)
        if i is not None:
            eog.add(i)
            _mark_control(vocab.attrs, i)
    for text in ("<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"):  # gpt-oss: always rendered
        i = vocab.token_to_id.get(text)
        if i is not None:
            vocab.attrs[i] = USER_DEFINED
    eog |= {vocab.special[role] for role in ("eos", "eot", "eom")} - {None}
    texts = {vocab.tokens[i]: i for i in eog}
    # o200k_harmony / solar-open: "<|end|>" ends a message, not the generation.
    if "<|end|>" in texts and (
        ("<|return|>" in texts and ("<|call|>" in texts or "<|calls|>" in texts))
        or (("<|call|>" in texts or "<|calls|>" in texts) and "<|flush|>" in texts)
    ):
        eog.discard(texts["<|end|>"])
        vocab.attrs[texts["<|end|>"]] = USER_DEFINED
    # gemma4 and plamo: "</s>" is a normal token there.
    if "</s>" in texts and ("<|tool_response>" in texts or "<|plamo:eos|>" in texts):
        eog.discard(texts["</s>"])
        vocab.attrs[texts["</s>"]] = NORMAL
    return frozenset(eog)


def _strip_attrs(vocab: Vocab, metadata: Mapping[str, Any]) -> None:
    # llama.cpp sets LSTRIP/RSTRIP by model name, pre-tokenizer or architecture.
    name = str(metadata.get("general.name", "")).lower()
    pre = str(metadata.get(_KEY + "pre", ""))
    arch = str(metadata.get("general.architecture", ""))

    def set_attr(text: str, attr: int, value: bool) -> None:
        i = vocab.token_to_id.get(text)
        if i is not None:
            vocab.attrs[i] = (vocab.attrs[i] | attr) if value else (vocab.attrs[i] & ~attr)

    if any(s in pre for s in ("jina-v2-de", "jina-v2-es", "jina-v2-code")) or any(
        s in arch for s in ("nomic-bert-moe", "jina-bert-v3")
    ):
        set_attr("<mask>", LSTRIP, True)
    elif "phi-3" in name or "phi3" in name:
        for i in vocab.special_tokens:
            vocab.attrs[i] |= RSTRIP
        set_attr("</s>", RSTRIP, True)
        for text in ("<unk>", "<s>", "<|endoftext|>"):
            set_attr(text, RSTRIP, False)
    elif "modern-bert" in name:
        set_attr("[MASK]", LSTRIP, True)


def read_vocab(metadata: Mapping[str, Any]) -> Vocab:
    """The vocabulary described by GGUF ``metadata`` (keys ``tokenizer.ggml.*``, plain Python values)."""
    model = _get(metadata, "model", str)
    if model is None:
        raise GGUFError("no tokenizer model (tokenizer.ggml.model)", field=_KEY + "model")
    if model not in ("gpt2", "llama"):
        raise GGUFError(f"tokenizer model {model!r} is not supported (gpt2 and llama are)", field=_KEY + "model")
    tokens, token_to_id = _read_tokens(metadata)
    n = len(tokens)
    scores = _read_array(metadata, "scores", n, float) or [0.0] * n
    types = _read_array(metadata, "token_type", n, int)
    attrs = [_TYPE_ATTR.get(t, 0) for t in types] if types is not None else [NORMAL] * n
    if model == "gpt2":
        pre = _pre_tokenizer(metadata)
        merges = _read_merges(metadata)
        add_bos, add_space_prefix, clean_spaces = pre.add_bos, False, pre.clean_spaces
    else:
        pre, merges = None, {}
        add_bos, add_space_prefix, clean_spaces = True, True, False
    add_space_prefix = _get(metadata, "add_space_prefix", bool, add_space_prefix)
    vocab = Vocab(
        model=model,
        tokens=tokens,
        token_to_id=token_to_id,
        scores=scores,
        attrs=attrs,
        special=_special_ids(metadata, model, n, pre),
        add_bos=_get(metadata, "add_bos_token", bool, add_bos),
        add_eos=_get(metadata, "add_eos_token", bool, False),
        add_space_prefix=add_space_prefix,
        clean_spaces=clean_spaces,
        pre=pre,
        merges=merges,
    )
    _find_roles(vocab)
    vocab.eog_ids = _end_of_generation(vocab)
    wanted = CONTROL | USER_DEFINED | UNKNOWN
    special = [i for i in range(n) if attrs[i] & wanted]
    vocab.special_tokens = sorted(special, key=lambda i: (-len(tokens[i].encode()), i))
    _strip_attrs(vocab, metadata)
    return vocab
