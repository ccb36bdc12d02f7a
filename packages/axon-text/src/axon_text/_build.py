"""Pieces shared by the tokenizer builders: special tokens and the ``<bos> $A <eos>`` template."""

from __future__ import annotations

from typing import Sequence

import tokenizers
from tokenizers import AddedToken, processors


def add_special_tokens(engine: tokenizers.Tokenizer, specials: Sequence[str]) -> None:
    """Mark ``specials`` (already in the model's vocabulary) as special: matched whole, skipped by decode."""
    engine.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])


def bos_eos_template(engine: tokenizers.Tokenizer, bos: str, eos: str) -> None:
    """Wrap every sequence as ``bos ... eos`` (pairs as ``bos A eos B eos``)."""
    bos_id, eos_id = engine.token_to_id(bos), engine.token_to_id(eos)
    engine.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} $B:1 {eos}:1", special_tokens=[(bos, bos_id), (eos, eos_id)]
    )
