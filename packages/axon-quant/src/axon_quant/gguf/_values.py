"""Metadata values for the writer: their GGUF type (given or inferred) and their bytes.

A type is a tuple as in :mod:`.constants` (``(UINT32,)``, ``(ARRAY, STRING)``). Inference: bool ->
BOOL; int -> UINT32 when 0 <= v < 2**32, INT32 when -2**31 <= v < 0, else INT64 or UINT64 by range;
float -> FLOAT32; str -> STRING; a list -> ARRAY of its elements' common type (ints by the range of
all of them, ints mixed with floats -> FLOAT32). An empty list has no type to infer: give one.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from ..errors import GGUFError
from .constants import MAX_ARRAY_NESTING, SCALAR_FORMATS, GGUFValueType

__all__ = ["encode_value", "value_type"]

V = GGUFValueType
_INTEGER_TYPES = (V.UINT8, V.INT8, V.UINT16, V.INT16, V.UINT32, V.INT32, V.UINT64, V.INT64)
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")


def _plain(value: Any) -> Any:
    """NumPy scalars as the Python values they hold."""
    return value.item() if isinstance(value, np.generic) else value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_type(low: int, high: int, key: str, path: str | None) -> GGUFValueType:
    if low >= 0 and high < 2**32:
        return V.UINT32
    if low >= -(2**31) and high < 2**31:
        return V.INT32
    if low >= -(2**63) and high < 2**63:
        return V.INT64
    if low >= 0 and high < 2**64:
        return V.UINT64
    raise GGUFError(f"integers in [{low}, {high}] fit no GGUF integer type", path=path, field=key)


def _infer_elements(items: list, key: str, path: str | None) -> tuple[GGUFValueType, ...]:
    items = [_plain(v) for v in items]
    if all(isinstance(v, (list, tuple)) for v in items):
        children = [c for v in items for c in v]
        if not children:
            raise GGUFError(
                "cannot infer the element type of empty nested lists; give it in types=", path=path, field=key
            )
        return (V.ARRAY, *_infer_elements(children, key, path))
    if all(isinstance(v, bool) for v in items):
        return (V.BOOL,)
    if all(_is_int(v) for v in items):
        return (_int_type(min(items), max(items), key, path),)
    if all(_is_int(v) or isinstance(v, float) for v in items):
        return (V.FLOAT32,)
    if all(isinstance(v, str) for v in items):
        return (V.STRING,)
    kinds = sorted({type(v).__name__ for v in items})
    raise GGUFError(
        f"a list of mixed or unsupported element types ({', '.join(kinds)}) has no GGUF type", path=path, field=key
    )


def _depth(value: Any) -> int:
    """Nesting depth along first elements, counted to one past the limit (a list may contain itself)."""
    depth = 0
    while isinstance(value, (list, tuple)) and depth <= MAX_ARRAY_NESTING:
        depth += 1
        value = value[0] if value else None
    return depth


def value_type(key: str, value: Any, given: Any = None, path: str | None = None) -> tuple[GGUFValueType, ...]:
    """The GGUF type tuple of ``value``: ``given`` (a GGUFValueType, its name, or a tuple of them; a
    scalar type for a list means a list of that type) or inferred from ``value``."""
    if _depth(value) > MAX_ARRAY_NESTING:
        raise GGUFError(f"lists nested more than {MAX_ARRAY_NESTING} deep", path=path, field=key)
    if given is not None:
        try:
            parts = tuple(given) if isinstance(given, (tuple, list)) else (given,)
            types = tuple(V[p.upper()] if isinstance(p, str) else V(int(p)) for p in parts)
        except (KeyError, ValueError, TypeError):
            raise GGUFError(f"{given!r} is not a GGUF value type", path=path, field=key) from None
        if len(types) == 1 and types[0] is not V.ARRAY:
            types = (V.ARRAY,) * _depth(value) + types
        return types
    value = _plain(value)
    if isinstance(value, bool):
        return (V.BOOL,)
    if _is_int(value):
        return (_int_type(value, value, key, path),)
    if isinstance(value, float):
        return (V.FLOAT32,)
    if isinstance(value, str):
        return (V.STRING,)
    if isinstance(value, (list, tuple)):
        if not value:
            raise GGUFError("cannot infer the element type of an empty list; give it in types=", path=path, field=key)
        return (V.ARRAY, *_infer_elements(list(value), key, path))
    raise GGUFError(
        f"a {type(value).__name__} has no GGUF type (use str, int, float, bool or lists)", path=path, field=key
    )


def _scalars(values: list, vtype: GGUFValueType, key: str, path: str | None) -> bytes:
    """The little-endian bytes of fixed-size ``values``, each checked to be exactly representable."""
    values = [_plain(v) for v in values]
    if vtype is V.BOOL:
        if not all(isinstance(v, bool) for v in values):
            raise GGUFError("a BOOL value must be True or False", path=path, field=key)
        return bytes(values)
    dtype = np.dtype(SCALAR_FORMATS[vtype])
    if vtype in _INTEGER_TYPES:
        if not all(_is_int(v) for v in values):
            raise GGUFError(f"a {vtype.name} value must be an int", path=path, field=key)
        info = np.iinfo(dtype)
        if values and (min(values) < info.min or max(values) > info.max):
            raise GGUFError(
                f"{vtype.name} holds [{info.min}, {info.max}], got values in [{min(values)}, {max(values)}]",
                path=path,
                field=key,
            )
        return np.array(values, dtype=dtype).tobytes()
    if not all(_is_int(v) or isinstance(v, float) for v in values):
        raise GGUFError(f"a {vtype.name} value must be a float", path=path, field=key)
    wide = np.array(values, dtype=np.float64)
    with np.errstate(over="ignore"):
        narrow = wide.astype(dtype)
    if np.any(np.isinf(narrow) & np.isfinite(wide)):
        raise GGUFError(f"a value beyond the {vtype.name} range", path=path, field=key)
    return narrow.tobytes()


def _string(value: Any, key: str, path: str | None) -> bytes:
    if not isinstance(value, str):
        raise GGUFError(f"a STRING value must be a str, got {type(value).__name__}", path=path, field=key)
    data = value.encode("utf-8")
    return _U64.pack(len(data)) + data


def encode_value(
    out: bytearray, value: Any, types: tuple[GGUFValueType, ...], key: str, path: str | None = None
) -> None:
    """Append the payload of ``value`` (no leading type tag) in GGUF layout to ``out``."""
    head = types[0]
    if head is V.STRING:
        out += _string(value, key, path)
    elif head is not V.ARRAY:
        if len(types) != 1:
            raise GGUFError(f"type {'/'.join(t.name for t in types)} is not a GGUF type", path=path, field=key)
        out += _scalars([value], head, key, path)
    else:
        if len(types) < 2 or len(types) > MAX_ARRAY_NESTING + 1:
            raise GGUFError(
                f"an ARRAY type needs an element type and at most {MAX_ARRAY_NESTING} levels", path=path, field=key
            )
        value = value.tolist() if isinstance(value, np.ndarray) else value
        if not isinstance(value, (list, tuple)):
            raise GGUFError(f"an ARRAY value must be a list, got {type(value).__name__}", path=path, field=key)
        element = types[1]
        out += _U32.pack(element) + _U64.pack(len(value))
        if element is V.STRING:
            out += b"".join(_string(v, key, path) for v in value)
        elif element is V.ARRAY:
            for i, item in enumerate(value):
                encode_value(out, item, types[1:], f"{key}[{i}]", path)
        else:
            if len(types) != 2:
                raise GGUFError(f"type {'/'.join(t.name for t in types)} is not a GGUF type", path=path, field=key)
            out += _scalars(list(value), element, key, path)
