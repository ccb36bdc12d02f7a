"""axon-jit: trace a function over axon Tensors into a guarded graph, remove dead and repeated
ops, and fuse elementwise chains (ending, optionally, in last-axis reductions) into generated
Numba kernels cached on disk.

``fast = axon_jit.compile(fn)`` traces ``fn`` on its first call per guard (input shapes, dtypes,
devices and non-tensor arguments) and replays the cleaned, fused plan after;
``axon_jit.explain(fn, *args)`` shows the graph, the fused groups and why the rest was not fused.
"""

from __future__ import annotations

from .compiled import CompiledFunction, Plan, compile, trace
from .errors import JitError, TraceError
from .explain import Explanation, explain
from .fusion import FusedGroup, Partition
from .graph import Const, Graph, Input, Item, Node
from .passes import eliminate_common_subexpressions, eliminate_dead_code

__all__ = [
    "CompiledFunction",
    "Const",
    "Explanation",
    "FusedGroup",
    "Graph",
    "Input",
    "Item",
    "JitError",
    "Node",
    "Partition",
    "Plan",
    "TraceError",
    "compile",
    "eliminate_common_subexpressions",
    "eliminate_dead_code",
    "explain",
    "trace",
]
