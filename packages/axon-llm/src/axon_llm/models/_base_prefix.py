"""HF's ``base_model_prefix`` rule: a base model loads a checkpoint saved with a head, and the reverse.

``transformers`` names a head model's trunk by a prefix (``transformer.`` for GPT-2, ``bert.`` for
BERT) and a bare base model without it; the real ``gpt2`` and ``all-MiniLM-L6-v2`` files are saved
from base models. Loading adds or strips the prefix so either file fits either class.
"""

from __future__ import annotations

from typing import Any

__all__ = ["match_base_prefix"]


def match_base_prefix(state: dict[str, Any], prefix: str, is_base: bool) -> dict[str, Any]:
    """``state`` renamed for a base model (``is_base``: strip ``prefix.``, drop the head's tensors)
    or for a head model (add ``prefix.`` when no name carries it)."""
    dotted = prefix + "."
    prefixed = any(name.startswith(dotted) for name in state)
    if is_base and prefixed:
        return {name[len(dotted) :]: value for name, value in state.items() if name.startswith(dotted)}
    if not is_base and not prefixed:
        return {dotted + name: value for name, value in state.items()}
    return state
