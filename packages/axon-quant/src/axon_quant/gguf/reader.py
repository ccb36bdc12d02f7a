"""Reading GGUF files: a validating parser over one read-only mmap of the file.

Every count, length, dimension and offset in the header is checked against the bytes that are
really there (and against the format's limits) before anything is allocated or sliced, so a
truncated or lying file raises :class:`~axon_quant.errors.GGUFError` naming the field and its byte
offset, and never makes us allocate what the header claims or read past the end of the map.

Layout (GGUF v2/v3, little-endian): magic ``GGUF``, uint32 version, uint64 tensor count, uint64
key/value count; the key/value pairs (string key, uint32 value type, value); the tensor infos
(string name, uint32 n_dims, uint64 dims ``ne0`` innermost first, uint32 ggml type, uint64 offset
relative to the data section); padding to ``general.alignment``; the tensor data.

A file truncated by another process while we hold its map would turn the next touch of a lost
page into SIGBUS; see :meth:`GGUFFile.open` for what we do about it and what remains.
"""

from __future__ import annotations

import itertools
import mmap
import os
import stat
import struct
from typing import Any, NamedTuple, Self

import numpy as np

from ..errors import GGUFError
from ..ggml_types import GGML_TYPES, GGMLType
from ..tensor import QuantTensor
from .constants import (
    GGUF_DEFAULT_ALIGNMENT,
    GGUF_MAGIC,
    GGUF_VERSIONS,
    MAX_ARRAY_NESTING,
    MAX_DIMS,
    MAX_KEY_BYTES,
    SCALAR_FORMATS,
    GGUFValueType,
)

__all__ = ["GGUFFile", "GGUFTensorInfo", "read_gguf"]

_TYPES_BY_ID = {t.id: t for t in GGML_TYPES.values()}
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_HEADER_BYTES = 24  # magic, version, tensor count, kv count
_MIN_KV_BYTES = 8 + 1 + 4 + 1  # non-empty key, value type, smallest value
_MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 4 + 8  # non-empty name, n_dims, type, offset
_INT64_MAX = 2**63 - 1


class GGUFTensorInfo(NamedTuple):
    """One tensor as the header describes it: ``dims`` in GGUF order (``ne0``, the innermost,
    first; NumPy's shape is ``dims`` reversed), ``offset`` absolute in the file, ``nbytes`` of data."""

    name: str
    dims: tuple[int, ...]
    ggml_type: GGMLType
    offset: int
    nbytes: int


