"""``explain(fn, *args)``: what the JIT records, removes and fuses for these arguments, and why
every op it leaves alone was not fused."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable, TextIO

from .compiled import CompiledFunction, Plan
from .fusion import FusedGroup
from .graph import Graph, Node

__all__ = ["Explanation", "explain"]


@dataclass(eq=False)
class Explanation:
    """The recorded graph, the optimized one, the fused groups, the nodes that dead-code and
    common-subexpression elimination removed, and ``reasons``: unfused node -> why."""

    recorded: Graph
    graph: Graph
    groups: list[FusedGroup]
    removed: list[Node]
    reasons: dict[Node, str]

    def __str__(self) -> str:
        lines = ["recorded " + str(self.recorded).replace("\n", "\n  ", 0)]
        kept = {n.index for n in self.graph.nodes}
        lines.append(f"removed by DCE/CSE: {', '.join(repr(n) for n in self.removed) or 'nothing'}")
        lines.append(f"optimized graph: {len(self.graph.nodes)} ops (recorded {len(self.recorded.nodes)})")
        lines.append(f"fused groups: {len(self.groups)}")
        lines += [group.describe() for group in self.groups]
        lines.append("not fused:" if self.reasons else "not fused: nothing")
        lines += [f"    {node.describe()}: {why}" for node, why in self.reasons.items() if node.index in kept]
        return "\n".join(lines)


def explain(fn: Callable[..., Any], *args: Any, file: TextIO | None = sys.stdout, **kwargs: Any) -> Explanation:
    """Trace ``fn(*args, **kwargs)`` (a plain function or a :class:`CompiledFunction`), print the
    explanation to ``file`` (None: do not print) and return it."""
    compiled = fn if isinstance(fn, CompiledFunction) else CompiledFunction(fn)
    plan: Plan
    plan, _ = compiled.plan_for(*args, **kwargs)
    kept = {n.index for n in plan.graph.nodes}
    removed = [n for n in plan.recorded.nodes if n.index not in kept]
    result = Explanation(plan.recorded, plan.graph, plan.partition.groups, removed, dict(plan.partition.reasons))
    if file is not None:
        print(result, file=file)
    return result
