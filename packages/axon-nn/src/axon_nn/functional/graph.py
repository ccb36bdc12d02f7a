"""Graph convolutions over ``edge_index [2, E]`` (row 0: source node, row 1: destination node).

Messages flow source -> destination: node ``i`` aggregates over its incoming edges. Node features
are ``[num_nodes, channels]``. Aggregation is ``index_select`` (gather the source rows) then
``index_add`` (sum into the destination rows), so the work is linear in the number of edges;
repeated edges count as parallel edges.

Everything here is twice differentiable as PyTorch (Geometric)'s: the convolutions are Variable ops
over :func:`linear`, gathers and scatter-adds, and :func:`scatter_softmax`'s gradient is its rule
in Variable ops of the saved output under ``create_graph=True``.
"""

from __future__ import annotations

from typing import Any

import axon_tensor
from axon_autograd import Function, Variable, cat, once_differentiable, where
from axon_core import DTypeError, ShapeError
from axon_tensor import Tensor
from axon_tensor.tensor import wrap

from ._twice import wants_graph
from ._util import out_like, saved, tensor_of, xp_of
from .activation import leaky_relu
from .dropout import dropout
from .linear import linear

__all__ = ["add_self_loops", "remove_self_loops", "gcn_norm", "scatter_softmax", "gcn_conv", "gat_conv"]


def _check_edge_index(op: str, edge_index: Any, num_nodes: int) -> Tensor:
    edges = tensor_of(edge_index)
    if not isinstance(edges, Tensor):
        raise TypeError(f"{op}: edge_index must be a Tensor, got {type(edge_index).__name__}")
    if edges.array.dtype.kind not in "iu":
        raise DTypeError(f"{op}: edge_index must hold integers, got {edges.dtype}")
    if edges.array.ndim != 2 or edges.array.shape[0] != 2:
        raise ShapeError(f"{op}: edge_index must be [2, E], got {tuple(edges.shape)}")
    data = edges.array
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num_nodes):
        raise IndexError(
            f"{op}: edge_index holds node {int(data.min()) if int(data.min()) < 0 else int(data.max())}, "
            f"out of range for {num_nodes} nodes"
        )
    return wrap(data.astype(xp_of(edges).int64, copy=False), edges.device)


def _check_edge_weight(op: str, edge_weight: Any, edges: Tensor) -> None:
    if edge_weight is not None and tuple(edge_weight.shape) != (edges.shape[1],):
        raise ShapeError(
            f"{op}: edge_weight {tuple(edge_weight.shape)} must be [E] = ({edges.shape[1]},) to match edge_index"
        )


def remove_self_loops(edge_index: Any, edge_weight: Any = None) -> tuple[Tensor, Any]:
    """Drop the edges ``i -> i``: ``([2, E'], [E'] or None)``."""
    edges = tensor_of(edge_index)
    keep = xp_of(edges).flatnonzero(edges.array[0] != edges.array[1])
    kept = wrap(edges.array[:, keep], edges.device)
    if edge_weight is None:
        return kept, None
    return kept, edge_weight.index_select(0, wrap(keep, edges.device))


def _append_self_loops(edges: Tensor, num_nodes: int, edge_weight: Any, fill_value: float) -> tuple[Tensor, Any]:
    xp = xp_of(edges)
    nodes = xp.arange(num_nodes, dtype=xp.int64)
    looped = wrap(xp.concatenate([edges.array, xp.stack([nodes, nodes])], axis=1), edges.device)
    if edge_weight is None:
        return looped, None
    data = tensor_of(edge_weight)
    loops = axon_tensor.full((num_nodes,), float(fill_value), dtype=data.dtype, device=data.device)
    weight = edge_weight if isinstance(edge_weight, Variable) else Variable(edge_weight)
    return looped, cat([weight, Variable(loops)])


def add_self_loops(
    edge_index: Any, num_nodes: int, edge_weight: Any = None, fill_value: float = 1.0
) -> tuple[Tensor, Any]:
    """Append one edge ``i -> i`` per node (weight ``fill_value``) after the given edges, so
    existing self-loops are kept and the diagonal of the adjacency becomes ``A_ii + fill_value``."""
    edges = _check_edge_index("add_self_loops", edge_index, num_nodes)
    _check_edge_weight("add_self_loops", edge_weight, edges)
    return _append_self_loops(edges, num_nodes, edge_weight, fill_value)


