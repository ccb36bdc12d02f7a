"""Streams and events under cuda-sim, and the checker that makes their ordering testable.

On a GPU, the operations issued to one stream run in issue order; operations on different streams
run in whatever order the hardware picks unless an event orders them (``event.record(a)`` then
``b.wait_event(event)``: what ``b`` issues next waits for what ``a`` had issued before the
record), and the host sees a result only after it synchronises (an event, a stream, the device).

cuda-sim runs each operation the moment it is issued: one of the orders a GPU may pick. Running
alone cannot show a missing synchronisation (a program that forgot a ``wait_event`` reads the
right bytes here and stale ones on a GPU), so every operation is also checked against CUDA's
ordering rules, the way ThreadSanitizer checks threads. Each agent (the host thread, the null
stream, each stream made by :meth:`StreamOrder.new_agent`) keeps a vector clock. An operation
that reads an allocation must happen after the last write to it, and one that writes must also
happen after every read since: "after" through program order on one agent, an event recorded
and waited for, or the host synchronising and then issuing. Otherwise :class:`SimRaceError` is
raised before the operation runs, naming both operations. A program the checker accepts has no
race between streams, so every order a GPU may pick gives it the bytes cuda-sim computes.

What is tracked: allocations of the simulated device pool and pinned host buffers
(:meth:`StreamOrder.pinned_empty`), as whole allocations (two streams using disjoint halves of one
allocation without ordering count as a race: allocate buffers that streams share separately).
A kernel argument counts as read when its parameter is a pointer to const, else as written
(:func:`~axon_core.sim.rewrite.pointer_access`). Pageable host memory is not tracked: CUDA has
read (or, device to host, written) it by the time a copy call returns.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import itertools
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import SimRaceError

__all__ = ["HOST", "NULL_STREAM", "SimEvent", "SimOp", "SimStream", "StreamOrder"]

#: Agent ids of the host thread and of the null (default) stream.
HOST, NULL_STREAM = 0, 1


@dataclass(frozen=True)
class SimOp:
    """One operation as the checker saw it (see :meth:`StreamOrder.recording`): ``stream`` names
    the agent ("host", "null stream", a stream's name), ``what`` the operation (``"kernel
    quant_matvec_q4_1"``, ``"copy host to device"``, ``"wait_event event 3"``...), ``reads`` and
    ``writes`` the start addresses of the tracked allocations it reads and writes."""

    stream: str
    what: str
    reads: tuple[int, ...] = ()
    writes: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Access:
    agent: int
    seq: int
    what: str


class _Allocation:
    __slots__ = ("start", "end", "pinned", "write", "reads")

    def __init__(self, start: int, end: int, pinned: bool) -> None:
        self.start, self.end, self.pinned = start, end, pinned
        self.write: _Access | None = None
        self.reads: dict[int, _Access] = {}

    def describe(self) -> str:
        kind = "pinned host buffer" if self.pinned else "device allocation"
        return f"{kind} 0x{self.start:x} ({self.end - self.start} bytes)"


class StreamOrder:
    """The happens-before model of one cuda-sim device: agents' vector clocks, the tracked
    allocations and their last accesses. ``device_allocations`` / ``pinned_allocations`` count the
    allocations registered so far (a loop that allocates nothing leaves them unchanged)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # re-entrant: a pool finaliser may run inside an issue
        self._names = ["host", "null stream"]
        self._clocks: list[dict[int, int]] = [{HOST: 0}, {NULL_STREAM: 0}]
        self._starts: list[int] = []
        self._allocations: dict[int, _Allocation] = {}
        self._log: list[SimOp] | None = None
        self.device_allocations = 0
        self.pinned_allocations = 0

    # -- agents ---------------------------------------------------------------------------------
    def new_agent(self, name: str = "") -> int:
        """A new stream's agent id; ``name`` labels it in messages (default ``"stream N"``)."""
        with self._lock:
            self._names.append(name or f"stream {len(self._names)}")
            self._clocks.append({len(self._clocks): 0})
            return len(self._clocks) - 1

    def name(self, agent: int) -> str:
        return self._names[agent]

    # -- allocations ----------------------------------------------------------------------------
    def register(self, start: int, nbytes: int, *, pinned: bool = False) -> None:
        """Track ``nbytes`` at ``start`` (a fresh allocation: no accesses yet)."""
        with self._lock:
            self._forget_locked(start)
            bisect.insort(self._starts, start)
            self._allocations[start] = _Allocation(start, start + max(int(nbytes), 1), pinned)
            if pinned:
                self.pinned_allocations += 1
            else:
                self.device_allocations += 1

    def forget(self, start: int) -> None:
        with self._lock:
            self._forget_locked(start)

    def _forget_locked(self, start: int) -> None:
        if self._allocations.pop(start, None) is not None:
            del self._starts[bisect.bisect_left(self._starts, start)]

    def _find(self, array: Any) -> _Allocation | None:
        if not isinstance(array, np.ndarray) or array.size == 0:
            return None
        address = array.ctypes.data
        at = bisect.bisect_right(self._starts, address) - 1
        if at < 0:
            return None
        allocation = self._allocations[self._starts[at]]
        return allocation if address < allocation.end else None

    def allocation(self, array: Any) -> int | None:
        """Start address of the tracked allocation holding ``array`` (None: untracked memory)."""
        with self._lock:
            found = self._find(array)
            return None if found is None else found.start

    def is_pinned(self, array: Any) -> bool:
        with self._lock:
            found = self._find(array)
            return found is not None and found.pinned

    def pinned_empty(self, shape: int | Sequence[int], dtype: Any) -> np.ndarray:
        """A host array standing for page-locked memory (tracked until its last view dies)."""
        dtype = np.dtype(dtype)
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
        count = int(np.prod(shape, dtype=np.int64))
        raw = np.empty(max(count * dtype.itemsize, 1), np.uint8)
        # A ctypes window, as in SimMemoryPool: NumPy collapses view bases to the memory's owner,
        # so the window is the base of every view and dies only with the last one.
        window = (ctypes.c_char * raw.nbytes).from_address(raw.ctypes.data)
        array = np.frombuffer(window, dtype=dtype, count=count).reshape(shape)
        self.register(raw.ctypes.data, raw.nbytes, pinned=True)
        weakref.finalize(window, self._release_pinned, raw)
        return array

    def _release_pinned(self, raw: np.ndarray) -> None:
        self.forget(raw.ctypes.data)

    # -- ordering -------------------------------------------------------------------------------
    @staticmethod
    def _merge(into: dict[int, int], other: dict[int, int]) -> None:
        for agent, seq in other.items():
            if into.get(agent, 0) < seq:
                into[agent] = seq

    def _clock(self, agent: int) -> dict[int, int]:
        """``agent``'s clock as of an operation issued now: what the host has seen, the host
        having issued it (a stream starts what it is given after the host's earlier work)."""
        clock = self._clocks[agent]
        if agent != HOST:
            self._merge(clock, self._clocks[HOST])
        return clock

    def issue(self, agent: int, what: str, reads: Sequence[Any] = (), writes: Sequence[Any] = ()) -> None:
        """Check that ``agent`` may now read the arrays ``reads`` and write ``writes``, then record
        it as their latest access. Raises :class:`SimRaceError` (and records nothing) when an
        earlier access by another agent is not ordered before this one."""
        with self._lock:
            clock = self._clock(agent)
            read_set = [a for a in map(self._find, reads) if a is not None]
            write_set = [a for a in map(self._find, writes) if a is not None]
            for allocation in read_set:
                self._check(agent, what, clock, allocation, "reads", allocation.write, "wrote")
            for allocation in write_set:
                self._check(agent, what, clock, allocation, "writes", allocation.write, "wrote")
                for access in allocation.reads.values():
                    self._check(agent, what, clock, allocation, "writes", access, "read")
            seq = clock[agent] = clock.get(agent, 0) + 1
            access = _Access(agent, seq, what)
            for allocation in read_set:
                allocation.reads[agent] = access
            for allocation in write_set:
                # Every read was checked to happen before this write, so later accesses ordered
                # after the write are ordered after them too.
                allocation.write, allocation.reads = access, {}
            if self._log is not None:
                self._log.append(
                    SimOp(self._names[agent], what, tuple(a.start for a in read_set), tuple(a.start for a in write_set))
                )

    def _check(
        self,
        agent: int,
        what: str,
        clock: dict[int, int],
        allocation: _Allocation,
        verb: str,
        earlier: _Access | None,
        earlier_verb: str,
    ) -> None:
        if earlier is None or clock.get(earlier.agent, 0) >= earlier.seq:
            return
        raise SimRaceError(
            f"{what} on {self._names[agent]} {verb} {allocation.describe()}, which {earlier.what} on "
            f"{self._names[earlier.agent]} {earlier_verb} with nothing ordering the two: on a GPU they may "
            f"run in either order (record an event after the earlier one and wait for it on "
            f"{self._names[agent]}, or synchronize)",
            kernel=what,
        )

    def record(self, agent: int, label: str) -> dict[int, int]:
        """The snapshot an event recorded on ``agent`` now holds."""
        with self._lock:
            snapshot = dict(self._clock(agent))
            if self._log is not None:
                self._log.append(SimOp(self._names[agent], f"record_event {label}"))
            return snapshot

    def wait(self, agent: int, snapshot: dict[int, int] | None, label: str) -> None:
        """``agent`` waits for an event (None: never recorded, which CUDA treats as complete)."""
        with self._lock:
            if snapshot is not None:
                self._merge(self._clock(agent), snapshot)
            if self._log is not None:
                self._log.append(SimOp(self._names[agent], f"wait_event {label}"))

    def host_wait(self, snapshot: dict[int, int] | None) -> None:
        """The host waits until what ``snapshot`` covers is done."""
        with self._lock:
            if snapshot is not None:
                self._merge(self._clocks[HOST], snapshot)

    def stream_clock(self, agent: int) -> dict[int, int]:
        with self._lock:
            return dict(self._clock(agent))

    def synchronize_all(self) -> None:
        """The host waits for every stream (``cudaDeviceSynchronize``)."""
        with self._lock:
            for clock in self._clocks[1:]:
                self._merge(self._clocks[HOST], clock)

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[SimOp]]:
        """Within the block, every operation issued is appended to the yielded list, in issue order."""
        with self._lock:
            previous, self._log = self._log, []
            log = self._log
        try:
            yield log
        finally:
            with self._lock:
                self._log = previous


