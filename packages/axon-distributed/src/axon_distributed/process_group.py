"""``ProcessGroupMPI``: a group of ranks over one MPI communicator, and every collective on it.

The module-level functions of :mod:`axon_distributed.collectives` (torch.distributed's names) call
into the group object, as torch's do. Each collective:

1. checks its arguments on this rank (types, list lengths, dtype against the reduce op);
2. unless checks are off, exchanges a 16-integer header with the group (which collective, dtype,
   shape, reduce op, root; one small ``Allgather``), so ranks that disagree raise
   :class:`CollectiveMismatchError` on every rank before any data moves, instead of hanging or
   writing a wrongly sized message into someone's memory;
3. hands the tensors' NumPy buffers straight to mpi4py's buffer (uppercase) methods: no pickling,
   no copies for contiguous CPU tensors (see :mod:`._buffers` for the rest).

Ranks given to a collective (``src``, ``dst``) are global ranks, as in torch.distributed, whatever
the group; the group translates them.
"""

from __future__ import annotations

import itertools
import time
from typing import Any, Callable, Sequence

import numpy as np

from axon_tensor import Tensor

from ._buffers import DTYPE_CODES, DTYPE_NAMES, Staged, as_tensor, copy_into, dtype_kind, reduce_dtype
from .errors import CollectiveMismatchError
from .reduce_op import MPI_OPS, OP_CODES, ReduceOp, as_reduce_op
from .work import Executor, Work

__all__ = ["ProcessGroup", "ProcessGroupMPI"]

# Which collective a header describes; the position is the code.
_COLLECTIVES = (
    "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter",
    "reduce_scatter_tensor", "gather", "scatter", "reduce", "barrier", "all_to_all_single", "send",
)  # fmt: skip
_CODES = {name: code for code, name in enumerate(_COLLECTIVES)}
_HEADER = 16  # int64 fields: kind, problem, dtype, reduce op, root, ndim, numel, dims[0:9]
_MAX_DIMS = 9


class ProcessGroup:
    """A set of ranks that run collectives together (torch.distributed.ProcessGroup's surface).

    ``ranks`` are the members' global ranks, in group-rank order; ``rank()`` and ``size()`` are
    this process's rank in the group and the group's size.
    """

    backend_name = "undefined"

    def __init__(self, group_id: int, ranks: Sequence[int], global_rank: int) -> None:
        self.group_id = group_id
        self.ranks = tuple(ranks)
        self._group_rank = {g: i for i, g in enumerate(self.ranks)}
        self._rank = self._group_rank[global_rank]
        self.name = "WORLD" if group_id == 0 else f"group {group_id}"

    def rank(self) -> int:
        return self._rank

    def size(self) -> int:
        return len(self.ranks)

    def group_rank(self, global_rank: int, what: str = "rank") -> int:
        """The group rank of a global rank; ValueError when it is not a member."""
        try:
            return self._group_rank[int(global_rank)]
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f"{what} {global_rank!r} is not a member of {self.name} (global ranks {list(self.ranks)})"
            ) from None

    def __repr__(self) -> str:
        return f"ProcessGroup{self.backend_name.upper()}({self.name}, ranks={list(self.ranks)}, rank={self._rank})"


