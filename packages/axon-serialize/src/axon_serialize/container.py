"""The axon binary container: a validated JSON header, aligned tensor bytes and a SHA-256.

Layout (all integers little-endian)::

    offset 0   magic      8 bytes  b"AXONFILE"
    offset 8   version    u32      1
    offset 12  header_len u64      length of the UTF-8 JSON header
    offset 20  header     JSON     {"tensors": {name: {"dtype", "shape", "offset", "nbytes"}},
                                    "tree": ..., "metadata": {...}, ["integrity": "hmac-sha256"]}
    ...        padding to a multiple of 64, then the data section (each tensor 64-byte aligned,
               offsets relative to the data section)
    end - 32   digest     32 bytes: the SHA-256 of everything before it, or with a key its
                          HMAC-SHA256 (the header then says "integrity": "hmac-sha256")

The SHA-256 detects corruption (a torn copy, a flipped bit), not tampering: anyone who can write
the file can write a matching SHA-256. A keyed HMAC detects tampering by anyone without the key.

Reading validates the header completely (strict JSON, sizes, dtypes, shapes, offsets within the
file, no overlaps, no duplicate names) before it allocates anything, then reads each tensor's
bytes into its array in one pass over the file, verifying the digest at the end. The file is read,
never mapped, so a concurrent truncation is an error rather than a SIGBUS. No code is ever
executed from a file: there is no pickle.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import struct
from typing import Any

import numpy as np

from axon_core import atomic_writer

from ._files import open_regular, read_exact, read_into
from ._json import loads
from .arrays import DTYPE_BY_NAME, checked_shape
from .errors import SerializationError, short_repr

__all__ = ["write_container", "read_container", "MAGIC", "MAX_HEADER_BYTES"]

MAGIC = b"AXONFILE"
VERSION = 1
_PREFIX = struct.Struct("<8sIQ")
_ALIGN = 64
_DIGEST = 32
_CHUNK = 1 << 20
_SHA256, _HMAC = "sha256", "hmac-sha256"
MAX_HEADER_BYTES = 64 * 1024 * 1024


def _aligned(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def write_container(
    path: str | os.PathLike[str],
    tensors: dict[str, np.ndarray],
    tree: Any,
    metadata: dict[str, str] | None = None,
    key: bytes | None = None,
) -> None:
    """Write ``tensors`` (host arrays) and a JSON-ready ``tree`` atomically to ``path``.

    With ``key`` (bytes, e.g. 32 random ones kept secret) the file ends in an HMAC-SHA256 under
    that key instead of a plain SHA-256, and reading it needs the same key."""
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
    document = {"tensors": table, "tree": tree, "metadata": metadata or {}}
    if key is not None:
        document["integrity"] = _HMAC
    header = json.dumps(document, allow_nan=False, separators=(",", ":")).encode()
    data_start = _aligned(_PREFIX.size + len(header))
    digest = hashlib.sha256() if key is None else hmac.new(_checked_key(key), digestmod=hashlib.sha256)
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


def _checked_key(key: Any) -> bytes:
    if not isinstance(key, (bytes, bytearray)) or not key:
        raise TypeError(f"key must be non-empty bytes, got {type(key).__name__}")
    return bytes(key)


DTYPE_NAME_OF = {d.np: name for name, d in DTYPE_BY_NAME.items()}


def read_container(
    path: str | os.PathLike[str], key: bytes | None = None
) -> tuple[dict[str, np.ndarray], Any, dict[str, str]]:
    """Read a container: ``(tensors, tree, metadata)``. Raises :class:`SerializationError` naming
    the file and offset for anything malformed, truncated, hostile or corrupted.

    With ``key``, the file must carry an HMAC-SHA256 under that key (see :func:`write_container`);
    without it, a keyed file is refused rather than read unverified."""
    where = str(path)
    if key is not None:
        key = _checked_key(key)
    handle, size = open_regular(path, where)
    with handle:
        return _parse(handle, size, where, key)


def _parse(
    handle: io.FileIO, size: int, where: str, key: bytes | None
) -> tuple[dict[str, np.ndarray], Any, dict[str, str]]:
    # One sequential pass: the prefix and header, then each tensor's bytes straight into its array
    # (sized by a header validated against the file's size), hashing everything on the way.
    if size == 0:
        raise SerializationError(f"{where}: empty file")
    if size < _PREFIX.size + _DIGEST:
        raise SerializationError(f"{where}: {size} bytes is too short for an axon file (truncated?)")
    prefix = read_exact(handle, _PREFIX.size, where, 0)
    magic, version, header_len = _PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise SerializationError(f"{where}: offset 0: not an axon file (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise SerializationError(f"{where}: offset 8: unsupported version {version} (this reader knows {VERSION})")
    if header_len > min(MAX_HEADER_BYTES, size - _PREFIX.size - _DIGEST):
        raise SerializationError(f"{where}: offset 12: header length {header_len} exceeds the file ({size} bytes)")
    raw = read_exact(handle, header_len, where, _PREFIX.size)
    hasher = _Hasher(prefix + raw, handle, where, key)
    mismatch = (
        "HMAC mismatch: the file was altered or the key is wrong" if key else "checksum mismatch: the file is corrupted"
    )
    try:
        header = loads(raw, f"{where}: offset {_PREFIX.size}: header")
        entries, tree, metadata, keyed = _validate_header(header, header_len, size, where)
    except SerializationError as problem:
        # A header that fails is most often a damaged file: say so when the checksum agrees.
        if not hasher.matches(size):
            detail = str(problem).removeprefix(f"{where}: ")
            raise SerializationError(f"{where}: {mismatch} ({detail})") from problem
        raise
    if keyed and key is None:
        raise SerializationError(f"{where}: the file is signed (HMAC-SHA256); pass key= to read it")
    if key is not None and not keyed:
        raise SerializationError(f"{where}: the file is not signed, but a key was given: refusing an unsigned file")
    data_start = _aligned(_PREFIX.size + header_len)
    tensors = {}
    for name, (dtype, shape, offset, nbytes) in sorted(entries.items(), key=lambda item: item[1][2]):
        hasher.skip_to(data_start + offset)
        try:
            array = np.empty(shape, dtype)
        except MemoryError as exc:
            raise SerializationError(f"{where}: tensor {name!r}: {nbytes} bytes do not fit in memory") from exc
        hasher.read_into(memoryview(array.reshape(-1).view(np.uint8)))
        tensors[name] = array
    if not hasher.matches(size):
        raise SerializationError(f"{where}: {mismatch} (digest at offset {size - _DIGEST})")
    return {name: tensors[name] for name in entries}, tree, metadata


class _Hasher:
    """The running digest of a sequential read of the file."""

    def __init__(self, start: bytes, handle: io.FileIO, where: str, key: bytes | None) -> None:
        self.digest = hashlib.sha256(start) if key is None else hmac.new(key, start, hashlib.sha256)
        self.handle, self.where, self.position = handle, where, len(start)

    def read_into(self, buffer: memoryview) -> None:
        read_into(self.handle, buffer, self.where, self.position)
        self.digest.update(buffer)
        self.position += len(buffer)

    def skip_to(self, position: int) -> None:
        scratch = memoryview(bytearray(min(max(position - self.position, 0), _CHUNK)))
        while self.position < position:
            self.read_into(scratch[: min(position - self.position, _CHUNK)])

    def matches(self, size: int) -> bool:
        self.skip_to(size - _DIGEST)
        stored = read_exact(self.handle, _DIGEST, self.where, self.position)
        return hmac.compare_digest(self.digest.digest(), stored)


def _validate_header(header: Any, header_len: int, size: int, where: str) -> tuple[dict[str, tuple], Any, dict, bool]:
    if not isinstance(header, dict) or not isinstance(header.get("tensors"), dict):
        raise SerializationError(f"{where}: header lacks a 'tensors' table")
    data_start = _aligned(_PREFIX.size + header_len)
    data_len = size - _DIGEST - data_start
    if data_len < 0:
        raise SerializationError(f"{where}: truncated: data section would start at {data_start}, file is {size} bytes")
    entries = _validate_table(header["tensors"], data_start, data_len, where)
    metadata = header.get("metadata", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SerializationError(f"{where}: header 'metadata' is not an object of strings")
    integrity = header.get("integrity", _SHA256)
    if integrity not in (_SHA256, _HMAC):
        raise SerializationError(
            f"{where}: header 'integrity' is {short_repr(integrity)}, expected {_SHA256!r} or {_HMAC!r}"
        )
    return entries, header.get("tree"), metadata, integrity == _HMAC


def _validate_table(table: dict, data_start: int, data_len: int, where: str) -> dict[str, tuple]:
    entries = {}
    spans = []
    for name, entry in table.items():
        field = f"{where}: tensor {name!r}"
        if not isinstance(entry, dict):
            raise SerializationError(f"{field}: entry is not an object")
        dtype_name, shape, offset, nbytes = (entry.get(k) for k in ("dtype", "shape", "offset", "nbytes"))
        if not isinstance(dtype_name, str) or dtype_name not in DTYPE_BY_NAME:
            raise SerializationError(f"{field}: unknown dtype {short_repr(dtype_name)}")
        dtype = DTYPE_BY_NAME[dtype_name].np
        shape = checked_shape(shape, dtype.itemsize, field)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (offset, nbytes)):
            raise SerializationError(f"{field}: bad offset/nbytes {short_repr(offset)}/{short_repr(nbytes)}")
        expected = dtype.itemsize
        for s in shape:
            expected *= s  # Python ints: no overflow, and no allocation happens here
        if expected != nbytes:
            raise SerializationError(
                f"{field}: shape {list(shape)} of {dtype_name} needs {expected} bytes, header says {nbytes}"
            )
        if offset + nbytes > data_len:
            raise SerializationError(
                f"{field}: bytes {data_start + offset}..{data_start + offset + nbytes} run past the data section "
                f"(ends at {data_start + data_len})"
            )
        spans.append((offset, offset + nbytes, name))
        entries[name] = (dtype, shape, offset, nbytes)
    spans.sort()
    for (_, end, first), (start, _, second) in zip(spans, spans[1:]):
        if start < end:
            raise SerializationError(f"{where}: tensors {first!r} and {second!r} overlap at data offset {start}")
    return entries
