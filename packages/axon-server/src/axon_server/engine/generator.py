"""A GGUF model served by the axon-quant runtime: one weight mapping, one KV cache per slot."""

from __future__ import annotations

from collections.abc import Sequence as Seq
from pathlib import Path
from typing import Any

from axon_quant.chat import apply_chat_template
from axon_quant.runtime import Model, load_model
from axon_quant.tokenizer import GGUFTokenizer

__all__ = ["GGUFGenerator"]


class GGUFGenerator:
    """``slots`` :class:`~axon_quant.runtime.Model` instances over the same mmap'd tensors (each its
    own arena and KV cache, so ``slots`` sequences can be mid-generation at once), the file's
    tokenizer and chat template. ``max_ctx``: positions per slot."""

    def __init__(self, path: str | Path, *, slots: int, max_ctx: int, threads: int | None = None):
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        self.path = Path(path)
        first = load_model(str(path), max_ctx=max_ctx, threads=threads)
        self.models: list[Model] = [first] + [
            Model(first.config, first.gguf.tensors, max_ctx=max_ctx, threads=threads) for _ in range(slots - 1)
        ]
        self.tokenizer = GGUFTokenizer.from_metadata(first.gguf.metadata)
        self.max_ctx = first.max_ctx
        self.vocab_size = first.config.vocab_size

    def close(self) -> None:
        self.models[0].close()

    def encode_text(self, text: str) -> list[int]:
        """A completion prompt as ``python -m axon_quant generate --prompt`` encodes it (the file's BOS
        rule, special tokens not parsed)."""
        return self.tokenizer.encode(text, add_special=True, parse_special=False)

    def encode_chat(self, messages: Seq[dict[str, Any]]) -> list[int]:
        """``messages`` rendered by the file's chat template with the assistant's turn open, encoded as
        ``python -m axon_quant generate --chat`` does (no second BOS where the template writes one)."""
        tok = self.tokenizer
        if not tok.chat_template:
            raise ValueError(f"{self.path.name} has no tokenizer.chat_template; use /v1/completions")
        bos = tok.token_text(tok.bos_id) if tok.bos_id is not None else ""
        eos = tok.token_text(tok.eos_id) if tok.eos_id is not None else ""
        text = apply_chat_template(
            tok.chat_template, list(messages), add_generation_prompt=True, bos_token=bos, eos_token=eos
        )
        return tok.encode(text, add_special=not (bos and text.startswith(bos)), parse_special=True)

    def token_bytes(self, token: int) -> bytes:
        """The bytes token ``token`` stands for (special tokens as their text)."""
        return self.tokenizer.token_to_piece(token, special=True)
