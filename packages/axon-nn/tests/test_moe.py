"""MoELayer against a dense NumPy reference that runs every expert on every token and masks."""

from __future__ import annotations

import numpy as np
import pytest

import axon_nn as nn
import axon_nn.functional as F
from axon_autograd import Variable, gradcheck, no_grad
from axon_core import ShapeError
from axon_tensor import tensor

rng = np.random.default_rng(7)


def make_layer(d_model=6, d_hidden=5, num_experts=4, top_k=2, normalize=True, capacity_factor=None):
    layer = nn.MoELayer(
        d_model,
        d_hidden,
        num_experts,
        top_k=top_k,
        normalize_top_k=normalize,
        capacity_factor=capacity_factor,
        dtype="float64",
    )
    for p in layer.parameters():
        p.data.array[...] = rng.standard_normal(p.shape) * 0.5
    return layer


def silu(x):
    return x / (1 + np.exp(-x))


def dense_reference(layer, x):
    """Every expert on every token; a ``[tokens, E]`` mask holds the (renormalised) weights of the
    kept assignments, filled slot by slot, token by token, up to each expert's capacity."""
    d = layer.d_model
    tokens = x.reshape(-1, d)
    count, experts, k = tokens.shape[0], layer.num_experts, layer.top_k
    logits = tokens @ layer.gate.weight.data.numpy().T
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    choice = np.argsort(-probs, axis=-1, kind="stable")[:, :k]
    top = np.take_along_axis(probs, choice, axis=-1)
    if layer.normalize_top_k:
        top = top / top.sum(-1, keepdims=True)
    capacity = np.inf if layer.capacity_factor is None else np.ceil(layer.capacity_factor * count * k / experts)
    mask = np.zeros((count, experts))
    used = np.zeros(experts)
    for slot in range(k):
        for t in range(count):
            e = choice[t, slot]
            if used[e] < capacity:
                mask[t, e] += top[t, slot]
                used[e] += 1
    out = np.zeros_like(tokens)
    for e, expert in enumerate(layer.experts):
        w1, w3, w2 = expert.w1.weight.data.numpy(), expert.w3.weight.data.numpy(), expert.w2.weight.data.numpy()
        out += mask[:, e : e + 1] * ((silu(tokens @ w1.T) * (tokens @ w3.T)) @ w2.T)
    fraction = np.bincount(choice.ravel(), minlength=experts) / count
    aux = experts * np.sum(fraction * probs.mean(0))
    return out.reshape(x.shape), aux, choice, used


@pytest.mark.parametrize(
    "top_k, normalize, capacity_factor",
    [
        (1, False, None),
        (2, True, None),
        (2, False, None),
        (3, True, None),
        (2, True, 0.6),
        (1, False, 0.5),
    ],
)
def test_forward_and_aux_loss_match_dense_reference(top_k, normalize, capacity_factor):
    layer = make_layer(top_k=top_k, normalize=normalize, capacity_factor=capacity_factor)
    x = rng.standard_normal((3, 7, 6))
    y = layer(Variable(tensor(x)))
    expected, aux, _, used = dense_reference(layer, x)
    np.testing.assert_allclose(y.data.numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.aux_loss.item(), aux, rtol=1e-12)
    assert layer.expert_counts == [int(u) for u in used]
    assert layer.dropped == 21 * top_k - int(used.sum())
    if capacity_factor is not None:
        assert layer.dropped > 0


def test_each_expert_runs_only_on_its_tokens():
    layer = make_layer(num_experts=5, top_k=2)
    seen: dict[int, np.ndarray] = {}
    for i, expert in enumerate(layer.experts):
        expert.register_forward_hook(lambda module, args, output, i=i: seen.__setitem__(i, args[0].data.numpy().copy()))
    x = rng.standard_normal((40, 6))
    layer(Variable(tensor(x)))
    _, _, choice, _ = dense_reference(layer, x)
    total = 0
    for e in range(5):
        routed = np.flatnonzero((choice == e).any(-1))
        rows = seen.get(e, np.zeros((0, 6)))
        total += rows.shape[0]
        assert rows.shape[0] == routed.size == layer.expert_counts[e]
        np.testing.assert_array_equal(np.sort(rows, axis=0), np.sort(x[routed], axis=0))
    assert total == 40 * 2 < 40 * 5


def test_dropped_tokens_come_out_as_zeros():
    layer = make_layer(num_experts=2, top_k=1, capacity_factor=0.25)
    x = rng.standard_normal((16, 6))
    y = layer(Variable(tensor(x))).data.numpy()
    _, _, choice, _ = dense_reference(layer, x)
    capacity = 2  # ceil(0.25 * 16 / 2)
    for e in range(2):
        rows = np.flatnonzero(choice[:, 0] == e)
        assert np.all(y[rows[capacity:]] == 0)
        assert np.all(np.abs(y[rows[:capacity]]).sum(-1) > 0)


