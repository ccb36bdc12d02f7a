"""Graph clean-ups: dead-code elimination and common-subexpression elimination.

Both keep every random op (it advances its generator's state, so removing or merging one would
change the numbers later ops draw) and return a new graph whose nodes keep their recorded indices,
so :func:`axon_jit.explain` can say which recorded ops were removed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .graph import Const, Graph, Input, Item, Node, map_values

__all__ = ["eliminate_common_subexpressions", "eliminate_dead_code"]


def eliminate_dead_code(graph: Graph) -> Graph:
    """Drop nodes whose values reach no output (random ops are kept)."""
    live: set[Node] = set(graph.output_nodes())
    for node in reversed(graph.nodes):
        if node in live or node.impure:
            live.add(node)
            for value in node.inputs:
                source = value.node if isinstance(value, Item) else value
                if isinstance(source, Node):
                    live.add(source)
    return Graph(graph.n_inputs, [n for n in graph.nodes if n in live], list(graph.outputs), graph.structure)


def _key(value: Any) -> Any:
    """A hashable form of an argument template; equal keys mean the same call."""
    if isinstance(value, Input):
        return ("in", value.index)
    if isinstance(value, Const):
        return ("const", id(value.tensor))
    if isinstance(value, Item):
        return ("item", value.node.index, value.index)
    if isinstance(value, Node):
        return ("node", value.index)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, *(_key(v) for v in value))
    if isinstance(value, dict):
        return ("dict", *((k, _key(v)) for k, v in value.items()))
    if value is None or isinstance(value, (bool, int, float, complex, str)):
        # The type is part of the key: x * 1 and x * 1.0 differ for integer x (and -0.0 from 0.0).
        return (type(value).__name__, repr(value))
    return ("object", id(value))


def eliminate_common_subexpressions(graph: Graph) -> Graph:
    """Merge nodes that call the same function on the same values with the same arguments."""
    canon: dict[Node, Node] = {}
    seen: dict[Any, Node] = {}
    nodes: list[Node] = []

    def rewrite(value: Any) -> Any:
        if isinstance(value, Item):
            return Item(canon[value.node], value.index)
        return canon[value] if isinstance(value, Node) else value

    for node in graph.nodes:
        args, kwargs = map_values(node.args, rewrite), map_values(node.kwargs, rewrite)
        new = dataclasses.replace(node, args=args, kwargs=kwargs, inputs=())
        if not node.impure:
            key = (id(node.fn), node.op, _key(args), _key(kwargs))
            earlier = seen.get(key)
            if earlier is not None:
                canon[node] = earlier
                continue
            seen[key] = new
        canon[node] = new
        nodes.append(new)
    return Graph(graph.n_inputs, nodes, [rewrite(v) for v in graph.outputs], graph.structure)
