"""Typed errors of axon-quant; each names the format, the tensor, or the file field and offset."""

from __future__ import annotations

from axon_core import AxonError

__all__ = ["QuantError", "GGUFError"]


class QuantError(AxonError, ValueError):
    """Data a block format cannot take (a row not a whole number of blocks, a non-finite value,
    an unknown format name); the message names the format and the shape."""


class GGUFError(AxonError, ValueError):
    """A GGUF file that is truncated, inconsistent or lies about its sizes.

    ``path`` is the file, ``field`` the header field or tensor being read and ``offset`` its byte
    offset in the file (None when the problem is not at one place).
    """

    def __init__(self, message: str, *, path: str | None = None, field: str | None = None, offset: int | None = None):
        where = ", ".join(
            part
            for part in (
                f"file {path}" if path is not None else None,
                f"field {field!r}" if field is not None else None,
                f"offset {offset}" if offset is not None else None,
            )
            if part
        )
        super().__init__(f"{message} ({where})" if where else message)
        self.path, self.field, self.offset = path, field, offset
