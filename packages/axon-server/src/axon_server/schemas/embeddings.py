"""``POST /v1/embeddings`` body."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EmbeddingRequest"]


class EmbeddingRequest(BaseModel):
    """``input``: one string or a list of strings (token-id inputs are not accepted);
    ``encoding_format``: ``"float"`` lists or ``"base64"`` of little-endian float32 bytes."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=256)
    input: str | list[str]
    encoding_format: Literal["float", "base64"] = "float"

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)
