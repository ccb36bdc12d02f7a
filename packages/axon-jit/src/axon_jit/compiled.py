"""``compile(fn)``: a function over axon Tensors, traced once per guard and replayed as a plan.

The guard is what a trace depends on: each tensor argument's shape, dtype and device, and every
non-tensor argument's value (Python scalars, strings, flags are baked into the graph). A call
whose guard matches a cached plan runs that plan; any other call traces again
(:attr:`CompiledFunction.trace_count` counts the traces).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from axon_tensor import Tensor

from .errors import TraceError
from .fusion import FusedGroup, Partition, partition
from .graph import Const, Graph, Input, Item, Node, map_values
from .passes import eliminate_common_subexpressions, eliminate_dead_code
from .tracer import record

__all__ = ["CompiledFunction", "Plan", "compile", "trace"]


def _flatten(args: tuple, kwargs: dict) -> tuple[list[Tensor], Callable[[list], tuple], tuple]:
    """The tensor arguments (top level, or inside a top-level tuple/list), a function that puts
    tensors back into the arguments' places, and the guard key."""
    tensors: list[Tensor] = []
    key: list[Any] = []

    def spec_of(value: Any) -> Any:
        if value.__class__ is Tensor:
            tensors.append(value)
            key.append(("T", tuple(value.shape), value.dtype.name, str(value.device)))
            return len(tensors) - 1
        if isinstance(value, (tuple, list)) and any(v.__class__ is Tensor for v in value):
            return (type(value), [spec_of(v) for v in value])
        if hasattr(value, "requires_grad") and getattr(value, "data", None).__class__ is Tensor:
            raise TraceError("compile: autograd Variables are not traced; pass Tensors (see axon-jit's README)")
        try:
            hash(value)
            key.append(("V", type(value).__name__, repr(value)))
        except TypeError:
            key.append(("O", id(value)))
        return ("const", value)

    arg_specs = [spec_of(a) for a in args]
    kwarg_specs = {k: spec_of(v) for k, v in sorted(kwargs.items())}

    def place(spec: Any, values: list) -> Any:
        if isinstance(spec, int):
            return values[spec]
        if spec[0] == "const":
            return spec[1]
        return spec[0](place(s, values) for s in spec[1])

    def rebuild(values: list) -> tuple:
        return tuple(place(s, values) for s in arg_specs), {k: place(s, values) for k, s in kwarg_specs.items()}

    return tensors, rebuild, tuple(key)


def _lookup(env: dict, tensors: list[Tensor]) -> Callable[[Any], Any]:
    def value(v: Any) -> Any:
        if isinstance(v, Input):
            return tensors[v.index]
        if isinstance(v, Const):
            return v.tensor
        if isinstance(v, Item):
            return env[v.node][v.index]
        return env[v]

    return value


@dataclass(eq=False)
class Plan:
    """What one guard runs: the recorded graph, the optimized graph and its steps (single nodes
    replayed through the ops' own functions, and fused groups run as generated kernels)."""

    recorded: Graph
    graph: Graph
    partition: Partition

    def run(self, tensors: list[Tensor]) -> Any:
        env: dict[Node, Any] = {}
        value = _lookup(env, tensors)
        for step in self.partition.steps:
            if isinstance(step, FusedGroup):
                env.update(step.run(value))
            else:
                env[step] = step.fn(*map_values(step.args, value), **map_values(step.kwargs, value))
        outputs = [value(v) for v in self.graph.outputs]
        if self.graph.structure == "single":
            return outputs[0]
        return tuple(outputs) if self.graph.structure == "tuple" else outputs


class CompiledFunction:
    """``fn`` traced per guard; call it like ``fn``. ``fuse=False`` keeps every op unfused (the
    graph is still cleaned up); ``cache_dir`` holds the generated kernels (default: axon's cache
    folder, ``$AXON_CACHE_DIR/jit`` or ``~/.cache/axon/jit``)."""

    def __init__(self, fn: Callable[..., Any], *, fuse: bool = True, cache_dir: str | Path | None = None) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.fuse = fuse
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.plans: dict[tuple, Plan] = {}
        self.trace_count = 0

    def plan_for(self, *args: Any, **kwargs: Any) -> tuple[Plan, list[Tensor]]:
        """The plan these arguments run (traced now when no cached guard matches) and their tensors."""
        tensors, rebuild, key = _flatten(args, kwargs)
        plan = self.plans.get(key)
        if plan is None:
            recorded = record(self.fn, tensors, rebuild)
            self.trace_count += 1
            graph = eliminate_dead_code(eliminate_common_subexpressions(recorded))
            plan = Plan(recorded, graph, partition(graph, tensors, fuse=self.fuse, cache_dir=self.cache_dir))
            self.plans[key] = plan
        return plan, tensors

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        plan, tensors = self.plan_for(*args, **kwargs)
        return plan.run(tensors)


def compile(  # noqa: A001 (torch.compile's name)
    fn: Callable[..., Any] | None = None, *, fuse: bool = True, cache_dir: str | Path | None = None
) -> Any:
    """``fn`` as a :class:`CompiledFunction`; usable as ``@compile`` or ``@compile(fuse=False)``."""
    if fn is None:
        return lambda f: CompiledFunction(f, fuse=fuse, cache_dir=cache_dir)
    return CompiledFunction(fn, fuse=fuse, cache_dir=cache_dir)


def trace(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Graph:
    """The graph ``fn(*args, **kwargs)`` records, as traced (before any clean-up)."""
    tensors, rebuild, _ = _flatten(args, kwargs)
    return record(fn, tensors, rebuild)
