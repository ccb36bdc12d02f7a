"""torch.distributed's module-level API over axon's process groups.

``init_process_group("mpi")`` joins the job this process was launched in (by ``mpiexec``,
``srun``, or ``python -m axon_distributed.launch``); the collectives then work in place on axon
Tensors (a Variable's ``.data`` too) of every rank of a group::

    import axon_distributed as dist
    dist.init_process_group("mpi")
    t = axon.tensor([1.0, 2.0]) * (dist.get_rank() + 1)
    dist.all_reduce(t)                       # every rank now holds the sum
    work = dist.all_reduce(t, op=dist.ReduceOp.MAX, async_op=True)
    work.wait()

As in torch.distributed, ``src`` / ``dst`` are global ranks whatever ``group`` is, every rank of
the world calls :func:`new_group`, and a rank outside ``group`` that calls a collective on it gets
None back and does nothing.
"""

from __future__ import annotations

import atexit
import os
import sys
import warnings
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Sequence

from ._env import launcher_rank
from .errors import DistributedError
from .process_group import ProcessGroup, ProcessGroupMPI
from .reduce_op import ReduceOp
from .work import Executor, Work, completed_work

__all__ = [
    "GroupMember",
    "all_gather",
    "all_gather_into_tensor",
    "all_reduce",
    "all_to_all_single",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "gather",
    "get_backend",
    "get_global_rank",
    "get_group_rank",
    "get_process_group_ranks",
    "get_rank",
    "get_world_size",
    "group",
    "init_process_group",
    "irecv",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "isend",
    "new_group",
    "recv",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "scatter",
    "send",
]

# torch.distributed's default timeout for a collective; AXON_DISTRIBUTED_TIMEOUT (seconds) overrides it.
DEFAULT_TIMEOUT = timedelta(minutes=30)


class _NonGroupMember:
    def __repr__(self) -> str:
        return "GroupMember.NON_GROUP_MEMBER"


class GroupMember:
    """``WORLD`` is the default group once initialised; ``NON_GROUP_MEMBER`` is what :func:`new_group`
    returns on a rank outside the new group."""

    WORLD: ProcessGroup | None = None
    NON_GROUP_MEMBER = _NonGroupMember()


class group:
    """torch.distributed's ``group.WORLD`` (the default process group, None before initialisation)."""

    WORLD: ProcessGroup | None = None


@dataclass
class _State:
    backend: str
    world: ProcessGroupMPI
    monitor: Any
    executor: Executor
    timeout_s: float
    check: bool
    world_comm: Any
    groups: list[ProcessGroupMPI] = field(default_factory=list)
    next_group_id: int = 1


_state: _State | None = None


# -- joining and leaving -------------------------------------------------------------------------------
def is_available() -> bool:
    """True: axon-distributed is importable (whether a backend is installed: :func:`is_mpi_available`)."""
    return True


def is_mpi_available() -> bool:
    """True when mpi4py (the ``[mpi]`` extra) can be imported."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_initialized() -> bool:
    return _state is not None


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: "timedelta | float | None" = None,
    world_size: int = -1,
    rank: int = -1,
    *,
    check_collectives: bool | None = None,
) -> None:
    """Join the job's default process group (torch.distributed's signature; ``backend`` is ``"mpi"``).

    Rank and world size come from MPI, which the launcher set up (``mpiexec``, ``srun --mpi=pmix``,
    ``python -m axon_distributed.launch``); a plain ``python script.py`` is a world of one. When the
    launcher's variables (``OMPI_COMM_WORLD_RANK``, ``PMI_RANK``, ``SLURM_PROCID``, ``RANK`` /
    ``WORLD_SIZE``) or the ``rank`` / ``world_size`` arguments disagree with MPI's view, this raises
    DistributedError saying so (the usual cause: srun without an MPI plugin, so each task is alone).

    ``timeout`` (a timedelta or seconds; default 30 minutes, or ``AXON_DISTRIBUTED_TIMEOUT`` seconds)
    bounds how long any operation waits for the other ranks before raising
    :class:`~axon_distributed.CollectiveTimeoutError` naming the ranks that did not come.
    ``check_collectives`` (default on; ``AXON_DISTRIBUTED_CHECKS=0`` turns it off) exchanges a small
    header before each collective so ranks that disagree on shape, dtype, op or root raise
    :class:`~axon_distributed.CollectiveMismatchError` instead of corrupting memory or hanging.
    """
    global _state
    backend = (backend or "mpi").lower()
    if _state is not None:
        raise DistributedError("init_process_group: the default process group is already initialized")
    if backend not in ("mpi",):
        raise ValueError(f"init_process_group: backend {backend!r} is not available here; use 'mpi'")
    if init_method not in (None, "env://", "mpi://"):
        raise ValueError(f"init_process_group: init_method {init_method!r} is not supported by the MPI backend")
    if not is_mpi_available():
        raise DistributedError("init_process_group('mpi') needs mpi4py and an MPI: pip install 'axon-distributed[mpi]'")
    from mpi4py import MPI

    world_comm = MPI.COMM_WORLD.Dup()
    world_comm.Set_errhandler(MPI.ERRORS_RETURN)
    mpi_rank, mpi_size = world_comm.Get_rank(), world_comm.Get_size()
    _check_world(mpi_rank, mpi_size, rank, world_size)
    timeout_s = _timeout_seconds(timeout)
    check = _env_flag("AXON_DISTRIBUTED_CHECKS", True) if check_collectives is None else bool(check_collectives)

    from ._monitor import Monitor

    monitor = Monitor(mpi_rank, mpi_size, timeout_s, world_comm, enabled=_env_flag("AXON_DISTRIBUTED_MONITOR", True))
    # After mpi4py's own exit handler, so this one runs first (atexit is last in, first out).
    atexit.register(_leave_at_exit)
    executor = Executor()
    world = ProcessGroupMPI(world_comm, 0, range(mpi_size), mpi_rank, monitor=monitor, executor=executor, check=check)
    _state = _State("mpi", world, monitor, executor, timeout_s, check, world_comm, [world])
    GroupMember.WORLD = group.WORLD = world


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Leave the default group (and every sub-group), or free one sub-group. Waits for posted work first."""
    global _state
    state = _require("destroy_process_group")
    if group is not None and group is not state.world:
        if isinstance(group, ProcessGroupMPI):
            group.destroy()
            state.groups.remove(group)
        return
    for pg in reversed(state.groups):
        pg.destroy()
    state.executor.close()
    _leave(state, "")
    _state = None
    GroupMember.WORLD = globals()["group"].WORLD = None


