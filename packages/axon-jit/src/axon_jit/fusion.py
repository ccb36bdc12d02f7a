"""Partitioning a graph into fused groups and single ops, and running a fused group.

A group computes over a 2-d view ``[R, C]`` of its shape ``S`` (``C`` the last dim, ``R`` the rest):
*elem* members have shape ``S``; *row* members have one value per row (``S[:-1] + (1,)``, or
``S[:-1]`` after a reduction without keepdim); *reduce* members sum / average / take the max or
min of an elem value over the last dim. Members are scheduled in *phases*: a reduction's value
exists only after a full pass over the row, so each reduction starts a new pass (softmax: max,
then exp and sum, then the quotient: three passes over each row, one kernel).

A node is left unfused, with the reason kept for :func:`axon_jit.explain`, when it is not in the
op table, is not float32/float64 on the CPU, mixes dtypes, would join a group of another shape,
or would make the group depend on itself through an unfused node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from axon_tensor import Tensor, from_numpy

from .elementwise import PRELUDE, REDUCTIONS, bind, reduction_of
from .graph import Const, Graph, Input, Item, Node
from .kernel_cache import load_kernel_module

__all__ = ["FusedGroup", "Member", "Partition", "partition"]

VALUES = (Input, Const, Item, Node)
#: Groups at least this large (R * C elements) with R > 1 run their rows on Numba's threads.
PARALLEL_ELEMENTS = 1 << 15


def _row_keep(shape: tuple) -> tuple:
    return (*shape[:-1], 1)


@dataclass(eq=False)
class Member:
    node: Node
    kind: str  # "elem", "row" or "reduce"
    formula: str  # the elementwise formula, or the reduction's name
    operands: list
    phase: int = 0


@dataclass(eq=False)
class FusedGroup:
    """Members (in graph order) over shape ``shape`` in ``dtype``; ``inputs`` are the values it
    reads from outside (each with its layout), ``outputs`` the members read outside or returned."""

    members: list[Member]
    shape: tuple
    dtype: Any
    inputs: list = field(default_factory=list)
    layouts: list = field(default_factory=list)
    row_shapes: list = field(default_factory=list)  # per input: the shape of a member reading it
    outputs: list = field(default_factory=list)
    source: str = field(default="", repr=False)
    digest: str = ""
    module: Any = field(default=None, repr=False)

    def __repr__(self) -> str:
        return (
            f"FusedGroup({', '.join(repr(n) for n in self.nodes)}; {self.dtype.name}{list(self.shape)}, k{self.digest})"
        )

    def describe(self) -> str:
        """One line per member: its kind (elem/row/reduce), pass number and op."""
        lines = [f"fused group k{self.digest} over {self.dtype.name}{list(self.shape)} ({len(self.members)} ops):"]
        for m in self.members:
            tag = "output" if m in self.outputs else ""
            # a reduction accumulates during the pass before the one its value is read in
            run = m.phase - 1 if m.kind == "reduce" else m.phase
            lines.append(f"    [{m.kind:6} pass {run}] {m.node.describe()} {tag}".rstrip())
        layouts = ", ".join(f"{v!r}:{layout}" for v, layout in zip(self.inputs, self.layouts))
        lines.append(f"    reads {layouts}")
        return "\n".join(lines)

    @property
    def nodes(self) -> list[Node]:
        return [m.node for m in self.members]

    def rows_cols(self) -> tuple[int, int]:
        cols = self.shape[-1] if self.shape else 1
        return math.prod(self.shape[:-1]), cols

    def run(self, value: Callable[[Any], Any]) -> dict[Node, Tensor]:
        """Run the kernel on the group's inputs (``value`` resolves a graph value to its tensor)."""
        rows, cols = self.rows_cols()
        arrays = []
        for source, layout, row_shape in zip(self.inputs, self.layouts, self.row_shapes):
            array = value(source).numpy()
            if layout == "full":
                array = np.ascontiguousarray(array).reshape(rows, cols)
            elif layout == "broadcast":
                array = np.ascontiguousarray(np.broadcast_to(array, self.shape)).reshape(rows, cols)
            elif layout == "col":
                array = np.ascontiguousarray(array).reshape(cols)
            elif layout == "broadcast_row":
                array = np.ascontiguousarray(np.broadcast_to(array, row_shape)).reshape(rows)
            elif layout == "row":
                array = np.ascontiguousarray(array).reshape(rows)
            else:
                array = np.ascontiguousarray(array).reshape(1)
            arrays.append(array)
        dtype = self.dtype.np
        outs = [np.empty((rows, cols) if m.kind == "elem" else (rows,), dtype=dtype) for m in self.outputs]
        parallel = rows > 1 and rows * cols >= PARALLEL_ELEMENTS
        kernel = self.module.kernel_parallel if parallel else self.module.kernel_serial
        kernel(rows, cols, *arrays, *outs)
        return {m.node: from_numpy(out.reshape(m.node.shape)) for m, out in zip(self.outputs, outs)}


