"""The one tokenizer interface, over a Hugging Face ``tokenizers`` engine.

Every axon tokenizer (char, word, BPE, WordPiece, or a ``tokenizer.json`` loaded from disk) is a
:class:`Tokenizer` wrapping a ``tokenizers.Tokenizer``: the engine does normalisation,
pre-tokenisation, the model, post-processing (special-token templates), padding and truncation,
so ids match HF ``tokenizers`` exactly, and ``save`` writes a ``tokenizer.json`` HF can read.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import tokenizers

from axon_core import ShapeError, atomic_writer
from axon_tensor import Tensor, from_numpy

__all__ = ["Tokenizer", "SPECIAL_TOKEN_NAMES"]

# Names by which a special token's role is recognised in a loaded vocabulary.
SPECIAL_TOKEN_NAMES: dict[str, tuple[str, ...]] = {
    "pad": ("<pad>", "[PAD]", "<|pad|>"),
    "bos": ("<bos>", "<s>", "<|begin_of_text|>", "<|startoftext|>"),
    "eos": ("<eos>", "</s>", "<|end_of_text|>", "<|endoftext|>"),
    "unk": ("<unk>", "[UNK]", "<|unk|>"),
    "cls": ("[CLS]", "<cls>"),
    "sep": ("[SEP]", "<sep>"),
    "mask": ("[MASK]", "<mask>"),
}


class Tokenizer:
    """Text to ids and back: ``encode``, ``encode_batch``, ``decode``, padding, truncation, save/load.

    ``special_tokens`` maps roles (``pad``, ``bos``, ``eos``, ``unk``, ``cls``, ``sep``, ``mask``)
    to token strings; roles not given are recognised by their usual names in the vocabulary.
    """

    def __init__(self, engine: tokenizers.Tokenizer, special_tokens: dict[str, str] | None = None) -> None:
        if not isinstance(engine, tokenizers.Tokenizer):
            raise TypeError(f"Tokenizer: expected a tokenizers.Tokenizer engine, got {type(engine).__name__}")
        self.engine = engine
        vocab = engine.get_vocab(with_added_tokens=True)
        roles: dict[str, str] = {}
        for role, names in SPECIAL_TOKEN_NAMES.items():
            for name in names:
                if name in vocab:
                    roles[role] = name
                    break
        for role, token in (special_tokens or {}).items():
            if token not in vocab:
                raise KeyError(f"Tokenizer: special token {token!r} for role {role!r} is not in the vocabulary")
            roles[role] = token
        self.special_tokens = roles

    # -- encoding -------------------------------------------------------------------------------
    def encode(self, text: str, pair: str | None = None, add_special_tokens: bool = True) -> list[int]:
        """Ids of ``text`` (and of ``pair``, for pair templates), with the padding/truncation set."""
        if not isinstance(text, str):
            raise TypeError(f"encode: expected a str, got {type(text).__name__}")
        return self.engine.encode(text, pair, add_special_tokens=add_special_tokens).ids

    def tokenize(self, text: str, add_special_tokens: bool = False) -> list[str]:
        """The token strings of ``text``."""
        return self.engine.encode(text, add_special_tokens=add_special_tokens).tokens

    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = True) -> list[list[int]]:
        """Ids of every text; padded to a common length when padding is enabled."""
        self._check_texts(texts)
        return [e.ids for e in self.engine.encode_batch(list(texts), add_special_tokens=add_special_tokens)]

    def encode_batch_tensors(self, texts: Sequence[str], add_special_tokens: bool = True) -> dict[str, Tensor]:
        """``input_ids`` and ``attention_mask``, both int64 ``[batch, seq]``; needs equal lengths (enable padding)."""
        self._check_texts(texts)
        encodings = self.engine.encode_batch(list(texts), add_special_tokens=add_special_tokens)
        lengths = sorted({len(e.ids) for e in encodings})
        if len(lengths) > 1:
            raise ShapeError(f"encode_batch_tensors: sequences have lengths {lengths}; call enable_padding() first")
        seq = lengths[0] if lengths else 0
        ids = np.array([e.ids for e in encodings], dtype=np.int64).reshape(len(encodings), seq)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64).reshape(len(encodings), seq)
        return {"input_ids": from_numpy(ids), "attention_mask": from_numpy(mask)}

    @staticmethod
    def _check_texts(texts: Sequence[str]) -> None:
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise TypeError("encode_batch: expected a sequence of str")

    # -- decoding -------------------------------------------------------------------------------
    def decode(self, ids: Sequence[int] | Tensor, skip_special_tokens: bool = True) -> str:
        """The text of ``ids`` (a list or a 1-d tensor)."""
        return self.engine.decode(self._id_list(ids), skip_special_tokens=skip_special_tokens)

    def decode_batch(self, batch: Sequence[Sequence[int]] | Tensor, skip_special_tokens: bool = True) -> list[str]:
        """The texts of a ``[batch, seq]`` list of id lists or tensor."""
        rows = batch.numpy().tolist() if isinstance(batch, Tensor) else [self._id_list(r) for r in batch]
        return self.engine.decode_batch(rows, skip_special_tokens=skip_special_tokens)

    def _id_list(self, ids: Sequence[int] | Tensor) -> list[int]:
        if isinstance(ids, Tensor):
            if ids.ndim != 1:
                raise ShapeError(f"decode: expected a 1-d tensor of ids, got shape {ids.shape}")
            ids = ids.numpy().tolist()
        out = [int(i) for i in ids]
        size = self.vocab_size
        bad = [i for i in out if not 0 <= i < size]
        if bad:
            raise ValueError(f"decode: ids {bad[:5]} are outside the vocabulary [0, {size})")
        return out

    # -- padding and truncation -----------------------------------------------------------------
    def enable_padding(
        self, length: int | None = None, pad_to_multiple_of: int | None = None, direction: str = "right"
    ) -> None:
        """Pad batches to their longest sequence (or to ``length``) with the ``pad`` token."""
        if "pad" not in self.special_tokens:
            raise ValueError("enable_padding: this tokenizer has no pad token")
        if direction not in ("left", "right"):
            raise ValueError(f"enable_padding: direction must be 'left' or 'right', got {direction!r}")
        pad = self.special_tokens["pad"]
        self.engine.enable_padding(
            direction=direction,
            pad_id=self.token_to_id(pad),
            pad_token=pad,
            length=length,
            pad_to_multiple_of=pad_to_multiple_of,
        )

    def no_padding(self) -> None:
        self.engine.no_padding()

    def enable_truncation(self, max_length: int, stride: int = 0, direction: str = "right") -> None:
        """Cut every sequence (special tokens included) to ``max_length`` ids."""
        if max_length <= 0:
            raise ValueError(f"enable_truncation: max_length must be positive, got {max_length}")
        if direction not in ("left", "right"):
            raise ValueError(f"enable_truncation: direction must be 'left' or 'right', got {direction!r}")
        self.engine.enable_truncation(max_length, stride=stride, direction=direction)

    def no_truncation(self) -> None:
        self.engine.no_truncation()

    # -- vocabulary -----------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.engine.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> dict[str, int]:
        return self.engine.get_vocab(with_added_tokens=True)

    def token_to_id(self, token: str) -> int | None:
        return self.engine.token_to_id(token)

    def id_to_token(self, id: int) -> str | None:
        return self.engine.id_to_token(id)

    def __len__(self) -> int:
        return self.vocab_size

    def __getattr__(self, name: str) -> Any:
        # pad_token / pad_token_id, bos_token / bos_token_id, ... for every known role.
        for role in SPECIAL_TOKEN_NAMES:
            if name == f"{role}_token":
                return self.__dict__["special_tokens"].get(role)
            if name == f"{role}_token_id":
                token = self.__dict__["special_tokens"].get(role)
                return None if token is None else self.engine.token_to_id(token)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a ``tokenizer.json`` (HF format) atomically: a failed save leaves ``path`` as it was."""
        with atomic_writer(path) as handle:
            handle.write(self.engine.to_str(pretty=True).encode("utf-8"))

    def to_str(self) -> str:
        return self.engine.to_str()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], special_tokens: dict[str, str] | None = None) -> "Tokenizer":
        """Load a HF ``tokenizer.json`` (ours or any other)."""
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "tokenizer.json")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Tokenizer.from_file: no tokenizer.json at {path}")
        return cls(tokenizers.Tokenizer.from_file(path), special_tokens)

    @classmethod
    def from_str(cls, json_text: str, special_tokens: dict[str, str] | None = None) -> "Tokenizer":
        return cls(tokenizers.Tokenizer.from_str(json_text), special_tokens)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size}, special_tokens={self.special_tokens})"
