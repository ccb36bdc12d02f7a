"""GCNConv and GATConv against dense references written from the papers' equations."""

from __future__ import annotations

import numpy as np
import pytest

import axon_nn as nn
import axon_nn.functional as F
from axon_autograd import Variable, gradcheck
from axon_core import DTypeError, ShapeError
from axon_tensor import manual_seed, tensor

rng = np.random.default_rng(11)

# A directed graph on 6 nodes: node 5 has no incoming edge, node 2 has an explicit self-loop.
EDGES = np.array([[0, 1, 2, 3, 4, 1, 0, 2, 4], [1, 2, 3, 4, 0, 0, 2, 2, 3]])


def leaf(array, requires_grad=True):
    return Variable(tensor(np.asarray(array, dtype=np.float64)), requires_grad=requires_grad)


def dense_adjacency(edges, num_nodes, weights=None):
    """``A[i, j]`` = summed weight of edges ``j -> i``."""
    adjacency = np.zeros((num_nodes, num_nodes))
    np.add.at(adjacency, (edges[1], edges[0]), 1.0 if weights is None else weights)
    return adjacency


def dense_gcn(x, edges, weight, bias=None, edge_weight=None, self_loop=1.0, normalize=True):
    a_hat = dense_adjacency(edges, x.shape[0], edge_weight) + self_loop * np.eye(x.shape[0])
    if normalize:
        degree = a_hat.sum(1)
        inv_sqrt = np.where(degree > 0, 1 / np.sqrt(np.where(degree > 0, degree, 1)), 0.0)
        a_hat = inv_sqrt[:, None] * a_hat * inv_sqrt[None, :]
    out = a_hat @ x @ weight.T
    return out if bias is None else out + bias


def dense_gat(x, edges, weight, att_src, att_dst, bias, heads, concat, slope=0.2, self_loops=True, attention_mask=None):
    n = x.shape[0]
    h = (x @ weight.T).reshape(n, heads, -1)
    s_src = (h * att_src).sum(-1)
    s_dst = (h * att_dst).sum(-1)
    logits = s_dst[:, None, :] + s_src[None, :, :]  # [i, j, head]: edge j -> i
    logits = np.where(logits > 0, logits, slope * logits)
    mask = dense_adjacency(edges, n) > 0
    if self_loops:
        mask |= np.eye(n, dtype=bool)
    logits = np.where(mask[:, :, None], logits, -np.inf)
    peak = np.max(np.where(mask[:, :, None], logits, -1e300), axis=1, keepdims=True)
    alpha = np.where(mask[:, :, None], np.exp(logits - peak), 0.0)
    alpha = alpha / np.maximum(alpha.sum(1, keepdims=True), 1e-300)
    if attention_mask is not None:
        alpha = alpha * attention_mask
    out = np.einsum("ijh,jhc->ihc", alpha, h)
    out = out.reshape(n, -1) if concat else out.mean(1)
    return out + bias, alpha


@pytest.mark.parametrize(
    "weighted, improved, self_loops, normalize",
    [
        (False, False, True, True),
        (True, False, True, True),
        (True, True, True, True),
        (False, False, False, True),
        (True, False, True, False),
    ],
)
def test_gcn_matches_dense_reference(weighted, improved, self_loops, normalize):
    layer = nn.GCNConv(3, 4, add_self_loops=self_loops, normalize=normalize, improved=improved, dtype="float64")
    layer.bias.data.array[...] = rng.standard_normal(4)
    x = rng.standard_normal((6, 3))
    w = rng.uniform(0.5, 2.0, EDGES.shape[1]) if weighted else None
    out = layer(leaf(x, False), tensor(EDGES), None if w is None else tensor(w))
    loop = (2.0 if improved else 1.0) if self_loops else 0.0
    expected = dense_gcn(x, EDGES, layer.weight.data.numpy(), layer.bias.data.numpy(), w, loop, normalize)
    np.testing.assert_allclose(out.data.numpy(), expected, rtol=1e-12, atol=1e-12)
    if not self_loops:
        np.testing.assert_allclose(out.data.numpy()[5], layer.bias.data.numpy())  # no incoming edge, degree 0