class _Cursor:
    """Reads little-endian fields from ``buf`` at ``pos``, refusing to step past ``size``."""

    def __init__(self, buf: Any, size: int, path: str | None):
        self.buf, self.size, self.path, self.pos = buf, size, path, 0

    def error(self, message: str, field: str, offset: int | None = None) -> GGUFError:
        return GGUFError(message, path=self.path, field=field, offset=self.pos if offset is None else offset)

    def take(self, n: int, field: str) -> int:
        """Advance over ``n`` bytes and return where they start."""
        start = self.pos
        if n > self.size - start:
            raise self.error(f"truncated: {field} needs {n} bytes, the file has {self.size - start} left", field)
        self.pos = start + n
        return start

    def u32(self, field: str) -> int:
        return _U32.unpack_from(self.buf, self.take(4, field))[0]

    def u64(self, field: str) -> int:
        return _U64.unpack_from(self.buf, self.take(8, field))[0]

    def string(self, field: str, max_bytes: int | None = None) -> str:
        start = self.pos
        n = self.u64(field)
        if max_bytes is not None and n > max_bytes:
            raise self.error(f"{field} is {n} bytes long, more than the limit of {max_bytes}", field, start)
        at = self.take(n, field)
        try:
            return str(self.buf[at : at + n], "utf-8")
        except UnicodeDecodeError as exc:
            raise self.error(f"{field} is not valid UTF-8 ({exc.reason} at byte {exc.start})", field, at) from None

    def value_type(self, field: str) -> GGUFValueType:
        at = self.pos
        raw = self.u32(field)
        try:
            return GGUFValueType(raw)
        except ValueError:
            raise self.error(f"unknown GGUF value type {raw} (known: 0..12)", field, at) from None

    def fixed_array(self, vtype: GGUFValueType, count: int, field: str) -> np.ndarray:
        dtype = np.dtype(SCALAR_FORMATS[vtype])
        at = self.take(count * dtype.itemsize, field)
        values = np.frombuffer(self.buf, dtype=dtype, count=count, offset=at) if count else np.empty(0, dtype)
        if vtype is GGUFValueType.BOOL and count and int(values.max()) > 1:
            bad = int(np.flatnonzero(values > 1)[0])
            raise self.error(f"{field}: a bool must be 0 or 1, found {int(values[bad])}", field, at + bad)
        return values

    def string_array(self, count: int, field: str) -> list[str]:
        # The hot loop of a vocabulary (~50k-250k strings): locals only, bounds checked per item.
        buf, size, pos, unpack = self.buf, self.size, self.pos, _U64.unpack_from
        out: list[str] = []
        append = out.append
        for i in range(count):
            if size - pos < 8:
                self.pos = pos
                raise self.error(
                    f"truncated: {field}[{i}] length needs 8 bytes, the file has {size - pos} left", f"{field}[{i}]"
                )
            n = unpack(buf, pos)[0]
            pos += 8
            if n > size - pos:
                raise self.error(
                    f"truncated: {field}[{i}] needs {n} bytes, the file has {size - pos} left", f"{field}[{i}]", pos
                )
            try:
                append(str(buf[pos : pos + n], "utf-8"))
            except UnicodeDecodeError as exc:
                raise self.error(
                    f"{field}[{i}] is not valid UTF-8 ({exc.reason} at byte {exc.start})", f"{field}[{i}]", pos
                ) from None
            pos += n
        self.pos = pos
        return out


def _min_bytes(vtype: GGUFValueType) -> int:
    """The fewest bytes one value of ``vtype`` can take (a string's length, an array's header)."""
    if vtype is GGUFValueType.STRING:
        return 8
    if vtype is GGUFValueType.ARRAY:
        return 12
    return np.dtype(SCALAR_FORMATS[vtype]).itemsize


def _read_value(cur: _Cursor, vtype: GGUFValueType, field: str, depth: int = 0) -> tuple[Any, tuple]:
    """One value of ``vtype`` at the cursor: (Python value, its type tuple as in :mod:`.constants`)."""
    if vtype is GGUFValueType.STRING:
        return cur.string(field), (vtype,)
    if vtype is not GGUFValueType.ARRAY:
        value = cur.fixed_array(vtype, 1, field)[0].item()
        return (bool(value) if vtype is GGUFValueType.BOOL else value), (vtype,)
    if depth >= MAX_ARRAY_NESTING:
        raise cur.error(f"{field}: arrays nested more than {MAX_ARRAY_NESTING} deep", field)
    element_type = cur.value_type(f"{field} element type")
    count_at = cur.pos
    count = cur.u64(f"{field} length")
    need = count * _min_bytes(element_type)
    if need > cur.size - cur.pos:
        raise cur.error(
            f"{field}: an array of {count} {element_type.name} needs at least {need} bytes, "
            f"the file has {cur.size - cur.pos} left",
            field,
            count_at,
        )
    if element_type is GGUFValueType.STRING:
        return cur.string_array(count, field), (vtype, element_type)
    if element_type is not GGUFValueType.ARRAY:
        values = cur.fixed_array(element_type, count, field).tolist()
        if element_type is GGUFValueType.BOOL:
            values = [bool(v) for v in values]
        return values, (vtype, element_type)
    items, inner_types = [], None
    for i in range(count):
        start = cur.pos
        item, item_types = _read_value(cur, GGUFValueType.ARRAY, f"{field}[{i}]", depth + 1)
        if inner_types is not None and item_types != inner_types:
            raise cur.error(
                f"{field}: nested arrays of differing types ({_type_name(inner_types)} and "
                f"{_type_name(item_types)}) are not supported",
                f"{field}[{i}]",
                start,
            )
        inner_types = item_types
        items.append(item)
    return items, (vtype,) + (inner_types or (GGUFValueType.ARRAY,))


