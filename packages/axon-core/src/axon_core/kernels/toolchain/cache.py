"""The on-disk kernel cache: compiled images keyed by source, options, arch, target and NVRTC version.

Entries live in ``$AXON_CACHE_DIR`` (or ``~/.cache/axon/kernels``). Each file is a magic tag, the
SHA-256 of the payload, then the payload; writes go to a temporary file in the same folder that
is fsynced and renamed into place, so readers never see half an entry. An entry whose checksum
does not match (a torn disk, a truncated copy) counts as a miss and is rebuilt.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ...atomic import atomic_writer

__all__ = ["KernelCache", "cache_dir", "default_cache"]

_MAGIC = b"AXONKC1\n"
_DIGEST = 32


def cache_dir() -> Path:
    """``$AXON_CACHE_DIR`` when set, else ``~/.cache/axon/kernels``."""
    configured = os.environ.get("AXON_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "axon" / "kernels"


class KernelCache:
    """A folder of checksummed compiled kernel images; counts ``hits``, ``misses`` and ``corrupt``."""

    def __init__(self, root: "str | Path | None" = None) -> None:
        self._root = Path(root) if root is not None else None
        self.hits = 0
        self.misses = 0
        self.corrupt = 0

    @property
    def root(self) -> Path:
        return self._root if self._root is not None else cache_dir()

    @staticmethod
    def key(source: str, options: tuple[str, ...], arch: str, target: str, compiler_version: tuple[int, int]) -> str:
        """The hex SHA-256 naming the entry of one compilation."""
        digest = hashlib.sha256()
        for part in (source, "\0".join(options), arch, target, "%d.%d" % compiler_version):
            digest.update(part.encode())
            digest.update(b"\x1f")
        return digest.hexdigest()

    def path(self, key: str) -> Path:
        return self.root / f"{key}.bin"

    def load(self, key: str) -> bytes | None:
        """The payload stored under ``key``; None on a miss or a corrupt entry."""
        try:
            blob = self.path(key).read_bytes()
        except FileNotFoundError:
            self.misses += 1
            return None
        header = len(_MAGIC) + _DIGEST
        payload = blob[header:]
        if (
            len(blob) < header
            or blob[: len(_MAGIC)] != _MAGIC
            or hashlib.sha256(payload).digest() != blob[len(_MAGIC) : header]
        ):
            self.corrupt += 1
            self.misses += 1
            return None
        self.hits += 1
        return payload

    def store(self, key: str, payload: bytes) -> Path:
        """Write ``payload`` under ``key`` atomically; returns the entry's path."""
        root = self.root
        root.mkdir(parents=True, exist_ok=True)
        target = self.path(key)
        with atomic_writer(target) as stream:
            stream.write(_MAGIC + hashlib.sha256(payload).digest() + payload)
        return target


_default = KernelCache()


def default_cache() -> KernelCache:
    """The process-wide cache (its folder follows ``$AXON_CACHE_DIR`` at each access)."""
    return _default
