"""RoPE frequencies with the scalings HF uses (``default``, ``linear``, ``llama3``) and their cos/sin tables.

The frequencies are ``transformers``' (``inv_freq = 1 / base^(2i/d)``, exponents in float32) rounded
once to float32 from float64, so within an ulp of HF's float32 powers on any CPU; the scalings and
the angles (``angle = position · inv_freq``) are computed in float32 in HF's order. The rotation
itself is ``axon_nn.functional.apply_rotary_emb`` (split halves, HF's ``rotate_half`` pairing).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import axon_tensor

from ..errors import LLMError

__all__ = ["RopeTable", "rope_inv_freq", "ROPE_TYPES"]


def _default(inv_freq: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    return inv_freq


def _linear(inv_freq: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    return (inv_freq / np.float32(params["factor"])).astype(np.float32)


def _llama3(inv_freq: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Llama 3.1's scaling: long wavelengths divided by ``factor``, short ones kept, a smooth blend between."""
    factor = float(params["factor"])
    low, high = float(params["low_freq_factor"]), float(params["high_freq_factor"])
    old_context = float(params["original_max_position_embeddings"])
    wavelen = (2 * math.pi / inv_freq).astype(np.float32)
    scaled = np.where(wavelen > old_context / low, inv_freq / np.float32(factor), inv_freq).astype(np.float32)
    smooth = ((old_context / wavelen - low) / (high - low)).astype(np.float32)
    smoothed = ((1 - smooth) * scaled / np.float32(factor) + smooth * scaled).astype(np.float32)
    medium = ~(wavelen < old_context / high) & ~(wavelen > old_context / low)
    return np.where(medium, smoothed, scaled).astype(np.float32)


ROPE_TYPES = {"default": _default, "linear": _linear, "llama3": _llama3}


def rope_inv_freq(rotary_dim: int, params: dict[str, Any]) -> np.ndarray:
    """``inv_freq`` float32 ``[rotary_dim / 2]`` for ``params`` (``rope_type``, ``rope_theta``, scaling fields)."""
    if rotary_dim <= 0 or rotary_dim % 2:
        raise LLMError(f"RoPE: the rotary dimension must be a positive even number, got {rotary_dim}")
    rope_type = params.get("rope_type", "default")
    if rope_type not in ROPE_TYPES:
        raise LLMError(f"RoPE: rope_type {rope_type!r} is not supported (supported: {sorted(ROPE_TYPES)})")
    base = float(np.float32(params.get("rope_theta", 10000.0)))
    exponents = np.arange(0, rotary_dim, 2, dtype=np.float32) / np.float32(rotary_dim)
    # The power in float64, rounded once: float32 pow is off by 1-2 ulp depending on the CPU's
    # vector path (NumPy's and torch's differ on AVX-512 machines); this is the correctly rounded value.
    inv_freq = (1.0 / np.power(base, exponents.astype(np.float64))).astype(np.float32)
    return ROPE_TYPES[rope_type](inv_freq, params)


class RopeTable:
    """The cos/sin of one model's rotary frequencies at given positions.

    ``cos_sin(position_ids)``: ``position_ids`` int ``[S]`` or ``[B, S]`` -> ``cos``, ``sin``
    ``[S, rotary_dim/2]`` or ``[B, 1, S, rotary_dim/2]``, shaped to broadcast against queries
    ``[B, heads, S, head_dim]``.
    """

    def __init__(self, rotary_dim: int, params: dict[str, Any]) -> None:
        self.rotary_dim = rotary_dim
        self.inv_freq = rope_inv_freq(rotary_dim, params)

    def cos_sin(self, position_ids: np.ndarray, dtype: Any = None, device: Any = None) -> tuple[Any, Any]:
        positions = np.asarray(position_ids)
        angles = positions.astype(np.float32)[..., None] * self.inv_freq
        if positions.ndim == 2:
            angles = angles[:, None]
        cos = axon_tensor.tensor(np.cos(angles), device=device)
        sin = axon_tensor.tensor(np.sin(angles), device=device)
        if dtype is not None and cos.dtype != dtype:
            cos, sin = cos.to(dtype), sin.to(dtype)
        return cos, sin