def new_group(ranks: Sequence[int] | None = None, timeout: Any = None, backend: str | None = None) -> Any:
    """A sub-group of the given global ranks (all of them if None), ordered by rank as torch does.

    Every rank of the world must call it, in the same order as the others; ranks outside ``ranks``
    get ``GroupMember.NON_GROUP_MEMBER``. ``timeout`` (a timedelta or seconds) replaces the world's
    for this group's operations.
    """
    state = _require("new_group")
    size = state.world.size()
    members = sorted(set(range(size) if ranks is None else (int(r) for r in ranks)))
    if not members or members[0] < 0 or members[-1] >= size:
        raise ValueError(f"new_group: ranks {ranks!r} must be a non-empty subset of 0..{size - 1}")
    if backend not in (None, state.backend):
        raise ValueError(f"new_group: backend {backend!r}; this world runs {state.backend!r}")
    group_id = state.next_group_id
    state.next_group_id += 1
    me = state.world.ranks[state.world.rank()]
    if me not in members:
        return GroupMember.NON_GROUP_MEMBER
    mpi_group = state.world_comm.Get_group().Incl(members)
    comm = state.world_comm.Create_group(mpi_group, tag=group_id)
    mpi_group.Free()
    pg = ProcessGroupMPI(
        comm, group_id, members, me, monitor=state.monitor, executor=state.executor, check=state.check,
        timeout_s=None if timeout is None else _timeout_seconds(timeout),
    )  # fmt: skip
    state.groups.append(pg)
    return pg


# -- who is who -----------------------------------------------------------------------------------------
def get_rank(group: Any = None) -> int:
    """This process's rank in ``group`` (the world by default); -1 when it is not a member."""
    pg = _resolve(group, "get_rank")
    return -1 if pg is None else pg.rank()


def get_world_size(group: Any = None) -> int:
    """The number of ranks in ``group`` (the world by default); -1 on a rank outside it."""
    pg = _resolve(group, "get_world_size")
    return -1 if pg is None else pg.size()


def get_backend(group: Any = None) -> str:
    _require("get_backend")
    return _require("get_backend").backend


def get_process_group_ranks(group: ProcessGroup) -> list[int]:
    """The global ranks of ``group``'s members, in group-rank order."""
    pg = _resolve(group, "get_process_group_ranks")
    if pg is None:
        raise ValueError("get_process_group_ranks: this rank is not a member of the group")
    return list(pg.ranks)


def get_group_rank(group: ProcessGroup, global_rank: int) -> int:
    pg = _resolve(group, "get_group_rank")
    if pg is None:
        raise ValueError("get_group_rank: this rank is not a member of the group")
    return pg.group_rank(global_rank, "global_rank")


def get_global_rank(group: ProcessGroup, group_rank: int) -> int:
    pg = _resolve(group, "get_global_rank")
    if pg is None or not 0 <= group_rank < pg.size():
        raise ValueError(f"get_global_rank: group rank {group_rank} is not in the group")
    return pg.ranks[group_rank]


