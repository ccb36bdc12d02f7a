"""Recording a function's tensor ops into a :class:`~axon_jit.graph.Graph`.

The recorder is an observer of :mod:`axon_core.observe`, the registry axon-profile listens to:
while it is added, every tensor op goes through an observed wrapper that reports the op's
original function and arguments, and after it is removed the ops are the unobserved functions
again. Only ops the function calls itself are recorded (depth 0 on the tracing thread): an op's
inner ops (``softmax`` calling ``exp``) belong to it.

A trace is only sound when the ops do not depend on the values of traced tensors. While tracing,
reading a traced tensor's values in Python (``.item()``, ``bool(t)``, ``float(t)``, ``.numpy()``,
``.tolist()``) raises :class:`TraceError` instead of baking one run's value into the graph.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

from axon_core.observe import add_observer, remove_observer
from axon_tensor import Tensor

from .errors import TraceError
from .graph import Const, Graph, Input, Item, Node, Value

__all__ = ["record", "RANDOM_OPS"]

#: Ops that draw from a random generator: replayed every call, never merged, never removed.
RANDOM_OPS = frozenset(
    {"rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like", "normal", "bernoulli",
     "multinomial", "dropout", "uniform", "exponential", "poisson"}
)  # fmt: skip

# Tensor methods that hand a tensor's values to Python: data-dependent control flow starts there.
_VALUE_READS = ("item", "tolist", "numpy", "__bool__", "__int__", "__float__", "__index__", "__array__")


def _is_inplace(fn: Any, kwargs: dict) -> bool:
    name = getattr(fn, "__name__", "")
    return (name.endswith("_") and not name.startswith("__")) or name.startswith("__i") or "out" in kwargs


class _Recorder:
    """The observer: maps every tensor it has seen (by id) to the graph value it is."""

    def __init__(self, inputs: Sequence[Tensor]) -> None:
        self.thread = threading.get_ident()
        self.depth = 0
        self.nodes: list[Node] = []
        # id -> (value, tensor): the tensor is kept so its id cannot be reused during the trace.
        self.values: dict[int, tuple[Value, Tensor]] = {id(t): (Input(i), t) for i, t in enumerate(inputs)}

    # -- observer protocol ----------------------------------------------------------------------
    def enter(self, kind: str, name: str, fn: Any, args: tuple, kwargs: dict) -> Any:
        if threading.get_ident() != self.thread:
            return None
        self.depth += 1
        if self.depth > 1 or kind != "op":
            return None
        if _is_inplace(fn, kwargs):
            raise TraceError(f"trace: {name} changes a tensor in place; write the function without in-place ops")
        return (name, fn, self._template(name, args), self._template(name, kwargs))

    def exit(self, token: Any, result: Any) -> None:
        if threading.get_ident() != self.thread:
            return
        self.depth -= 1
        if token is None or result is None:
            return
        name, fn, args, kwargs = token
        if result.__class__ is Tensor:
            node = self._node(name, fn, args, kwargs, result, multi=False)
            self.values[id(result)] = (node, result)
            return
        if isinstance(result, tuple) and result and all(r.__class__ is Tensor for r in result):
            node = self._node(name, fn, args, kwargs, result[0], multi=True)
            node.item_shapes = tuple(tuple(r.shape) for r in result)
            for k, item in enumerate(result):
                self.values[id(item)] = (Item(node, k), item)
            return
        raise TraceError(
            f"trace: {name} returned a {type(result).__name__}, not tensors; a traced function may not use "
            "tensor values in Python (the graph would hold this one run's value)"
        )

    def kernel(self, *args: Any) -> None:
        pass

    # -- building nodes -------------------------------------------------------------------------
    def _node(self, name: str, fn: Any, args: tuple, kwargs: dict, out: Tensor, multi: bool) -> Node:
        impure = name in RANDOM_OPS or any(type(a).__name__ == "Generator" for a in (*args, *kwargs.values()))
        node = Node(len(self.nodes), name, fn, args, kwargs, tuple(out.shape), out.dtype, out.device, multi, impure)
        self.nodes.append(node)
        return node

    def _template(self, op: str, value: Any) -> Any:
        if value.__class__ is Tensor:
            return self._value_of(op, value)
        if isinstance(value, tuple) and type(value) is tuple:
            return tuple(self._template(op, v) for v in value)
        if isinstance(value, list):
            return [self._template(op, v) for v in value]
        if isinstance(value, dict):
            return {k: self._template(op, v) for k, v in value.items()}
        if hasattr(value, "requires_grad") and getattr(value, "data", None).__class__ is Tensor:
            raise TraceError(f"trace: {op} got an autograd Variable; axon-jit traces Tensor functions only")
        return value

    def _value_of(self, op: str, tensor: Tensor) -> Value:
        known = self.values.get(id(tensor))
        if known is not None:
            return known[0]
        base = tensor.base
        if base is not None and id(base) in self.values:
            raise TraceError(
                f"trace: {op} got a view of a traced tensor made outside the recorded ops; "
                "use axon_tensor ops (reshape, narrow, select, ...) on traced tensors"
            )
        const = Const(tensor)
        self.values[id(tensor)] = (const, tensor)
        return const

    def output(self, value: Any) -> Value:
        if value.__class__ is not Tensor:
            raise TraceError(f"trace: the function must return tensors, got {type(value).__name__}")
        return self._value_of("return", value)

    def is_traced(self, tensor: Any) -> bool:
        found = self.values.get(id(tensor))
        return found is not None and not isinstance(found[0], Const)


def _guarded_reads(recorder: _Recorder) -> list[tuple[str, Any]]:
    """Make the value-reading Tensor methods raise on traced tensors; returns what to restore."""
    saved = []
    for attr in _VALUE_READS:
        original = Tensor.__dict__[attr]

        def guarded(self: Tensor, *args: Any, _original: Any = original, _attr: str = attr, **kwargs: Any) -> Any:
            if recorder.depth == 0 and threading.get_ident() == recorder.thread and recorder.is_traced(self):
                raise TraceError(
                    f"trace: Tensor.{_attr.strip('_')}() reads a traced tensor's values in Python; the graph "
                    "would keep this one run's value (data-dependent control flow is not traced)"
                )
            return _original(self, *args, **kwargs)

        saved.append((attr, original))
        setattr(Tensor, attr, guarded)
    return saved


def record(fn: Callable[..., Any], tensors: list[Tensor], rebuild: Callable[[list], tuple]) -> Graph:
    """Run ``fn`` once on ``rebuild(tensors)`` (its positional and keyword arguments), recording
    its tensor ops; ``tensors`` become the graph's inputs in order. Returns the graph (nodes in
    the order they ran)."""
    recorder = _Recorder(tensors)
    saved = _guarded_reads(recorder)
    add_observer(recorder)
    try:
        args, kwargs = rebuild(tensors)
        result = fn(*args, **kwargs)
    finally:
        remove_observer(recorder)
        for attr, original in saved:
            setattr(Tensor, attr, original)
    if isinstance(result, (tuple, list)):
        structure = "tuple" if isinstance(result, tuple) else "list"
        outputs = [recorder.output(r) for r in result]
    else:
        structure, outputs = "single", [recorder.output(result)]
    return Graph(len(tensors), recorder.nodes, outputs, structure)