def _type_name(types: tuple) -> str:
    return "/".join(t.name for t in types)


class GGUFFile:
    """A parsed GGUF file whose tensors are read-only views into one mmap of it.

    ``metadata``: key -> Python value (str, int, float, bool, or lists of those, possibly nested),
    in file order. ``metadata_types``: key -> the value's GGUF type tuple (``(UINT32,)``,
    ``(ARRAY, STRING)``...), so a rewrite keeps uint32 as uint32. ``tensors``: name ->
    :class:`~axon_quant.tensor.QuantTensor` in NumPy order (shape = GGUF dims reversed), ``raw`` a
    read-only uint8 view of the file's bytes. ``tensor_infos``: name -> :class:`GGUFTensorInfo`.
    ``alignment`` (bytes), ``data_offset`` (absolute start of the data section), ``version``,
    ``path`` (None for a buffer), ``file_size`` (bytes).

    Use as a context manager or call :meth:`close`; closing drops the tensors, and the map goes
    when the last view taken from it does.
    """

    def __init__(self, buffer: Any, size: int, path: str | None, owned_map: mmap.mmap | None = None):
        self.path, self.file_size, self._map = path, size, owned_map
        self.metadata: dict[str, Any] = {}
        self.metadata_types: dict[str, tuple[GGUFValueType, ...]] = {}
        self.tensor_infos: dict[str, GGUFTensorInfo] = {}
        self.tensors: dict[str, QuantTensor] = {}
        self._key_offsets: dict[str, int] = {}
        self._parse(_Cursor(buffer, size, path))

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> GGUFFile:
        """Parse the GGUF file at ``path`` and map it read-only.

        Only regular files are read: a FIFO, socket, device or directory is refused from ``fstat``
        before any read (the open is non-blocking, so a FIFO with no writer cannot hang it). The
        size checked against the header is the size we map; every tensor lies inside it.

        What remains: if another process truncates the file in place while it is mapped, touching
        a page past the new end raises SIGBUS (no Python exception can catch it). Our own writer
        never does that: it writes a temporary file and renames it over the old one, and a mapping
        keeps the old inode alive. Do not overwrite a GGUF file in place while a model runs from it.
        Missing or unreadable paths raise the usual ``OSError``.
        """
        name = os.fspath(path)
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise GGUFError(
                    "not a regular file (a directory, FIFO, socket or device); GGUF is read from regular files only",
                    path=name,
                )
            size = info.st_size
            if size < _HEADER_BYTES:
                raise GGUFError(
                    f"truncated: a GGUF header needs {_HEADER_BYTES} bytes, the file has {size}",
                    path=name,
                    field="header",
                    offset=0,
                )
            try:
                mapped = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
            except (OSError, ValueError) as exc:  # e.g. the file shrank since fstat, or its filesystem cannot map
                raise GGUFError(f"cannot map the file's {size} bytes: {exc}", path=name) from exc
        finally:
            os.close(fd)
        try:
            return cls(mapped, size, name, owned_map=mapped)
        except BaseException:
            _close_map(mapped)
            raise

    @classmethod
    def from_buffer(cls, data: Any, *, name: str | None = None) -> GGUFFile:
        """Parse GGUF bytes already in memory (``bytes``, ``bytearray``, ``memoryview``, ``mmap``);
        tensors are read-only views into ``data``. ``name`` is used in error messages."""
        view = memoryview(data).cast("B")
        return cls(view, view.nbytes, name)

    def close(self) -> None:
        """Drop the tensors and unmap the file (at once, or when the last outside view goes)."""
        self.tensors = {}
        if self._map is not None:
            _close_map(self._map)
            self._map = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"GGUFFile({self.path!r}, version={self.version}, {len(self.metadata)} keys, "
            f"{len(self.tensor_infos)} tensors, alignment={self.alignment})"
        )

    def _parse(self, cur: _Cursor) -> None:
        at = cur.take(4, "header.magic")
        magic = bytes(cur.buf[at : at + 4])
        if magic != GGUF_MAGIC:
            raise cur.error(f"not a GGUF file: magic {magic!r}, expected {GGUF_MAGIC!r}", "header.magic", 0)
        self.version = cur.u32("header.version")
        if self.version & 0xFFFF == 0 and self.version:
            raise cur.error(
                f"version field reads {self.version:#x}: a big-endian GGUF file, which axon-quant "
                "does not read (convert it with gguf-py's gguf_convert_endian)",
                "header.version",
                4,
            )
        if self.version not in GGUF_VERSIONS:
            raise cur.error(
                f"GGUF version {self.version} is not supported (supported: {GGUF_VERSIONS})", "header.version", 4
            )
        tensor_count = cur.u64("header.tensor_count")
        kv_count = cur.u64("header.kv_count")
        left = cur.size - cur.pos
        if kv_count * _MIN_KV_BYTES > left:
            raise cur.error(
                f"{kv_count} key/value pairs need at least {kv_count * _MIN_KV_BYTES} bytes, the file has {left} left",
                "header.kv_count",
                16,
            )
        if kv_count * _MIN_KV_BYTES + tensor_count * _MIN_TENSOR_INFO_BYTES > left:
            raise cur.error(
                f"{tensor_count} tensor infos need at least {tensor_count * _MIN_TENSOR_INFO_BYTES} "
                f"bytes after the key/value pairs, the file has {left} in all",
                "header.tensor_count",
                8,
            )
        self._parse_metadata(cur, kv_count)
        self.alignment = self._alignment(cur)
        raw_infos = self._parse_tensor_infos(cur, tensor_count)
        self.data_offset = -(-cur.pos // self.alignment) * self.alignment
        self._place_tensors(cur, raw_infos)

    def _parse_metadata(self, cur: _Cursor, count: int) -> None:
        for i in range(count):
            start = cur.pos
            key = cur.string(f"metadata key #{i}", MAX_KEY_BYTES)
            if not key:
                raise cur.error(f"metadata key #{i} is empty", f"metadata key #{i}", start)
            if key in self.metadata:
                raise cur.error(f"duplicate metadata key {key!r}", key, start)
            vtype = cur.value_type(f"{key} value type")
            value, types = _read_value(cur, vtype, key)
            self.metadata[key], self.metadata_types[key] = value, types
            self._key_offsets[key] = start

    def _alignment(self, cur: _Cursor) -> int:
        if "general.alignment" not in self.metadata:
            return GGUF_DEFAULT_ALIGNMENT
        at = self._key_offsets["general.alignment"]
        declared = self.metadata_types["general.alignment"]
        if declared != (GGUFValueType.UINT32,):
            raise cur.error(f"general.alignment must be a UINT32, not {_type_name(declared)}", "general.alignment", at)
        alignment = self.metadata["general.alignment"]
        if alignment == 0 or alignment & (alignment - 1):
            raise cur.error(f"general.alignment {alignment} is not a power of two", "general.alignment", at)
        return alignment

    def _parse_tensor_infos(self, cur: _Cursor, count: int) -> list[tuple]:
        """(name, dims, ggml type, offset in the data section, where dims and offset were read) per tensor."""
        infos, names = [], set()
        for i in range(count):
            start = cur.pos
            name = cur.string(f"tensor #{i} name", MAX_KEY_BYTES)
            if not name:
                raise cur.error(f"tensor #{i} has an empty name", f"tensor #{i} name", start)
            if name in names:
                raise cur.error(f"duplicate tensor name {name!r}", name, start)
            names.add(name)
            n_dims_at = cur.pos
            n_dims = cur.u32(f"{name} n_dims")
            if n_dims > MAX_DIMS:
                raise cur.error(
                    f"tensor {name!r} has {n_dims} dimensions, ggml allows at most {MAX_DIMS}",
                    f"{name} n_dims",
                    n_dims_at,
                )
            dims_at = cur.take(8 * n_dims, f"{name} dims")
            dims = struct.unpack_from(f"<{n_dims}Q", cur.buf, dims_at)
            if any(d > _INT64_MAX for d in dims):
                raise cur.error(f"tensor {name!r} dims {list(dims)} exceed int64", f"{name} dims", dims_at)
            type_at = cur.pos
            type_id = cur.u32(f"{name} ggml type")
            if type_id not in _TYPES_BY_ID:
                raise cur.error(
                    f"tensor {name!r} has ggml type id {type_id}, which axon-quant does not know "
                    f"(known: {sorted(_TYPES_BY_ID)})",
                    f"{name} ggml type",
                    type_at,
                )
            offset_at = cur.pos
            infos.append((name, dims, _TYPES_BY_ID[type_id], cur.u64(f"{name} offset"), dims_at, offset_at))
        return infos

    def _place_tensors(self, cur: _Cursor, raw_infos: list) -> None:
        for name, dims, gtype, relative, dims_at, offset_at in raw_infos:
            elements = 1
            for d in dims:
                elements *= d
            if elements > _INT64_MAX:
                raise cur.error(
                    f"tensor {name!r} dims {list(dims)} hold {elements} elements, more than int64 counts",
                    f"{name} dims",
                    dims_at,
                )
            row = dims[0] if dims else 1
            if row % gtype.block_size:
                raise cur.error(
                    f"tensor {name!r}: a row of {row} values is not a whole number of "
                    f"{gtype.block_size}-value {gtype.name} blocks",
                    f"{name} dims",
                    dims_at,
                )
            nbytes = elements // gtype.block_size * gtype.type_size
            if relative % self.alignment:
                raise cur.error(
                    f"tensor {name!r} data offset {relative} is not a multiple of the alignment {self.alignment}",
                    f"{name} offset",
                    offset_at,
                )
            offset = self.data_offset + relative
            if offset + nbytes > cur.size:
                raise cur.error(
                    f"tensor {name!r} data [{offset}, {offset + nbytes}) lies beyond the end of the "
                    f"file ({cur.size} bytes)",
                    f"{name} offset",
                    offset_at,
                )
            self.tensor_infos[name] = GGUFTensorInfo(name, dims, gtype, offset, nbytes)
        placed = sorted((t for t in self.tensor_infos.values() if t.nbytes), key=lambda t: t.offset)
        for before, after in itertools.pairwise(placed):
            if after.offset < before.offset + before.nbytes:
                raise cur.error(
                    f"tensor {after.name!r} data at {after.offset} overlaps tensor {before.name!r} "
                    f"[{before.offset}, {before.offset + before.nbytes})",
                    f"{after.name} offset",
                    after.offset,
                )
        for info in self.tensor_infos.values():
            shape = tuple(reversed(info.dims)) or (1,)  # ggml has no 0-d tensors: n_dims 0 is one element
            raw_shape = (*shape[:-1], shape[-1] // info.ggml_type.block_size * info.ggml_type.type_size)
            if info.nbytes:
                raw = np.frombuffer(cur.buf, dtype=np.uint8, count=info.nbytes, offset=info.offset)
            else:
                raw = np.empty(0, dtype=np.uint8)
            raw = raw.reshape(raw_shape)
            raw.flags.writeable = False
            self.tensors[info.name] = QuantTensor(raw, info.ggml_type, shape)


def _close_map(mapped: mmap.mmap) -> None:
    try:
        mapped.close()
    except BufferError:
        pass  # views into the map are still alive; it is unmapped when the last one is collected


def read_gguf(path: str | os.PathLike[str]) -> GGUFFile:
    """``GGUFFile.open(path)``: parse and map a GGUF file (use with ``with`` or call ``close()``)."""
    return GGUFFile.open(path)
