"""Transformer encoder/decoder layers and stacks, and ``Transformer``, with PyTorch's API and names.

Parameter names match ``torch.nn.Transformer*`` (``self_attn.in_proj_weight``, ``linear1``,
``norm1``, ``encoder.layers.0...``), so state dicts copy across. Decoders also decode
incrementally: ``forward_step`` runs new target positions against a :class:`KVCache`.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np

from .. import functional as F
from .. import init
from ..containers import ModuleList
from ..module import Module
from .attention import MultiHeadAttention, is_causal_mask
from .dropout import Dropout
from .kv_cache import KVCache
from .linear import Linear
from .normalization import LayerNorm

__all__ = [
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerDecoder",
    "Transformer",
]

_ACTIVATIONS: dict[str, Callable[[Any], Any]] = {"relu": F.relu, "gelu": F.gelu}


def _activation(activation: "str | Callable[[Any], Any]") -> Callable[[Any], Any]:
    if callable(activation):
        return activation
    if activation not in _ACTIVATIONS:
        raise ValueError(f"Transformer: activation should be 'relu', 'gelu' or a callable, got {activation!r}")
    return _ACTIVATIONS[activation]


def _feedforward(layer: Any, x: Any) -> Any:
    """``linear2(dropout(activation(linear1(x))))``: the position-wise block of a layer."""
    return layer.linear2(layer.dropout(layer.activation(layer.linear1(x))))


def _residual(layer: Any, x: Any, block: Callable[[Any], Any], norm: Module, dropout: Module) -> Any:
    """``x + dropout(block(norm(x)))`` (pre-norm) or ``norm(x + dropout(block(x)))`` (post-norm)."""
    if layer.norm_first:
        return x + dropout(block(norm(x)))
    return norm(x + dropout(block(x)))


class _LayerBase(Module):
    """What encoder and decoder layers share: the feed-forward block, norms, dropouts, activation."""

    def __init__(
        self,
        d_model: int,
        dim_feedforward: int,
        dropout: float,
        activation: Any,
        layer_norm_eps: float,
        norm_first: bool,
        bias: bool,
        num_norms: int,
        device: Any,
        dtype: Any,
    ) -> None:
        super().__init__()
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, device=device, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, device=device, dtype=dtype)
        self.norm_first = norm_first
        for i in range(1, num_norms + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype))
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation)


class TransformerEncoderLayer(_LayerBase):
    """Self-attention then a feed-forward block, each with a residual and a LayerNorm.

    ``src [S, N, E]`` (``[N, S, E]`` with ``batch_first``; or ``[S, E]``) -> same shape.
    ``norm_first`` puts the norms before the blocks (pre-norm); otherwise after (post-norm,
    the original Transformer). ``activation`` is ``"relu"``, ``"gelu"`` or a callable.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: Any = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            d_model, dim_feedforward, dropout, activation, layer_norm_eps, norm_first, bias, 2, device, dtype
        )
        self.self_attn = MultiHeadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, device=device, dtype=dtype
        )

    def forward(self, src: Any, src_mask: Any = None, src_key_padding_mask: Any = None, is_causal: bool = False) -> Any:
        def attend(x: Any) -> Any:
            return self.self_attn(
                x,
                x,
                x,
                attn_mask=src_mask,
                key_padding_mask=src_key_padding_mask,
                need_weights=False,
                is_causal=is_causal,
            )[0]

        x = _residual(self, src, attend, self.norm1, self.dropout1)
        return _residual(self, x, lambda h: _feedforward(self, h), self.norm2, self.dropout2)