class ProcessGroupMPI(ProcessGroup):
    """A process group over an MPI communicator (``comm``, an mpi4py ``Intracomm`` of the members).

    ``monitor`` watches every blocking MPI call for dead or hung peers (see :mod:`._monitor`);
    ``check`` turns the header exchange on; ``executor`` runs the asynchronous operations.
    """

    backend_name = "mpi"

    def __init__(
        self,
        comm: Any,
        group_id: int,
        ranks: Sequence[int],
        global_rank: int,
        *,
        monitor: Any,
        executor: Executor,
        check: bool = True,
        timeout_s: float | None = None,
    ) -> None:
        super().__init__(group_id, ranks, global_rank)
        from mpi4py import MPI

        self._MPI = MPI
        self.comm = comm
        # Point-to-point headers travel on a duplicate, so they never match a data message.
        self._header_comm = comm.Dup()
        self.monitor = monitor
        self.executor = executor
        self.check = check
        self.timeout_s = timeout_s  # None: the world's (init_process_group's) timeout
        self._seq = itertools.count(1)
        self._peers = [r for r in self.ranks if r != global_rank]

    def destroy(self) -> None:
        self.executor.drain()
        for comm in (self._header_comm, self.comm):
            if comm != self._MPI.COMM_WORLD:
                try:
                    comm.Free()
                except self._MPI.Exception:
                    pass  # a communicator revoked after a failure cannot always be freed

    # -- the shared path of every collective ---------------------------------------------------------
    def _post(
        self,
        name: str,
        header: "np.ndarray | str",
        body: Callable[[], None],
        async_op: bool,
        result: "list[Any] | None" = None,
    ) -> Work | None:
        """Run ``body`` (the MPI calls) after the header check; return a Work when ``async_op``.

        ``header`` is this rank's header, or a string saying what is wrong with its arguments.
        """
        seq = next(self._seq)
        label = f"{name} #{seq} on {self.name}"
        peers = self._peers
        self.monitor.entering(self, seq, label, peers)
        if header.__class__ is str and not self.check:
            raise ValueError(f"{label}: {header}")

        def run() -> None:
            with self.monitor.guard(self, label, peers, self.comm, timeout=self.timeout_s, seq=seq):
                if self.check:
                    self._exchange_headers(label, header)
                body()

        if async_op:
            work = Work(label, result, on_timeout=self.monitor.work_timeout, group=self, seq=seq)
            return self.executor.submit(run, work)
        self.executor.run(run, label)
        return None

    def _header(self, name: str, tensor: Tensor | None, op: ReduceOp | None = None, root: int = -1) -> np.ndarray:
        """This rank's header: kind, problem flag, dtype, reduce op, root, ndim, numel, dims (int64[16])."""
        op_code = -1 if op is None else OP_CODES[op]
        if tensor is None:
            return np.array([_CODES[name], 0, -1, op_code, root] + [0] * (_HEADER - 5), dtype=np.int64)
        array = tensor.array
        shape = array.shape
        dims = list(shape) if len(shape) <= _MAX_DIMS else list(shape[: _MAX_DIMS - 1]) + [hash(shape) & 0x7FFFFFFF]
        fields = [_CODES[name], 0, DTYPE_CODES.get(tensor.dtype.name, -1), op_code, root, len(shape), array.size]
        return np.array(fields + dims + [0] * (_HEADER - len(fields) - len(dims)), dtype=np.int64)

    def _exchange_headers(self, label: str, header: "np.ndarray | str") -> None:
        if header.__class__ is str:
            mine = np.zeros(_HEADER, dtype=np.int64)
            mine[1] = 1
        else:
            mine = header
        table = np.empty((len(self.ranks), _HEADER), dtype=np.int64)
        self.comm.Allgather(mine, table)
        if header.__class__ is not str and table.tobytes() == mine.tobytes() * len(self.ranks):
            return
        if header.__class__ is str:
            raise ValueError(f"{label}: {header}")
        bad = [self.ranks[i] for i in range(self.size()) if table[i, 1]]
        if bad:
            raise CollectiveMismatchError(
                f"{label}: rank(s) {bad} rejected their arguments (their own error says why); nothing was sent"
            )
        seen: dict[str, list[int]] = {}
        for i in range(self.size()):
            seen.setdefault(_describe(table[i]), []).append(self.ranks[i])
        detail = "; ".join(f"rank(s) {ranks}: {what}" for what, ranks in seen.items())
        raise CollectiveMismatchError(f"{label}: the ranks called it with different arguments: {detail}")

    def _mpi_op(self, op: ReduceOp, tensor: Tensor) -> Any:
        name = MPI_OPS.get((op, dtype_kind(tensor)))
        if name is None:
            raise TypeError(f"reduce op {op.name} is not defined for {tensor.dtype} tensors")
        return getattr(self._MPI, name)

    def _finish_avg(self, op: ReduceOp, buf: np.ndarray) -> None:
        if op is ReduceOp.AVG:
            np.true_divide(buf, self.size(), out=buf)

    # -- collectives ----------------------------------------------------------------------------------
    def all_reduce(self, tensor: Any, op: Any = ReduceOp.SUM, async_op: bool = False) -> Work | None:
        t = as_tensor(tensor, "all_reduce")
        op = as_reduce_op(op)
        problem = _try(lambda: self._mpi_op(op, t))
        mpi_op = None if isinstance(problem, str) else problem

        def body() -> None:
            staged = Staged(t, dtype=reduce_dtype(t))
            self.comm.Allreduce(self._MPI.IN_PLACE, staged.buf, op=mpi_op)
            self._finish_avg(op, staged.buf)
            staged.commit()

        header = problem if isinstance(problem, str) else self._header("all_reduce", t, op)
        return self._post("all_reduce", header, body, async_op, [t])

    def reduce(self, tensor: Any, dst: int, op: Any = ReduceOp.SUM, async_op: bool = False) -> Work | None:
        t = as_tensor(tensor, "reduce")
        op = as_reduce_op(op)
        root = self.group_rank(dst, "dst")
        problem = _try(lambda: self._mpi_op(op, t))

        def body() -> None:
            staged = Staged(t, dtype=reduce_dtype(t))
            if self._rank == root:
                self.comm.Reduce(self._MPI.IN_PLACE, staged.buf, op=problem, root=root)
                self._finish_avg(op, staged.buf)
                staged.commit()
            else:
                self.comm.Reduce(staged.buf, None, op=problem, root=root)

        header = problem if isinstance(problem, str) else self._header("reduce", t, op, dst)
        return self._post("reduce", header, body, async_op, [t])

    def broadcast(self, tensor: Any, src: int, async_op: bool = False) -> Work | None:
        t = as_tensor(tensor, "broadcast")
        root = self.group_rank(src, "src")

        def body() -> None:
            staged = Staged(t, read=self._rank == root)
            self.comm.Bcast(staged.raw, root=root)
            if self._rank != root:
                staged.commit()

        return self._post("broadcast", self._header("broadcast", t, root=src), body, async_op, [t])

    def all_gather(self, tensor_list: list[Any], tensor: Any, async_op: bool = False) -> Work | None:
        t = as_tensor(tensor, "all_gather")
        outputs = [as_tensor(x, "all_gather") for x in _as_list(tensor_list, "all_gather", "tensor_list")]
        problem = _same_as(outputs, t, self.size(), "tensor_list")

        def body() -> None:
            source = Staged(t)
            gathered = np.empty((self.size(),) + source.buf.shape, dtype=source.buf.dtype)
            self.comm.Allgather(source.raw, gathered.reshape(self.size(), -1).view(np.uint8))
            for out, values in zip(outputs, gathered):
                copy_into(out, values)

        return self._post("all_gather", problem or self._header("all_gather", t), body, async_op, outputs)

    def all_gather_into_tensor(self, output: Any, input: Any, async_op: bool = False) -> Work | None:
        out, t = as_tensor(output, "all_gather_into_tensor"), as_tensor(input, "all_gather_into_tensor")
        problem = _sized(out, t, self.size() * t.numel(), "output")

        def body() -> None:
            source, target = Staged(t), Staged(out, read=False)
            self.comm.Allgather(source.raw, target.raw)
            target.commit()

        header = problem or self._header("all_gather_into_tensor", t)
        return self._post("all_gather_into_tensor", header, body, async_op, [out])

    def reduce_scatter(
        self, output: Any, input_list: list[Any], op: Any = ReduceOp.SUM, async_op: bool = False
    ) -> Work | None:
        out = as_tensor(output, "reduce_scatter")
        inputs = [as_tensor(x, "reduce_scatter") for x in _as_list(input_list, "reduce_scatter", "input_list")]
        op = as_reduce_op(op)
        problem = _same_as(inputs, out, self.size(), "input_list") or _try(lambda: self._mpi_op(op, out))
        wide = reduce_dtype(out)

        def body() -> None:
            dtype = wide or out.array.dtype
            stacked = np.empty((self.size(),) + tuple(out.shape), dtype=dtype)
            for i, x in enumerate(inputs):
                stacked[i] = Staged(x, dtype=wide).buf
            target = Staged(out, read=False, dtype=wide)
            self.comm.Reduce_scatter_block(stacked, target.buf, op=problem)
            self._finish_avg(op, target.buf)
            target.commit()

        header = problem if isinstance(problem, str) else self._header("reduce_scatter", out, op)
        return self._post("reduce_scatter", header, body, async_op, [out])

    def reduce_scatter_tensor(self, output: Any, input: Any, op: Any = ReduceOp.SUM, async_op: bool = False):
        out, t = as_tensor(output, "reduce_scatter_tensor"), as_tensor(input, "reduce_scatter_tensor")
        op = as_reduce_op(op)
        problem = _sized(t, out, self.size() * out.numel(), "input") or _try(lambda: self._mpi_op(op, out))
        wide = reduce_dtype(out)

        def body() -> None:
            source, target = Staged(t, dtype=wide), Staged(out, read=False, dtype=wide)
            self.comm.Reduce_scatter_block(source.buf, target.buf, op=problem)
            self._finish_avg(op, target.buf)
            target.commit()

        header = problem if isinstance(problem, str) else self._header("reduce_scatter_tensor", out, op)
        return self._post("reduce_scatter_tensor", header, body, async_op, [out])

    def gather(self, tensor: Any, gather_list: "list[Any] | None", dst: int, async_op: bool = False):
        t = as_tensor(tensor, "gather")
        root = self.group_rank(dst, "dst")
        outputs: list[Tensor] = []
        problem = None
        if self._rank == root:
            outputs = [as_tensor(x, "gather") for x in _as_list(gather_list, "gather", "gather_list")]
            problem = _same_as(outputs, t, self.size(), "gather_list")
        elif gather_list:
            problem = f"gather_list must be None or empty on non-destination rank {self.ranks[self._rank]}"

        def body() -> None:
            source = Staged(t)
            if self._rank != root:
                self.comm.Gather(source.raw, None, root=root)
                return
            gathered = np.empty((self.size(),) + source.buf.shape, dtype=source.buf.dtype)
            self.comm.Gather(source.raw, gathered.reshape(self.size(), -1).view(np.uint8), root=root)
            for out, values in zip(outputs, gathered):
                copy_into(out, values)

        return self._post("gather", problem or self._header("gather", t, root=dst), body, async_op, outputs)

    def scatter(self, tensor: Any, scatter_list: "list[Any] | None", src: int, async_op: bool = False):
        out = as_tensor(tensor, "scatter")
        root = self.group_rank(src, "src")
        inputs: list[Tensor] = []
        problem = None
        if self._rank == root:
            inputs = [as_tensor(x, "scatter") for x in _as_list(scatter_list, "scatter", "scatter_list")]
            problem = _same_as(inputs, out, self.size(), "scatter_list")
        elif scatter_list:
            problem = f"scatter_list must be None or empty on non-source rank {self.ranks[self._rank]}"

        def body() -> None:
            target = Staged(out, read=False)
            if self._rank != root:
                self.comm.Scatter(None, target.raw, root=root)
            else:
                stacked = np.empty((self.size(),) + target.buf.shape, dtype=target.buf.dtype)
                for i, x in enumerate(inputs):
                    stacked[i] = Staged(x).buf
                self.comm.Scatter(stacked.reshape(self.size(), -1).view(np.uint8), target.raw, root=root)
            target.commit()

        return self._post("scatter", problem or self._header("scatter", out, root=src), body, async_op, [out])

    def all_to_all_single(self, output: Any, input: Any, async_op: bool = False) -> Work | None:
        out, t = as_tensor(output, "all_to_all_single"), as_tensor(input, "all_to_all_single")
        problem = _sized(out, t, t.numel(), "output")
        if problem is None and t.numel() % self.size():
            problem = f"input has {t.numel()} elements, not a multiple of the group size {self.size()}"

        def body() -> None:
            source, target = Staged(t), Staged(out, read=False)
            self.comm.Alltoall(source.raw, target.raw)
            target.commit()

        header = problem or self._header("all_to_all_single", t)
        return self._post("all_to_all_single", header, body, async_op, [out])

    def barrier(self, async_op: bool = False) -> Work | None:
        def body() -> None:
            if not self.check:  # the header exchange already was a barrier
                self.comm.Barrier()

        return self._post("barrier", self._header("barrier", None), body, async_op)

    # -- point to point -------------------------------------------------------------------------------
    def send(self, tensor: Any, dst: int, tag: int = 0) -> Work:
        """Post a send of ``tensor`` to global rank ``dst``; the Work completes when the buffer is reusable."""
        t = as_tensor(tensor, "send")
        peer = self.group_rank(dst, "dst")
        label = f"send to rank {dst} (tag {tag}) on {self.name}"
        self.monitor.check_peers(label, [dst])
        staged = Staged(t)
        requests = []
        if self.check:
            requests.append(self._header_comm.Isend(self._header("send", t), dest=peer, tag=tag))
        requests.append(self.comm.Isend(staged.raw, dest=peer, tag=tag))
        return _P2PWork(self, label, [dst], requests, keep=staged)

    def recv(self, tensor: Any, src: "int | None" = None, tag: int = 0) -> "_P2PWork":
        """Post a receive into ``tensor`` from global rank ``src`` (None: any rank); ``wait()`` checks the
        sender's dtype and shape and returns the sender's global rank via ``work.source``."""
        t = as_tensor(tensor, "recv")
        MPI = self._MPI
        peer = MPI.ANY_SOURCE if src is None else self.group_rank(src, "src")
        peers = list(self.ranks) if src is None else [src]
        label = f"recv from {'any rank' if src is None else f'rank {src}'} (tag {tag}) on {self.name}"
        self.monitor.check_peers(label, [p for p in peers if p != self.ranks[self._rank]])
        staged = Staged(t, read=False)
        header = np.zeros(_HEADER, dtype=np.int64) if self.check else None
        work = _P2PWork(self, label, peers, [], keep=staged, recv=(staged, header, peer, tag))
        if header is not None:
            work.requests.append(self._header_comm.Irecv(header, source=peer, tag=tag))
        if header is None or src is not None:
            work.requests.append(self.comm.Irecv(staged.raw, source=peer, tag=tag))
        return work


