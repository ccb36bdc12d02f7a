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

from .arrays import DTYPE_BY_NAME, host_array, to_tensor
from .container import DTYPE_NAME_OF
from .errors import SerializationError

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
    """Read a file written by :func:`save_json` into ``{name: Tensor}``."""
    try:
        with open(path, "rb") as handle:
            document = json.loads(handle.read())
    except OSError as exc:
        raise SerializationError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise SerializationError(f"{path}: not valid JSON ({exc})") from exc
    if (
        not isinstance(document, dict)
        or document.get("format") != _FORMAT
        or not isinstance(document.get("tensors"), dict)
    ):
        raise SerializationError(f"{path}: not an axon JSON state dict (missing format/tensors)")
    state = {}
    for name, entry in document["tensors"].items():
        state[name] = to_tensor(_array(entry, f"{path}: tensor {name!r}"), device)
    return state


def _array(entry: Any, where: str) -> np.ndarray:
    if not isinstance(entry, dict):
        raise SerializationError(f"{where}: entry is not an object")
    dtype = DTYPE_BY_NAME.get(entry.get("dtype"))
    shape, values = entry.get("shape"), entry.get("values")
    if dtype is None:
        raise SerializationError(f"{where}: unknown dtype {entry.get('dtype')!r}")
    if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise SerializationError(f"{where}: bad shape {shape!r}")
    if not isinstance(values, list) or len(values) != math.prod(shape):
        raise SerializationError(
            f"{where}: shape {shape} needs {math.prod(shape)} values, found "
            f"{len(values) if isinstance(values, list) else type(values).__name__}"
        )
    try:
        if dtype.is_complex:
            flat = np.array([complex(_SPECIAL.get(r, r), _SPECIAL.get(i, i)) for r, i in values], dtype=dtype.np)
        elif dtype.is_floating_point:
            flat = np.array([_SPECIAL.get(v, v) if isinstance(v, str) else v for v in values], dtype=np.float64).astype(
                dtype.np
            )
        else:
            flat = np.array(values, dtype=dtype.np)
    except (TypeError, ValueError, OverflowError) as exc:
        raise SerializationError(f"{where}: values do not fit dtype {dtype.name} ({exc})") from exc
    return flat.reshape(shape)