def gcn_norm(
    edge_index: Any,
    num_nodes: int,
    edge_weight: Any = None,
    add_self_loops: bool = True,
    improved: bool = False,
    dtype: Any = None,
    device: Any = None,
) -> tuple[Tensor, Any]:
    """Edges and their weights in ``D^-1/2 (A + I) D^-1/2`` (Kipf & Welling).

    ``A[dst, src]`` is the (weighted) adjacency; ``I`` becomes ``2I`` with ``improved``; ``D`` is
    the row sum of ``A + I`` (the weighted in-degree). Nodes of degree 0 get weight 0.
    Differentiable in ``edge_weight``. Returns ``(edge_index [2, E'], norm [E'])``.
    """
    edges = _check_edge_index("gcn_norm", edge_index, num_nodes)
    _check_edge_weight("gcn_norm", edge_weight, edges)
    if edge_weight is None:
        edge_weight = axon_tensor.ones(
            (edges.shape[1],), dtype=dtype, device=edges.device if device is None else device
        )
    if add_self_loops:
        edges, edge_weight = _append_self_loops(edges, num_nodes, edge_weight, 2.0 if improved else 1.0)
    weight = edge_weight if isinstance(edge_weight, Variable) else Variable(edge_weight)
    src, dst = edges[0], edges[1]
    degree = Variable(axon_tensor.zeros((num_nodes,), dtype=weight.dtype, device=weight.device)).index_add(
        0, dst, weight
    )
    positive = tensor_of(degree) > 0
    inv_sqrt = where(positive, where(positive, degree, 1.0) ** -0.5, 0.0)
    return edges, inv_sqrt.index_select(0, src) * weight * inv_sqrt.index_select(0, dst)


class ScatterSoftmaxFunction(Function):
    """Softmax of ``src [E, *]`` over the entries that share a segment id ``index [E]``."""

    @staticmethod
    def forward(ctx, src, index, num_segments):
        xp, data, idx = xp_of(src), src.array, index.array
        peak = xp.full((num_segments,) + data.shape[1:], -xp.inf, dtype=data.dtype)
        xp.maximum.at(peak, idx, data)
        shifted = xp.exp(data - peak[idx])
        total = xp.zeros_like(peak)
        xp.add.at(total, idx, shifted)
        y = out_like(shifted / total[idx], src)
        ctx.save_for_backward(y)  # the output itself: under create_graph it leads back here
        ctx.index, ctx.num_segments = index, num_segments
        return y

    @staticmethod
    def backward(ctx, grad):
        if not wants_graph(ctx, (grad,)):
            return _scatter_softmax_backward(ctx, grad)
        # The same rule in Variable ops of the saved output, as PyTorch's softmax double backward.
        (y,) = ctx.saved_tensors
        zeros = axon_tensor.zeros((ctx.num_segments,) + tuple(y.shape[1:]), dtype=y.dtype, device=y.device)
        dot = Variable(zeros).index_add(0, ctx.index, grad * y)
        return y * (grad - dot.index_select(0, ctx.index)), None, None


@once_differentiable
def _scatter_softmax_backward(ctx: Any, grad: Any) -> tuple:
    (y,) = saved(ctx)
    xp, g, yd, idx = xp_of(y), grad.array, y.array, ctx.index.array
    dot = xp.zeros((ctx.num_segments,) + yd.shape[1:], dtype=yd.dtype)
    xp.add.at(dot, idx, g * yd)
    return out_like(yd * (g - dot[idx]), grad), None, None


def scatter_softmax(src: Any, index: Any, num_segments: int) -> Any:
    """``src [E, *]`` normalised with a softmax over each group of entries with equal ``index [E]``
    (int64 in ``[0, num_segments)``)."""
    idx = tensor_of(index)
    if len(src.shape) == 0 or tuple(idx.shape) != (src.shape[0],):
        raise ShapeError(
            f"scatter_softmax: index {tuple(idx.shape)} must be [E] with E = src.shape[0], src is {tuple(src.shape)}"
        )
    return ScatterSoftmaxFunction.apply(src, idx, int(num_segments))


def _aggregate(messages: Any, dst: Tensor, num_nodes: int) -> Any:
    """Sum ``messages [E, *]`` into ``[num_nodes, *]`` at rows ``dst``."""
    data = tensor_of(messages)
    zeros = axon_tensor.zeros((num_nodes,) + tuple(data.shape[1:]), dtype=data.dtype, device=data.device)
    return Variable(zeros).index_add(0, dst, messages)