@dataclass(eq=False)
class Partition:
    """``steps`` in execution order (nodes and groups), ``groups``, and ``reasons``: why each
    unfused node was not fused."""

    steps: list
    groups: list[FusedGroup]
    reasons: dict[Node, str]


def _source_of(value: Any) -> Node | None:
    if isinstance(value, Item):
        return value.node
    return value if isinstance(value, Node) else None


class _Shapes:
    """The shape of every graph value."""

    def __init__(self, input_shapes: list[tuple]) -> None:
        self.input_shapes = input_shapes

    def __call__(self, value: Any) -> tuple:
        if isinstance(value, Input):
            return tuple(self.input_shapes[value.index])
        if isinstance(value, Const):
            return tuple(value.tensor.shape)
        if isinstance(value, Item):
            return tuple(value.node.item_shapes[value.index])
        return tuple(value.shape)


def _dtype_of(value: Any, input_dtypes: list) -> Any:
    if isinstance(value, Input):
        return input_dtypes[value.index]
    if isinstance(value, Const):
        return value.tensor.dtype
    if isinstance(value, Item):
        return None  # a tuple-returning op's later items may differ (max's indices): not fused
    return value.dtype


def _classify(node: Node, dtypes: Callable[[Any], Any]) -> tuple[str, str, list] | str:
    """``(kind, formula, operands)`` with kind "elem" or "reduce", or why the node does not fuse."""
    if node.multi:
        return f"{node.op}: returns several tensors"
    if node.impure:
        return f"{node.op}: draws random numbers"
    if node.device.type != "cpu":
        return f"{node.op}: on {node.device}; only CPU kernels are generated (the CUDA path is not done)"
    if node.dtype.name not in ("float32", "float64"):
        return f"{node.op}: dtype {node.dtype.name}; only float32/float64 fuse"
    if 0 in node.shape:
        return f"{node.op}: an empty tensor"
    reduction = reduction_of(node)
    if reduction is not None:
        kind, formula, operands = "reduce", reduction, [node.args[0]]
    elif node.op in REDUCTIONS:
        return f"{node.op}: a reduction over other than the last dim alone"
    else:
        bound = bind(node)
        if isinstance(bound, str):
            return bound
        kind, (formula, operands) = "elem", bound
    for operand in operands:
        if isinstance(operand, VALUES):
            dtype = dtypes(operand)
            if dtype != node.dtype:
                name = "a tuple item" if dtype is None else dtype.name
                return f"{node.op}: operand {operand!r} is {name}, the result {node.dtype.name} (mixed dtypes)"
    return kind, formula, operands


def _layout(shape: tuple, target: tuple, row_level: bool) -> str:
    """How an outside operand of ``shape`` is read by members of shape ``target``."""
    if math.prod(shape) == 1:
        return "scalar"
    padded = (1,) * (len(target) - len(shape)) + tuple(shape)
    if len(padded) != len(target):
        return "broadcast"
    if row_level:
        return "row" if math.prod(shape) == math.prod(target[:-1]) else "broadcast_row"
    if padded == tuple(target):
        return "full"
    if all(d == 1 for d in padded[:-1]) and padded[-1] == target[-1]:
        return "col"
    if padded[-1] == 1 and padded[:-1] == tuple(target[:-1]):
        return "row"
    return "broadcast"


