"""The one error type of axon-serialize."""

from __future__ import annotations

from axon_core import AxonError

__all__ = ["SerializationError"]


class SerializationError(AxonError, ValueError):
    """A file that cannot be read as what it claims to be: the message names the file and, where
    known, the byte offset and the field at fault. Never raised after a partial write: saves are
    atomic."""
