"""axon-text: tokenizers with one interface (char, word + Vocab, BPE, WordPiece, HF tokenizer.json)."""

from __future__ import annotations

from ._errors import TokenizerError
from ._validate import TokenizerLimits
from .bpe import BPETokenizer
from .char import CharTokenizer
from .pre_tokenizers import pre_tokenizer_and_decoder, syllable_pre_tokenizer
from .tokenizer import SPECIAL_TOKEN_NAMES, Tokenizer
from .vocab import DEFAULT_SPECIALS, Vocab
from .word import WordTokenizer
from .wordpiece import BERT_SPECIALS, WordPieceTokenizer

__version__ = "0.1.0"

__all__ = [
    "BERT_SPECIALS",
    "BPETokenizer",
    "CharTokenizer",
    "DEFAULT_SPECIALS",
    "SPECIAL_TOKEN_NAMES",
    "Tokenizer",
    "TokenizerError",
    "TokenizerLimits",
    "Vocab",
    "WordPieceTokenizer",
    "WordTokenizer",
    "pre_tokenizer_and_decoder",
    "syllable_pre_tokenizer",
]
