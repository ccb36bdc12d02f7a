"""Word-level tokenizer over a :class:`Vocab` (whitespace, word/punctuation or syllable splits)."""

from __future__ import annotations

from typing import Iterable

import tokenizers
from tokenizers import models, normalizers

from ._build import add_special_tokens, bos_eos_template
from .pre_tokenizers import PreTokenizerName, pre_tokenizer_and_decoder
from .tokenizer import Tokenizer
from .vocab import DEFAULT_SPECIALS, Vocab

__all__ = ["WordTokenizer"]


class WordTokenizer(Tokenizer):
    """One id per word (``split="whitespace"``), per word or punctuation run (``"punctuation"``),
    or per syllable of hyphenated text (``"syllable"``); unknown words map to ``<unk>``."""

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        min_freq: int = 1,
        max_size: int | None = None,
        split: PreTokenizerName = "whitespace",
        lowercase: bool = False,
        add_bos_eos: bool = False,
    ) -> "WordTokenizer":
        """Build the :class:`Vocab` from ``texts`` (split the same way encoding will split)."""
        pre_tokenizer, _ = pre_tokenizer_and_decoder(split)
        normalizer = normalizers.Lowercase() if lowercase else None

        def pieces(text: str) -> list[str]:
            if normalizer is not None:
                text = normalizer.normalize_str(text)
            return [p for p, _ in pre_tokenizer.pre_tokenize_str(text)]

        vocab = Vocab.build((pieces(t) for t in texts), min_freq=min_freq, max_size=max_size)
        return cls.from_vocab(vocab, split=split, lowercase=lowercase, add_bos_eos=add_bos_eos)

    @classmethod
    def from_vocab(
        cls, vocab: Vocab, split: PreTokenizerName = "whitespace", lowercase: bool = False, add_bos_eos: bool = False
    ) -> "WordTokenizer":
        if vocab.unk_token is None:
            raise ValueError("WordTokenizer: the vocabulary needs an unk token")
        engine = tokenizers.Tokenizer(models.WordLevel(vocab.stoi, unk_token=vocab.unk_token))
        engine.pre_tokenizer, decoder = pre_tokenizer_and_decoder(split)
        if decoder is not None:
            engine.decoder = decoder
        if lowercase:
            engine.normalizer = normalizers.Lowercase()
        add_special_tokens(engine, [t for t in DEFAULT_SPECIALS if t in vocab])
        if add_bos_eos:
            bos_eos_template(engine, "<bos>", "<eos>")
        return cls(engine)
