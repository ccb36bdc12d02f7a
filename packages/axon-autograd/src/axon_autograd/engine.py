"""The backward engine: ``backward`` (accumulate into leaves) and ``grad`` (return gradients).

Nodes run in a topological order found by dependency counting: a node runs once every node
that feeds it a gradient has run, so each gradient is summed from all its uses first.
"""

from __future__ import annotations

from typing import Any

from axon_core import ShapeError
from axon_core.observe import OBSERVERS, observe_call
from axon_tensor import Tensor, ones_like, zeros

from .grad_mode import grad_state
from .node import AccumulateGrad, BackwardNode
from .variable import Variable, make_variable

__all__ = ["backward", "grad"]


def _as_variables(x: Any, what: str) -> list[Variable]:
    items = [x] if isinstance(x, (Variable, Tensor)) or x is None else list(x)
    for item in items:
        if not isinstance(item, Variable):
            raise TypeError(f"{what}: expected Variables, got {type(item).__name__}")
    return items


def _root_grads(outputs: list[Variable], grad_outputs: Any) -> list[Variable]:
    if grad_outputs is None or isinstance(grad_outputs, (Variable, Tensor)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"got {len(grad_outputs)} gradients for {len(outputs)} outputs")
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not out._requires_grad:
            raise RuntimeError(f"element {i} of the outputs does not require grad and does not have a grad_fn")
        if g is None:
            if out.data.numel() != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for outputs with one element; output {i} has shape "
                    f"{tuple(out.shape)}: pass gradient="
                )
            grads.append(make_variable(ones_like(out.data), False, None))
            continue
        if g.__class__ is Tensor:
            g = make_variable(g, False, None)
        if tuple(g.shape) != tuple(out.shape):
            raise ShapeError(f"backward: gradient of shape {tuple(g.shape)} for an output of shape {tuple(out.shape)}")
        grads.append(g)
    return grads


def backward(
    tensors: Any,
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Any = None,
) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves (or of ``inputs``)."""
    outputs = _as_variables(tensors, "backward")
    grads = _root_grads(outputs, grad_tensors)
    if inputs is None:
        run_backward(outputs, grads, retain_graph, create_graph)
        return
    targets = _as_variables(inputs, "backward(inputs=)")
    captured = run_backward(outputs, grads, retain_graph, create_graph, targets)
    for target, g in zip(targets, captured):
        if g is not None:
            _accumulate(target, g, create_graph)
            if target._post_hooks:
                _call_post_hooks(target)


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Variable | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs`` (leaves' ``.grad`` untouched)."""
    outs = _as_variables(outputs, "grad")
    ins = _as_variables(inputs, "grad")
    for i, v in enumerate(ins):
        if not v._requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    result = run_backward(outs, _root_grads(outs, grad_outputs), retain_graph, create_graph, ins)
    if not allow_unused:
        for i, g in enumerate(result):
            if g is None:
                raise RuntimeError(
                    f"grad: input {i} appears not to have been used in the graph; pass allow_unused=True "
                    "if this is intended"
                )
    return tuple(result)


def _dependencies(roots: list[BackwardNode]) -> dict[BackwardNode, int]:
    """For every node reachable from ``roots``: how many edges lead into it."""
    deps: dict[BackwardNode, int] = {}
    stack = list(roots)
    seen = set(stack)
    while stack:
        for edge in stack.pop().next_functions:
            if edge is not None:
                nxt = edge[0]
                if nxt in deps:
                    deps[nxt] += 1
                else:
                    deps[nxt] = 1
                    if nxt not in seen:
                        seen.add(nxt)
                        stack.append(nxt)
    return deps


def _nodes_to_run(roots: list[BackwardNode], deps: dict, targets: set) -> set:
    """The nodes with a path down to a node in ``targets`` (only those run for ``grad()``)."""
    remaining = dict(deps)
    order = []
    ready = [n for n in roots if n not in deps]
    while ready:
        node = ready.pop()
        order.append(node)
        for edge in node.next_functions:
            if edge is not None:
                left = remaining[edge[0]] - 1
                remaining[edge[0]] = left
                if left == 0:
                    ready.append(edge[0])
    run: set = set()
    for node in reversed(order):
        for edge in node.next_functions:
            if edge is not None and (edge[0] in run or edge[0] in targets):
                run.add(node)
                break
    return run


