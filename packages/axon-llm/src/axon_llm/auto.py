"""``from_pretrained(path)``: the one entry point that loads any model file or folder axon-llm reads."""

from __future__ import annotations

import os
from typing import Any

from .errors import ModelLoadError
from .loading.hf import load_hf_model

__all__ = ["from_pretrained"]


def from_pretrained(path: str | os.PathLike[str], dtype: Any = None) -> Any:
    """Load an HF folder (``config.json`` + ``*.safetensors``; the class from its ``model_type``) or a
    llama GGUF file (dequantized to float32, :func:`axon_llm.loading.gguf.load_gguf`).

    ``dtype`` None gives float32 parameters; ``"auto"`` keeps the file's dtype.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        return load_hf_model(path, dtype=dtype)
    if not os.path.exists(path):
        raise ModelLoadError("no such model file or folder", path=path)
    if _is_gguf(path):
        from .loading.gguf import load_gguf

        return load_gguf(path, dtype=dtype)
    raise ModelLoadError(
        "not a model axon-llm reads (expected an HF folder with config.json, or a GGUF file)", path=path
    )


def _is_gguf(path: str) -> bool:
    """A ``.gguf`` name, or a file that starts with the GGUF magic."""
    if path.lower().endswith(".gguf"):
        return True
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == b"GGUF"
    except OSError:
        return False
