"""The collective oracle table, run on real MPI ranks (``launch -n N mpi_collectives.py OUT``).

Every rank builds every rank's inputs (seeded by rank and case), runs the collective on its own,
and compares what it got with NumPy computed on the concatenated (stacked) inputs of all ranks.
Inputs are small integers (in every dtype), so sums and products are exact whatever order MPI adds
them in, and the comparison is exact. Each case runs on a contiguous tensor and on a strided view
into a larger tensor (whose other elements must stay untouched), synchronously and with
``async_op=True``. Rank r writes ``OUT/rank{r}.json``: ``{case: "ok" | error text}``.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Callable

import ml_dtypes
import numpy as np

import axon_tensor as at
from axon_autograd import Variable

DTYPES = ("float32", "float64", "float16", "bfloat16", "complex64", "int8", "int32", "int64", "uint8", "bool")
REAL = ("float32", "float64", "float16", "bfloat16", "int8", "int32", "int64", "uint8")
SHAPE = (3, 4)


def np_dtype(name: str) -> np.dtype:
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


def values(rank: int, case: str, dtype: str, shape=SHAPE, low=-3, high=4) -> np.ndarray:
    """Rank ``rank``'s input of ``case``: small integers (0/1 for bool, >= 0 for uint8) in ``dtype``."""
    rng = np.random.default_rng([rank, sum(map(ord, case)), len(case)])
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype == "uint8":
        low = max(low, 0)
    real = rng.integers(low, high, shape)
    if dtype.startswith("complex"):
        return (real + 1j * rng.integers(low, high, shape)).astype(dtype)
    return real.astype(np_dtype(dtype))


def make(array: np.ndarray, layout: str):
    """An axon tensor holding ``array``: contiguous, or a strided view into a larger tensor (and that base)."""
    if layout == "contiguous":
        t = at.tensor(array.copy())
        return t, t, None
    big = np.zeros((array.shape[0], array.shape[1] * 2) + array.shape[2:], dtype=array.dtype)
    big[:, 1::2] = array
    base = at.tensor(big)
    view = base[:, 1::2]
    assert not view.is_contiguous()
    return view, base, big


def check_base(base, big: np.ndarray | None) -> None:
    """The base's elements outside the view are what they were."""
    if big is None:
        return
    equal(base.numpy()[:, 0::2], big[:, 0::2])


