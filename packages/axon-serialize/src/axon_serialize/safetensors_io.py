"""State dicts as safetensors files, through the ``safetensors`` package's serializer.

Names and values round-trip with ``safetensors.torch`` (and HF tooling). bfloat16 is stored as
BF16. complex128 has no safetensors dtype and is refused with a clear error.
"""

from __future__ import annotations

import os
import struct
from typing import Any, Mapping

import ml_dtypes
import numpy as np
import safetensors

from axon_core import atomic_writer

from ._files import read_whole
from ._json import loads
from .arrays import checked_shape, host_array, to_tensor
from .errors import SerializationError

__all__ = ["save_safetensors", "load_safetensors"]

_MAX_HEADER_BYTES = 100_000_000  # the safetensors package's own limit

_FILE_DTYPES = {
    "BOOL": np.bool_,
    "U8": np.uint8,
    "I8": np.int8,
    "I16": np.int16,
    "I32": np.int32,
    "I64": np.int64,
    "F16": np.float16,
    "BF16": ml_dtypes.bfloat16,
    "F32": np.float32,
    "F64": np.float64,
    "C64": np.complex64,
}


def save_safetensors(
    state: Mapping[str, Any], path: str | os.PathLike[str], metadata: dict[str, str] | None = None
) -> None:
    """Write a flat ``{name: tensor}`` mapping to ``path`` atomically."""
    arrays = {name: host_array(value, name) for name, value in state.items()}
    specs = {}
    for name, array in arrays.items():
        if array.dtype == np.complex128:
            raise SerializationError(f"save_safetensors: tensor {name!r} is complex128, which safetensors cannot store")
        specs[name] = safetensors.TensorSpec(
            dtype=array.dtype.name, shape=list(array.shape), data_ptr=array.ctypes.data, data_len=array.nbytes
        )
    payload = safetensors.serialize(specs, metadata=metadata)
    del specs  # the arrays must outlive serialize(): the specs only hold their addresses
    with atomic_writer(path) as handle:
        handle.write(payload)


def load_safetensors(path: str | os.PathLike[str], device: Any = None) -> dict[str, Any]:
    """Read a safetensors file into ``{name: Tensor}`` on ``device``.

    The header is read with axon's strict JSON first (duplicate names, huge integers and the like
    are refused), then the ``safetensors`` package parses and checks the whole file."""
    where = str(path)
    content = read_whole(path, where)
    _check_header(content, where)
    try:
        entries = safetensors.deserialize(content)
    except Exception as exc:  # SafetensorError and friends from the Rust parser
        raise SerializationError(f"{where}: not a valid safetensors file ({exc})") from exc
    except BaseException as exc:  # pyo3's PanicException is a BaseException
        if type(exc).__name__ != "PanicException":
            raise
        raise SerializationError(f"{where}: not a valid safetensors file (the parser panicked: {exc})") from exc
    state = {}
    for name, entry in entries:
        dtype = _FILE_DTYPES.get(entry["dtype"])
        if dtype is None:
            raise SerializationError(
                f"{where}: tensor {name!r} has dtype {entry['dtype']}, which axon does not support"
            )
        shape = checked_shape(list(entry["shape"]), np.dtype(dtype).itemsize, f"{where}: tensor {name!r}")
        state[name] = to_tensor(np.frombuffer(entry["data"], dtype=dtype).reshape(shape), device)
    return state


def _check_header(content: bytes, where: str) -> None:
    bad = f"{where}: not a valid safetensors file"
    if len(content) < 8:
        raise SerializationError(f"{bad} ({len(content)} bytes is too short)")
    (length,) = struct.unpack_from("<Q", content)
    if length > min(_MAX_HEADER_BYTES, len(content) - 8):
        raise SerializationError(f"{bad} (offset 0: header length {length} exceeds the file, {len(content)} bytes)")
    header = loads(content[8 : 8 + length], f"{bad}: offset 8: header")
    if not isinstance(header, dict):
        raise SerializationError(f"{bad} (offset 8: the header is not a JSON object)")
