"""Writing GGUF v3 files: header and metadata built in memory, tensor data streamed from its arrays.

The file goes through :func:`axon_core.atomic_writer` (a temporary file, fsync, rename), so a
failed write leaves the old file, and a reader that has the old file mapped keeps its inode. The
layout is llama.cpp's: tensors in the order given, each at an offset that is a multiple of the
alignment, each followed by zero padding to the alignment (gguf-py's writer does the same).
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

import ml_dtypes
import numpy as np

from axon_core import atomic_writer

from ..errors import GGUFError
from ..ggml_types import GGML_TYPES, GGMLType
from ..tensor import QuantTensor
from ._values import encode_value, value_type
from .constants import (
    GGUF_DEFAULT_ALIGNMENT,
    GGUF_MAGIC,
    GGUF_WRITE_VERSION,
    MAX_DIMS,
    MAX_KEY_BYTES,
    MAX_TENSOR_NAME_BYTES,
)
from .constants import GGUFValueType as V

__all__ = ["write_gguf"]

#: NumPy dtypes written as they are, and the ggml type each becomes.
ARRAY_TYPES: dict[np.dtype, GGMLType] = {
    np.dtype(np.float32): GGML_TYPES["f32"],
    np.dtype(np.float16): GGML_TYPES["f16"],
    np.dtype(ml_dtypes.bfloat16): GGML_TYPES["bf16"],
    np.dtype(np.float64): GGML_TYPES["f64"],
    np.dtype(np.int8): GGML_TYPES["i8"],
    np.dtype(np.int16): GGML_TYPES["i16"],
    np.dtype(np.int32): GGML_TYPES["i32"],
    np.dtype(np.int64): GGML_TYPES["i64"],
}
_CHUNK_BYTES = 64 << 20  # a non-contiguous array is copied this much at a time, not whole


class _Planned(NamedTuple):
    name: str
    dims: tuple[int, ...]  # GGUF order, ne0 first
    ggml_type: GGMLType
    data: np.ndarray  # the bytes to write, as any array whose C-order bytes they are
    nbytes: int


def _plan_tensor(name: Any, tensor: Any, path: str) -> _Planned:
    if not isinstance(name, str) or not name:
        raise GGUFError(f"tensor name {name!r} must be a non-empty str", path=path)
    if len(name.encode("utf-8")) > MAX_TENSOR_NAME_BYTES:
        raise GGUFError(
            f"tensor name is {len(name.encode('utf-8'))} bytes; llama.cpp (GGML_MAX_NAME) takes at "
            f"most {MAX_TENSOR_NAME_BYTES}",
            path=path,
            field=name,
        )
    if isinstance(tensor, QuantTensor):
        shape, gtype, data = tensor.shape, tensor.ggml_type, tensor.raw
    elif isinstance(tensor, np.ndarray):
        native = tensor.dtype if tensor.dtype.isnative else tensor.dtype.newbyteorder("=")
        if native not in ARRAY_TYPES:
            raise GGUFError(
                f"a {tensor.dtype} array has no ggml type (use {', '.join(map(str, ARRAY_TYPES))} or a QuantTensor)",
                path=path,
                field=name,
            )
        shape, gtype = tensor.shape, ARRAY_TYPES[native]
        data = tensor if tensor.dtype.isnative else tensor.astype(native)  # GGUF data is little-endian
    else:
        raise GGUFError(
            f"a tensor must be a QuantTensor or a NumPy array, got {type(tensor).__name__}", path=path, field=name
        )
    if not 1 <= len(shape) <= MAX_DIMS:
        raise GGUFError(
            f"a tensor of shape {list(shape)} has {len(shape)} dimensions; GGUF takes 1 to {MAX_DIMS}",
            path=path,
            field=name,
        )
    return _Planned(name, tuple(int(d) for d in reversed(shape)), gtype, data, int(data.nbytes))


def _alignment(metadata: dict[str, Any], types: dict[str, tuple], alignment: int | None, path: str) -> int:
    """The alignment to use; ``metadata`` gains ``general.alignment`` when it differs from GGUF's default."""
    if "general.alignment" in metadata:
        if types["general.alignment"] != (V.UINT32,):
            raise GGUFError("general.alignment must be a UINT32", path=path, field="general.alignment")
        declared = metadata["general.alignment"]
        if alignment is not None and alignment != declared:
            raise GGUFError(
                f"alignment={alignment} but the metadata says general.alignment={declared}",
                path=path,
                field="general.alignment",
            )
        alignment = declared
    elif alignment is None:
        alignment = GGUF_DEFAULT_ALIGNMENT
    if (
        not isinstance(alignment, int)
        or isinstance(alignment, bool)
        or not 0 < alignment < 2**32
        or alignment & (alignment - 1)
    ):
        raise GGUFError(
            f"alignment {alignment!r} is not a power of two that fits a uint32", path=path, field="general.alignment"
        )
    if alignment != GGUF_DEFAULT_ALIGNMENT and "general.alignment" not in metadata:
        metadata["general.alignment"], types["general.alignment"] = alignment, (V.UINT32,)
    return alignment


