"""Gradient checkpointing: same gradients as the plain graph, fewer saved activations."""

from __future__ import annotations

import numpy as np

import axon_tensor
from axon_autograd import ComputationGraph, Variable, checkpoint
from axon_tensor import tensor

X = np.array([0.3, -1.2, 0.8, 2.0])


def block(x, w):
    h = x
    for _ in range(6):
        h = h * w + h * h * 0.1
    return h


def leaves():
    return (
        Variable(tensor(X.copy()), requires_grad=True),
        Variable(tensor(np.array([0.9, 1.1, -0.7, 0.5])), requires_grad=True),
    )


def test_checkpoint_gives_the_same_gradients_for_inputs_and_parameters():
    x, w = leaves()
    block(x, w).backward(tensor(np.ones(4)))
    cx, cw = leaves()
    out = checkpoint(lambda v: block(v, cw), cx)
    out.backward(tensor(np.ones(4)))
    np.testing.assert_allclose(cx.grad.numpy(), x.grad.numpy())
    np.testing.assert_allclose(cw.grad.numpy(), w.grad.numpy())


def test_checkpoint_saves_fewer_activations():
    x, w = leaves()
    plain = ComputationGraph(block(x, w) * 1.0)
    cx, cw = leaves()
    checkpointed = ComputationGraph(checkpoint(block, cx, cw) * 1.0)
    assert checkpointed.saved_bytes() < plain.saved_bytes() / 5
    assert checkpointed.saved_tensor_count() < plain.saved_tensor_count()
    assert checkpointed.op_histogram()["_CheckpointBackward"] == 1


def test_checkpoint_reaches_parameters_when_inputs_need_no_grad():
    x, w = leaves()
    block(Variable(tensor(X.copy())), w).backward(tensor(np.ones(4)))
    _, cw = leaves()
    checkpoint(lambda v: block(v, cw), Variable(tensor(X.copy()))).backward(tensor(np.ones(4)))
    np.testing.assert_allclose(cw.grad.numpy(), w.grad.numpy())


def test_checkpoint_replays_the_random_stream():
    def noisy(v):
        return v * Variable(axon_tensor.rand(4, dtype="float64")) * v

    axon_tensor.manual_seed(5)
    x, _ = leaves()
    noisy(x).backward(tensor(np.ones(4)))
    axon_tensor.manual_seed(5)
    cx, _ = leaves()
    out = checkpoint(noisy, cx)
    axon_tensor.rand(10)  # the stream moves on between forward and backward
    out.backward(tensor(np.ones(4)))
    np.testing.assert_allclose(cx.grad.numpy(), x.grad.numpy())
