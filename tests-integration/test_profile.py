"""axon_profile across packages: an MLP's forward and backward against what the model is and the
autograd graph it recorded, kernel launches under cuda-sim, and the table's columns against
torch.profiler's own table (the oracle of the layout)."""

from __future__ import annotations

import collections
import inspect

import numpy as np
import pytest

import axon_nn as nn
import axon_profile
import axon_tensor as at
from axon_autograd import ComputationGraph, Variable
from axon_autograd.node import AccumulateGrad
from axon_core import Device

pytestmark = pytest.mark.slow


def _mlp(sizes):
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def test_mlp_forward_and_backward_are_recorded_exactly():
    sizes = [6, 5, 4, 3]
    model = _mlp(sizes)
    x = Variable(at.tensor(np.random.default_rng(0).standard_normal((7, 6)).astype(np.float32)), requires_grad=False)
    with axon_profile.profile(record_shapes=True, profile_memory=True) as prof:
        loss = model(x).sum()
        graph = ComputationGraph(loss)
        backward_line = inspect.currentframe().f_lineno + 1
        loss.backward()
    forward = [e for e in prof.events if e.kind == "op" and e.depth == 0 and e.name == "LinearFunction"]
    # One linear per layer, with the shapes the layers hold: input [7, n_in], weight [n_out, n_in], bias [n_out].
    assert [e.input_shapes for e in forward] == [[[7, a], [b, a], [b]] for a, b in zip(sizes, sizes[1:])]
    assert all(e.input_dtypes == ["float32"] * 3 for e in forward)
    # Each linear allocates exactly its output, [7, n_out] float32.
    assert [e.self_bytes_allocated for e in forward] == [7 * b * 4 for b in sizes[1:]]
    # The backward nodes run are the graph's nodes (leaves accumulate without a node call).
    nodes = collections.Counter(n.name() for n in graph.nodes if n.__class__ is not AccumulateGrad)
    ran = collections.Counter(e.name for e in prof.events if e.kind == "backward")
    assert ran == nodes and ran["LinearFunctionBackward"] == 3
    # Every backward node ran after the forward, and its call site is the loss.backward() line.
    backward = [e for e in prof.events if e.kind == "backward"]
    assert all(e.start_ns >= forward[-1].end_ns for e in backward)
    sites = {e.call_site for e in backward}
    assert sites == {f"{__file__}:{backward_line} in test_mlp_forward_and_backward_are_recorded_exactly"}
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert all(g is not None for g in grads.values())


def test_cuda_sim_kernel_launches_with_the_executor_clock():
    x = at.tensor(np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32), device=Device("cuda-sim"))
    at.softmax(x, -1)  # compile the kernel outside the profile
    with axon_profile.profile(record_shapes=True) as prof:
        y = at.softmax(x, -1)
    np.testing.assert_allclose(
        y.numpy(), np.exp(x.numpy()) / np.exp(x.numpy()).sum(-1, keepdims=True), rtol=1e-5, atol=1e-6
    )
    (op,) = [e for e in prof.events if e.name == "softmax"]
    assert op.device == "cuda-sim"
    assert [k.name for k in prof.kernels] == ["softmax_fwd_f32"] and op.kernels == prof.kernels
    (kernel,) = prof.kernels
    assert kernel.parent is op
    assert op.start_ns <= kernel.start_ns <= kernel.end_ns <= op.end_ns
    # The executor runs a launch to completion before it returns: its device time is that span.
    assert kernel.device_ns == kernel.end_ns - kernel.start_ns > 0
    table = prof.key_averages().table()
    assert "Self CUDA" in table and "CUDA total" in table and "Self CUDA time total" in table
    trace = axon_profile.trace_events(prof)
    (launch,) = [e for e in trace if e.get("cat") == "kernel"]
    assert launch["dur"] == pytest.approx(kernel.device_ns / 1e3) and launch["args"]["launched by"] == "softmax"


@pytest.mark.torch
def test_table_columns_are_torch_profilers():
    torch = pytest.importorskip("torch")
    from torch.profiler import profile as torch_profile

    def header(table):
        return [h.strip() for h in table.splitlines()[1].split("  ") if h.strip()]

    xt = torch.ones(3, 3)
    with torch_profile(record_shapes=True, profile_memory=True) as tprof:
        (xt @ xt).relu()
    xa = at.tensor(np.ones((3, 3), np.float32))
    with axon_profile.profile(record_shapes=True, profile_memory=True) as aprof:
        (xa @ xa).relu()
    for group in (False, True):
        theirs = header(tprof.key_averages(group_by_input_shape=group).table(sort_by="cpu_time_total"))
        ours = header(aprof.key_averages(group_by_input_shape=group).table(sort_by="cpu_time_total"))
        assert ours == theirs