def run_backward(
    outputs: list[Variable],
    root_grads: list[Variable],
    retain_graph: bool | None,
    create_graph: bool,
    capture: list[Variable] | None = None,
) -> list:
    """Run the graph from ``outputs``; with ``capture``, return the gradients reaching those
    Variables instead of accumulating into leaves."""
    if retain_graph is None:
        retain_graph = create_graph
    root_edges = [o.grad_edge() for o in outputs]
    roots = list(dict.fromkeys(e[0] for e in root_edges))
    deps = _dependencies(roots)
    wanted: dict[tuple, list[int]] | None = None
    run: set | None = None
    captured: list = []
    if capture is not None:
        wanted = {}
        for i, v in enumerate(capture):
            wanted.setdefault(v.grad_edge(), []).append(i)
        captured = [None] * len(capture)
        run = _nodes_to_run(roots, deps, {edge[0] for edge in wanted})
    buffers: dict[BackwardNode, list] = {}
    # Leaf gradients a fresh_gradients Function returned, by id (the values keep the ids
    # alive): the leaf may take one as its .grad without a copy.
    fresh: dict[int, Variable] = {}
    for (node, nr), g in zip(root_edges, root_grads):
        _add_to_buffer(buffers, node, nr, g)
    ready = [n for n in roots if n not in deps]
    previous = grad_state.enabled
    grad_state.enabled = create_graph
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            if grads is None:
                continue
            if node.__class__ is AccumulateGrad:
                hooks = node.variable._hooks
                if hooks and grads[0] is not None:
                    grads[0] = _call_hooks(hooks, grads[0])
                if wanted is not None:
                    # grad() returns the gradients and leaves .grad alone.
                    _capture(wanted, captured, node, grads, create_graph)
                elif grads[0] is not None:
                    # Not after hooks: one may have kept the gradient it was given.
                    owned = not hooks and id(grads[0]) in fresh
                    _accumulate(node.variable, grads[0], create_graph, owned)
                    if node.variable._post_hooks:
                        _call_post_hooks(node.variable)
                continue
            if node._pre_hooks or node._retained:
                _run_prehooks(node, grads, create_graph)
            if wanted is not None:
                _capture(wanted, captured, node, grads, create_graph)
                if node not in run:  # type: ignore[operator]
                    continue
            if node._freed:
                raise RuntimeError(
                    f"Trying to backward through the graph a second time: {node.name()}'s saved tensors were "
                    "freed by an earlier backward. Pass retain_graph=True to the first backward() if you "
                    "need to backward twice."
                )
            # A buffer exists only once a gradient arrived: a single-output node never gets None.
            if len(grads) > 1 and node.materialize_grads and any(g is None for g in grads):
                grads = [g if g is not None else _zeros_for(node, nr) for nr, g in enumerate(grads)]
            if OBSERVERS:
                results = observe_call("backward", node.name(), node.apply_backward, (tuple(grads),), {})
            else:
                results = node.apply_backward(tuple(grads))
            if not retain_graph:
                node.release()
            if results.__class__ is not tuple:
                results = (results,)
            edges = node.next_functions
            if len(results) != len(edges):
                _check_result_count(node, results, edges)
            hand_off = node._function is not None and node._function.fresh_gradients
            for edge, g in zip(edges, results):
                if edge is None or g is None:
                    continue
                nxt, nr = edge
                if g.__class__ is Tensor:
                    # Only gradients bound for a leaf are kept here (they live on as its .grad).
                    take = hand_off and nxt.__class__ is AccumulateGrad and sum(r is g for r in results) == 1
                    g = make_variable(g, False, None)
                    if take:
                        fresh[id(g)] = g
                if nxt.__class__ is AccumulateGrad:
                    g = _check_leaf_grad(node, nxt.variable, g)
                buf = buffers.get(nxt)
                if buf is None:
                    buf = buffers[nxt] = [None] * nxt.n_outputs
                buf[nr] = g if buf[nr] is None else buf[nr] + g
                left = deps[nxt] - 1
                deps[nxt] = left
                if left == 0 and (run is None or nxt in run or nxt in buffers):
                    ready.append(nxt)
    finally:
        grad_state.enabled = previous
    return captured