_event_ids = itertools.count(1)


class SimStream:
    """A cuda-sim stream; like a CUDA stream made with ``non_blocking=True`` it has no implicit
    ordering with the null stream. Methods as ``cupy.cuda.Stream``'s."""

    def __init__(self, order: StreamOrder, name: str = "") -> None:
        self.order = order
        self.agent = order.new_agent(name)
        self.name = order.name(self.agent)

    def wait_event(self, event: "SimEvent") -> None:
        """Work issued to this stream from now on waits for the work ``event`` recorded."""
        self.order.wait(self.agent, event._snapshot, event.label)

    def record(self, event: "SimEvent | None" = None) -> "SimEvent":
        event = event if event is not None else SimEvent(self.order)
        event.record(self)
        return event

    def synchronize(self) -> None:
        """The host waits for everything issued to this stream."""
        self.order.host_wait(self.order.stream_clock(self.agent))

    def __repr__(self) -> str:
        return f"SimStream({self.name!r})"


class SimEvent:
    """A cuda-sim event. ``timing``: it keeps the host time it was recorded at (cuda-sim runs
    operations when they are issued, so that is when the work before it finished)."""

    def __init__(self, order: StreamOrder, timing: bool = False) -> None:
        self.order = order
        self.timing = timing
        self.label = f"event {next(_event_ids)}"
        self._snapshot: dict[int, int] | None = None
        self.time: float | None = None

    def record(self, stream: SimStream | None = None) -> None:
        agent = NULL_STREAM if stream is None else stream.agent
        self._snapshot = self.order.record(agent, self.label)
        self.time = time.perf_counter()

    @property
    def recorded(self) -> bool:
        return self._snapshot is not None

    def synchronize(self) -> None:
        """The host waits for the work this event recorded (at once if it was never recorded)."""
        self.order.host_wait(self._snapshot)

    def query(self) -> bool:
        """Whether the recorded work is done: always, under cuda-sim."""
        return True

    def __repr__(self) -> str:
        return f"SimEvent({self.label}{', recorded' if self.recorded else ''})"
