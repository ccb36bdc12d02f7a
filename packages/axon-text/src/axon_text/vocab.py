"""A token ↔ id vocabulary built from counts: reserved specials first, then by frequency."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Iterable, Sequence

from axon_core import atomic_writer

__all__ = ["Vocab", "DEFAULT_SPECIALS"]

DEFAULT_SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")


class Vocab:
    """Tokens in id order. ``Vocab.build`` keeps tokens seen at least ``min_freq`` times,
    most frequent first (ties by token), up to ``max_size`` entries in all (specials included)."""

    def __init__(self, tokens: Sequence[str], unk_token: str | None = "<unk>") -> None:
        self.itos = list(tokens)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("Vocab: tokens must be distinct")
        if unk_token is not None and unk_token not in self.stoi:
            raise KeyError(f"Vocab: unk token {unk_token!r} is not among the tokens")
        self.unk_token = unk_token

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Iterable[str]],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = DEFAULT_SPECIALS,
        unk_token: str | None = "<unk>",
    ) -> "Vocab":
        if min_freq < 1:
            raise ValueError(f"Vocab.build: min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < len(specials):
            raise ValueError(f"Vocab.build: max_size {max_size} cannot hold the {len(specials)} special tokens")
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        ranked = sorted(
            (t for t, c in counts.items() if c >= min_freq and t not in specials), key=lambda t: (-counts[t], t)
        )
        if max_size is not None:
            ranked = ranked[: max_size - len(specials)]
        return cls([*specials, *ranked], unk_token=unk_token)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def token_to_id(self, token: str) -> int:
        """The id of ``token``; the unk id for unknown tokens (KeyError without an unk token)."""
        if token in self.stoi:
            return self.stoi[token]
        if self.unk_token is None:
            raise KeyError(f"Vocab: unknown token {token!r} and no unk token")
        return self.stoi[self.unk_token]

    def id_to_token(self, index: int) -> str:
        if not 0 <= index < len(self.itos):
            raise IndexError(f"Vocab: id {index} is out of range for {len(self.itos)} tokens")
        return self.itos[index]

    def save(self, path: str | os.PathLike[str]) -> None:
        """JSON: the tokens in id order and the unk token (written atomically)."""
        with atomic_writer(path) as handle:
            handle.write(
                json.dumps({"tokens": self.itos, "unk_token": self.unk_token}, ensure_ascii=False).encode("utf-8")
            )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Vocab":
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return cls(data["tokens"], unk_token=data["unk_token"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos and self.unk_token == other.unk_token

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, unk_token={self.unk_token!r})"
