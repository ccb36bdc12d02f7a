"""Character-level tokenizer: one id per Unicode code point, with reserved specials."""

from __future__ import annotations

from typing import Iterable

import tokenizers
from tokenizers import models

from ._build import add_special_tokens, bos_eos_template
from .pre_tokenizers import pre_tokenizer_and_decoder
from .tokenizer import Tokenizer
from .vocab import DEFAULT_SPECIALS, Vocab

__all__ = ["CharTokenizer"]


class CharTokenizer(Tokenizer):
    """Ids ``<pad>=0 <bos>=1 <eos>=2 <unk>=3``, then the characters; ``encode`` adds bos/eos."""

    @classmethod
    def from_texts(cls, texts: Iterable[str], min_freq: int = 1, max_size: int | None = None) -> "CharTokenizer":
        """Characters of ``texts``, most frequent first (see :meth:`Vocab.build`)."""
        return cls.from_vocab(Vocab.build((list(t) for t in texts), min_freq=min_freq, max_size=max_size))

    @classmethod
    def from_chars(cls, chars: Iterable[str]) -> "CharTokenizer":
        """Characters in the given order after the four specials."""
        chars = list(dict.fromkeys(chars))
        if any(len(c) != 1 for c in chars):
            raise ValueError("CharTokenizer.from_chars: every entry must be one character")
        return cls.from_vocab(Vocab([*DEFAULT_SPECIALS, *(c for c in chars if c not in DEFAULT_SPECIALS)]))

    @classmethod
    def from_vocab(cls, vocab: Vocab) -> "CharTokenizer":
        if vocab.itos[: len(DEFAULT_SPECIALS)] != list(DEFAULT_SPECIALS):
            raise ValueError(f"CharTokenizer: the vocabulary must start with {DEFAULT_SPECIALS}")
        engine = tokenizers.Tokenizer(models.WordLevel(vocab.stoi, unk_token="<unk>"))
        engine.pre_tokenizer, engine.decoder = pre_tokenizer_and_decoder("chars")
        add_special_tokens(engine, DEFAULT_SPECIALS)
        bos_eos_template(engine, "<bos>", "<eos>")
        return cls(engine)
