"""Nested Python state (dicts, lists, tuples, numbers, strings, tensors) as JSON plus a tensor table.

Optimizer and scheduler state dicts are trees with integer keys, tuples, floats that may be
NaN or infinite, and tensors. JSON alone loses all of those, so the tree is encoded with small
tagged objects, and tensors are replaced by references into a separate table of arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .arrays import host_array, is_array_like
from .errors import SerializationError

__all__ = ["encode_tree", "decode_tree", "MAX_DEPTH"]

MAX_DEPTH = 100  # nesting levels of a tree (optimizer states use fewer than 10); JSON nests up to 3x deeper
_TENSOR, _DICT, _TUPLE, _FLOAT, _BYTES = "__tensor__", "__dict__", "__tuple__", "__float__", "__bytes__"
_TAGS = {_TENSOR, _DICT, _TUPLE, _FLOAT, _BYTES}


def encode_tree(value: Any, tensors: dict[str, np.ndarray], path: str = "", _depth: int = 0) -> Any:
    """JSON-ready form of ``value``; tensors found inside are added to ``tensors`` by path.

    Trees nested deeper than :data:`MAX_DEPTH` (a cycle, say) are refused, as the reader would."""
    if _depth > MAX_DEPTH:
        raise SerializationError(f"cannot serialize: nested deeper than {MAX_DEPTH} levels at {path} (a cycle?)")
    deeper = _depth + 1
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else {_FLOAT: repr(number)}
    if is_array_like(value):
        key = path or "."
        tensors[key] = host_array(value, key)
        return {_TENSOR: key}
    if isinstance(value, (bytes, bytearray)):
        return {_BYTES: bytes(value).hex()}
    if isinstance(value, tuple):
        return {_TUPLE: [encode_tree(v, tensors, f"{path}.{i}", deeper) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [encode_tree(v, tensors, f"{path}.{i}", deeper) for i, v in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not (_TAGS & set(value)):
            return {k: encode_tree(v, tensors, f"{path}.{k}" if path else k, deeper) for k, v in value.items()}
        return {
            _DICT: [
                [encode_tree(k, tensors, f"{path}.key{i}", deeper), encode_tree(v, tensors, f"{path}.{k}", deeper)]
                for i, (k, v) in enumerate(value.items())
            ]
        }
    raise SerializationError(f"cannot serialize {type(value).__name__} at {path or 'the root'}")


def decode_tree(value: Any, tensors: dict[str, Any], where: str, _depth: int = 0) -> Any:
    """Inverse of :func:`encode_tree`; ``tensors`` maps reference keys to loaded tensors. Anything
    malformed (a bad tag body, nesting deeper than :data:`MAX_DEPTH`) is a SerializationError."""
    if _depth > MAX_DEPTH:
        raise SerializationError(f"{where}: the tree is nested deeper than {MAX_DEPTH} levels")
    deeper = _depth + 1
    if isinstance(value, list):
        return [decode_tree(v, tensors, where, deeper) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, body),) = value.items()
        if tag == _TENSOR:
            if not isinstance(body, str) or body not in tensors:
                raise SerializationError(f"{where}: the tree refers to tensor {body!r}, which the file does not hold")
            return tensors[body]
        if tag == _TUPLE:
            return tuple(decode_tree(v, tensors, where, deeper) for v in _expect_list(body, where))
        if tag == _FLOAT:
            if not isinstance(body, str) or body not in ("nan", "inf", "-inf"):
                raise SerializationError(f"{where}: bad non-finite float {body!r}")
            return float(body)
        if tag == _BYTES:
            try:
                return bytes.fromhex(body)
            except (TypeError, ValueError) as exc:
                raise SerializationError(f"{where}: bad hex bytes") from exc
        if tag == _DICT:
            pairs = _expect_list(body, where)
            if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                raise SerializationError(f"{where}: a dict entry is not a [key, value] pair")
            return {
                _hashable(decode_tree(k, tensors, where, deeper), where): decode_tree(v, tensors, where, deeper)
                for k, v in pairs
            }
    return {k: decode_tree(v, tensors, where, deeper) for k, v in value.items()}


def _expect_list(body: Any, where: str) -> list:
    if not isinstance(body, list):
        raise SerializationError(f"{where}: expected a list in the encoded tree, got {type(body).__name__}")
    return body


def _hashable(key: Any, where: str) -> Any:
    try:
        hash(key)
    except TypeError as exc:
        raise SerializationError(f"{where}: a dict key of type {type(key).__name__} is not hashable") from exc
    return key
