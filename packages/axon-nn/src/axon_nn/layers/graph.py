"""Graph layers over ``edge_index [2, E]``: ``GCNConv`` and ``GATConv``."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from .. import init
from ..module import Module
from ._factory import add_bias, new_parameter

__all__ = ["GCNConv", "GATConv"]


class GCNConv(Module):
    """Kipf & Welling's graph convolution ``D^-1/2 (A + I) D^-1/2 X Wᵀ + b``.

    ``x [N, in_channels]``, ``edge_index [2, E]`` (source, destination), optional
    ``edge_weight [E]`` -> ``[N, out_channels]``. ``weight [out, in]`` (Glorot), ``bias [out]`` (zeros).
    ``improved`` uses ``A + 2I``; ``normalize=False`` applies ``A + I`` unnormalised.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bias: bool = True,
        add_self_loops: bool = True,
        normalize: bool = True,
        improved: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.add_self_loops, self.normalize, self.improved = add_self_loops, normalize, improved
        self.weight = new_parameter(out_channels, in_channels, device=device, dtype=dtype)
        add_bias(self, bias, out_channels, device=device, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.xavier_uniform_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x: Any, edge_index: Any, edge_weight: Any = None) -> Any:
        return F.gcn_conv(
            x, edge_index, self.weight, self.bias, edge_weight, self.add_self_loops, self.normalize, self.improved
        )

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, improved={self.improved}, bias={self.bias is not None}"


class GATConv(Module):
    """Veličković et al.'s graph attention layer, multi-head.

    ``x [N, in_channels]``, ``edge_index [2, E]`` -> ``[N, heads * out_channels]`` with ``concat``,
    else ``[N, out_channels]`` (mean over heads). ``weight [heads*out, in]``, ``att_src`` and
    ``att_dst [1, heads, out]`` (Glorot), ``bias`` (zeros). ``dropout`` drops attention
    coefficients in training. ``forward(..., return_attention=True)`` also returns
    ``(edge_index, alpha [E', heads])``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        self.negative_slope, self.dropout, self.add_self_loops = negative_slope, dropout, add_self_loops
        self.weight = new_parameter(heads * out_channels, in_channels, device=device, dtype=dtype)
        self.att_src = new_parameter(1, heads, out_channels, device=device, dtype=dtype)
        self.att_dst = new_parameter(1, heads, out_channels, device=device, dtype=dtype)
        add_bias(self, bias, heads * out_channels if concat else out_channels, device=device, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.xavier_uniform_(self.weight)
        init.xavier_uniform_(self.att_src)
        init.xavier_uniform_(self.att_dst)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x: Any, edge_index: Any, return_attention: bool = False) -> Any:
        return F.gat_conv(
            x,
            edge_index,
            self.weight,
            self.att_src,
            self.att_dst,
            self.bias,
            self.heads,
            self.concat,
            self.negative_slope,
            self.dropout,
            self.training,
            self.add_self_loops,
            return_attention,
        )

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, heads={self.heads}, concat={self.concat}"
