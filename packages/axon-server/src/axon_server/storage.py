"""Uploaded files on disk: streamed through :func:`axon_core.atomic_writer` (a temporary file
renamed into place after fsync, removed on any failure), size-capped and SHA-256-checked while
they stream, under server-chosen names; and what can be read of a file's format."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from axon_core import atomic_writer
from axon_core.atomic import reclaim_stale_temporaries

from .errors import APIError

__all__ = ["KINDS", "NAME_PATTERN", "check_name", "inspect_file", "receive_file", "reclaim_debris"]

KINDS = ("model", "dataset")

#: Names and filenames: letters, digits, ``._-``, starting with a letter or digit, no ``..``.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


def check_name(value: str, what: str) -> str:
    if not re.fullmatch(NAME_PATTERN, value) or ".." in value:
        raise APIError(
            400,
            f"Invalid {what} {value!r}: use letters, digits and ._- (no path parts)",
            param=what,
            code="invalid_name",
        )
    return value


class _Refused(Exception):
    def __init__(self, error: APIError):
        self.error = error


async def receive_file(
    chunks: AsyncIterator[bytes], folder: Path, *, max_bytes: int, expected_sha256: str | None
) -> tuple[str, int, str]:
    """Write the body ``chunks`` to a new file in ``folder``; returns (stored name, size, sha256).
    413 past ``max_bytes`` and 400 on a checksum mismatch, with nothing left on disk."""
    folder.mkdir(parents=True, exist_ok=True)
    stored = secrets.token_hex(16)
    digest, size = hashlib.sha256(), 0
    try:
        with atomic_writer(folder / stored) as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise _Refused(
                        APIError(413, f"The upload is larger than {max_bytes} bytes", code="upload_too_large")
                    )
                digest.update(chunk)
                out.write(chunk)
            if size == 0:
                raise _Refused(APIError(400, "The upload is empty", code="empty_upload"))
            if expected_sha256 is not None and digest.hexdigest() != expected_sha256.lower():
                raise _Refused(
                    APIError(
                        400,
                        f"SHA-256 mismatch: the body is {digest.hexdigest()}, the header said {expected_sha256}",
                        code="checksum_mismatch",
                    )
                )
    except _Refused as refused:
        raise refused.error from None
    return stored, size, digest.hexdigest()


def _safetensors_header(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError("shorter than the 8-byte header length")
        (length,) = struct.unpack("<Q", head)
        if length > min(path.stat().st_size - 8, 100 * 1024**2):
            raise ValueError(f"header length {length} runs past the file")
        header = json.loads(f.read(length))
    meta = header.pop("__metadata__", {})
    return {
        "format": "safetensors",
        "metadata": meta,
        "tensors": {k: {"dtype": v["dtype"], "shape": v["shape"]} for k, v in header.items()},
    }


def _gguf_header(path: Path) -> dict[str, Any]:
    from axon_quant import read_gguf

    with read_gguf(str(path)) as f:
        scalars = {k: v for k, v in f.metadata.items() if not isinstance(v, list)}
        return {
            "format": "gguf",
            "version": f.version,
            "metadata": {k: (v[:200] if isinstance(v, str) else v) for k, v in scalars.items()},
            "tensors": {
                name: {"type": getattr(info.ggml_type, "name", str(info.ggml_type)), "dims": list(info.dims)}
                for name, info in f.tensor_infos.items()
            },
        }


def inspect_file(path: Path, filename: str) -> dict[str, Any]:
    """The header of a GGUF or safetensors file (by its magic / extension); ``{"format": None}`` for
    other files; ``error`` when the header is damaged."""
    with open(path, "rb") as f:
        magic = f.read(4)
    try:
        if magic == b"GGUF":
            return _gguf_header(path)
        if filename.endswith(".safetensors"):
            return _safetensors_header(path)
    except Exception as exc:  # a damaged upload is reported, not a server error
        return {"format": "gguf" if magic == b"GGUF" else "safetensors", "error": str(exc)}
    return {"format": None}


def reclaim_debris(data_dir: Path) -> list[str]:
    """Remove the temporary files uploads cut off by a crash left in ``data_dir`` (at start)."""
    removed = []
    for kind in KINDS:
        folder = Path(data_dir) / "files" / kind
        if folder.is_dir():
            removed += reclaim_stale_temporaries(folder)
    return removed
