"""The one error type of axon-serialize."""

from __future__ import annotations

from typing import Any

from axon_core import AxonError

__all__ = ["SerializationError"]


class SerializationError(AxonError, ValueError):
    """A file that cannot be read as what it claims to be: the message names the file and, where
    known, the byte offset and the field at fault. Never raised after a partial write: saves are
    atomic."""


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for naming a hostile value in a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
