"""State dicts as safetensors files, through the ``safetensors`` package's serializer.

Names and values round-trip with ``safetensors.torch`` (and HF tooling). bfloat16 is stored as
BF16. complex128 has no safetensors dtype and is refused with a clear error.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import ml_dtypes
import numpy as np
import safetensors

from axon_core import atomic_writer

from .arrays import host_array, to_tensor
from .errors import SerializationError

__all__ = ["save_safetensors", "load_safetensors"]

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
    """Read a safetensors file into ``{name: Tensor}`` on ``device``."""
    try:
        with open(path, "rb") as handle:
            content = handle.read()
    except OSError as exc:
        raise SerializationError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        entries = safetensors.deserialize(content)
    except Exception as exc:  # SafetensorError and friends from the Rust parser
        raise SerializationError(f"{path}: not a valid safetensors file ({exc})") from exc
    state = {}
    for name, entry in entries:
        dtype = _FILE_DTYPES.get(entry["dtype"])
        if dtype is None:
            raise SerializationError(f"{path}: tensor {name!r} has dtype {entry['dtype']}, which axon does not support")
        array = np.frombuffer(entry["data"], dtype=dtype).reshape(entry["shape"])
        state[name] = to_tensor(array, device)
    return state
