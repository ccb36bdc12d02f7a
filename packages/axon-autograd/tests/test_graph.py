"""Graph inspection: node and edge counts, op histogram, depth, saved bytes, dot text."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np

from axon_autograd import ComputationGraph, GraphSnapshot, Variable
from axon_tensor import tensor


def build():
    x = Variable(tensor(np.array([1.0, 2.0])), requires_grad=True)
    y = Variable(tensor(np.array([3.0, 4.0])), requires_grad=True)
    return x, y, (x * y + x) * x


def test_nodes_edges_histogram_depth():
    x, y, z = build()
    graph = ComputationGraph(z)
    assert graph.num_nodes == 5
    assert graph.num_edges == 6
    assert graph.op_histogram() == {"MulBackward": 2, "AddBackward": 1, "AccumulateGrad": 2}
    assert graph.depth == 4
    assert {id(v) for v in graph.leaves()} == {id(x), id(y)}
    # Two Mul nodes each save two float64 vectors of 2 elements.
    assert graph.saved_tensor_count() == 4
    assert graph.saved_bytes() == 4 * 2 * 8


def test_snapshot_is_json_ready_and_frozen():
    _, _, z = build()
    snap = ComputationGraph(z).snapshot()
    assert isinstance(snap, GraphSnapshot)
    data = json.loads(snap.to_json())
    assert data["depth"] == 4 and len(data["node_names"]) == 5 and data["leaf_shapes"] == [[2], [2]]
    z.backward(tensor(np.ones(2)))
    assert ComputationGraph(z).saved_bytes() == 0
    assert snap.saved_bytes == 64


def test_leaf_root_graph():
    x = Variable(tensor(np.array([1.0])), requires_grad=True)
    graph = ComputationGraph(x)
    assert graph.num_nodes == 1 and graph.depth == 1 and graph.op_histogram() == {"AccumulateGrad": 1}
    assert ComputationGraph(Variable(tensor(np.array([1.0])))).num_nodes == 0


def test_dot_text_is_valid():
    _, _, z = build()
    dot = ComputationGraph(z).to_dot()
    lines = dot.strip().splitlines()
    assert lines[0] == 'digraph "axon_graph" {' and lines[-1] == "}"
    nodes = [l for l in lines if re.fullmatch(r'  n\d+ \[label="[^"]+"(, style=filled, fillcolor=lightblue)?\];', l)]
    edges = [l for l in lines if re.fullmatch(r"  n\d+ -> n\d+;", l)]
    assert len(nodes) == 5 and len(edges) == 6
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg"], input=dot, text=True, check=True, capture_output=True)
