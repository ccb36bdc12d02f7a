"""The pieces the architectures share: RoPE tables, attention (cache, masks, GQA), MLPs."""

from __future__ import annotations

from .attention import AttentionInputs, SelfAttention
from .mlp import ACTIVATIONS, GatedMLP, activation
from .rope import ROPE_TYPES, RopeTable, rope_inv_freq

__all__ = [
    "ACTIVATIONS",
    "AttentionInputs",
    "GatedMLP",
    "ROPE_TYPES",
    "RopeTable",
    "SelfAttention",
    "activation",
    "rope_inv_freq",
]
