"""axon-audio's errors: each subclasses the builtin a caller would expect to catch."""

from __future__ import annotations

from axon_core import AxonError

__all__ = ["AudioFileError"]


class AudioFileError(AxonError, ValueError):
    """A file that is missing, unreadable, corrupt or in an unsupported format; the message names it."""