class _P2PWork(Work):
    """A posted send or receive: MPI requests, waited on under the monitor's watch."""

    def __init__(self, group: ProcessGroupMPI, label: str, peers: list[int], requests: list, keep: Any, recv=None):
        super().__init__(label, [keep.tensor], on_timeout=group.monitor.work_timeout)
        self.group = group
        self.peers = peers
        self.requests = requests
        self._keep = keep  # the staged buffer MPI writes or reads until completion
        self._recv = recv
        self.source: int | None = None

    def wait(self, timeout: Any = None) -> bool:
        if self._done.is_set():
            return super().wait()
        group, MPI = self.group, self.group._MPI
        try:
            limit = group.timeout_s if timeout is None else timeout
            with group.monitor.guard(group, self.label, self.peers, group.comm, timeout=limit) as record:
                if self._recv is None:
                    _poll(MPI, self.requests, record)
                else:
                    self._wait_recv(MPI, record)
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish()
        return True

    def is_completed(self) -> bool:
        if not self._done.is_set() and self._recv is None and self.group._MPI.Request.Testall(self.requests):
            self._finish()
        return self._done.is_set()

    def _wait_recv(self, MPI: Any, record: Any) -> None:
        staged, header, peer, tag = self._recv
        group = self.group
        status = MPI.Status()
        if header is not None:
            _poll(MPI, self.requests[:1], record, status)
            sender = status.Get_source()
            expected = group._header("send", staged.tensor)
            if len(self.requests) == 1:  # any source: receive the data from whoever sent the header
                self.requests.append(group.comm.Irecv(staged.raw, source=sender, tag=tag))
            if not (header == expected).all():
                self._refuse(MPI, sender, tag)
                raise CollectiveMismatchError(
                    f"{self.label}: rank {group.ranks[sender]} sent {_describe(header)} but this rank "
                    f"receives into {_describe(expected)}"
                )
            _poll(MPI, self.requests[1:], record, status)
        else:
            _poll(MPI, self.requests[:1], record, status)
            sender = status.Get_source()
        self.source = group.ranks[sender]
        staged.commit()

    def _refuse(self, MPI: Any, sender: int, tag: int) -> None:
        """Take the mismatched data message off the wire (into scratch, sized by MPI's own count) so the
        sender completes; this rank's tensor may be partly overwritten only if the message already landed."""
        data = self.requests[1]
        status = MPI.Status()
        try:
            data.Cancel()
            data.Wait(status)
        except MPI.Exception:
            return  # it matched and was truncated: consumed
        if status.Is_cancelled():
            self.group.comm.Probe(source=sender, tag=tag, status=status)
            scratch = np.empty(status.Get_count(MPI.BYTE), dtype=np.uint8)
            self.group.comm.Recv(scratch, source=sender, tag=tag)