# -- collectives ------------------------------------------------------------------------------------------
def all_reduce(tensor: Any, op: Any = ReduceOp.SUM, group: Any = None, async_op: bool = False) -> Work | None:
    """Reduce ``tensor`` across the group in place: afterwards every rank holds the result.

    ``op``: :class:`ReduceOp` (SUM, AVG, PRODUCT, MIN, MAX, BAND, BOR, BXOR). float16 and bfloat16
    reduce in float32 and round once. Returns a :class:`Work` when ``async_op``.
    """
    pg = _member(group, "all_reduce")
    return _noop(async_op) if pg is None else pg.all_reduce(tensor, op, async_op)


def reduce(tensor: Any, dst: int, op: Any = ReduceOp.SUM, group: Any = None, async_op: bool = False):
    """Reduce ``tensor`` across the group into global rank ``dst``'s tensor; the others' are unchanged."""
    pg = _member(group, "reduce")
    return _noop(async_op) if pg is None else pg.reduce(tensor, dst, op, async_op)


def broadcast(tensor: Any, src: int, group: Any = None, async_op: bool = False) -> Work | None:
    """Copy global rank ``src``'s ``tensor`` into every other rank's ``tensor`` (same shape and dtype)."""
    pg = _member(group, "broadcast")
    return _noop(async_op) if pg is None else pg.broadcast(tensor, src, async_op)


def all_gather(tensor_list: list[Any], tensor: Any, group: Any = None, async_op: bool = False) -> Work | None:
    """Every rank's ``tensor`` into ``tensor_list[group_rank]`` on every rank (one entry per rank)."""
    pg = _member(group, "all_gather")
    return _noop(async_op) if pg is None else pg.all_gather(tensor_list, tensor, async_op)


def all_gather_into_tensor(output_tensor: Any, input_tensor: Any, group: Any = None, async_op: bool = False):
    """Every rank's ``input_tensor`` concatenated in rank order into ``output_tensor`` (world_size times
    as many elements: ``[world * n, ...]`` or ``[world, n, ...]``)."""
    pg = _member(group, "all_gather_into_tensor")
    return _noop(async_op) if pg is None else pg.all_gather_into_tensor(output_tensor, input_tensor, async_op)


def reduce_scatter(output: Any, input_list: list[Any], op: Any = ReduceOp.SUM, group: Any = None, async_op=False):
    """Reduce ``input_list[i]`` across the ranks into group rank i's ``output``."""
    pg = _member(group, "reduce_scatter")
    return _noop(async_op) if pg is None else pg.reduce_scatter(output, input_list, op, async_op)


def reduce_scatter_tensor(output: Any, input: Any, op: Any = ReduceOp.SUM, group: Any = None, async_op=False):
    """Reduce ``input`` (world_size blocks of ``output``'s size, in rank order) and keep block i on rank i."""
    pg = _member(group, "reduce_scatter_tensor")
    return _noop(async_op) if pg is None else pg.reduce_scatter_tensor(output, input, op, async_op)


def gather(tensor: Any, gather_list: list[Any] | None = None, dst: int = 0, group: Any = None, async_op=False):
    """Every rank's ``tensor`` into ``gather_list`` on global rank ``dst`` (None elsewhere)."""
    pg = _member(group, "gather")
    return _noop(async_op) if pg is None else pg.gather(tensor, gather_list, dst, async_op)


def scatter(tensor: Any, scatter_list: list[Any] | None = None, src: int = 0, group: Any = None, async_op=False):
    """``scatter_list[i]`` of global rank ``src`` into group rank i's ``tensor``."""
    pg = _member(group, "scatter")
    return _noop(async_op) if pg is None else pg.scatter(tensor, scatter_list, src, async_op)


def all_to_all_single(output: Any, input: Any, group: Any = None, async_op: bool = False) -> Work | None:
    """Block j of ``input`` (split evenly along the flattened elements) goes to rank j's ``output`` block i."""
    pg = _member(group, "all_to_all_single")
    return _noop(async_op) if pg is None else pg.all_to_all_single(output, input, async_op)


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None) -> Work | None:
    """Return only once every rank of the group has entered it."""
    pg = _member(group, "barrier")
    return _noop(async_op) if pg is None else pg.barrier(async_op)


def isend(tensor: Any, dst: int, group: Any = None, tag: int = 0) -> Work | None:
    """Post a send of ``tensor`` to global rank ``dst``; ``wait()`` before writing into ``tensor`` again."""
    pg = _member(group, "isend")
    return None if pg is None else pg.send(tensor, dst, tag)


def irecv(tensor: Any, src: int | None = None, group: Any = None, tag: int = 0) -> Work | None:
    """Post a receive into ``tensor`` from global rank ``src`` (None: any); values land at ``wait()``."""
    pg = _member(group, "irecv")
    return None if pg is None else pg.recv(tensor, src, tag)


