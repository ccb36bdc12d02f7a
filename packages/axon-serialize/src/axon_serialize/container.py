"""The axon binary container: a validated JSON header, aligned tensor bytes and a SHA-256.

Layout (all integers little-endian)::

    offset 0   magic      8 bytes  b"AXONFILE"
    offset 8   version    u32      1
    offset 12  header_len u64      length of the UTF-8 JSON header
    offset 20  header     JSON     {"tensors": {name: {"dtype", "shape", "offset", "nbytes"}}, "tree": ..., "metadata": {...}}
    ...        padding to a multiple of 64, then the data section (each tensor 64-byte aligned,
               offsets relative to the data section)
    end - 32   sha256     32 bytes of everything before it

Reading validates the header completely (sizes, dtypes, shapes, offsets within the file, no
overlaps) before it allocates anything, then verifies the checksum. No code is ever executed
from a file: there is no pickle.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from axon_core import atomic_writer

from .arrays import DTYPE_BY_NAME
from .errors import SerializationError

__all__ = ["write_container", "read_container", "MAGIC", "MAX_HEADER_BYTES"]

MAGIC = b"AXONFILE"
VERSION = 1
_PREFIX = struct.Struct("<8sIQ")
_ALIGN = 64
_DIGEST = 32
MAX_HEADER_BYTES = 64 * 1024 * 1024
MAX_EMPTY_EXTENT = 2**48


def _aligned(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def write_container(
    path: str | os.PathLike[str], tensors: dict[str, np.ndarray], tree: Any, metadata: dict[str, str] | None = None
) -> None:
    """Write ``tensors`` (host arrays) and a JSON-ready ``tree`` atomically to ``path``."""
    table: dict[str, dict[str, Any]] = {}
    cursor = 0
    for name, array in tensors.items():
        table[name] = {
            "dtype": DTYPE_NAME_OF[array.dtype],
            "shape": list(array.shape),
            "offset": cursor,
            "nbytes": int(array.nbytes),
        }
        cursor = _aligned(cursor + array.nbytes)
    header = json.dumps(
        {"tensors": table, "tree": tree, "metadata": metadata or {}}, allow_nan=False, separators=(",", ":")
    ).encode()
    data_start = _aligned(_PREFIX.size + len(header))
    digest = hashlib.sha256()
    with atomic_writer(path) as handle:

        def emit(chunk: bytes | memoryview) -> None:
            digest.update(chunk)
            handle.write(chunk)

        emit(_PREFIX.pack(MAGIC, VERSION, len(header)))
        emit(header)
        emit(b"\0" * (data_start - _PREFIX.size - len(header)))
        written = 0
        for name, array in tensors.items():
            offset = table[name]["offset"]
            emit(b"\0" * (offset - written))
            emit(memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8)))
            written = offset + array.nbytes
        handle.write(digest.digest())


DTYPE_NAME_OF = {d.np: name for name, d in DTYPE_BY_NAME.items()}


def read_container(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], Any, dict[str, str]]:
    """Read a container: ``(tensors, tree, metadata)``. Raises :class:`SerializationError` naming
    the file and offset for anything malformed, truncated, hostile or corrupted."""
    where = str(path)
    try:
        size = Path(path).stat().st_size
        with open(path, "rb") as handle:
            if size == 0:
                raise SerializationError(f"{where}: empty file")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
                return _parse(view, size, where)
    except OSError as exc:
        raise SerializationError(f"{where}: cannot read ({exc.strerror or exc})") from exc


def _parse(view: mmap.mmap, size: int, where: str) -> tuple[dict[str, np.ndarray], Any, dict[str, str]]:
    if size < _PREFIX.size + _DIGEST:
        raise SerializationError(f"{where}: {size} bytes is too short for an axon file (truncated?)")
    magic, version, header_len = _PREFIX.unpack_from(view, 0)
    if magic != MAGIC:
        raise SerializationError(f"{where}: offset 0: not an axon file (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise SerializationError(f"{where}: offset 8: unsupported version {version} (this reader knows {VERSION})")
    if header_len > min(MAX_HEADER_BYTES, size - _PREFIX.size - _DIGEST):
        raise SerializationError(f"{where}: offset 12: header length {header_len} exceeds the file ({size} bytes)")
    try:
        header = json.loads(bytes(view[_PREFIX.size : _PREFIX.size + header_len]))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise SerializationError(f"{where}: offset {_PREFIX.size}: header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict) or not isinstance(header.get("tensors"), dict):
        raise SerializationError(f"{where}: header lacks a 'tensors' table")
    data_start = _aligned(_PREFIX.size + header_len)
    data_len = size - _DIGEST - data_start
    if data_len < 0:
        raise SerializationError(f"{where}: truncated: data section would start at {data_start}, file is {size} bytes")
    entries = _validate_table(header["tensors"], data_start, data_len, where)
    _verify_digest(view, size, where)
    tensors = {}
    for name, (dtype, shape, offset, nbytes) in entries.items():
        tensors[name] = (
            np.frombuffer(view, dtype=dtype, count=nbytes // dtype.itemsize, offset=data_start + offset)
            .reshape(shape)
            .copy()
        )
    metadata = header.get("metadata", {})
    if not isinstance(metadata, dict):
        raise SerializationError(f"{where}: header 'metadata' is not an object")
    return tensors, header.get("tree"), metadata


def _validate_table(table: dict, data_start: int, data_len: int, where: str) -> dict[str, tuple]:
    entries = {}
    spans = []
    for name, entry in table.items():
        field = f"{where}: tensor {name!r}"
        if not isinstance(entry, dict):
            raise SerializationError(f"{field}: entry is not an object")
        dtype_name, shape, offset, nbytes = (entry.get(k) for k in ("dtype", "shape", "offset", "nbytes"))
        if dtype_name not in DTYPE_BY_NAME:
            raise SerializationError(f"{field}: unknown dtype {dtype_name!r}")
        if not isinstance(shape, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
        ):
            raise SerializationError(f"{field}: bad shape {shape!r}")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (offset, nbytes)):
            raise SerializationError(f"{field}: bad offset/nbytes {offset!r}/{nbytes!r}")
        dtype = DTYPE_BY_NAME[dtype_name].np
        expected = dtype.itemsize
        for s in shape:
            expected *= s  # Python ints: no overflow, and no allocation happens here
        if expected != nbytes:
            raise SerializationError(
                f"{field}: shape {shape} of {dtype_name} needs {expected} bytes, header says {nbytes}"
            )
        extent = dtype.itemsize
        for s in shape:
            extent *= max(s, 1)
        if extent > MAX_EMPTY_EXTENT:
            # An empty tensor holds no bytes, but its other dimensions must still be sane sizes
            # (NumPy cannot even describe some), so they are capped, not bounded by the file.
            raise SerializationError(f"{field}: shape {shape} spans {extent} bytes, more than {MAX_EMPTY_EXTENT}")
        if offset + nbytes > data_len:
            raise SerializationError(
                f"{field}: bytes {data_start + offset}..{data_start + offset + nbytes} run past the data section "
                f"(ends at {data_start + data_len})"
            )
        spans.append((offset, offset + nbytes, name))
        entries[name] = (dtype, tuple(shape), offset, nbytes)
    spans.sort()
    for (_, end, first), (start, _, second) in zip(spans, spans[1:]):
        if start < end:
            raise SerializationError(f"{where}: tensors {first!r} and {second!r} overlap at data offset {start}")
    return entries


def _verify_digest(view: mmap.mmap, size: int, where: str) -> None:
    digest = hashlib.sha256()
    body = memoryview(view)[: size - _DIGEST]
    try:
        for start in range(0, len(body), 1 << 24):
            digest.update(body[start : start + (1 << 24)])
    finally:
        body.release()
    if digest.digest() != view[size - _DIGEST : size]:
        raise SerializationError(
            f"{where}: checksum mismatch: the file is corrupted (SHA-256 at offset {size - _DIGEST})"
        )
