"""WordPiece (BERT) tokenizers: training with HF ``tokenizers``."""

from __future__ import annotations

from typing import Iterable

import tokenizers
from tokenizers import decoders, models, normalizers, pre_tokenizers, processors, trainers

from ._build import add_special_tokens
from .tokenizer import Tokenizer

__all__ = ["WordPieceTokenizer", "BERT_SPECIALS"]

BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


class WordPieceTokenizer(Tokenizer):
    """BERT's scheme: normalise (optionally lowercase and strip accents), split on whitespace and
    punctuation, then longest-match-first sub-words marked ``##``; ``[CLS] A [SEP] (B [SEP])``."""

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int,
        min_frequency: int = 2,
        lowercase: bool = True,
        max_input_chars_per_word: int = 100,
    ) -> "WordPieceTokenizer":
        if vocab_size <= len(BERT_SPECIALS):
            raise ValueError(
                f"WordPieceTokenizer.train: vocab_size {vocab_size} leaves no room beyond the special tokens"
            )
        engine = tokenizers.Tokenizer(
            models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=max_input_chars_per_word)
        )
        engine.normalizer = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=lowercase)
        engine.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        engine.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(BERT_SPECIALS), show_progress=False
        )
        engine.train_from_iterator(texts, trainer=trainer)
        add_special_tokens(engine, BERT_SPECIALS)
        cls_id, sep_id = engine.token_to_id("[CLS]"), engine.token_to_id("[SEP]")
        engine.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
        )
        return cls(engine)
