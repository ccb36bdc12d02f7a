"""A byte-level BPE tokenizer trained on the corpus with axon-text, and the token streams it makes.

Documents are encoded one by one and joined with the end-of-text token, so the model learns where
a file ends; byte-level BPE (GPT-2's alphabet of 256 byte symbols) never meets an unknown
character, and its ``tokenizer.json`` is the one ``transformers`` and the GGUF writer read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

from axon_serialize import atomic_writer
from axon_text import BPETokenizer, Tokenizer

__all__ = ["END_OF_TEXT", "encode_documents", "load_tokens", "save_tokens", "tokens_digest", "train_tokenizer"]

#: The one special token: it ends every document (GPT-2's name for it, which GGUF readers know).
END_OF_TEXT = "<|endoftext|>"


def train_tokenizer(documents: Sequence[str], vocab_size: int) -> Tokenizer:
    """Learn ``vocab_size - 1`` byte-level BPE symbols and merges from ``documents``, plus ``<|endoftext|>``."""
    if vocab_size < 258:
        raise ValueError(f"train_tokenizer: vocab_size must be >= 258 (256 bytes, a merge, EOT), got {vocab_size}")
    return BPETokenizer.train(documents, vocab_size, level="byte", min_frequency=2, special_tokens=(END_OF_TEXT,))


def encode_documents(tokenizer: Tokenizer, documents: Sequence[str]) -> np.ndarray:
    """One int32 stream ``[n_tokens]``: each document's ids followed by the end-of-text id."""
    eot = tokenizer.token_to_id(END_OF_TEXT)
    if eot is None:
        raise ValueError(f"encode_documents: the tokenizer has no {END_OF_TEXT} token")
    pieces = []
    for ids in tokenizer.encode_batch(list(documents), add_special_tokens=False):
        pieces.append(np.asarray(ids, dtype=np.int32))
        pieces.append(np.array([eot], dtype=np.int32))
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)


def save_tokens(tokens: np.ndarray, path: str | Path) -> None:
    """Write a token stream as ``.npy`` (atomically)."""
    with atomic_writer(path) as handle:
        np.save(handle, np.ascontiguousarray(tokens, dtype=np.int32), allow_pickle=False)


def load_tokens(path: str | Path) -> np.ndarray:
    tokens = np.load(path, allow_pickle=False)
    if tokens.dtype != np.int32 or tokens.ndim != 1:
        raise ValueError(f"load_tokens: {path} holds {tokens.dtype} {tokens.shape}, not an int32 stream")
    return tokens


def tokens_digest(tokens: np.ndarray) -> str:
    """SHA-256 of a stream's bytes: a resumed run checks it trains on the same tokens."""
    return hashlib.sha256(np.ascontiguousarray(tokens, dtype=np.int32).tobytes()).hexdigest()
