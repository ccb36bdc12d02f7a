"""What the parallel wrappers share: the Variables in a forward's output, the leaves backward
will reach from them, and a group's first rank."""

from __future__ import annotations

from typing import Any, Iterator

from axon_autograd import AccumulateGrad, Variable

from . import collectives as dist

__all__ = ["variables_in", "reachable_leaves", "group_root"]


def variables_in(value: Any) -> Iterator[Variable]:
    """Every Variable inside a forward's output (nested tuples, lists and dict values)."""
    if isinstance(value, Variable):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from variables_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from variables_in(item)


def reachable_leaves(outputs: Any) -> set[int]:
    """ids of the leaf Variables that a backward from ``outputs`` will reach (a walk of the graph)."""
    found: set[int] = set()
    stack = []
    for v in variables_in(outputs):
        if v.requires_grad:
            if v.grad_fn is None:
                found.add(id(v))
            else:
                stack.append(v.grad_fn)
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.__class__ is AccumulateGrad:
            found.add(id(node.variable))
            continue
        for edge in node.next_functions:
            if edge is not None:
                stack.append(edge[0])
    return found


def group_root(group: Any) -> int:
    """The global rank of ``group``'s rank 0 (the ``src`` of a broadcast from it)."""
    return 0 if group is None else dist.get_global_rank(group, 0)