def partition(graph: Graph, inputs: list[Tensor], *, fuse: bool = True, cache_dir: Path | None = None) -> Partition:
    """Split ``graph`` into fused groups and single nodes (see the module docstring); ``inputs``
    are example input tensors (their shapes and dtypes, which the guard fixes)."""
    if not fuse:
        return Partition(list(graph.nodes), [], {n: "fusion is off (fuse=False)" for n in graph.nodes})
    shapes = _Shapes([tuple(t.shape) for t in inputs])
    input_dtypes = [t.dtype for t in inputs]
    reasons: dict[Node, str] = {}
    ancestors: dict[Node, set[Node]] = {}
    for node in graph.nodes:
        found: set[Node] = set()
        for value in node.inputs:
            source = _source_of(value)
            if source is not None:
                found |= ancestors[source] | {source}
        ancestors[node] = found

    group_of: dict[Node, dict] = {}  # node -> its group: {"shape", "members": {node: Member}}
    for node in graph.nodes:
        classified = _classify(node, lambda v: _dtype_of(v, input_dtypes))
        if isinstance(classified, str):
            reasons[node] = classified
            continue
        kind, formula, operands = classified
        candidates = []
        for operand in operands:
            source = _source_of(operand)
            group = group_of.get(source) if source is not None else None
            if group is not None and group not in candidates:
                candidates.append(group)
        target = shapes(operands[0]) if kind == "reduce" else node.shape
        if kind == "reduce" and (not target or target[-1] < 2):
            reasons[node] = f"{node.op}: reduces a last dim of size {target[-1] if target else 0}"
            continue
        chosen, member_kind = None, kind
        for group in candidates:
            if group["dtype"] != node.dtype:
                continue
            if kind == "reduce" and group["shape"] == target:
                chosen = group
            elif kind == "elem" and group["shape"] == node.shape:
                chosen = group
            elif kind == "elem" and node.shape in (_row_keep(group["shape"]), group["shape"][:-1]):
                chosen, member_kind = group, "row"
            if chosen is not None:
                break
        member = Member(node, member_kind, formula, operands)
        joined = [g for g in candidates if g["shape"] == (chosen or {}).get("shape") and g["dtype"] == node.dtype]
        if chosen is None or not _may_join(member, joined, ancestors):
            group = {"shape": target if kind == "reduce" else node.shape, "dtype": node.dtype, "members": {}}
            member.kind = kind
            group["members"][node] = member
            group_of[node] = group
            continue
        merged = joined[0]
        for other in joined[1:]:
            merged["members"].update(other["members"])
            for n in other["members"]:
                group_of[n] = merged
        merged["members"][node] = member
        group_of[node] = merged

    unique: list[dict] = []
    for group in group_of.values():
        if group not in unique:
            unique.append(group)
    groups: list[FusedGroup] = []
    users = graph.users()
    returned = graph.output_nodes()
    for group in unique:
        members = [group["members"][n] for n in graph.nodes if n in group["members"]]
        if len(members) == 1:
            reasons[members[0].node] = f"{members[0].node.op}: no fusible neighbour (a kernel of one op gains nothing)"
            continue
        groups.append(_build(members, group, users, returned, shapes, cache_dir))
    return Partition(_schedule(graph, groups), groups, reasons)


def _may_join(member: Member, joined: list[dict], ancestors: dict[Node, set[Node]]) -> bool:
    """Whether ``member`` may join (and merge) ``joined``: its in-group operands have the kinds
    its own kind reads, and no outside node both depends on the merged group and feeds it."""
    inside: dict[Node, Member] = {}
    for group in joined:
        inside.update(group["members"])
    shape = joined[0]["shape"]
    for operand in member.operands:
        source = _source_of(operand)
        if source not in inside:
            continue
        read = inside[source]
        if member.kind == "reduce" and read.kind != "elem":
            return False
        if member.kind == "row" and (read.kind == "elem" or read.node.shape != member.node.shape):
            return False
        if member.kind == "elem" and read.kind != "elem" and read.node.shape != _row_keep(shape):
            return False
    merged = set(inside) | {member.node}
    for node in merged:
        for value in node.inputs:
            source = _source_of(value)
            if source is not None and source not in merged and ancestors[source] & merged:
                return False
    return True


def _build(
    members: list[Member], group: dict, users: dict, returned: set, shapes: _Shapes, cache_dir: Path | None
) -> FusedGroup:
    inside = {m.node: m for m in members}
    fused = FusedGroup(members, tuple(group["shape"]), group["dtype"])
    for m in members:
        if m.kind == "reduce":
            source = _source_of(m.operands[0])
            m.phase = (inside[source].phase if source in inside else 0) + 1
        else:
            phases = [inside[_source_of(o)].phase for o in m.operands if _source_of(o) in inside]
            m.phase = max(phases, default=0)
        if m.node in returned or any(u not in inside for u in users[m.node]):
            fused.outputs.append(m)
    for m in members:
        for operand in m.operands:
            if isinstance(operand, VALUES) and _source_of(operand) not in inside and operand not in fused.inputs:
                fused.inputs.append(operand)
                # an input read only by row members is laid out per row
                row_only = all(
                    x.kind == "row" for x in members if any(o is operand for o in x.operands)
                )  # fmt: skip
                fused.layouts.append(_layout(shapes(operand), fused.shape, row_only))
                fused.row_shapes.append(m.node.shape)
    fused.source = _generate(fused)
    fused.module, fused.digest = load_kernel_module(fused.source, cache_dir)
    return fused


