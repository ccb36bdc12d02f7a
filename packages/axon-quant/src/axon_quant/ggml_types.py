"""The ggml tensor types axon-quant knows: id in GGUF files, name, block size and bytes per block.

The numbers are ggml's (``ggml.h`` / ``ggml.c`` type traits; gguf-py's ``GGML_QUANT_SIZES``); a
row of ``n`` values in type ``t`` takes ``n // t.block_size * t.type_size`` bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import QuantError

__all__ = ["GGMLType", "GGML_TYPES", "ggml_type", "row_bytes"]


@dataclass(frozen=True)
class GGMLType:
    """One ggml type: ``id`` as stored in GGUF, ``name`` lower-case (``"q4_1"``), values per block
    and bytes per block."""

    id: int
    name: str
    block_size: int
    type_size: int


GGML_TYPES: dict[str, GGMLType] = {
    t.name: t
    for t in (
        GGMLType(0, "f32", 1, 4),
        GGMLType(1, "f16", 1, 2),
        GGMLType(2, "q4_0", 32, 18),
        GGMLType(3, "q4_1", 32, 20),
        GGMLType(6, "q5_0", 32, 22),
        GGMLType(7, "q5_1", 32, 24),
        GGMLType(8, "q8_0", 32, 34),
        GGMLType(9, "q8_1", 32, 40),
        GGMLType(10, "q2_k", 256, 84),
        GGMLType(11, "q3_k", 256, 110),
        GGMLType(12, "q4_k", 256, 144),
        GGMLType(13, "q5_k", 256, 176),
        GGMLType(14, "q6_k", 256, 210),
        GGMLType(15, "q8_k", 256, 292),
        GGMLType(24, "i8", 1, 1),
        GGMLType(25, "i16", 1, 2),
        GGMLType(26, "i32", 1, 4),
        GGMLType(27, "i64", 1, 8),
        GGMLType(28, "f64", 1, 8),
        GGMLType(30, "bf16", 1, 2),
        GGMLType(34, "tq1_0", 256, 54),
        GGMLType(35, "tq2_0", 256, 66),
    )
}
_BY_ID = {t.id: t for t in GGML_TYPES.values()}


def ggml_type(fmt: "str | int | GGMLType") -> GGMLType:
    """The type named ``fmt`` (``"q4_1"``/``"Q4_1"``), or with GGUF id ``fmt``; QuantError if unknown."""
    if isinstance(fmt, GGMLType):
        return fmt
    if isinstance(fmt, int):
        if fmt in _BY_ID:
            return _BY_ID[fmt]
        raise QuantError(f"unknown ggml type id {fmt}; known: {sorted(_BY_ID)}")
    name = getattr(fmt, "name", fmt)  # accepts gguf.GGMLQuantizationType members too
    if isinstance(name, str) and name.lower() in GGML_TYPES:
        return GGML_TYPES[name.lower()]
    raise QuantError(f"unknown ggml type {fmt!r}; known: {', '.join(GGML_TYPES)}")


def row_bytes(fmt: "str | int | GGMLType", n: int) -> int:
    """Bytes of a row of ``n`` values in ``fmt``; QuantError when ``n`` is not whole blocks."""
    t = ggml_type(fmt)
    if n % t.block_size:
        raise QuantError(f"{t.name}: a row of {n} values is not a whole number of {t.block_size}-value blocks")
    return n // t.block_size * t.type_size
