"""``Seq2SeqTransformer``: token embeddings + sinusoidal positions + ``Transformer`` + a generator.

Batch first throughout: token ids ``[batch, seq]``, logits ``[batch, tgt_seq, tgt_vocab]``.
Decoding is greedy, either recomputing the target prefix each step or incrementally with a
:class:`KVCache` (each step runs only the new position through the decoder).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from axon_autograd import no_grad
from axon_core import DTypeError, ShapeError
from axon_tensor import tensor

from ..module import Module
from .embedding import Embedding
from .kv_cache import KVCache
from .linear import Linear
from .positional import SinusoidalPositionalEncoding
from .transformer import Transformer

__all__ = ["Seq2SeqTransformer"]


class Seq2SeqTransformer(Module):
    """Encoder-decoder Transformer over token ids (the translation model of Vaswani et al.).

    Embeddings are scaled by ``sqrt(d_model)`` and summed with sinusoidal positions.
    ``share_embeddings`` uses one table for source and target (the vocabularies must then be
    one size); ``tie_generator`` makes the output projection reuse the target embedding table.
    ``forward(src [N, S], tgt [N, T]) -> logits [N, T, tgt_vocab_size]`` with a causal target
    mask; ``src_key_padding_mask``/``tgt_key_padding_mask [N, *]`` are True at padding.
    """

    def __init__(
        self,
        num_encoder_layers: int,
        num_decoder_layers: int,
        d_model: int,
        nhead: int,
        src_vocab_size: int,
        tgt_vocab_size: int,
        dim_feedforward: int = 512,
        dropout: float = 0.1,
        activation: Any = "relu",
        norm_first: bool = False,
        share_embeddings: bool = False,
        tie_generator: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if share_embeddings and src_vocab_size != tgt_vocab_size:
            raise ValueError(
                f"Seq2SeqTransformer: share_embeddings needs one vocabulary size, got {src_vocab_size} and "
                f"{tgt_vocab_size}"
            )
        self.d_model, self.src_vocab_size, self.tgt_vocab_size = d_model, src_vocab_size, tgt_vocab_size
        self.share_embeddings, self.tie_generator = share_embeddings, tie_generator
        self.src_embedding = Embedding(src_vocab_size, d_model, device=device, dtype=dtype)
        self.tgt_embedding = (
            self.src_embedding if share_embeddings else Embedding(tgt_vocab_size, d_model, device=device, dtype=dtype)
        )
        self.positional_encoding = SinusoidalPositionalEncoding(d_model, dropout, batch_first=True)
        self.transformer = Transformer(
            d_model,
            nhead,
            num_encoder_layers,
            num_decoder_layers,
            dim_feedforward,
            dropout,
            activation,
            batch_first=True,
            norm_first=norm_first,
            device=device,
            dtype=dtype,
        )
        self.generator = Linear(d_model, tgt_vocab_size, device=device, dtype=dtype)
        if tie_generator:
            self.generator.weight = self.tgt_embedding.weight

    def _embed(self, embedding: Embedding, tokens: Any, offset: int = 0) -> Any:
        if tokens.ndim != 2:
            raise ShapeError(f"Seq2SeqTransformer: expected token ids [batch, seq], got shape {tuple(tokens.shape)}")
        if tokens.dtype.is_floating_point:
            raise DTypeError(f"Seq2SeqTransformer: token ids must be integers, got {tokens.dtype}")
        return self.positional_encoding(embedding(tokens) * math.sqrt(self.d_model), offset)

    def encode(self, src: Any, src_key_padding_mask: Any = None) -> Any:
        """``src [N, S]`` token ids -> memory ``[N, S, d_model]``."""
        return self.transformer.encoder(self._embed(self.src_embedding, src), src_key_padding_mask=src_key_padding_mask)

    def decode(
        self, tgt: Any, memory: Any, tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None
    ) -> Any:
        """``tgt [N, T]`` token ids and memory -> logits ``[N, T, tgt_vocab]``, causally masked."""
        x = self._embed(self.tgt_embedding, tgt)
        mask = Transformer.generate_square_subsequent_mask(tgt.shape[1], device=x.device, dtype=x.dtype)
        hidden = self.transformer.decoder(
            x,
            memory,
            tgt_mask=mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=True,
        )
        return self.generator(hidden)

    def forward(self, src: Any, tgt: Any, src_key_padding_mask: Any = None, tgt_key_padding_mask: Any = None) -> Any:
        memory = self.encode(src, src_key_padding_mask)
        return self.decode(tgt, memory, tgt_key_padding_mask, src_key_padding_mask)

    def new_cache(self) -> KVCache:
        return self.transformer.decoder.new_cache()

    def decode_step(self, tgt: Any, memory: Any, cache: KVCache, memory_key_padding_mask: Any = None) -> Any:
        """Logits ``[N, T_new, tgt_vocab]`` for the next ``T_new`` target tokens ``tgt [N, T_new]``.

        Positions start at ``cache.seq_len``; only the new tokens run through the decoder, the
        earlier ones are read from ``cache`` (which this call extends).
        """
        x = self._embed(self.tgt_embedding, tgt, cache.seq_len)
        return self.generator(self.transformer.decoder.forward_step(x, memory, cache, memory_key_padding_mask))

    def greedy_decode(
        self,
        src: Any,
        max_len: int,
        bos_idx: int,
        eos_idx: int | None = None,
        src_key_padding_mask: Any = None,
        use_cache: bool = True,
    ) -> Any:
        """Greedy decoding: ``src [N, S]`` -> ids ``[N, <= max_len]`` starting with ``bos_idx``.

        Stops early once every row has produced ``eos_idx``; rows that finished earlier are
        filled with ``eos_idx``. ``use_cache`` decodes incrementally; otherwise each step reruns
        the whole prefix (same result, quadratic work). Runs without recording gradients.
        """
        if max_len < 1:
            raise ValueError(f"Seq2SeqTransformer.greedy_decode: max_len must be >= 1, got {max_len}")
        with no_grad():
            memory = self.encode(src, src_key_padding_mask)
            batch = src.shape[0]
            ids = np.full((batch, 1), bos_idx, dtype=np.int64)
            finished = np.zeros(batch, dtype=bool)
            cache = self.new_cache() if use_cache else None
            while ids.shape[1] < max_len and not finished.all():
                if cache is not None:
                    logits = self.decode_step(
                        tensor(ids[:, -1:], device=memory.device), memory, cache, src_key_padding_mask
                    )
                else:
                    logits = self.decode(
                        tensor(ids, device=memory.device), memory, memory_key_padding_mask=src_key_padding_mask
                    )
                next_ids = logits.numpy()[:, -1].argmax(axis=-1)
                if eos_idx is not None:
                    next_ids = np.where(finished, eos_idx, next_ids)
                    finished |= next_ids == eos_idx
                ids = np.concatenate([ids, next_ids[:, None]], axis=1)
        return tensor(ids, device=src.device)