def _check_nodes(op: str, x: Any, weight: Any) -> None:
    if len(x.shape) != 2 or len(weight.shape) != 2 or x.shape[1] != weight.shape[1]:
        raise ShapeError(
            f"{op}: x {tuple(x.shape)} must be [num_nodes, in_channels] matching weight {tuple(weight.shape)} [out, in]"
        )


def gcn_conv(
    x: Any,
    edge_index: Any,
    weight: Any,
    bias: Any = None,
    edge_weight: Any = None,
    add_self_loops: bool = True,
    normalize: bool = True,
    improved: bool = False,
) -> Any:
    """``D^-1/2 (A + I) D^-1/2 X Wᵀ + b``: ``x [N, in]``, ``weight [out, in]``, ``bias [out]`` -> ``[N, out]``.

    Without ``normalize`` the (self-looped) weighted adjacency is applied as it is.
    """
    _check_nodes("gcn_conv", x, weight)
    num_nodes = x.shape[0]
    edges = _check_edge_index("gcn_conv", edge_index, num_nodes)
    _check_edge_weight("gcn_conv", edge_weight, edges)
    if normalize:
        edges, norm = gcn_norm(edges, num_nodes, edge_weight, add_self_loops, improved, dtype=x.dtype, device=x.device)
    else:
        if edge_weight is None:
            edge_weight = axon_tensor.ones((edges.shape[1],), dtype=x.dtype, device=x.device)
        edges, norm = (
            _append_self_loops(edges, num_nodes, edge_weight, 2.0 if improved else 1.0)
            if add_self_loops
            else (edges, edge_weight)
        )
    h = linear(x, weight)
    out = _aggregate(h.index_select(0, edges[0]) * norm.unsqueeze(-1), edges[1], num_nodes)
    return out if bias is None else out + bias


def gat_conv(
    x: Any,
    edge_index: Any,
    weight: Any,
    att_src: Any,
    att_dst: Any,
    bias: Any = None,
    heads: int = 1,
    concat: bool = True,
    negative_slope: float = 0.2,
    dropout_p: float = 0.0,
    training: bool = False,
    add_self_loops: bool = True,
    return_attention: bool = False,
) -> Any:
    """Graph attention (Veličković et al.): ``x [N, in]``, ``weight [heads*out, in]``,
    ``att_src``/``att_dst [1, heads, out]`` -> ``[N, heads*out]`` (concat) or ``[N, out]`` (mean).

    ``h = x Wᵀ`` per head; edge ``j -> i`` scores ``e_ij = LeakyReLU(a_srcᵀ h_j + a_dstᵀ h_i)``,
    softmax over each node's incoming edges (existing self-loops are replaced by one per node
    when ``add_self_loops``); ``out_i = Σ_j α_ij h_j``. Dropout (``dropout_p``, in training) acts
    on ``α``. With ``return_attention`` also returns ``(edge_index [2, E'], α [E', heads])``.
    """
    _check_nodes("gat_conv", x, weight)
    num_nodes = x.shape[0]
    out_channels = weight.shape[0] // heads
    if weight.shape[0] != heads * out_channels:
        raise ShapeError(f"gat_conv: weight {tuple(weight.shape)} rows must be heads ({heads}) * out_channels")
    for name, att in (("att_src", att_src), ("att_dst", att_dst)):
        if tuple(att.shape) != (1, heads, out_channels):
            raise ShapeError(f"gat_conv: {name} {tuple(att.shape)} must be (1, {heads}, {out_channels})")
    edges = _check_edge_index("gat_conv", edge_index, num_nodes)
    if add_self_loops:
        edges, _ = remove_self_loops(edges)
        edges, _ = _append_self_loops(edges, num_nodes, None, 1.0)
    src, dst = edges[0], edges[1]
    h = linear(x, weight).reshape(num_nodes, heads, out_channels)
    score_src = (h * att_src).sum(dim=-1)
    score_dst = (h * att_dst).sum(dim=-1)
    logits = leaky_relu(score_src.index_select(0, src) + score_dst.index_select(0, dst), negative_slope)
    alpha = scatter_softmax(logits, dst, num_nodes)
    attention = alpha
    if dropout_p > 0.0:
        alpha = dropout(alpha, dropout_p, training)
    out = _aggregate(h.index_select(0, src) * alpha.unsqueeze(-1), dst, num_nodes)
    out = out.reshape(num_nodes, heads * out_channels) if concat else out.mean(dim=1)
    if bias is not None:
        out = out + bias
    return (out, (edges, attention)) if return_attention else out