class TransformerDecoderLayer(_LayerBase):
    """Self-attention, cross-attention to ``memory``, then a feed-forward block (residual + LayerNorm each).

    ``tgt [T, N, E]``, ``memory [S, N, E]`` (``[N, *, E]`` with ``batch_first``) -> ``[T, N, E]``.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: Any = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            d_model, dim_feedforward, dropout, activation, layer_norm_eps, norm_first, bias, 3, device, dtype
        )
        self.self_attn = MultiHeadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, device=device, dtype=dtype
        )
        self.multihead_attn = MultiHeadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, device=device, dtype=dtype
        )

    def _blocks(self, tgt: Any, self_attend: Callable[[Any], Any], cross_attend: Callable[[Any], Any]) -> Any:
        x = _residual(self, tgt, self_attend, self.norm1, self.dropout1)
        x = _residual(self, x, cross_attend, self.norm2, self.dropout2)
        return _residual(self, x, lambda h: _feedforward(self, h), self.norm3, self.dropout3)

    def forward(
        self,
        tgt: Any,
        memory: Any,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Any:
        def self_attend(x: Any) -> Any:
            return self.self_attn(
                x,
                x,
                x,
                attn_mask=tgt_mask,
                key_padding_mask=tgt_key_padding_mask,
                need_weights=False,
                is_causal=tgt_is_causal,
            )[0]

        def cross_attend(x: Any) -> Any:
            return self.multihead_attn(
                x,
                memory,
                memory,
                attn_mask=memory_mask,
                key_padding_mask=memory_key_padding_mask,
                need_weights=False,
                is_causal=memory_is_causal,
            )[0]

        return self._blocks(tgt, self_attend, cross_attend)

    def forward_step(
        self, tgt: Any, memory: Any, self_cache: Any, cross_cache: Any, memory_key_padding_mask: Any = None
    ) -> Any:
        """Decode new target positions ``tgt [T_new, N, E]`` given the earlier ones in ``self_cache``.

        Equals the rows of :meth:`forward` with a causal ``tgt_mask`` for these positions.
        """
        return self._blocks(
            tgt,
            lambda x: self.self_attn.step(x, x, x, self_cache),
            lambda x: self.multihead_attn.step(
                x, memory, memory, cross_cache, static_kv=True, key_padding_mask=memory_key_padding_mask
            ),
        )


def _clones(layer: Module, num_layers: int) -> ModuleList:
    return ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])


def _detect_causal(mask: Any, is_causal: bool | None, size: int) -> bool:
    """PyTorch's rule: without an explicit hint, a mask equal to the causal mask is causal."""
    if is_causal is None:
        return mask is not None and is_causal_mask(mask, size)
    return bool(is_causal)


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (independent parameters), then ``norm`` if given."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self, src: Any, mask: Any = None, src_key_padding_mask: Any = None, is_causal: bool | None = None
    ) -> Any:
        seq_dim = 1 if (src.ndim == 3 and self.layers[0].self_attn.batch_first) else 0
        causal = _detect_causal(mask, is_causal, src.shape[seq_dim])
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=causal)
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer``, then ``norm`` if given; incremental via :meth:`forward_step`."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt: Any,
        memory: Any,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Any:
        seq_dim = 1 if (tgt.ndim == 3 and self.layers[0].self_attn.batch_first) else 0
        causal = _detect_causal(tgt_mask, tgt_is_causal, tgt.shape[seq_dim])
        x = tgt
        for layer in self.layers:
            x = layer(
                x,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=causal,
                memory_is_causal=memory_is_causal,
            )
        return x if self.norm is None else self.norm(x)

    def new_cache(self) -> KVCache:
        """An empty :class:`KVCache` with one slot per layer."""
        return KVCache(self.num_layers)

    def forward_step(self, tgt: Any, memory: Any, cache: KVCache, memory_key_padding_mask: Any = None) -> Any:
        """Decode the next positions ``tgt [T_new, N, E]`` (batch-first as the layers) after the
        ``cache.seq_len`` positions already in ``cache``; advances ``cache.seq_len`` by ``T_new``.

        Equals the last ``T_new`` rows of ``forward`` over the whole prefix with a causal mask.
        """
        if len(cache) != self.num_layers:
            raise ValueError(
                f"TransformerDecoder.forward_step: cache has {len(cache)} layers, the decoder {self.num_layers}"
            )
        x = tgt
        for i, layer in enumerate(self.layers):
            x = layer.forward_step(x, memory, cache.self_attn[i], cache.cross_attn[i], memory_key_padding_mask)
        seq_dim = 1 if (tgt.ndim == 3 and self.layers[0].self_attn.batch_first) else 0
        cache.seq_len += int(tgt.shape[seq_dim])
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """The encoder-decoder Transformer (Vaswani et al. 2017), like ``torch.nn.Transformer``.

    ``src [S, N, E]``, ``tgt [T, N, E]`` (``[N, *, E]`` with ``batch_first``) -> ``[T, N, E]``.
    Encoder and decoder end with a LayerNorm; every parameter with more than one dim is
    xavier-uniform initialised, as in PyTorch.
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: Any = "relu",
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        layer_args = dict(
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            activation=activation,
            layer_norm_eps=layer_norm_eps,
            batch_first=batch_first,
            norm_first=norm_first,
            bias=bias,
            device=device,
            dtype=dtype,
        )
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(d_model, nhead, **layer_args), num_encoder_layers, norm
            )
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(d_model, nhead, **layer_args), num_decoder_layers, norm
            )
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for param in self.parameters():
            if param.ndim > 1:
                init.xavier_uniform_(param)

    def forward(
        self,
        src: Any,
        tgt: Any,
        src_mask: Any = None,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        src_key_padding_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Any:
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 3 and tgt.ndim == 3 and src.shape[batch_dim] != tgt.shape[batch_dim]:
            from axon_core import ShapeError

            raise ShapeError(
                f"Transformer: src {tuple(src.shape)} and tgt {tuple(tgt.shape)} disagree on the batch size "
                f"(batch_first={self.batch_first})"
            )
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            from axon_core import ShapeError

            raise ShapeError(
                f"Transformer: the feature size of src {tuple(src.shape)} and tgt {tuple(tgt.shape)} must be "
                f"d_model={self.d_model}"
            )
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Any:
        """``[sz, sz]`` float mask: ``-inf`` above the diagonal (future positions), 0 elsewhere."""
        from axon_core import get_default_dtype
        from axon_tensor import tensor

        mask = np.where(np.triu(np.ones((sz, sz), dtype=bool), 1), -np.inf, 0.0)
        return tensor(mask, dtype=get_default_dtype() if dtype is None else dtype, device=device)