def test_gcn_gradients_of_input_weight_bias_and_edge_weights():
    x = leaf(rng.standard_normal((6, 3)))
    weight = leaf(rng.standard_normal((2, 3)))
    bias = leaf(rng.standard_normal(2))
    edge_weight = leaf(rng.uniform(0.5, 2.0, EDGES.shape[1]))
    edges = tensor(EDGES)
    assert gradcheck(lambda x, w, b, ew: F.gcn_conv(x, edges, w, b, ew), (x, weight, bias, edge_weight))


def test_gcn_gradient_matches_dense_reference_gradient():
    """d<out, c>/dx of the dense formula is Âᵀ c W, written out by hand."""
    x = leaf(rng.standard_normal((6, 3)))
    layer = nn.GCNConv(3, 4, dtype="float64")
    c = rng.standard_normal((6, 4))
    (layer(x, tensor(EDGES)) * tensor(c)).sum().backward()
    a_hat = dense_adjacency(EDGES, 6) + np.eye(6)
    d = a_hat.sum(1) ** -0.5
    norm = d[:, None] * a_hat * d[None, :]
    np.testing.assert_allclose(x.grad.data.numpy(), norm.T @ c @ layer.weight.data.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.weight.grad.data.numpy(), (norm @ x.data.numpy()).T.dot(c).T, rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.data.numpy(), c.sum(0), rtol=1e-12)


@pytest.mark.parametrize(
    "heads, concat, self_loops", [(1, True, True), (3, True, True), (3, False, True), (2, True, False)]
)
def test_gat_matches_dense_masked_softmax(heads, concat, self_loops):
    layer = nn.GATConv(4, 3, heads=heads, concat=concat, add_self_loops=self_loops, dtype="float64")
    layer.bias.data.array[...] = rng.standard_normal(layer.bias.shape)
    x = rng.standard_normal((6, 4))
    # without self-loops node 5 has no incoming edges at all; keep the graph's explicit loop at 2
    out, (edges, alpha) = layer(leaf(x, False), tensor(EDGES), return_attention=True)
    expected, dense_alpha = dense_gat(
        x,
        EDGES,
        layer.weight.data.numpy(),
        layer.att_src.data.numpy(),
        layer.att_dst.data.numpy(),
        layer.bias.data.numpy(),
        heads,
        concat,
        self_loops=self_loops,
    )
    np.testing.assert_allclose(out.data.numpy(), expected, rtol=1e-10, atol=1e-12)
    e = edges.numpy()
    np.testing.assert_allclose(alpha.data.numpy(), dense_alpha[e[1], e[0]], rtol=1e-10)
    if self_loops:
        assert e.shape[1] == 8 + 6  # the explicit loop 2 -> 2 replaced by one loop per node


def test_gat_gradients():
    heads, out_channels = 2, 2
    x = leaf(rng.standard_normal((6, 3)))
    weight = leaf(rng.standard_normal((heads * out_channels, 3)))
    att_src = leaf(rng.standard_normal((1, heads, out_channels)))
    att_dst = leaf(rng.standard_normal((1, heads, out_channels)))
    bias = leaf(rng.standard_normal(heads * out_channels))
    edges = tensor(EDGES)
    fn = lambda x, w, a, b, c: F.gat_conv(x, edges, w, a, b, c, heads=heads)  # noqa: E731
    assert gradcheck(fn, (x, weight, att_src, att_dst, bias))
    fn_mean = lambda x, w, a, b: F.gat_conv(x, edges, w, a, b, None, heads=heads, concat=False)  # noqa: E731
    assert gradcheck(fn_mean, (x, weight, att_src, att_dst))