@pytest.mark.parametrize("capacity_factor", [None, 0.6])
def test_gradients_of_input_router_and_experts_match_finite_differences(capacity_factor):
    layer = make_layer(d_model=4, d_hidden=3, num_experts=3, top_k=2, capacity_factor=capacity_factor)
    x = Variable(tensor(rng.standard_normal((5, 4))), requires_grad=True)
    params = [layer.gate.weight, layer.experts[0].w1.weight, layer.experts[1].w3.weight, layer.experts[2].w2.weight]

    def outputs(x, *params):
        # gradcheck perturbs the parameters in place; the layer reads them from itself.
        return layer(x), layer.aux_loss

    assert gradcheck(outputs, (x, *params), eps=1e-6, atol=1e-7, rtol=1e-5)


def test_gradients_match_dense_masked_reference():
    """The same loss computed densely (every expert on every token, masked) has the same gradients."""
    layer = make_layer(top_k=2, capacity_factor=0.8)
    x = rng.standard_normal((9, 6))
    cot = rng.standard_normal((9, 6))
    xv = Variable(tensor(x), requires_grad=True)
    (layer(xv) * tensor(cot)).sum().backward()
    sparse_grads = [xv.grad.data.numpy()] + [p.grad.data.numpy() for p in layer.parameters()]
    _, _, choice, _ = dense_reference(layer, x)
    keep = np.zeros((9, 4))
    used = np.zeros(4)
    cap = np.ceil(0.8 * 9 * 2 / 4)
    for slot in range(2):
        for t in range(9):
            if used[choice[t, slot]] < cap:
                keep[t, choice[t, slot]] = 1
                used[choice[t, slot]] += 1
    layer.zero_grad()
    xd = Variable(tensor(x), requires_grad=True)
    probs = F.softmax(layer.gate(xd), dim=-1)
    chosen = tensor((np.eye(4)[choice].sum(1) > 0).astype(np.float64))
    weights = probs * chosen
    weights = weights / weights.sum(dim=-1, keepdim=True)
    dense = sum(layer.experts[e](xd) * weights[:, e : e + 1] * tensor(keep[:, e : e + 1]) for e in range(4))
    (dense * tensor(cot)).sum().backward()
    dense_grads = [xd.grad.data.numpy()] + [p.grad.data.numpy() for p in layer.parameters()]
    for got, want in zip(sparse_grads, dense_grads):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_aux_loss_gradient_flows_through_router_probabilities_only():
    # Its own seed: drawn from the module's generator, the values depended on test order (xdist),
    # and a draw with equal expert loads makes every gradient a cancellation near 0.
    probs_logits = np.random.default_rng(11).standard_normal((6, 3))
    experts = np.argsort(-probs_logits, -1)[:, :2]
    logits = Variable(tensor(probs_logits), requires_grad=True)
    loss = F.load_balancing_loss(F.softmax(logits, dim=-1), tensor(experts), 3)
    loss.backward()
    p = np.exp(probs_logits) / np.exp(probs_logits).sum(-1, keepdims=True)
    f = np.bincount(experts.ravel(), minlength=3) / 6
    # dL/dP_i = N f_i / T per token; through the softmax Jacobian.
    upstream = np.broadcast_to(3 * f / 6, p.shape)
    expected = p * (upstream - (upstream * p).sum(-1, keepdims=True))
    np.testing.assert_allclose(logits.grad.data.numpy(), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(loss.item(), 3 * np.sum(f * p.mean(0)), rtol=1e-12)


def test_uniform_routing_gives_loss_k():
    probs = Variable(tensor(np.full((8, 4), 0.25)))
    experts = tensor(np.array([[t % 4, (t + 1) % 4] for t in range(8)]))
    assert F.load_balancing_loss(probs, experts, 4).item() == pytest.approx(2.0)


def test_empty_input_and_float32():
    layer = nn.MoELayer(6, 5, 4)
    y = layer(Variable(tensor(np.zeros((0, 6), dtype=np.float32))))
    assert y.shape == (0, 6) and layer.aux_loss.item() == 0.0 and layer.expert_counts == [0, 0, 0, 0]
    x = rng.standard_normal((2, 3, 6)).astype(np.float32)
    y = layer(Variable(tensor(x)))
    assert y.dtype.name == "float32"
    with no_grad():
        ref64 = make_layer()
        for p, q in zip(ref64.parameters(), layer.parameters()):
            p.data.array[...] = q.data.numpy()
    np.testing.assert_allclose(y.data.numpy(), dense_reference(ref64, x.astype(np.float64))[0], rtol=1e-4, atol=1e-5)


def test_non_contiguous_input():
    layer = make_layer()
    base = rng.standard_normal((6, 10))
    view = Variable(tensor(base)).transpose(0, 1)
    assert not view.data.is_contiguous()
    np.testing.assert_allclose(layer(view).data.numpy(), dense_reference(layer, base.T.copy())[0], rtol=1e-10)


def test_bad_input_raises():
    layer = make_layer()
    with pytest.raises(ShapeError, match="MoELayer"):
        layer(Variable(tensor(np.zeros((3, 5)))))
    with pytest.raises(ValueError, match="top_k"):
        nn.MoELayer(4, 4, 2, top_k=3)
    with pytest.raises(ValueError, match="capacity_factor"):
        F.expert_capacity(4, 1, 2, 0.0)
    with pytest.raises(ShapeError, match="swiglu"):
        F.swiglu(tensor(np.zeros(3)), tensor(np.zeros(4)))
