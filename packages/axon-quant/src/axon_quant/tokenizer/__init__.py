"""Tokenizers built from GGUF metadata, equal to llama.cpp's: byte-level BPE and SentencePiece.

``GGUFTokenizer.from_metadata(gguf_metadata)`` reads ``tokenizer.ggml.*``; ``encode``/``decode``,
``token_to_piece`` and ``IncrementalDetokenizer`` for streaming output.
"""

from __future__ import annotations

from ._pretokenize import PRE_TOKENIZERS
from ._vocab import TokenAttr, TokenizerError
from .detokenizer import IncrementalDetokenizer
from .gguf_tokenizer import GGUFTokenizer

__all__ = ["PRE_TOKENIZERS", "GGUFTokenizer", "IncrementalDetokenizer", "TokenAttr", "TokenizerError"]
