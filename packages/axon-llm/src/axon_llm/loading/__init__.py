"""Reading and writing model files: HF folders (``hf``), llama GGUF files (``gguf``)."""

from __future__ import annotations

from .gguf import load_gguf, save_gguf
from .hf import load_hf_model, read_hf_config, read_hf_state, save_hf_model

__all__ = ["load_gguf", "load_hf_model", "read_hf_config", "read_hf_state", "save_gguf", "save_hf_model"]