def send(tensor: Any, dst: int, group: Any = None, tag: int = 0) -> None:
    """Send ``tensor`` to global rank ``dst`` (blocks until the buffer may be reused)."""
    work = isend(tensor, dst, group, tag)
    if work is not None:
        work.wait()


def recv(tensor: Any, src: int | None = None, group: Any = None, tag: int = 0) -> int:
    """Receive into ``tensor`` from global rank ``src`` (None: any rank); returns the sender's global rank.

    The sender's dtype and shape must equal ``tensor``'s (checked: CollectiveMismatchError otherwise).
    """
    work = irecv(tensor, src, group, tag)
    if work is None:
        return -1
    work.wait()
    return work.source


# -- helpers ------------------------------------------------------------------------------------------------
def _require(op: str) -> _State:
    if _state is None:
        raise DistributedError(f"{op}: the default process group is not initialized; call init_process_group()")
    return _state


def _resolve(group: Any, op: str) -> ProcessGroupMPI | None:
    state = _require(op)
    if group is None or group is GroupMember.WORLD:
        return state.world
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(group, ProcessGroupMPI) or group not in state.groups:
        raise ValueError(f"{op}: {group!r} is not a live process group of this world")
    return group


def _member(group: Any, op: str) -> ProcessGroupMPI | None:
    pg = _resolve(group, op)
    if pg is None:
        warnings.warn(f"{op}: this rank is not a member of the group; the call does nothing", stacklevel=3)
    return pg


def _noop(async_op: bool) -> Work | None:
    return completed_work("no-op (not a member of the group)") if async_op else None


def _timeout_seconds(timeout: "timedelta | float | None") -> float:
    if timeout is None:
        env = os.environ.get("AXON_DISTRIBUTED_TIMEOUT")
        if env is None:
            return DEFAULT_TIMEOUT.total_seconds()
        try:
            timeout = float(env)
        except ValueError:
            raise ValueError(f"AXON_DISTRIBUTED_TIMEOUT={env!r} is not a number of seconds") from None
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
    if not seconds > 0:
        raise ValueError(f"init_process_group: timeout must be positive, got {timeout!r}")
    return seconds


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.strip().lower() in ("0", "false", "no", "off"):
        return False
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name}={value!r}: expected 0 or 1")


def _check_world(mpi_rank: int, mpi_size: int, rank: int, world_size: int) -> None:
    found = launcher_rank()
    if found is not None:
        launcher, env_rank, env_size, _ = found
        if (env_rank, env_size) != (mpi_rank, mpi_size):
            raise DistributedError(
                f"init_process_group: {launcher} set rank {env_rank} of {env_size}, but MPI sees rank {mpi_rank} "
                f"of {mpi_size}. Under Slurm, run with `srun --mpi=pmix` (or pmi2) so MPI joins the tasks; "
                "otherwise launch with mpiexec or `python -m axon_distributed.launch -n N`."
            )
    if world_size not in (-1, mpi_size) or rank not in (-1, mpi_rank):
        raise DistributedError(
            f"init_process_group: rank={rank}, world_size={world_size} given, "
            f"but MPI sees rank {mpi_rank} of {mpi_size}"
        )


# Set when this process left a group in which a rank died or failed: then it must not call MPI_Finalize.
_skip_finalize: list[bool] = []
# The exit code axon_distributed._rank saw (the launcher's wrapper), for an exit that skips finalize.
exit_code: list[int] = []


def _leave(state: _State, reason: str) -> None:
    """Say goodbye to the other ranks (with ``reason``, the error this process ends on) and wait, up to a
    bound, for them to leave too, so a rank that died or failed is known before MPI_Finalize."""
    monitor = state.monitor
    try:
        monitor.close(reason=reason, wait_s=0.0 if monitor.broken is not None else min(30.0, state.timeout_s))
    except Exception:
        pass
    if monitor.broken is not None or monitor.unclean() or (reason and state.world.size() > 1):
        _skip_finalize.append(True)


def _leave_at_exit() -> None:
    """At exit: leave the process group if still in one, record the error, and, after a failure, end the
    process here: MPI_Finalize would wait for ever on the ranks that died or gave up without it."""
    state = _state
    if state is not None:
        _leave(state, _exit_reason())
        from ._monitor import write_error_file

        error = state.monitor.broken if state.monitor.broken is not None else getattr(sys, "last_value", None)
        if error is not None:
            write_error_file(state.world.rank(), error, 1)
    if _skip_finalize:
        sys.stdout.flush()
        sys.stderr.flush()
        failed = state is not None and (state.monitor.broken is not None or _exit_reason())
        os._exit(exit_code[-1] if exit_code else 1 if failed else 0)


def _exit_reason() -> str:
    error = getattr(sys, "last_value", None)
    return "" if error is None else f"{type(error).__name__}: {error}"
