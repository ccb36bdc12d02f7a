"""Sentence embeddings from a BERT-family HF folder through axon-llm: sentence-transformers'
pipeline for all-MiniLM-L6-v2 (token embeddings, mean over real tokens, L2 normalisation)."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import axon_llm
from axon_autograd import no_grad

__all__ = ["Embedder"]


class Embedder:
    """``path``: a folder with config.json, safetensors and tokenizer.json whose model is a
    :class:`axon_llm.BertModel`. Inputs longer than the model's ``max_seq_length``
    (sentence_bert_config.json; else the tokenizer's limit) are truncated, as sentence-transformers does."""

    def __init__(self, path: str | Path, *, batch: int = 16):
        self.path = Path(path)
        self.model = axon_llm.from_pretrained(str(path))
        if not isinstance(self.model, axon_llm.BertModel):
            raise ValueError(f"{self.path}: embeddings need a BERT-family model, got {type(self.model).__name__}")
        self.tokenizer = axon_llm.load_tokenizer(str(path))
        self.max_length = min(self.model.config.max_position_embeddings, self.tokenizer.model_max_length)
        st_config = self.path / "sentence_bert_config.json"
        if st_config.is_file():
            self.max_length = min(self.max_length, int(json.loads(st_config.read_text())["max_seq_length"]))
        self.batch = batch
        self.dimensions = self.model.config.hidden_size
        self._lock = threading.Lock()  # one forward at a time: the model's modules are shared

    def embed(self, texts: Sequence[str]) -> tuple[np.ndarray, int]:
        """Embeddings ``[len(texts), hidden]`` float32 (unit L2 norm) and the token count used."""
        out, tokens = [], 0
        for start in range(0, len(texts), self.batch):
            chunk = list(texts[start : start + self.batch])
            encoded = self.tokenizer(
                chunk, padding=True, truncation=True, max_length=self.max_length, return_tensors="axon"
            )
            with self._lock, no_grad():
                hidden = self.model(**encoded).last_hidden_state.numpy().astype(np.float64)
            mask = encoded["attention_mask"].numpy().astype(np.float64)[..., None]
            tokens += int(mask.sum())
            mean = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            out.append(mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12))
        return np.concatenate(out).astype(np.float32), tokens
