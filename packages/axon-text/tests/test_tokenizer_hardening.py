"""Hostile tokenizer.json files and inputs: refused with TokenizerError naming file and field, engine
panics contained, truncated encodes bounded by max_length and equal to the engine's, bad ids refused."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
import tokenizers
from tokenizers import Regex, models, pre_tokenizers

from axon_core import DTypeError
from axon_tensor import from_numpy
from axon_text import BPETokenizer, Tokenizer, TokenizerError, TokenizerLimits, WordPieceTokenizer

_spec = importlib.util.spec_from_file_location("_tokenizer_mutants", Path(__file__).with_name("_tokenizer_mutants.py"))
mutants = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mutants)


@pytest.fixture(scope="module")
def bases() -> dict:
    return mutants.base_files()


def _with(base: dict, **changes) -> str:
    doc = json.loads(json.dumps(base))
    doc.update(changes)
    return json.dumps(doc)


def _refused(text: str, field: str, match: str | None = None) -> TokenizerError:
    with pytest.raises(TokenizerError, match=match) as caught:
        Tokenizer.from_str(text)
    assert caught.value.field == field, caught.value
    return caught.value


def _raw_engine_fails(text: str, probe: str = "hello " + "".join(mutants.CHARSMAP) + " world") -> bool:
    """Whether HF tokenizers itself fails (error or panic) loading ``text`` or encoding ``probe``."""
    try:
        tokenizers.Tokenizer.from_str(text).encode(probe)
    except BaseException as exc:  # noqa: BLE001 (a PanicException is a BaseException)
        return not isinstance(exc, (KeyboardInterrupt, SystemExit))
    return False


# -- limits ----------------------------------------------------------------------------------------
def test_padding_and_truncation_lengths_are_bounded(bases: dict) -> None:
    base = bases["wordpiece"]
    padding = dict(base["padding"])
    for fixed in (2**31, 10**7, -1, "128", True):
        padding["strategy"] = {"Fixed": fixed}
        _refused(_with(base, padding=padding), "padding.strategy.Fixed")
    padding["strategy"] = "BatchLongest"
    padding["pad_to_multiple_of"] = 10**6
    _refused(_with(base, padding=padding), "padding.pad_to_multiple_of")
    truncation = {"direction": "Right", "max_length": 2**40, "strategy": "LongestFirst", "stride": 0}
    _refused(_with(base, truncation=truncation), "truncation.max_length")
    truncation.update(max_length=128, stride=100)
    _refused(_with(base, truncation=truncation), "truncation.stride")
    truncation.update(stride=64)
    assert Tokenizer.from_str(_with(base, truncation=truncation)).engine.truncation["stride"] == 64
    # a limit can be raised for a file that needs more
    padding.update(strategy={"Fixed": 100_000}, pad_to_multiple_of=None)
    loose = Tokenizer.from_str(_with(base, padding=padding), limits=TokenizerLimits(max_padding=100_000))
    assert loose.engine.padding["length"] == 100_000


def test_api_lengths_are_bounded_too(bases: dict) -> None:
    tok = Tokenizer.from_str(json.dumps(bases["wordpiece"]))
    with pytest.raises(ValueError, match="length"):
        tok.enable_padding(length=2**31)
    with pytest.raises(ValueError, match="max_length"):
        tok.enable_truncation(2**31)
    with pytest.raises(ValueError, match="stride"):
        tok.enable_truncation(10, stride=9)


def test_growth_templates_and_fixed_length_are_bounded(bases: dict) -> None:
    base = bases["char_word"]
    replace = {"type": "Replace", "pattern": {"String": "a"}, "content": "a" * 500}
    _refused(_with(base, normalizer=replace), "normalizer", "500x")
    double = {"type": "Replace", "pattern": {"String": "a"}, "content": "aa"}
    doubling = {"type": "Sequence", "normalizers": [double] * 7}
    _refused(_with(base, normalizer=doubling), "normalizer", "128x")
    # the engine matches a component of unknown type by its fields: the check reads fields too
    disguised = {"type": "Sequence", "normalizers": [dict(double, type="Unheard")] * 7}
    assert not _raw_engine_fails(_with(base, normalizer=disguised), probe="b")  # HF loads it as Replace rules
    _refused(_with(base, normalizer=disguised), "normalizer", "128x")
    empty_match = {"type": "Replace", "pattern": {"Regex": "(?=a)"}, "content": "x" * 70}
    _refused(_with(base, normalizer=empty_match), "normalizer")
    many = {"id": "x", "ids": [1] * 2000, "tokens": ["a"] * 2000}
    template = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "x", "type_id": 0}}],
        "pair": [],
        "special_tokens": {"x": many},
    }
    _refused(_with(base, post_processor=template), "post_processor", "2000 tokens")
    twice = dict(template, single=[{"Sequence": {"id": "A", "type_id": 0}}] * 2, special_tokens={})
    _refused(_with(base, post_processor=twice), "post_processor.single", "appears 2 times")
    uneven = dict(template, special_tokens={"x": {"id": "x", "ids": [1, 1], "tokens": ["a"]}})
    _refused(_with(base, post_processor=uneven), "post_processor.special_tokens.x")
    _refused(_with(base, pre_tokenizer={"type": "FixedLength", "length": 0}), "pre_tokenizer.length")
    model = dict(bases["wordpiece"]["model"], max_input_chars_per_word=10**9)
    _refused(_with(bases["wordpiece"], model=model), "model.max_input_chars_per_word")


# -- regexes ---------------------------------------------------------------------------------------
REAL_PATTERNS = [
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",  # GPT-2
    mutants.LLAMA3_SPLIT,
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
    r"""\s*[\r\n]+|\s+(?!\S)|\s+""",  # Qwen 2
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"""
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"""
    r"""\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+""",  # GPT-4o (o200k)
    "[一-龥\u3040-ゟ゠-ヿ]+",  # DeepSeek's CJK run
    r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|"""
    r""" ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",  # DeepSeek V3
    r""" ?[^(\s|[.,!?…。，、।۔،])]+""",  # BLOOM
    r"""[0-9][0-9][0-9]""",
]


def _split(pattern: str) -> dict:
    return {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False}


@pytest.mark.parametrize("pattern", REAL_PATTERNS, ids=range(len(REAL_PATTERNS)))
def test_real_tokenizer_patterns_pass_the_screen(bases: dict, pattern: str) -> None:
    text = _with(bases["char_word"], pre_tokenizer=_split(pattern))
    tok = Tokenizer.from_str(text)
    sample = "Hello world's 123 4567 ÀΩ 日本 \r\n  x"
    assert tok.encode(sample) == tokenizers.Tokenizer.from_str(text).encode(sample).ids


@pytest.mark.parametrize(
    "pattern, reason",
    [
        ("(a+)+$", "exponential"),
        ("(a|a)*b", "exponential"),
        ("(\\s*)*[^\\s]", "exponential"),
        ("\\s*\\s*[^\\s]", "polynomial"),
        ("(.*a){12}", "exponential"),
        ("(\\w+)\\1", "back-reference"),
        ("(?<x>a)\\g<x>", "subexpression call"),
        ("a{2000}", "count over 1000"),
        ("(" * 70 + "a" + ")" * 70, "nested over 64"),
    ],
)
def test_catastrophic_patterns_are_refused_at_load(bases: dict, pattern: str, reason: str) -> None:
    doc = json.loads(json.dumps(bases["llama3_like"]))
    doc["pre_tokenizer"]["pretokenizers"][0] = _split(pattern)
    error = _refused(json.dumps(doc), "pre_tokenizer.pretokenizers[0].pattern.Regex", reason)
    assert "tokenizer" in str(error) and "pretokenizers[0]" in str(error)


def test_a_panic_in_the_engine_becomes_a_tokenizer_error() -> None:
    # an engine built in code is not screened: Oniguruma's retry limit panics (a BaseException)
    engine = tokenizers.Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    engine.pre_tokenizer = pre_tokenizers.Split(Regex("(a+)+$"), behavior="isolated")
    tok = Tokenizer(engine)
    with pytest.raises(TokenizerError, match="retry-limit") as caught:
        tok.encode("a" * 30 + "b")
    assert caught.value.field == "pre_tokenizer"
    assert tok.encode("ab") == [1]  # still usable afterwards


# -- the Precompiled normalizer --------------------------------------------------------------------
def _precompiled(blob: bytes) -> dict:
    return {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(blob).decode()}


def test_a_sound_charsmap_loads_and_normalises_as_the_engine_does(bases: dict) -> None:
    text = _with(bases["char_word"], normalizer=_precompiled(mutants.build_charsmap(mutants.CHARSMAP)))
    tok = Tokenizer.from_str(text)
    assert tok.engine.normalizer.normalize_str("Ａｂ① ﬁⅫ") == "Ab1 fiXII"
    assert tok.encode("Ａｂ① x") == tokenizers.Tokenizer.from_str(text).encode("Ａｂ① x").ids


def _corrupt(blob: bytes) -> dict[str, bytes]:
    units = int.from_bytes(blob[:4], "little") // 4
    array = bytearray(blob[4 : 4 + 4 * units])
    strings = blob[4 + 4 * units :]

    def unit(index: int, value: int) -> bytes:
        patched = bytearray(array)
        patched[4 * index : 4 * index + 4] = value.to_bytes(4, "little")
        return blob[:4] + bytes(patched) + strings

    root = int.from_bytes(array[:4], "little") >> 10
    first = next(
        c for c in range(1, 256) if int.from_bytes(array[4 * (root | c) : 4 * (root | c) + 4], "little") & 0xFF == c
    )
    child_unit = int.from_bytes(array[4 * (root | first) : 4 * (root | first) + 4], "little")
    return {
        "empty": b"",
        "header past the end": (len(blob) * 4).to_bytes(4, "little") + blob[4:],
        "empty trie": (0).to_bytes(4, "little") + strings,
        "root outside": unit(0, (len(array) // 4) << 10),
        "child outside": unit(root | first, (child_unit & 0x3FF) | ((len(array) // 4 * 2) << 10)),
        "strings not UTF-8": blob + b"\xff\xfe",
    }


def test_a_corrupt_charsmap_is_refused_at_load_where_the_engine_would_panic(bases: dict) -> None:
    blob = mutants.build_charsmap(mutants.CHARSMAP)
    for name, bad in _corrupt(blob).items():
        text = _with(bases["char_word"], normalizer=_precompiled(bad))
        assert _raw_engine_fails(text), name  # the check is not stricter than the engine
        error = _refused(text, "normalizer.precompiled_charsmap")
        assert error.path is None and error.reason, name
    text = _with(bases["char_word"], normalizer={"type": "Precompiled", "precompiled_charsmap": "%%%"})
    _refused(text, "normalizer.precompiled_charsmap", "base64")


# -- engine errors named by field, files ----------------------------------------------------------------
def test_engine_refusals_name_the_component(bases: dict) -> None:
    base = bases["llama3_like"]
    _refused(_with(base, normalizer={"type": "NoSuchNormalizer"}), "normalizer")
    doc = json.loads(json.dumps(base))
    doc["pre_tokenizer"]["pretokenizers"][1] = {"type": "ByteLevel", "add_prefix_space": "yes"}
    _refused(json.dumps(doc), "pre_tokenizer.pretokenizers[1]")
    model = dict(base["model"], merges=[["no", "such"]])
    _refused(_with(base, model=model), "model")
    _refused(_with(base, version="9.9"), "version")


def test_files_are_read_safely(tmp_path, bases: dict) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(TokenizerError, match="not a regular file"):
        Tokenizer.from_file(fifo)  # returns at once: no writer needed
    with pytest.raises(TokenizerError, match="not a regular file"):
        Tokenizer.from_file("/dev/zero")
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(bases["byte_bpe"]))
    with pytest.raises(TokenizerError, match="over the limit"):
        Tokenizer.from_file(path, limits=TokenizerLimits(max_file_bytes=100))
    path.write_bytes(b'{"version": "1.0", "x": "\xff"}')
    with pytest.raises(TokenizerError, match="not UTF-8") as caught:
        Tokenizer.from_file(tmp_path)
    assert caught.value.path == str(path) and str(path) in str(caught.value)
    for text, match in (
        ('{"version": "1.0", "version": "1.0"}', "duplicate key"),
        ('{"x": ' + "9" * 5000 + "}", "not valid JSON"),
        ("[" * 100_000, "nested too deep|not valid JSON"),
        ("[1, 2]", "JSON object"),
    ):
        with pytest.raises(TokenizerError, match=match):
            Tokenizer.from_str(text)


# -- inputs ------------------------------------------------------------------------------------------
def test_lone_surrogates_and_bad_ids_are_refused(bases: dict) -> None:
    tok = Tokenizer.from_str(json.dumps(bases["byte_bpe"]))
    with pytest.raises(TokenizerError, match="character 3 is a lone surrogate U\\+D800"):
        tok.encode("abc\ud800def")
    with pytest.raises(TokenizerError, match="text 1, character 0 is a lone surrogate U\\+DFFF"):
        tok.encode_batch(["ok", "\udfff"])
    ids = tok.encode("hello")
    assert tok.decode(np.array(ids, dtype=np.int32)) == tok.decode(ids)
    for bad in ([7592.9], [1.0], [True], ["3"], [None]):
        with pytest.raises(DTypeError):
            tok.decode(bad)
    with pytest.raises(DTypeError):
        tok.decode(from_numpy(np.array([1.5, 2.0])))
    with pytest.raises(TokenizerError, match="outside the vocabulary"):
        tok.decode_batch(from_numpy(np.array([[1, 10**6]], dtype=np.int64)))
    assert tok.id_to_token(-1) is None and tok.id_to_token(10**12) is None


# -- truncation bounds the work; results equal the engine's ------------------------------------------
LONG_TEXTS = {
    "cjk run": "日本語中文文本" * 1500,
    "english": "the quick brown fox jumps over the lazy dog " * 400,
    "spaces then words": " " * 12_000 + "hello world " * 50,
    "one letter": "a" * 20_000,
    "combining": ("e\u0301" * 10 + " ") * 1000,
}


@pytest.mark.parametrize("direction", ["right", "left"])
def test_truncated_encodes_equal_the_engine(direction: str) -> None:
    corpus = mutants.CORPUS
    for tok in (BPETokenizer.train(corpus, 300, level="byte", add_bos_eos=True), WordPieceTokenizer.train(corpus, 200)):
        for length in (8, 200):
            tok.enable_truncation(length, direction=direction)
            oracle = tokenizers.Tokenizer.from_str(tok.engine.to_str())
            for name, text in LONG_TEXTS.items():
                assert tok.encode(text) == oracle.encode(text).ids, (name, length)
                assert tok.tokenize(text) == oracle.encode(text, add_special_tokens=False).tokens, name
            tok.enable_padding(pad_to_multiple_of=8)
            oracle = tokenizers.Tokenizer.from_str(tok.engine.to_str())
            batch = [*LONG_TEXTS.values(), "short", ""]
            assert tok.encode_batch(batch) == [e.ids for e in oracle.encode_batch(batch)]
            tok.no_padding()


def test_ten_million_characters_under_truncation_stay_small() -> None:
    tok = BPETokenizer.train(mutants.CORPUS, 300, level="byte")
    tok.enable_truncation(128)
    calls: list[int] = []
    engine = tok.engine

    class Spy:  # counts the characters the engine is handed
        def __getattr__(self, name: str):
            return getattr(engine, name)

        def encode_batch(self, texts, **options):
            calls.append(sum(map(len, texts)))
            return engine.encode_batch(texts, **options)

    tok.engine = Spy()
    ids = tok.encode("日本語中文文本" * 1_430_000)
    assert len(ids) == 128 and sum(calls) < 100_000  # the engine saw windows, never the 10 M characters


# -- a fast sample of the fuzz suite (tests-integration/test_text_tokenizer_fuzz.py runs 10,000+) -------
def test_mutated_files_end_in_typed_errors() -> None:
    report = mutants.run_isolated(mutants.mutants(250, seed=7), case_seconds=20)
    assert report["failures"] == [], report["failures"][:5]
    assert report["outcomes"].get("refused", 0) > 50 and sum(report["outcomes"].values()) == 250
    loaded = sum(n for k, n in report["outcomes"].items() if k.startswith("use"))
    assert loaded > 50, report
