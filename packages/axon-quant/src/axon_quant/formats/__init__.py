"""The ggml block formats as one table, like ggml's type traits: per ggml type its block geometry
(from :mod:`axon_quant.ggml_types`), a vectorised ``quantize_blocks`` where the format can be
quantized and ``dequantize_blocks``, all bit-exact with ggml-quants.c.

``quantize_blocks(float32 [n, block_size]) -> uint8 [n, type_size]`` and
``dequantize_blocks(uint8 [n, type_size]) -> float32 [n, block_size]``; F32/F16/BF16 have a block of
one value. Use :func:`axon_quant.quantize` / :func:`axon_quant.dequantize` for whole tensors (they
check shapes and values); this table is the layer under them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import QuantError
from ..ggml_types import GGML_TYPES, GGMLType, ggml_type
from . import floats, kquants, q4, q5, q8_0, ternary
from ._common import range_overflows

__all__ = ["FORMATS", "BlockFormat", "block_format"]

Blocks = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class BlockFormat:
    """One row of the table.

    ``quantize_blocks`` is None where axon has no quantizer for the format. ``finite_only``: ggml's
    quantizer is undefined on inf/NaN, so such input is refused. ``bad_blocks(blocks) -> bool [n]``
    flags finite blocks the format still cannot encode (Q4_1/Q5_1 ranges that overflow float32)."""

    ggml: GGMLType
    dequantize_blocks: Blocks
    quantize_blocks: Blocks | None = None
    finite_only: bool = True
    bad_blocks: Blocks | None = None

    @property
    def name(self) -> str:
        return self.ggml.name


def _row(name: str, dequantize: Blocks, quantize: Blocks | None = None, **kw) -> BlockFormat:
    return BlockFormat(GGML_TYPES[name], dequantize, quantize, **kw)


FORMATS: dict[str, BlockFormat] = {
    f.name: f
    for f in (
        _row("f32", floats.dequantize_f32, floats.quantize_f32, finite_only=False),
        _row("f16", floats.dequantize_f16, floats.quantize_f16, finite_only=False),
        _row("bf16", floats.dequantize_bf16, floats.quantize_bf16, finite_only=False),
        _row("q8_0", q8_0.dequantize_q8_0, q8_0.quantize_q8_0),
        _row("q4_0", q4.dequantize_q4_0, q4.quantize_q4_0),
        _row("q4_1", q4.dequantize_q4_1, q4.quantize_q4_1, bad_blocks=range_overflows),
        _row("q5_0", q5.dequantize_q5_0, q5.quantize_q5_0),
        _row("q5_1", q5.dequantize_q5_1, q5.quantize_q5_1, bad_blocks=range_overflows),
        _row("tq1_0", ternary.dequantize_tq1_0, ternary.quantize_tq1_0),
        _row("tq2_0", ternary.dequantize_tq2_0, ternary.quantize_tq2_0),
        _row("q2_k", kquants.dequantize_q2_k, kquants.quantize_q2_k),
        _row("q3_k", kquants.dequantize_q3_k, kquants.quantize_q3_k),
        _row("q4_k", kquants.dequantize_q4_k, kquants.quantize_q4_k),
        _row("q5_k", kquants.dequantize_q5_k, kquants.quantize_q5_k),
        _row("q6_k", kquants.dequantize_q6_k, kquants.quantize_q6_k),
        _row("q8_k", kquants.dequantize_q8_k, kquants.quantize_q8_k),
    )
}


def block_format(fmt: str | int | GGMLType) -> BlockFormat:
    """The table row of ``fmt`` (a ggml type name in any case, GGUF id, GGMLType or gguf's
    GGMLQuantizationType); QuantError for a type ggml has but axon cannot (de)quantize."""
    t = ggml_type(fmt)
    if t.name not in FORMATS:
        raise QuantError(f"{t.name}: axon-quant has no block format for this ggml type; known: {', '.join(FORMATS)}")
    return FORMATS[t.name]
