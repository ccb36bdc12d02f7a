import re
from collections import Counter

import numpy as np
import pytest

from axon_core import ShapeError
from axon_text import CharTokenizer, Tokenizer, Vocab, WordTokenizer

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]
TEXTS = ["the cat sat on the mat", "The dog, the cat!", "a cat  and\ta dog\n", "héllo wörld 😀 ünïcode"]


def _ranked(counts, min_freq):
    return sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))


@pytest.mark.parametrize("min_freq, max_size", [(1, None), (2, None), (1, 7), (3, 4)])
def test_vocab_build_matches_counter(min_freq, max_size):
    token_lists = [t.split() for t in TEXTS]
    vocab = Vocab.build(token_lists, min_freq=min_freq, max_size=max_size)
    ranked = _ranked(Counter(w for ws in token_lists for w in ws), min_freq)
    if max_size is not None:
        ranked = ranked[: max_size - 4]
    assert vocab.itos == SPECIALS + ranked
    assert all(vocab.token_to_id(t) == i for i, t in enumerate(vocab.itos))
    assert vocab.token_to_id("never-seen") == 3


def test_vocab_save_load_and_errors(tmp_path):
    vocab = Vocab.build([["b", "a", "a"]])
    vocab.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json") == vocab
    with pytest.raises(ValueError):
        Vocab.build([["a"]], min_freq=0)
    with pytest.raises(ValueError):
        Vocab.build([["a"]], max_size=2)
    with pytest.raises(ValueError):
        Vocab(["a", "a"], unk_token=None)
    with pytest.raises(KeyError):
        Vocab(["a"], unk_token="<unk>")
    with pytest.raises(KeyError):
        Vocab(["a"], unk_token=None).token_to_id("b")
    with pytest.raises(IndexError):
        vocab.id_to_token(99)


def test_vocab_save_is_atomic(tmp_path):
    """A token that cannot be encoded fails the save before anything replaces the old file."""
    path = tmp_path / "v.json"
    Vocab.build([["b", "a"]]).save(path)
    before = path.read_bytes()
    with pytest.raises(UnicodeEncodeError):
        Vocab(["ok", "\ud800"], unk_token=None).save(path)  # a lone surrogate has no UTF-8 form
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["v.json"]


CHAR_CASES = ["hello", "", "a\n\n\tb  c", "héllo", "e\u0301", "😀👍🏽", "x" * 500, "日本語のテキスト"]


def _char_oracle(tok, text):
    vocab = tok.get_vocab()
    return [1] + [vocab.get(c, 3) for c in text] + [2]


@pytest.mark.parametrize("text", CHAR_CASES)
def test_char_tokenizer_matches_python_lookup(text):
    tok = CharTokenizer.from_texts(CHAR_CASES[:-1])
    assert [tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.unk_token_id] == [0, 1, 2, 3]
    ids = tok.encode(text)
    assert ids == _char_oracle(tok, text)
    if all(c in tok.get_vocab() for c in text):
        assert tok.decode(ids) == text
    assert tok.encode(text, add_special_tokens=False) == ids[1:-1]


def test_char_tokenizer_vocab_order_and_unknowns():
    tok = CharTokenizer.from_chars("abc")
    assert [tok.id_to_token(i) for i in range(7)] == SPECIALS + ["a", "b", "c"]
    assert tok.encode("abz", add_special_tokens=False) == [4, 5, 3]
    assert tok.decode([4, 3, 5], skip_special_tokens=False) == "a<unk>b"
    with pytest.raises(ValueError):
        CharTokenizer.from_chars(["ab"])


def test_padding_truncation_and_batch_tensors():
    tok = CharTokenizer.from_chars("abcdef")
    with pytest.raises(ShapeError, match="enable_padding"):
        tok.encode_batch_tensors(["ab", "abcd"])
    tok.enable_padding()
    assert tok.encode_batch(["ab", "abcd"]) == [[1, 4, 5, 2, 0, 0], [1, 4, 5, 6, 7, 2]]
    out = tok.encode_batch_tensors(["ab", "abcd"])
    np.testing.assert_array_equal(out["input_ids"].numpy(), [[1, 4, 5, 2, 0, 0], [1, 4, 5, 6, 7, 2]])
    np.testing.assert_array_equal(out["attention_mask"].numpy(), [[1, 1, 1, 1, 0, 0], [1] * 6])
    tok.enable_padding(direction="left", pad_to_multiple_of=4)
    assert tok.encode_batch(["ab"]) == [[0, 0, 0, 0, 1, 4, 5, 2][4:]]
    tok.no_padding()
    tok.enable_truncation(4)
    assert tok.encode("abcdef") == [1, 4, 5, 2]
    tok.enable_truncation(3, direction="left")
    assert tok.encode("abcdef", add_special_tokens=False) == [7, 8, 9]
    tok.no_truncation()
    assert len(tok.encode("abcdef")) == 8
    assert tok.encode_batch_tensors([])["input_ids"].shape == (0, 0)