def equal(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype == np_dtype("bfloat16"):
        got, want = got.astype(np.float32), want.astype(np.float32)
    np.testing.assert_array_equal(got, want)


REDUCE = {
    "SUM": lambda s: s.sum(axis=0),
    "PRODUCT": lambda s: s.prod(axis=0),
    "MIN": lambda s: s.min(axis=0),
    "MAX": lambda s: s.max(axis=0),
    "AVG": lambda s: s.sum(axis=0) / s.shape[0],
    "BAND": lambda s: np.bitwise_and.reduce(s, axis=0),
    "BOR": lambda s: np.bitwise_or.reduce(s, axis=0),
    "BXOR": lambda s: np.bitwise_xor.reduce(s, axis=0),
}
BOOL_REDUCE = {"SUM": np.logical_or, "MAX": np.logical_or, "BOR": np.logical_or, "PRODUCT": np.logical_and,
               "MIN": np.logical_and, "BAND": np.logical_and, "BXOR": np.logical_xor}  # fmt: skip


def reduced(stack: np.ndarray, op: str, dtype: str) -> np.ndarray:
    """NumPy's reduction of the stacked inputs, in float32 for float16/bfloat16 (how axon reduces them)."""
    if dtype == "bool":
        return BOOL_REDUCE[op].reduce(stack, axis=0)
    if dtype in ("float16", "bfloat16"):
        return REDUCE[op](stack.astype(np.float32)).astype(np_dtype(dtype))
    return np.asarray(REDUCE[op](stack)).astype(stack.dtype)


def ops_for(dtype: str) -> list[str]:
    if dtype == "bool":
        return list(BOOL_REDUCE)
    if dtype.startswith("complex"):
        return ["SUM", "PRODUCT", "AVG"]
    if dtype.startswith(("int", "uint")):
        return ["SUM", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"]
    return ["SUM", "PRODUCT", "MIN", "MAX", "AVG"]


# -- the cases ---------------------------------------------------------------------------------------------
# Each case: fn(dist, rank, world, name) raising on a wrong result. ``world`` is the list of global ranks of
# the group the case runs on (the whole world unless the case makes a sub-group).
CASES: dict[str, Callable] = {}


def case(name: str):
    def register(fn):
        CASES[name] = fn
        return fn

    return register


def _run(work_or_none, async_op: bool) -> None:
    if async_op:
        assert work_or_none is not None
        assert work_or_none.wait() is True
        assert work_or_none.is_completed() and work_or_none.is_success()
    else:
        assert work_or_none is None


def _register_all_reduce() -> None:
    for dtype in DTYPES:
        for op in ops_for(dtype):
            for layout in ("contiguous", "view"):
                for async_op in (False, True):
                    name = f"all_reduce[{dtype}-{op}-{layout}{'-async' if async_op else ''}]"

                    def fn(dist, rank, size, name=name, dtype=dtype, op=op, layout=layout, async_op=async_op):
                        stack = np.stack([values(r, name, dtype) for r in range(size)])
                        t, base, big = make(stack[rank], layout)
                        _run(dist.all_reduce(t, op=getattr(dist.ReduceOp, op), async_op=async_op), async_op)
                        equal(t.numpy(), reduced(stack, op, dtype))
                        check_base(base, big)

                    CASES[name] = fn


_register_all_reduce()


def _per_dtype(prefix: str, layouts=("contiguous", "view"), asyncs=(False, True), dtypes=DTYPES):
    """Register ``fn(dist, rank, size, name, dtype, layout, async_op)`` for each dtype x layout x async."""

    def register(fn):
        for dtype in dtypes:
            for layout in layouts:
                for async_op in asyncs:
                    name = f"{prefix}[{dtype}-{layout}{'-async' if async_op else ''}]"
                    CASES[name] = lambda dist, rank, size, name=name, d=dtype, lay=layout, a=async_op: fn(
                        dist, rank, size, name, d, lay, a
                    )
        return fn

    return register


@_per_dtype("broadcast")
def _broadcast(dist, rank, size, name, dtype, layout, async_op):
    stack = np.stack([values(r, name, dtype) for r in range(size)])
    src = size - 1
    t, base, big = make(stack[rank], layout)
    _run(dist.broadcast(t, src=src, async_op=async_op), async_op)
    equal(t.numpy(), stack[src])
    check_base(base, big)


@_per_dtype("reduce")
def _reduce(dist, rank, size, name, dtype, layout, async_op):
    stack = np.stack([values(r, name, dtype) for r in range(size)])
    op = "MAX" if dtype != "complex64" else "SUM"
    t, base, big = make(stack[rank], layout)
    _run(dist.reduce(t, dst=1, op=getattr(dist.ReduceOp, op), async_op=async_op), async_op)
    equal(t.numpy(), reduced(stack, op, dtype) if rank == 1 else stack[rank])
    check_base(base, big)


@_per_dtype("all_gather")
def _all_gather(dist, rank, size, name, dtype, layout, async_op):
    stack = np.stack([values(r, name, dtype) for r in range(size)])
    t, _, _ = make(stack[rank], "contiguous")
    outs = [make(np.zeros_like(stack[0]), layout) for _ in range(size)]
    _run(dist.all_gather([o[0] for o in outs], t, async_op=async_op), async_op)
    for r, (out, base, big) in enumerate(outs):
        equal(out.numpy(), stack[r])
        check_base(base, big)


@_per_dtype("all_gather_into_tensor")
def _all_gather_into_tensor(dist, rank, size, name, dtype, layout, async_op):
    stack = np.stack([values(r, name, dtype) for r in range(size)])
    t, _, _ = make(stack[rank], layout)
    out = at.tensor(np.zeros((size * SHAPE[0],) + SHAPE[1:], dtype=stack.dtype))
    _run(dist.all_gather_into_tensor(out, t, async_op=async_op), async_op)
    equal(out.numpy(), np.concatenate(list(stack)))


@_per_dtype("reduce_scatter")
def _reduce_scatter(dist, rank, size, name, dtype, layout, async_op):
    # every rank holds one block per rank: inputs[r][i] is rank r's contribution to rank i
    inputs = [np.stack([values(r, f"{name}{i}", dtype) for i in range(size)]) for r in range(size)]
    op = "SUM"
    out, base, big = make(np.zeros_like(inputs[0][0]), layout)
    ins = [make(block, layout)[0] for block in inputs[rank]]
    _run(dist.reduce_scatter(out, ins, op=getattr(dist.ReduceOp, op), async_op=async_op), async_op)
    equal(out.numpy(), reduced(np.stack([inputs[r][rank] for r in range(size)]), op, dtype))
    check_base(base, big)


@_per_dtype("reduce_scatter_tensor")
def _reduce_scatter_tensor(dist, rank, size, name, dtype, layout, async_op):
    inputs = [np.concatenate([values(r, f"{name}{i}", dtype) for i in range(size)]) for r in range(size)]
    op = "MIN" if dtype not in ("complex64",) else "SUM"
    out, base, big = make(np.zeros(SHAPE, dtype=inputs[0].dtype), layout)
    t = at.tensor(inputs[rank].copy())
    _run(dist.reduce_scatter_tensor(out, t, op=getattr(dist.ReduceOp, op), async_op=async_op), async_op)
    block = slice(rank * SHAPE[0], (rank + 1) * SHAPE[0])
    equal(out.numpy(), reduced(np.stack([inputs[r][block] for r in range(size)]), op, dtype))
    check_base(base, big)


@_per_dtype("gather")
def _gather(dist, rank, size, name, dtype, layout, async_op):
    stack = np.stack([values(r, name, dtype) for r in range(size)])
    t, _, _ = make(stack[rank], layout)
    dst = size - 1
    outs = [make(np.zeros_like(stack[0]), layout) for _ in range(size)] if rank == dst else None
    _run(dist.gather(t, [o[0] for o in outs] if outs else None, dst=dst, async_op=async_op), async_op)
    if outs:
        for r, (out, base, big) in enumerate(outs):
            equal(out.numpy(), stack[r])
            check_base(base, big)


@_per_dtype("scatter")
def _scatter(dist, rank, size, name, dtype, layout, async_op):
    stack = np.stack([values(r, name, dtype) for r in range(size)])
    src = 1
    out, base, big = make(np.zeros_like(stack[0]), layout)
    ins = [make(stack[r], layout)[0] for r in range(size)] if rank == src else None
    _run(dist.scatter(out, ins, src=src, async_op=async_op), async_op)
    equal(out.numpy(), stack[rank])
    check_base(base, big)


@_per_dtype("all_to_all_single", layouts=("contiguous",))
def _all_to_all(dist, rank, size, name, dtype, layout, async_op):
    blocks = [[values(r, f"{name}{j}", dtype, shape=(2, 3)) for j in range(size)] for r in range(size)]
    t = at.tensor(np.concatenate(blocks[rank]))
    out = at.tensor(np.zeros((2 * size, 3), dtype=t.array.dtype))
    _run(dist.all_to_all_single(out, t, async_op=async_op), async_op)
    equal(out.numpy(), np.concatenate([blocks[r][rank] for r in range(size)]))


@_per_dtype("send_recv_ring", asyncs=(False, True))
def _ring(dist, rank, size, name, dtype, layout, async_op):
    stack = np.stack([values(r, name, dtype) for r in range(size)])
    t, _, _ = make(stack[rank], layout)
    got, base, big = make(np.zeros_like(stack[0]), layout)
    right, left = (rank + 1) % size, (rank - 1) % size
    if async_op:
        works = [dist.isend(t, right, tag=7), dist.irecv(got, left, tag=7)]
        for w in works:
            w.wait()
        assert works[1].source == left
    elif rank % 2 == 0:
        dist.send(t, right, tag=7)
        assert dist.recv(got, left, tag=7) == left
    else:
        assert dist.recv(got, left, tag=7) == left
        dist.send(t, right, tag=7)
    equal(got.numpy(), stack[left])
    check_base(base, big)


@case("recv_any_source")
def _recv_any(dist, rank, size, name):
    if rank == 0:
        seen = set()
        for _ in range(size - 1):
            buf = at.zeros(3, dtype="int64")
            src = dist.recv(buf, None, tag=3)
            assert buf.numpy().tolist() == [src] * 3, (src, buf.numpy())
            seen.add(src)
        assert seen == set(range(1, size))
    else:
        dist.send(at.tensor(np.full(3, rank, dtype=np.int64)), 0, tag=3)


@case("barrier")
def _barrier(dist, rank, size, name):
    assert dist.barrier() is None
    dist.barrier(async_op=True).wait()


@case("variable_data_in_place")
def _variable(dist, rank, size, name):
    stack = np.stack([values(r, name, "float64") for r in range(size)])
    v = Variable(at.tensor(stack[rank].copy()), requires_grad=True)
    data = v.data
    dist.all_reduce(v)
    assert v.data is data
    equal(v.data.numpy(), stack.sum(axis=0))
    v.grad = at.tensor(stack[rank].copy())
    dist.all_reduce(v.grad, op=dist.ReduceOp.AVG)
    equal(v.grad.numpy(), stack.mean(axis=0))


@case("zero_dim_and_empty")
def _edge_shapes(dist, rank, size, name):
    s = at.tensor(np.float32(rank + 1))
    dist.all_reduce(s)
    assert s.numpy() == sum(range(1, size + 1))
    e = at.zeros((0, 3))
    dist.all_reduce(e)
    dist.broadcast(e, 0)


@case("many_async_in_flight")
def _many_async(dist, rank, size, name):
    tensors = [at.tensor(np.full(1000, rank + i, dtype=np.float64)) for i in range(8)]
    works = [dist.all_reduce(t, async_op=True) for t in tensors]
    dist.all_reduce(probe := at.ones(2))  # a synchronous one behind the queue keeps its place
    for i, (t, w) in enumerate(zip(tensors, works)):
        w.wait()
        assert (t.numpy() == sum(r + i for r in range(size))).all()
        assert w.result()[0] is t
    assert (probe.numpy() == size).all()


@case("sub_groups")
def _sub_groups(dist, rank, size, name):
    evens = dist.new_group([r for r in range(size) if r % 2 == 0])
    tail = dist.new_group(list(range(1, size)))
    t = at.tensor(np.full(4, rank, dtype=np.int64))
    if rank % 2 == 0:
        assert dist.get_world_size(evens) == len(range(0, size, 2))
        assert dist.get_rank(evens) == rank // 2
        assert dist.get_process_group_ranks(evens) == list(range(0, size, 2))
        dist.all_reduce(t, group=evens)
        assert (t.numpy() == sum(range(0, size, 2))).all()
    else:
        assert evens is dist.GroupMember.NON_GROUP_MEMBER
        assert dist.get_rank(evens) == -1
    if rank >= 1:
        b = at.tensor(np.full(2, rank, dtype=np.float32))
        dist.broadcast(b, src=size - 1, group=tail)  # src is a global rank
        assert (b.numpy() == size - 1).all()
        outs = [at.zeros(2) for _ in range(size - 1)]
        dist.all_gather(outs, at.tensor(np.full(2, rank, dtype=np.float32)), group=tail)
        assert [o.numpy()[0] for o in outs] == list(range(1, size))
        assert dist.get_global_rank(tail, 0) == 1 and dist.get_group_rank(tail, size - 1) == size - 2
    dist.barrier()


@case("mismatched_shapes_raise_everywhere")
def _mismatch(dist, rank, size, name):
    try:
        dist.all_reduce(at.zeros(3 + rank))
    except dist.CollectiveMismatchError as e:
        text = str(e)
        assert "all_reduce" in text and "float32[3]" in text and "float32[4]" in text, text
    else:
        raise AssertionError("no CollectiveMismatchError")
    try:  # dtype and op disagree too
        dist.all_reduce(at.zeros(2, dtype="float64" if rank else "float32"), op="max" if rank else "sum")
    except dist.CollectiveMismatchError as e:
        assert "float64" in str(e) and "op=MAX" in str(e), str(e)
    else:
        raise AssertionError("no CollectiveMismatchError")
    try:  # different collectives on different ranks
        if rank == 0:
            dist.broadcast(at.zeros(2), src=0)
        else:
            dist.all_reduce(at.zeros(2))
    except dist.CollectiveMismatchError as e:
        assert "broadcast" in str(e) and "all_reduce" in str(e), str(e)
    else:
        raise AssertionError("no CollectiveMismatchError")
    # the group still works afterwards
    t = at.ones(2)
    dist.all_reduce(t)
    assert (t.numpy() == size).all()


@case("local_problems_raise_everywhere")
def _local_problem(dist, rank, size, name):
    # rank 0 alone passes a bad list: it gets its own ValueError, the others a mismatch naming rank 0
    outs = [at.zeros(2) for _ in range(size - (1 if rank == 0 else 0))]
    try:
        dist.all_gather(outs, at.zeros(2))
    except ValueError as e:
        if rank == 0:
            assert "tensor_list has" in str(e), str(e)
        else:
            assert isinstance(e, dist.CollectiveMismatchError) and "[0]" in str(e), str(e)
    else:
        raise AssertionError("no error")
    try:
        dist.all_reduce(at.zeros(2), op=dist.ReduceOp.BAND)  # not defined on float
    except ValueError as e:
        assert "BAND" in str(e) and "float32" in str(e), str(e)
    else:
        raise AssertionError("no error")


@case("recv_of_the_wrong_shape_raises")
def _recv_mismatch(dist, rank, size, name):
    if rank == 0:
        dist.send(at.ones((2, 3)), 1, tag=5)
    elif rank == 1:
        try:
            dist.recv(at.zeros((3, 2)), 0, tag=5)
        except dist.CollectiveMismatchError as e:
            assert "float32[2, 3]" in str(e) and "float32[3, 2]" in str(e), str(e)
        else:
            raise AssertionError("no CollectiveMismatchError")
    dist.barrier()
    if rank == 0:  # the pair still works
        dist.send(at.ones(2) * 5, 1, tag=6)
    elif rank == 1:
        got = at.zeros(2)
        dist.recv(got, 0, tag=6)
        assert (got.numpy() == 5).all()


def main(out: Path) -> None:
    import axon_distributed as dist

    dist.init_process_group("mpi")
    rank, size = dist.get_rank(), dist.get_world_size()
    report = {}
    for name, fn in CASES.items():
        try:
            fn(dist, rank, size, name)
            report[name] = "ok"
        except Exception:
            report[name] = traceback.format_exc(limit=4)
    dist.destroy_process_group()
    (out / f"rank{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
