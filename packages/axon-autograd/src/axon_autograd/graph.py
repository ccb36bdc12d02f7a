"""Inspecting the recorded graph: ``ComputationGraph`` (nodes, edges, op histogram, depth, saved
bytes, Graphviz dot) and ``GraphSnapshot`` (a frozen, JSON-ready summary)."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

from axon_core import atomic_writer

from .node import AccumulateGrad, BackwardNode
from .variable import Variable

__all__ = ["ComputationGraph", "GraphSnapshot"]


@dataclass(frozen=True)
class GraphSnapshot:
    """The graph's shape at one moment: node names in topological order (roots first), edges
    ``(consumer, producer)`` as node indices, the op histogram, depth and saved bytes."""

    node_names: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    histogram: dict[str, int] = field(hash=False)
    depth: int
    saved_tensors: int
    saved_bytes: int
    leaf_shapes: tuple[tuple[int, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "node_names": list(self.node_names),
            "edges": [list(e) for e in self.edges],
            "histogram": dict(self.histogram),
            "depth": self.depth,
            "saved_tensors": self.saved_tensors,
            "saved_bytes": self.saved_bytes,
            "leaf_shapes": [list(s) for s in self.leaf_shapes],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


class ComputationGraph:
    """The backward graph reachable from ``roots`` (Variables with a ``grad_fn``, or leaves)."""

    def __init__(self, roots: "Variable | Sequence[Variable]") -> None:
        roots = [roots] if isinstance(roots, Variable) else list(roots)
        starts = [r.grad_edge()[0] for r in roots if r.requires_grad]
        self.nodes: list[BackwardNode] = []
        index: dict[BackwardNode, int] = {}
        stack = list(dict.fromkeys(starts))
        for node in stack:
            index[node] = len(self.nodes)
            self.nodes.append(node)
        position = 0
        while position < len(self.nodes):
            node = self.nodes[position]
            position += 1
            for edge in node.next_functions:
                if edge is not None and edge[0] not in index:
                    index[edge[0]] = len(self.nodes)
                    self.nodes.append(edge[0])
        self._index = index
        self.edges: list[tuple[int, int]] = [
            (index[node], index[edge[0]]) for node in self.nodes for edge in node.next_functions if edge is not None
        ]
        self.roots = [index[n] for n in dict.fromkeys(starts)]

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    @property
    def num_edges(self) -> int:
        return len(self.edges)

    def op_histogram(self) -> dict[str, int]:
        """How many nodes of each kind (``{"MulBackward": 3, "AccumulateGrad": 2, ...}``)."""
        return dict(Counter(n.name() for n in self.nodes))

    @property
    def depth(self) -> int:
        """Nodes on the longest path from a root to a sink (0 for an empty graph)."""
        children: dict[int, list[int]] = {i: [] for i in range(len(self.nodes))}
        indegree = [0] * len(self.nodes)
        for src, dst in self.edges:
            children[src].append(dst)
            indegree[dst] += 1
        longest = [1] * len(self.nodes)
        ready = [i for i, d in enumerate(indegree) if d == 0]
        while ready:
            i = ready.pop()
            for j in children[i]:
                longest[j] = max(longest[j], longest[i] + 1)
                indegree[j] -= 1
                if indegree[j] == 0:
                    ready.append(j)
        return max(longest, default=0)

    def leaves(self) -> list[Variable]:
        """The leaf Variables whose ``.grad`` a backward from the roots fills."""
        return [n.variable for n in self.nodes if isinstance(n, AccumulateGrad)]

    def saved_tensor_count(self) -> int:
        return sum(n.saved_count() for n in self.nodes)

    def saved_bytes(self) -> int:
        """Bytes held for backward by the nodes (a tensor saved by two nodes counts twice)."""
        return sum(n.saved_nbytes() for n in self.nodes)

    def snapshot(self) -> GraphSnapshot:
        return GraphSnapshot(
            node_names=tuple(n.name() for n in self.nodes),
            edges=tuple(self.edges),
            histogram=self.op_histogram(),
            depth=self.depth,
            saved_tensors=self.saved_tensor_count(),
            saved_bytes=self.saved_bytes(),
            leaf_shapes=tuple(tuple(v.shape) for v in self.leaves()),
        )

    def to_dot(self, name: str = "axon_graph") -> str:
        """The graph in Graphviz dot; edges point the way gradients flow."""
        lines = [f'digraph "{_escape(name)}" {{', "  node [shape=box, fontname=Helvetica];"]
        for i, node in enumerate(self.nodes):
            label = node.name()
            if isinstance(node, AccumulateGrad):
                label += f"\\n{tuple(node.variable.shape)} {node.variable.dtype}"
            style = ", style=filled, fillcolor=lightblue" if isinstance(node, AccumulateGrad) else ""
            lines.append(f'  n{i} [label="{_escape(label)}"{style}];')
        for src, dst in self.edges:
            lines.append(f"  n{src} -> n{dst};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def save_dot(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dot` to ``path`` atomically."""
        with atomic_writer(path) as handle:
            handle.write(self.to_dot().encode("utf-8"))


def _escape(text: str) -> str:
    return text.replace('"', '\\"')
