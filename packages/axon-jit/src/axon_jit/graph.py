"""The recorded graph: one :class:`Node` per tensor op, in the order the function ran them.

A node keeps the op's original function and its arguments as a *template*: each tensor argument
is replaced by the value it stands for (a graph :class:`Input`, an earlier node's output, or a
:class:`Const` tensor the function captured), everything else (Python scalars, dims, flags) is
kept as it was, so replaying the node calls exactly what the eager run called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from axon_core import Device, DType

__all__ = ["Const", "Graph", "Input", "Item", "Node", "map_values", "values_in"]


@dataclass(frozen=True, eq=False)
class Input:
    """The ``index``-th tensor argument of the traced function (in flattened argument order)."""

    index: int

    def __repr__(self) -> str:
        return f"%in{self.index}"


@dataclass(frozen=True, eq=False)
class Const:
    """A tensor the function used without receiving it as an argument (a captured weight)."""

    tensor: Any

    def __repr__(self) -> str:
        return f"const{list(self.tensor.shape)}"


@dataclass(frozen=True, eq=False)
class Item:
    """Element ``index`` of a node whose op returns a tuple of tensors (split, chunk, max with dim)."""

    node: "Node"
    index: int

    def __repr__(self) -> str:
        return f"%{self.node.index}[{self.index}]"


@dataclass(eq=False)
class Node:
    """One recorded op.

    ``shape``/``dtype``/``device`` describe its output (for a tuple-returning op, its first
    tensor); ``impure`` marks ops that draw random numbers, which are never merged or removed.
    """

    index: int
    op: str
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    shape: tuple[int, ...]
    dtype: DType
    device: Device
    multi: bool = False
    impure: bool = False
    inputs: tuple = field(default=())
    item_shapes: tuple = ()  # each output's shape, for a tuple-returning op

    def __post_init__(self) -> None:
        if not self.inputs:
            self.inputs = tuple(values_in((self.args, self.kwargs)))

    def __repr__(self) -> str:
        return f"%{self.index}"

    def describe(self) -> str:
        """``%3 = mul(%1, 0.5) -> float32[4, 8] cpu``."""
        parts = [_show(a) for a in self.args] + [f"{k}={_show(v)}" for k, v in self.kwargs.items()]
        return f"%{self.index} = {self.op}({', '.join(parts)}) -> {self.dtype.name}{list(self.shape)} {self.device}"


Value = Input | Const | Item | Node


def _show(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_show(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    return repr(value)


def values_in(template: Any) -> Iterator[Value]:
    """Every graph value inside a nested template (tuples, lists, dicts), in order."""
    if isinstance(template, (Input, Const, Item, Node)):
        yield template
    elif isinstance(template, (tuple, list)):
        for item in template:
            yield from values_in(item)
    elif isinstance(template, dict):
        for item in template.values():
            yield from values_in(item)


def map_values(template: Any, fn: Callable[[Any], Any]) -> Any:
    """``template`` with every graph value ``v`` replaced by ``fn(v)`` (the containers rebuilt)."""
    if isinstance(template, (Input, Const, Item, Node)):
        return fn(template)
    if isinstance(template, tuple):
        return tuple(map_values(item, fn) for item in template)
    if isinstance(template, list):
        return [map_values(item, fn) for item in template]
    if isinstance(template, dict):
        return {key: map_values(item, fn) for key, item in template.items()}
    return template


@dataclass(eq=False)
class Graph:
    """``nodes`` in execution order, ``n_inputs`` tensor inputs, and ``outputs``: the values the
    function returned (``structure`` says how: ``"single"``, ``"tuple"`` or ``"list"``)."""

    n_inputs: int
    nodes: list[Node]
    outputs: list[Value]
    structure: str = "single"

    def __str__(self) -> str:
        lines = [f"graph({', '.join(f'%in{i}' for i in range(self.n_inputs))}):"]
        lines += [f"  {node.describe()}" for node in self.nodes]
        lines.append(f"  return {', '.join(repr(v) for v in self.outputs)}")
        return "\n".join(lines)

    def users(self) -> dict[Node, list[Node]]:
        """For each node, the nodes that read it (an :class:`Item` counts as reading its node)."""
        found: dict[Node, list[Node]] = {node: [] for node in self.nodes}
        for node in self.nodes:
            for value in node.inputs:
                source = value.node if isinstance(value, Item) else value
                if isinstance(source, Node) and node not in found[source]:
                    found[source].append(node)
        return found

    def output_nodes(self) -> set[Node]:
        """The nodes whose values the function returns."""
        return {v.node if isinstance(v, Item) else v for v in self.outputs if isinstance(v, (Node, Item))}
