"""GGUF files: a validating reader over one read-only mmap, and a streaming atomic writer."""

from __future__ import annotations

from .constants import GGUF_DEFAULT_ALIGNMENT, GGUFValueType
from .reader import GGUFFile, GGUFTensorInfo, read_gguf
from .writer import write_gguf

__all__ = ["GGUF_DEFAULT_ALIGNMENT", "GGUFFile", "GGUFTensorInfo", "GGUFValueType", "read_gguf", "write_gguf"]