def test_interface_errors(tmp_path):
    tok = CharTokenizer.from_chars("ab")
    with pytest.raises(TypeError):
        tok.encode(3)
    with pytest.raises(TypeError):
        tok.encode_batch("ab")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([99])
    with pytest.raises(ValueError):
        tok.enable_truncation(0)
    with pytest.raises(FileNotFoundError):
        Tokenizer.from_file(tmp_path / "missing.json")
    with pytest.raises(KeyError):
        Tokenizer(tok.engine, special_tokens={"pad": "<nope>"})
    word = WordTokenizer.from_vocab(Vocab(["a", "<unk>"]))
    with pytest.raises(ValueError, match="no pad token"):
        word.enable_padding()
    with pytest.raises(AttributeError):
        tok.not_an_attribute


def test_save_load_round_trip(tmp_path):
    tok = CharTokenizer.from_texts(CHAR_CASES)
    tok.save(tmp_path / "tokenizer.json")
    loaded = Tokenizer.from_file(tmp_path)
    for text in CHAR_CASES:
        assert loaded.encode(text) == tok.encode(text)
        assert loaded.decode(tok.encode(text)) == tok.decode(tok.encode(text))
    assert loaded.special_tokens == {"pad": "<pad>", "bos": "<bos>", "eos": "<eos>", "unk": "<unk>"}


def test_decode_tensor_ids():
    import axon_tensor as at

    tok = CharTokenizer.from_chars("ab")
    assert tok.decode(at.tensor([1, 4, 5, 2])) == "ab"
    assert tok.decode_batch(at.tensor([[4, 5], [5, 4]])) == ["ab", "ba"]
    with pytest.raises(ShapeError):
        tok.decode(at.tensor([[4]]))


@pytest.mark.parametrize("split, pattern", [("whitespace", r"\S+"), ("punctuation", r"\w+|[^\w\s]+")])
def test_word_tokenizer_matches_python_split(split, pattern):
    tok = WordTokenizer.from_texts(TEXTS, split=split, lowercase=True, min_freq=1)
    counts = Counter(w for t in TEXTS for w in re.findall(pattern, t.lower()))
    assert [tok.id_to_token(i) for i in range(tok.vocab_size)] == SPECIALS + _ranked(counts, 1)
    for text in TEXTS + ["unseen words HERE", "  "]:
        words = re.findall(pattern, text.lower())
        assert tok.tokenize(text) == [w if w in tok.get_vocab() else "<unk>" for w in words]
        assert tok.encode(text) == [tok.get_vocab().get(w, 3) for w in words]


def test_word_tokenizer_min_freq_max_size_and_bos_eos():
    tok = WordTokenizer.from_texts(TEXTS, min_freq=2, max_size=6, add_bos_eos=True)
    counts = Counter(w for t in TEXTS for w in t.split())
    assert [tok.id_to_token(i) for i in range(tok.vocab_size)] == SPECIALS + _ranked(counts, 2)[:2]
    vocab = tok.get_vocab()
    words = "the a cat zebra".split()
    ids = tok.encode("the a cat zebra")
    assert ids == [1] + [vocab.get(w, 3) for w in words] + [2]
    assert tok.decode(ids) == " ".join(w for w in words if w in vocab)


AKKADIAN = ["ma-nu-ba-lum-a-sur šar-ru", "a-na šar-ri be-li-ia", "um-ma ma-nu-ba-lum-a-sur-ma"]


def _syllable_oracle(text):
    pieces = []
    for k, word in enumerate(text.split(" ")):
        parts = re.split(r"(-)", word)
        parts[0] = "▁" + parts[0]
        pieces.extend(p for p in parts if p)
    return pieces


def test_syllable_tokenizer_splits_on_hyphens():
    tok = WordTokenizer.from_texts(AKKADIAN, split="syllable")
    text = "ma-nu-ba-lum-a-sur a-na be-li-ia"
    assert tok.tokenize(text) == _syllable_oracle(text)
    assert tok.tokenize("ma-nu-ba-lum-a-sur")[:5] == ["▁ma", "-", "nu", "-", "ba"]
    assert tok.decode(tok.encode(text)) == text
    assert "-" in tok.get_vocab() and "nu" in tok.get_vocab()
