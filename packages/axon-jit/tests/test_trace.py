"""Tracing, guards, dead-code and common-subexpression elimination, against the eager run."""

import numpy as np
import pytest

import axon_jit
import axon_tensor as at
from axon_jit import TraceError


def _same(a, b):
    a, b = a.numpy(), b.numpy()
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def test_trace_records_one_node_per_op_with_shapes_and_dtypes():
    def f(x, b):
        return ((x + b) * 0.5).exp().sum(-1, keepdim=True)

    graph = axon_jit.trace(f, at.randn(4, 8), at.randn(8))
    assert [n.op for n in graph.nodes] == ["add", "mul", "exp", "sum"]
    add, mul, exp, total = graph.nodes
    assert [(type(a), a.index) for a in add.args] == [(axon_jit.Input, 0), (axon_jit.Input, 1)]
    assert mul.args[0] is add and mul.args[1] == 0.5
    assert exp.args == (mul,)
    assert total.args == (exp, -1) and total.kwargs == {"keepdim": True}
    assert [n.shape for n in graph.nodes] == [(4, 8), (4, 8), (4, 8), (4, 1)]
    assert {n.dtype.name for n in graph.nodes} == {"float32"}
    assert graph.outputs == [total]
    # inner ops of an op (softmax's own exp, sum) are not recorded separately
    assert [n.op for n in axon_jit.trace(lambda x: at.softmax(x, dim=-1), at.randn(2, 3)).nodes] == ["softmax"]


def test_replay_equals_eager_bit_for_bit_and_captured_tensors_are_constants():
    weight = at.randn(8, 3)

    def f(x):
        h = at.matmul(x, weight)
        return h.tanh(), h.reshape(-1)

    x = at.randn(5, 8)
    compiled = axon_jit.compile(f, fuse=False)
    for _ in range(2):
        got, want = compiled(x), f(x)
        assert isinstance(got, tuple) and all(_same(a, b) for a, b in zip(got, want))
    graph = compiled.plans[next(iter(compiled.plans))].graph
    assert isinstance(graph.nodes[0].args[1], axon_jit.Const) and graph.nodes[0].args[1].tensor is weight


def test_guards_on_shape_dtype_and_arguments_retrace_and_cache():
    def f(x, scale):
        return x * scale + 1

    compiled = axon_jit.compile(f)
    x = at.randn(3, 4)
    compiled(x, 2.0)
    compiled(at.randn(3, 4), 2.0)
    assert compiled.trace_count == 1
    assert _same(compiled(at.ones(3, 4), 3.0), f(at.ones(3, 4), 3.0))  # a new scalar: a new guard
    assert compiled.trace_count == 2
    compiled(at.randn(2, 4), 2.0)  # a new shape
    assert compiled.trace_count == 3
    y = at.randn(3, 4, dtype=at.float64)
    assert _same(compiled(y, 2.0), f(y, 2.0))  # a new dtype
    assert compiled.trace_count == 4
    z = at.randn(3, 4, device="cuda-sim")
    assert np.array_equal(compiled(z, 2.0).numpy(), f(z, 2.0).numpy())  # a new device
    assert compiled.trace_count == 5
    compiled(x, 2.0)
    compiled(y, 2.0)
    assert compiled.trace_count == 5 and len(compiled.plans) == 5


def test_dead_code_elimination_removes_unused_ops_outputs_unchanged():
    def f(x):
        unused = (x * 3).exp()  # noqa: F841 (the dead code under test)
        y = x.sin()
        y.cos()  # a result nobody reads
        return y * 2

    x = at.randn(6)
    compiled = axon_jit.compile(f, fuse=False)
    assert _same(compiled(x), f(x))
    plan = compiled.plans[next(iter(compiled.plans))]
    assert [n.op for n in plan.recorded.nodes] == ["mul", "exp", "sin", "cos", "mul"]
    assert [n.op for n in plan.graph.nodes] == ["sin", "mul"]


def test_common_subexpression_elimination_merges_repeats_only():
    def f(x, b):
        a1 = x + b
        a2 = x + b  # the same call: merged
        c = x + 1
        d = x + 1.0  # a different scalar type: kept apart (int x * 1.0 is float)
        return a1 * a2, c, d

    for x, b in ((at.randn(4, 3), at.randn(3)), (at.arange(12).reshape(4, 3), at.arange(3))):
        compiled = axon_jit.compile(f, fuse=False)
        assert all(_same(g, w) for g, w in zip(compiled(x, b), f(x, b)))
        graph = compiled.plans[next(iter(compiled.plans))].graph
        assert [n.op for n in graph.nodes].count("add") == 3  # x + b once, x + 1, x + 1.0
        assert len(graph.nodes) == 4  # 5 recorded, one add merged
        mul = next(n for n in graph.nodes if n.op == "mul")
        assert mul.args[0] is mul.args[1]


def test_random_ops_are_never_merged_or_removed():
    def f(x):
        at.randn(3)  # unused, but it advances the generator
        return x + at.randn(3), x + at.randn(3)

    compiled = axon_jit.compile(f)
    x = at.zeros(3)
    at.manual_seed(0)
    compiled(x)  # the trace
    at.manual_seed(1)
    got = compiled(x)
    after = at.randn(2)
    at.manual_seed(1)
    want = f(x)
    assert all(_same(g, w) for g, w in zip(got, want)) and not _same(got[0], got[1])
    assert _same(after, at.randn(2))  # the unused draw happened too


def test_value_reads_and_inplace_ops_raise_trace_errors():
    with pytest.raises(TraceError, match="item"):
        axon_jit.compile(lambda x: x * x.sum().item())(at.randn(3))
    with pytest.raises(TraceError, match="bool"):
        axon_jit.compile(lambda x: x if (x.sum() > 0) else -x)(at.randn(3))
    with pytest.raises(TraceError, match="numpy"):
        axon_jit.compile(lambda x: at.tensor(x.numpy() * 2))(at.randn(3))
    with pytest.raises(TraceError, match="in place"):
        axon_jit.compile(lambda x: x.add_(1))(at.randn(3))
    with pytest.raises(TraceError, match="return tensors"):
        axon_jit.compile(lambda x: 3)(at.randn(3))
    # the guards are gone after a failed trace: eager code reads values again
    assert at.tensor([2.0]).item() == 2.0 and bool(at.tensor([1.0]))


def test_explain_prints_the_graph_removed_ops_groups_and_reasons():
    import io

    def f(x, b):
        dead = x.exp()  # noqa: F841 (removed by DCE)
        h = (x + b).tanh() * 2.0
        return (x + b).relu() + h, h.reshape(-1)

    out = io.StringIO()
    explanation = axon_jit.explain(f, at.randn(3, 4), at.randn(4), file=out)
    text = out.getvalue()
    assert text.strip() == str(explanation).strip()
    assert [n.op for n in explanation.removed] == ["exp", "add"]  # dead exp; the repeated x + b
    assert len(explanation.groups) == 1 and len(explanation.groups[0].members) == 5
    assert list(explanation.reasons.values()) == ["reshape: not an elementwise op the JIT fuses"]
    for needed in ("%0 = exp(%in0)", "removed by DCE/CSE: %0, %4", "fused group", "reshape: not an elementwise"):
        assert needed in text, needed
