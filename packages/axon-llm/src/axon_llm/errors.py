"""The errors of axon-llm: a typed error for every way a model, a config or a file can be wrong."""

from __future__ import annotations

import os

from axon_core import AxonError

__all__ = ["LLMError", "ModelLoadError"]


class LLMError(AxonError, ValueError):
    """A model or its configuration cannot do what was asked (unknown architecture, bad config value)."""


class ModelLoadError(LLMError):
    """A model file or folder is missing, unreadable, or disagrees with the config.

    ``path`` is the file (or folder), ``tensor`` the tensor's name when one is at fault; both are
    part of the message.
    """

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None, tensor: str | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
        self.tensor = tensor
        where = "".join(
            [
                f" (file {self.path}" if self.path else "",
                f", tensor {tensor!r}" if tensor else "",
                ")" if self.path else "",
            ]
        )
        if tensor and not self.path:
            where = f" (tensor {tensor!r})"
        super().__init__(message + where)