def test_gat_attention_dropout_uses_the_dropout_mask_in_training_only():
    layer = nn.GATConv(4, 3, heads=2, dropout=0.5, dtype="float64")
    x = rng.standard_normal((6, 4))
    layer.eval()
    eval_out = layer(leaf(x, False), tensor(EDGES)).data.numpy()
    expected, _ = dense_gat(
        x,
        EDGES,
        layer.weight.data.numpy(),
        layer.att_src.data.numpy(),
        layer.att_dst.data.numpy(),
        layer.bias.data.numpy(),
        2,
        True,
    )
    np.testing.assert_allclose(eval_out, expected, rtol=1e-10)
    layer.train()
    manual_seed(3)
    out, (edges, _) = layer(leaf(x, False), tensor(EDGES), return_attention=True)
    manual_seed(3)
    kept = F.dropout(tensor(np.ones((edges.shape[1], 2))), 0.5, True).numpy()
    e = edges.numpy()
    dense_mask = np.zeros((6, 6, 2))
    dense_mask[e[1], e[0]] = kept
    dropped, _ = dense_gat(
        x,
        EDGES,
        layer.weight.data.numpy(),
        layer.att_src.data.numpy(),
        layer.att_dst.data.numpy(),
        layer.bias.data.numpy(),
        2,
        True,
        attention_mask=dense_mask,
    )
    np.testing.assert_allclose(out.data.numpy(), dropped, rtol=1e-10)
    assert not np.allclose(out.data.numpy(), eval_out)


def test_scatter_softmax_against_numpy_and_gradcheck():
    src = rng.standard_normal((7, 2))
    index = np.array([0, 2, 2, 0, 2, 3, 0])
    y = F.scatter_softmax(tensor(src), tensor(index), 5).numpy()
    for segment in range(5):
        rows = index == segment
        if rows.any():
            e = np.exp(src[rows] - src[rows].max(0))
            np.testing.assert_allclose(y[rows], e / e.sum(0), rtol=1e-12)
    assert gradcheck(lambda s: F.scatter_softmax(s, tensor(index), 5), (leaf(src),))
    big = F.scatter_softmax(tensor(np.array([1000.0, 1001.0, -1000.0])), tensor(np.array([0, 0, 1])), 2).numpy()
    np.testing.assert_allclose(big, [1 / (1 + np.e), np.e / (1 + np.e), 1.0], rtol=1e-12)


def test_empty_edge_set_float32_and_non_contiguous_features():
    layer = nn.GCNConv(3, 2)
    base = rng.standard_normal((3, 4)).astype(np.float32)
    x = Variable(tensor(base)).transpose(0, 1)  # [4, 3], non-contiguous
    out = layer(x, tensor(np.zeros((2, 0), dtype=np.int64)))
    # only self-loops: D^-1/2 I D^-1/2 = I
    np.testing.assert_allclose(
        out.data.numpy(), base.T @ layer.weight.data.numpy().T + layer.bias.data.numpy(), rtol=1e-5
    )
    assert out.dtype.name == "float32"
    gat = nn.GATConv(3, 2, heads=2)
    np.testing.assert_allclose(
        gat(x, tensor(np.zeros((2, 0), dtype=np.int64))).data.numpy(),
        base.T @ gat.weight.data.numpy().T + gat.bias.data.numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


def test_bad_edge_index_raises():
    layer = nn.GCNConv(3, 2)
    x = tensor(np.zeros((4, 3), dtype=np.float32))
    with pytest.raises(DTypeError, match="edge_index"):
        layer(x, tensor(np.zeros((2, 3), dtype=np.float32)))
    with pytest.raises(ShapeError, match=r"\[2, E\]"):
        layer(x, tensor(np.zeros((3, 3), dtype=np.int64)))
    with pytest.raises(IndexError, match="out of range for 4 nodes"):
        layer(x, tensor(np.array([[0, 4], [1, 1]])))
    with pytest.raises(ShapeError, match="edge_weight"):
        layer(x, tensor(np.array([[0, 1], [1, 2]])), tensor(np.ones(3, dtype=np.float32)))
    with pytest.raises(ShapeError, match="gat_conv"):
        nn.GATConv(5, 2)(x, tensor(np.array([[0], [1]])))