def _capture(wanted: dict, captured: list, node: BackwardNode, grads: list, create_graph: bool) -> None:
    """Record the gradients flowing into ``node`` that ``grad()`` asked for."""
    for nr, g in enumerate(grads):
        for i in wanted.get((node, nr), ()):
            captured[i] = g if create_graph else (None if g is None else g.detach())


def _check_result_count(node: BackwardNode, results: tuple, edges: tuple) -> None:
    # Trailing inputs that need no gradient (dims, flags) may be left out of the result.
    if any(e is not None for e in edges[len(results) :]) or any(r is not None for r in results[len(edges) :]):
        raise RuntimeError(
            f"{node.name()}.backward returned {len(results)} gradients, expected {len(edges)} (one per input)"
        )


def _add_to_buffer(buffers: dict, node: BackwardNode, nr: int, g: Variable) -> None:
    buf = buffers.get(node)
    if buf is None:
        buf = buffers[node] = [None] * node.n_outputs
    buf[nr] = g if buf[nr] is None else buf[nr] + g


def _zeros_for(node: BackwardNode, nr: int) -> Variable | None:
    meta = node.output_meta[nr] if node.output_meta else None
    if meta is None:
        return None
    shape, dtype, device = meta
    return make_variable(zeros(shape, dtype=dtype, device=device), False, None)


def _run_prehooks(node: BackwardNode, grads: list, create_graph: bool) -> None:
    """Hooks registered on the node's outputs, and ``retain_grad()`` of those outputs."""
    if node._pre_hooks:
        for nr, hooks in node._pre_hooks.items():
            if grads[nr] is not None:
                grads[nr] = _call_hooks(hooks, grads[nr])
    if node._retained:
        for nr, ref in node._retained.items():
            var = ref()
            if var is not None and grads[nr] is not None:
                _accumulate(var, grads[nr], create_graph)


def _call_hooks(hooks: list, g: Variable) -> Variable:
    for hook in list(hooks):
        replaced = hook(g)
        if replaced is not None:
            if replaced.__class__ is Tensor:
                replaced = make_variable(replaced, False, None)
            if tuple(replaced.shape) != tuple(g.shape):
                raise ShapeError(
                    f"hook returned a gradient of shape {tuple(replaced.shape)}, expected {tuple(g.shape)}"
                )
            g = replaced
    return g


def _call_post_hooks(var: Variable) -> None:
    for hook in list(var._post_hooks):
        if hook(var) is not None:
            raise RuntimeError("a post accumulate grad hook must return None (it may read and change .grad in place)")


def _check_leaf_grad(node: BackwardNode, var: Variable, g: Variable) -> Variable:
    if g.data.array.shape != var.data.array.shape:
        raise ShapeError(
            f"{node.name()} returned a gradient of shape {tuple(g.shape)} for an input of shape {tuple(var.shape)}"
        )
    if g.data.dtype is not var.data.dtype:
        g = g.to(var.data.dtype)
    return g


def _accumulate(var: Variable, g: Variable, create_graph: bool, owned: bool = False) -> None:
    """``var.grad += g``: in place when no graph is wanted, as a recorded op otherwise.

    ``owned``: nothing else references ``g``'s Tensor, so a first gradient is taken as it is.
    """
    current = var._grad
    if create_graph:
        var._grad = g if current is None else current + g
    elif current is None:
        # Otherwise a copy: the same gradient Tensor may flow to several leaves (x + y).
        var._grad = make_variable(g.data if owned else g.data.clone(), False, None)
    elif current._requires_grad:
        var._grad = make_variable(current.data + g.data, False, None)
    else:
        accumulated = current.data.array
        accumulated += g.data.array