# -- helpers -----------------------------------------------------------------------------------------
def _poll(MPI: Any, requests: list, record: Any, status: Any = None) -> None:
    """Wait for ``requests`` by testing them (spinning briefly, then sleeping up to 0.5 ms between tests),
    so a failure the watchdog records on ``record`` is raised here: MPI does not end a blocked
    point-to-point wait when the communicator is revoked."""
    delay, spins = 0.0, 0
    while not (requests[0].Test(status) if status is not None else MPI.Request.Testall(requests)):
        if record.error is not None:
            raise record.error
        spins += 1
        if spins > 200:
            time.sleep(delay)
            delay = min(max(2 * delay, 2e-5), 5e-4)


def _describe(header: np.ndarray) -> str:
    kind = _COLLECTIVES[header[0]] if 0 <= header[0] < len(_COLLECTIVES) else f"collective {header[0]}"
    if header[2] < 0:
        return kind
    dims = [int(d) for d in header[7 : 7 + min(int(header[5]), _MAX_DIMS)]]
    text = f"{kind}({DTYPE_NAMES.get(int(header[2]), '?')}{dims}"
    if header[3] >= 0:
        text += f", op={list(ReduceOp)[header[3]].name}"
    if header[4] >= 0:
        text += f", root={int(header[4])}"
    return text + ")"


