import pytest

from axon_text import BPETokenizer, Tokenizer, WordPieceTokenizer, syllable_pre_tokenizer

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "lower lowest newer newest wider widest",
    "héllo wörld, naïve café — ünïcode",
    "emoji 😀😀 👍🏽 and tabs\tand  double  spaces",
    "ma-nu-ba-lum-a-sur šar-ru a-na šar-ri",
] * 30
PROBES = [
    "the lowest newer fox",
    "",
    "  leading and trailing  ",
    "naïve café",
    "😀👍🏽",
    "x" * 300,
    "supercalifragilisticexpialidocious",
    "line\nbreak\r\nwindows",
    "日本語",
]


@pytest.fixture(scope="module")
def byte_bpe():
    return BPETokenizer.train(CORPUS, vocab_size=400, level="byte")


def test_byte_bpe_is_lossless_and_sized(byte_bpe):
    assert byte_bpe.vocab_size <= 400  # training stops early when no pair is frequent enough
    assert BPETokenizer.train(CORPUS, vocab_size=290, level="byte").vocab_size == 290
    for text in PROBES:
        ids = byte_bpe.encode(text)
        assert byte_bpe.decode(ids) == text
        assert byte_bpe.unk_token_id not in ids
        assert len(ids) <= len(text.encode("utf-8"))


def test_byte_bpe_learns_frequent_words(byte_bpe):
    assert len(byte_bpe.tokenize("the")) == 1
    assert len(byte_bpe.tokenize(" lowest")) < len(" lowest")


def test_char_bpe_round_trip_and_unknowns():
    tok = BPETokenizer.train(CORPUS, vocab_size=150, level="char")
    for text in ["the lowest newer fox", "naïve café", "😀 fox"]:
        assert tok.decode(tok.encode(text)) == text
    assert tok.encode("日本") == [tok.token_to_id("▁"), tok.unk_token_id, tok.unk_token_id]


def test_bpe_dropout_varies_segmentation_but_not_text():
    tok = BPETokenizer.train(CORPUS, vocab_size=400, level="byte")
    text = "the lowest newest widest fox jumps"
    plain = tok.encode(text)
    tok.dropout = 0.5
    runs = [tok.encode(text) for _ in range(40)]
    assert all(tok.decode(ids) == text for ids in runs)
    assert len({tuple(ids) for ids in runs}) > 1
    assert sum(len(ids) for ids in runs) / len(runs) > len(plain)
    tok.dropout = 1.0  # every merge dropped: one token per byte symbol
    assert len(tok.encode(text)) == len(text.encode("utf-8"))
    tok.dropout = None
    assert tok.encode(text) == plain
    with pytest.raises(ValueError):
        tok.dropout = 0.0
    with pytest.raises(ValueError):
        BPETokenizer.train(CORPUS, vocab_size=300, dropout=1.5)


def test_bpe_with_syllable_pre_tokenizer_never_merges_across_hyphens():
    tok = BPETokenizer.train(CORPUS, vocab_size=200, level="char", pre_tokenizer=syllable_pre_tokenizer())
    merged = [t for t in tok.get_vocab() if "-" in t]
    assert merged == ["-"]
    text = "ma-nu-ba-lum-a-sur"
    assert tok.decode(tok.encode(text)) == text
    assert tok.tokenize(text)[1] == "-"


def test_bpe_bos_eos_and_save_load(tmp_path):
    tok = BPETokenizer.train(CORPUS, vocab_size=300, level="byte", add_bos_eos=True)
    ids = tok.encode("fox")
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    tok.save(tmp_path / "bpe.json")
    loaded = Tokenizer.from_file(tmp_path / "bpe.json")
    for text in PROBES:
        assert loaded.encode(text) == tok.encode(text)
    with pytest.raises(ValueError):
        BPETokenizer.train(CORPUS, vocab_size=3)
    with pytest.raises(ValueError):
        BPETokenizer.train(CORPUS, vocab_size=300, level="word")


def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    tok = BPETokenizer.train(CORPUS, vocab_size=300, level="byte")
    path = tmp_path / "bpe.json"
    tok.save(path)
    before = path.read_bytes()

    def broken_to_str(*args, **kwargs):
        raise OSError("disk full")

    other = BPETokenizer.train(CORPUS, vocab_size=260, level="byte")
    monkeypatch.setattr(type(other.engine), "to_str", broken_to_str, raising=False)
    with pytest.raises(OSError, match="disk full"):
        other.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bpe.json"]


def test_wordpiece_train_and_encode():
    tok = WordPieceTokenizer.train(CORPUS, vocab_size=200)
    ids = tok.encode("The lowest Café")
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert tok.decode(ids) == "the lowest cafe"
    pieces = tok.tokenize("widest newest")
    assert "".join(p.removeprefix("##") for p in pieces) == "widestnewest"
    assert tok.tokenize("a" + "b" * 150) == ["[UNK]"]  # longer than max_input_chars_per_word
    pair = tok.encode("fox", "dog")
    assert pair.count(tok.sep_token_id) == 2
    tok.enable_padding()
    batch = tok.encode_batch(["fox", "the lazy dog"])
    assert len(batch[0]) == len(batch[1]) and batch[0][-1] == tok.pad_token_id
