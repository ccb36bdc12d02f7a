"""The typed error every tokenizer problem raises."""

from __future__ import annotations

from axon_core import AxonError

__all__ = ["TokenizerError"]


class TokenizerError(AxonError, ValueError):
    """A ``tokenizer.json`` that is refused, or an engine failure while using one.

    ``path`` is the file (``None`` for a string or an engine built in code), ``field`` the dotted
    place in the JSON (``"pre_tokenizer.pretokenizers[1].pattern.Regex"``; ``None`` when unknown),
    ``reason`` the problem alone.
    """

    def __init__(self, reason: str, path: str | None = None, field: str | None = None) -> None:
        self.reason, self.path, self.field = reason, path, field
        where = f"tokenizer {path}" if path else "tokenizer"
        super().__init__(f"{where}: {field}: {reason}" if field else f"{where}: {reason}")
