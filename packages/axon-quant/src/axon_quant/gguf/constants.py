"""GGUF's fixed numbers: the magic, the versions we read, the default alignment and the value types.

The values are the GGUF specification's (ggml ``docs/gguf.md``; ``gguf.h``'s ``gguf_type``;
gguf-py's ``GGUFValueType``). A metadata value's type is written as a tuple: ``(UINT32,)`` for a
scalar, ``(ARRAY, STRING)`` for a list of strings, ``(ARRAY, ARRAY, INT32)`` for a list of lists
of int32 (the shape of gguf-py's ``ReaderField.types``).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "GGUF_DEFAULT_ALIGNMENT",
    "GGUF_MAGIC",
    "GGUF_VERSIONS",
    "GGUF_WRITE_VERSION",
    "MAX_ARRAY_NESTING",
    "MAX_DIMS",
    "MAX_KEY_BYTES",
    "MAX_TENSOR_NAME_BYTES",
    "SCALAR_FORMATS",
    "GGUFValueType",
]

#: The first four bytes of every GGUF file.
GGUF_MAGIC = b"GGUF"
#: Versions this reader accepts (v1 used 32-bit counts and is gone from llama.cpp too).
GGUF_VERSIONS = (2, 3)
#: The version our writer emits.
GGUF_WRITE_VERSION = 3
#: Bytes the data section and every tensor are aligned to when ``general.alignment`` is absent.
GGUF_DEFAULT_ALIGNMENT = 32
#: Deepest list-of-lists we read; GGUF allows nesting, llama.cpp reads none, so this bounds recursion.
MAX_ARRAY_NESTING = 8
#: ggml's GGML_MAX_DIMS: a tensor has at most four dimensions.
MAX_DIMS = 4
#: The specification's limit on key length (2**16 - 1 bytes); we apply it to tensor names read too.
MAX_KEY_BYTES = 65535
#: ggml's GGML_MAX_NAME is 64 including the NUL: llama.cpp refuses longer names, so we do not write them.
MAX_TENSOR_NAME_BYTES = 63


class GGUFValueType(IntEnum):
    """The type of a metadata value as stored in the file (a little-endian uint32)."""

    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


#: Fixed-size value types -> little-endian NumPy dtype string (BOOL is one byte, 0 or 1).
SCALAR_FORMATS: dict[GGUFValueType, str] = {
    GGUFValueType.UINT8: "<u1",
    GGUFValueType.INT8: "<i1",
    GGUFValueType.UINT16: "<u2",
    GGUFValueType.INT16: "<i2",
    GGUFValueType.UINT32: "<u4",
    GGUFValueType.INT32: "<i4",
    GGUFValueType.FLOAT32: "<f4",
    GGUFValueType.BOOL: "<u1",
    GGUFValueType.UINT64: "<u8",
    GGUFValueType.INT64: "<i8",
    GGUFValueType.FLOAT64: "<f8",
}
