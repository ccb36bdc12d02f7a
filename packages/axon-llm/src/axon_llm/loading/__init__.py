"""Reading and writing model files: HF folders (``hf``)."""

from __future__ import annotations

from .hf import load_hf_model, read_hf_config, read_hf_state, save_hf_model

__all__ = ["load_hf_model", "read_hf_config", "read_hf_state", "save_hf_model"]
