"""Byte-pair encoding: training (byte-level or character-level) with HF ``tokenizers``, and BPE-dropout."""

from __future__ import annotations

from typing import Iterable, Literal, Sequence

import tokenizers
from tokenizers import models, pre_tokenizers, trainers

from ._build import add_special_tokens, bos_eos_template
from .pre_tokenizers import pre_tokenizer_and_decoder
from .tokenizer import Tokenizer
from .vocab import DEFAULT_SPECIALS

__all__ = ["BPETokenizer"]


class BPETokenizer(Tokenizer):
    """A BPE tokenizer; build one with :meth:`train` or load a ``tokenizer.json``."""

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int,
        level: Literal["byte", "char"] = "byte",
        min_frequency: int = 2,
        special_tokens: Sequence[str] = DEFAULT_SPECIALS,
        dropout: float | None = None,
        pre_tokenizer: pre_tokenizers.PreTokenizer | None = None,
        add_bos_eos: bool = False,
    ) -> "BPETokenizer":
        """Learn merges from ``texts`` until the vocabulary has ``vocab_size`` entries.

        ``level="byte"``: GPT-2 style, the 256 byte symbols are the base alphabet, so nothing is
        ever unknown. ``level="char"``: Unicode characters are the base (spaces kept as ``▁``);
        characters not seen in training become ``<unk>``. ``pre_tokenizer`` replaces the level's
        own split (e.g. :func:`syllable_pre_tokenizer` with ``level="char"``: merges never cross a
        hyphen). ``dropout`` (BPE-dropout, Provilkov et al. 2020) skips each merge with that
        probability at encode time, so the same text gets varied segmentations; it draws from the
        engine's own random source, which cannot be seeded.
        """
        if level not in ("byte", "char"):
            raise ValueError(f"BPETokenizer.train: level must be 'byte' or 'char', got {level!r}")
        if dropout is not None and not 0.0 < dropout <= 1.0:
            raise ValueError(f"BPETokenizer.train: dropout must be in (0, 1], got {dropout}")
        if vocab_size <= len(special_tokens):
            raise ValueError(
                f"BPETokenizer.train: vocab_size {vocab_size} leaves no room beyond {len(special_tokens)} special tokens"
            )
        unk = "<unk>" if level == "char" and "<unk>" in special_tokens else None
        engine = tokenizers.Tokenizer(models.BPE(unk_token=unk))
        default_split, decoder = pre_tokenizer_and_decoder("bytes" if level == "byte" else "metaspace")
        engine.pre_tokenizer = pre_tokenizer if pre_tokenizer is not None else default_split
        engine.decoder = decoder
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=list(special_tokens),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet() if level == "byte" else [],
            show_progress=False,
        )
        engine.train_from_iterator(texts, trainer=trainer)
        if dropout is not None:
            engine.model.dropout = dropout
        add_special_tokens(engine, special_tokens)
        tokenizer = cls(engine)
        if add_bos_eos:
            if "bos" not in tokenizer.special_tokens or "eos" not in tokenizer.special_tokens:
                raise ValueError("BPETokenizer.train: add_bos_eos needs <bos> and <eos> among the special tokens")
            bos_eos_template(engine, tokenizer.special_tokens["bos"], tokenizer.special_tokens["eos"])
        return tokenizer

    @property
    def dropout(self) -> float | None:
        return self.engine.model.dropout

    @dropout.setter
    def dropout(self, value: float | None) -> None:
        if value is not None and not 0.0 < value <= 1.0:
            raise ValueError(f"BPETokenizer.dropout must be None or in (0, 1], got {value}")
        self.engine.model.dropout = value