def _write_data(handle: Any, data: np.ndarray) -> None:
    if data.flags.c_contiguous:
        handle.write(memoryview(data.reshape(-1).view(np.uint8)))
        return
    rows = data.reshape(-1, data.shape[-1]) if data.ndim > 1 else data.reshape(1, -1)
    step = max(1, _CHUNK_BYTES // max(1, rows[0].nbytes))
    for start in range(0, rows.shape[0], step):
        handle.write(memoryview(np.ascontiguousarray(rows[start : start + step]).reshape(-1).view(np.uint8)))


def write_gguf(
    path: str | os.PathLike[str],
    metadata: Mapping[str, Any],
    tensors: Mapping[str, QuantTensor | np.ndarray] | None = None,
    *,
    types: Mapping[str, Any] | None = None,
    alignment: int | None = None,
) -> None:
    """Write a GGUF v3 file at ``path``, atomically.

    ``metadata``: key -> str, int, float, bool or (nested) lists of them, written in order; the
    GGUF type of a key is ``types[key]`` when given (a :class:`GGUFValueType`, its name, or a type
    tuple such as ``GGUFFile.metadata_types`` holds) and inferred otherwise (see
    :mod:`axon_quant.gguf._values`: non-negative ints become UINT32, floats FLOAT32).
    ``tensors``: name -> :class:`~axon_quant.tensor.QuantTensor` (its raw block bytes) or a NumPy
    array of float32 / float16 / bfloat16 / float64 / int8..int64, NumPy order (``[out, in]``;
    the GGUF dims are the shape reversed), 1 to 4 dimensions. ``alignment`` (bytes, a power of two)
    defaults to ``general.alignment`` in the metadata, else 32; another value is recorded there.
    Raises :class:`GGUFError` naming the key or tensor when a value does not fit its type.
    """
    target = os.fspath(path)
    if sys.byteorder != "little":
        raise GGUFError(
            "writing GGUF on a big-endian host is not supported (tensor bytes are written as held)", path=target
        )
    tensors = {} if tensors is None else tensors
    given = dict(types or {})
    unknown = sorted(set(given) - set(metadata))
    if unknown:
        raise GGUFError(f"types= names keys that are not in the metadata: {unknown}", path=target)
    values: dict[str, Any] = {}
    value_types: dict[str, tuple] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            raise GGUFError(f"metadata key {key!r} must be a non-empty str", path=target)
        if len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise GGUFError(
                f"a key of {len(key.encode('utf-8'))} bytes; GGUF keys take at most {MAX_KEY_BYTES}",
                path=target,
                field=key[:80],
            )
        values[key], value_types[key] = value, value_type(key, value, given.get(key), target)
    align = _alignment(values, value_types, alignment, target)

    header = bytearray(GGUF_MAGIC)
    header += struct.pack("<IQQ", GGUF_WRITE_VERSION, len(tensors), len(values))
    for key, value in values.items():
        key_bytes = key.encode("utf-8")
        header += struct.pack("<Q", len(key_bytes)) + key_bytes + struct.pack("<I", value_types[key][0])
        encode_value(header, value, value_types[key], key, target)
    planned = []
    offset = 0
    for name, tensor in tensors.items():
        plan = _plan_tensor(name, tensor, target)
        name_bytes = plan.name.encode("utf-8")
        header += struct.pack("<Q", len(name_bytes)) + name_bytes
        header += struct.pack(f"<I{len(plan.dims)}QIQ", len(plan.dims), *plan.dims, plan.ggml_type.id, offset)
        offset += -(-plan.nbytes // align) * align
        planned.append(plan)
    header += bytes(-len(header) % align)

    with atomic_writer(target) as handle:
        handle.write(header)
        for plan in planned:
            _write_data(handle, plan.data)
            handle.write(bytes(-plan.nbytes % align))
