"""State dicts as human-readable JSON with exact round trips.

Every float32 (and float16/bfloat16) value is exactly representable as a Python float, and
Python writes the shortest decimal that reads back to the same float64, so reading it and
casting back gives the identical bits. NaN and infinities are written as the strings
``"nan"``, ``"inf"`` and ``"-inf"`` (JSON has no tokens for them).
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Mapping

import numpy as np

from axon_core import atomic_writer

from ._files import read_whole
from ._json import loads
from .arrays import DTYPE_BY_NAME, checked_shape, host_array, to_tensor
from .container import DTYPE_NAME_OF
from .errors import SerializationError, short_repr

__all__ = ["save_json", "load_json"]

_FORMAT = "axon-state-dict"
_SPECIAL = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def save_json(state: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``{name: tensor}`` as JSON: dtype, shape and the flat row-major values."""
    tensors = {}
    for name, value in state.items():
        array = host_array(value, name)
        if array.dtype.kind == "c":
            values = [[_number(float(v.real)), _number(float(v.imag))] for v in array.reshape(-1)]
        else:
            as_python = array.astype(np.float64) if array.dtype.kind not in "biuf" else array
            values = [_number(v) for v in as_python.reshape(-1).tolist()]
        tensors[name] = {"dtype": DTYPE_NAME_OF[array.dtype], "shape": list(array.shape), "values": values}
    text = json.dumps({"format": _FORMAT, "version": 1, "tensors": tensors}, allow_nan=False)
    with atomic_writer(path) as handle:
        handle.write(text.encode())


def load_json(path: str | os.PathLike[str], device: Any = None) -> dict[str, Any]:
    """Read a file written by :func:`save_json` into ``{name: Tensor}``.

    The format is exact, so reading is strict: a value must have the tensor's type (``true`` /
    ``false`` for bool, integers in range for integer dtypes, numbers or ``"nan"`` / ``"inf"`` /
    ``"-inf"`` for floating dtypes, ``[re, im]`` pairs for complex ones) and be exactly
    representable in its dtype: ``null``, ``1.5`` for an int, ``1e39`` or ``1e-46`` for a float32
    are refused, never rounded, clamped or turned into NaN."""
    document = loads(read_whole(path), str(path))
    if (
        not isinstance(document, dict)
        or document.get("format") != _FORMAT
        or not isinstance(document.get("tensors"), dict)
    ):
        raise SerializationError(f"{path}: not an axon JSON state dict (missing format/tensors)")
    if document.get("version", 1) != 1:
        raise SerializationError(f"{path}: unsupported version {document['version']!r} (this reader knows 1)")
    arrays = {name: _array(entry, f"{path}: tensor {name!r}") for name, entry in document["tensors"].items()}
    return {name: to_tensor(array, device) for name, array in arrays.items()}


def _array(entry: Any, where: str) -> np.ndarray:
    if not isinstance(entry, dict):
        raise SerializationError(f"{where}: entry is not an object")
    name = entry.get("dtype")
    dtype = DTYPE_BY_NAME.get(name) if isinstance(name, str) else None
    if dtype is None:
        raise SerializationError(f"{where}: unknown dtype {short_repr(name)}")
    shape = checked_shape(entry.get("shape"), dtype.itemsize, where)
    values, count = entry.get("values"), math.prod(shape)
    if not isinstance(values, list) or len(values) != count:
        raise SerializationError(
            f"{where}: shape {list(shape)} needs {count} values, found "
            f"{len(values) if isinstance(values, list) else type(values).__name__}"
        )
    if dtype.is_complex:
        parts = dtype.np.type(0).real.dtype  # float32 for complex64
        if not all(isinstance(v, list) and len(v) == 2 for v in values):
            bad = next(i for i, v in enumerate(values) if not (isinstance(v, list) and len(v) == 2))
            raise SerializationError(f"{where}: value {bad} is {short_repr(values[bad])}, not a [real, imag] pair")
        flat = _floats([part for pair in values for part in pair], parts, where, pairs=True).view(dtype.np)
    elif dtype.is_floating_point:
        flat = _floats(values, dtype.np, where)
    elif dtype.np == np.bool_:
        if not set(map(type, values)) <= {bool}:
            bad = next(i for i, v in enumerate(values) if type(v) is not bool)
            raise SerializationError(f"{where}: value {bad} is {short_repr(values[bad])}, not true/false (dtype bool)")
        flat = np.array(values, dtype=np.bool_)
    else:
        info = np.iinfo(dtype.np)
        if not (
            set(map(type, values)) <= {int} and (not values or info.min <= min(values) and max(values) <= info.max)
        ):
            bad = next(i for i, v in enumerate(values) if type(v) is not int or not info.min <= v <= info.max)
            raise SerializationError(
                f"{where}: value {bad} is {short_repr(values[bad])}, not an integer in "
                f"[{info.min}, {info.max}] (dtype {dtype.name})"
            )
        flat = np.array(values, dtype=dtype.np)
    return flat.reshape(shape)


def _floats(values: list, dtype: np.dtype, where: str, pairs: bool = False) -> np.ndarray:
    """``values`` (numbers and "nan"/"inf"/"-inf") as ``dtype``, refusing any that would round."""
    exact = values if set(map(type, values)) <= {float} else []  # the common case: no special value
    for i, v in enumerate(values if exact is not values else ()):
        kind = type(v)
        if kind is float:
            exact.append(v)
        elif kind is int and abs(v) <= 2**53:  # larger ints are checked one by one below
            exact.append(float(v))
        elif kind is int or (kind is str and v in _SPECIAL):
            exact.append(_SPECIAL[v] if kind is str else _big_int(v, where, _index(i, pairs)))
        else:
            raise SerializationError(
                f'{where}: value {_index(i, pairs)} is {short_repr(v)}, not a number or "nan"/"inf"/"-inf"'
            )
    wide = np.array(exact, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        cast = wide.astype(dtype)
        back = cast.astype(np.float64)
    wrong = ~((back == wide) | (np.isnan(back) & np.isnan(wide)))
    if wrong.any():
        i = int(np.argmax(wrong))
        raise SerializationError(
            f"{where}: value {_index(i, pairs)} ({short_repr(values[i])}) is not exactly representable in "
            f"{np.dtype(dtype).name} (it would become {float(back[i])!r}); this format stores exact values"
        )
    return cast


def _big_int(value: int, where: str, index: str) -> float:
    try:
        wide = float(value)
    except OverflowError:
        wide = math.nan
    if wide != value:
        raise SerializationError(
            f"{where}: value {index} ({short_repr(value)}) is not exactly representable in float64"
        )
    return wide


def _index(i: int, pairs: bool) -> str:
    return f"{i // 2} ({'imag' if i % 2 else 'real'} part)" if pairs else str(i)