def _generate(group: FusedGroup) -> str:
    """The Python source of the group's kernels: ``kernel_serial`` and ``kernel_parallel``, each
    ``(R, C, *inputs, *outputs)``."""
    inside = {m.node: m for m in group.members}
    input_names = {id(v): f"i{k}" for k, v in enumerate(group.inputs)}
    layouts = {id(v): layout for v, layout in zip(group.inputs, group.layouts)}
    output_names = {m.node: f"o{k}" for k, m in enumerate(group.outputs)}
    # elem values read in a later pass than the one that computes them
    late: dict[Node, str] = {}
    for m in group.members:
        for operand in m.operands:
            source = _source_of(operand)
            if source in inside and inside[source].kind == "elem" and m.kind == "elem":
                if inside[source].phase < m.phase and source not in late:
                    late[source] = f"{output_names[source]}[r, c]" if source in output_names else f"b{source.index}[c]"

    def expr(operand: Any, row_level: bool) -> str:
        if not isinstance(operand, VALUES):
            return f"T({float(operand)!r})"
        source = _source_of(operand)
        if source in inside:
            return f"v{source.index}"
        name, layout = input_names[id(operand)], layouts[id(operand)]
        if layout == "scalar":
            return f"{name}[0]"
        if layout in ("row", "broadcast_row") or row_level:
            return f"{name}[r]"
        return f"{name}[c]" if layout == "col" else f"{name}[r, c]"

    def elem_expr(operand: Any, phase: int) -> str:
        source = _source_of(operand)
        if source in inside and inside[source].kind == "elem" and inside[source].phase < phase:
            return late[source]
        return expr(operand, False)

    body: list[str] = [f"b{n.index} = np.empty(C, T)" for n in late if n not in output_names]
    last = max((m.phase for m in group.members), default=0)
    for phase in range(last + 1):
        for m in group.members:
            if m.kind == "reduce" and m.phase == phase:
                body.append(f"v{m.node.index} = {_finish(m)}")
                if m.node in output_names:
                    body.append(f"{output_names[m.node]}[r] = v{m.node.index}")
        for m in group.members:
            if m.kind == "row" and m.phase == phase:
                body.append(f"v{m.node.index} = " + m.formula.format(*(expr(o, True) for o in m.operands)))
                if m.node in output_names:
                    body.append(f"{output_names[m.node]}[r] = v{m.node.index}")
        loop: list[str] = []
        starts: list[str] = []
        for m in group.members:
            if m.kind == "elem" and m.phase == phase:
                loop.append(f"v{m.node.index} = " + m.formula.format(*(elem_expr(o, phase) for o in m.operands)))
                if m.node in output_names:
                    loop.append(f"{output_names[m.node]}[r, c] = v{m.node.index}")
                elif m.node in late:
                    loop.append(f"{late[m.node]} = v{m.node.index}")
            if m.kind == "reduce" and m.phase == phase + 1:
                start, update, _ = REDUCTIONS[m.formula]
                if start is None:
                    body.insert(0, f"s{m.node.index} = np.empty(C, T)")
                    loop.append(f"s{m.node.index}[c] = {elem_expr(m.operands[0], phase)}")
                else:
                    starts.append(f"a{m.node.index} = {start}")
                    loop.append(f"v = {elem_expr(m.operands[0], phase)}")
                    loop.append(update.replace("acc", f"a{m.node.index}"))
        if loop:
            body += starts + ["for c in range(C):"] + [f"    {line}" for line in loop]
    args = ", ".join(["R", "C", *(f"i{k}" for k in range(len(group.inputs))), *output_names.values()])
    lines = [PRELUDE.format(dtype=group.dtype.np.name)]
    for name, loop_range, parallel in (("kernel_serial", "range", False), ("kernel_parallel", "prange", True)):
        lines.append(f'\n@njit(cache=True, error_model="numpy", parallel={parallel})')
        lines.append(f"def {name}({args}):")
        lines.append(f"    for r in {loop_range}(R):")
        lines += [f"        {line}" for line in body]
    return "\n".join(lines) + "\n"


def _finish(member: Member) -> str:
    start, _, finish = REDUCTIONS[member.formula]
    n = member.node.index
    return finish.replace("acc", f"(T(0) + _pairwise_sum(s{n}, 0, C))" if start is None else f"a{n}")


def _schedule(graph: Graph, groups: list[FusedGroup]) -> list:
    """Nodes and groups in an order where everything runs after what it reads (graph order
    where it can): a group runs once all its outside inputs exist."""
    step_of: dict[Node, Any] = {}
    for group in groups:
        for node in group.nodes:
            step_of[node] = group
    pending = [step_of.get(n, n) for n in graph.nodes]
    order: list = []
    for step in pending:
        if step not in order:
            order.append(step)
    needs: dict[int, set[int]] = {}
    for k, step in enumerate(order):
        nodes = step.nodes if isinstance(step, FusedGroup) else [step]
        deps: set[int] = set()
        for node in nodes:
            for value in node.inputs:
                source = _source_of(value)
                if source is not None:
                    dep = order.index(step_of.get(source, source))
                    if dep != k:
                        deps.add(dep)
        needs[k] = deps
    done: set[int] = set()
    result: list = []
    while len(result) < len(order):
        for k in range(len(order)):
            if k not in done and needs[k] <= done:
                done.add(k)
                result.append(order[k])
                break
    return result