def _try(fn: Callable[[], Any]) -> Any:
    """``fn()``, or its TypeError/ValueError message as a string (a local problem the group is told of)."""
    try:
        return fn()
    except (TypeError, ValueError) as exc:
        return str(exc)


def _as_list(values: Any, op: str, what: str) -> list[Any]:
    if values is None:
        raise ValueError(f"{op}: {what} is required on this rank")
    if isinstance(values, Tensor) or not isinstance(values, (list, tuple)):
        raise TypeError(f"{op}: {what} must be a list of tensors, got {type(values).__name__}")
    return list(values)


def _same_as(tensors: list[Tensor], like: Tensor, count: int, what: str) -> str | None:
    if len(tensors) != count:
        return f"{what} has {len(tensors)} tensors; the group has {count} ranks"
    for i, x in enumerate(tensors):
        if tuple(x.shape) != tuple(like.shape) or x.dtype != like.dtype:
            return (
                f"{what}[{i}] is {x.dtype}{list(x.shape)}; every entry must be {like.dtype}{list(like.shape)} "
                "like the rank's own tensor"
            )
    return None


def _sized(big: Tensor, small: Tensor, numel: int, what: str) -> str | None:
    if big.dtype != small.dtype:
        return f"{what} is {big.dtype} but the other tensor is {small.dtype}"
    if big.numel() != numel:
        return f"{what} has {big.numel()} elements; expected {numel}"
    return None
