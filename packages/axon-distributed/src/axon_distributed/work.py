"""``Work``: the handle an ``async_op=True`` collective returns, and the thread that runs those collectives.

As torch's ProcessGroupMPI does, asynchronous collectives run as blocking MPI calls on one worker
thread per process, in the order they were posted (MPI needs every rank to issue a group's
collectives in the same order). Blocking MPI calls release the GIL, so the caller computes while
the data moves: DDP posts a bucket's all_reduce from a backward hook and backward goes on. A
synchronous collective runs on the caller's thread when nothing is queued, and behind the queue
otherwise, so the order stays the order of the calls.
"""

from __future__ import annotations

import collections
import threading
from datetime import timedelta
from typing import Any, Callable

from .errors import CollectiveTimeoutError, DistributedError

__all__ = ["Work"]


class Work:
    """A posted operation. ``wait()`` blocks until it completes and raises what it raised.

    ``result()`` is the list of tensors it wrote (torch's ``Work.result``).
    """

    def __init__(
        self,
        label: str,
        result: "list[Any] | None" = None,
        on_timeout: "Callable | None" = None,
        group: Any = None,
        seq: int | None = None,
    ) -> None:
        self.label = label
        self.group, self.seq = group, seq
        self._done = threading.Event()
        self._exception: BaseException | None = None
        self._result = result or []
        self._on_timeout = on_timeout

    # -- what torch.distributed.Work offers --------------------------------------------------------
    def wait(self, timeout: "float | timedelta | None" = None) -> bool:
        """Block until the operation completes (or ``timeout``, seconds or a timedelta, passes: then
        :class:`CollectiveTimeoutError` naming the ranks that had not joined). Returns True."""
        if isinstance(timeout, timedelta):
            timeout = timeout.total_seconds()
        if not self._done.wait(timeout):
            error = self._on_timeout(self, timeout) if self._on_timeout else None
            raise error or CollectiveTimeoutError(f"{self.label} did not complete within {timeout:.1f} s")
        if self._exception is not None:
            raise self._exception
        return True

    def is_completed(self) -> bool:
        return self._done.is_set()

    def is_success(self) -> bool:
        """True when it completed without an error."""
        return self._done.is_set() and self._exception is None

    def exception(self) -> BaseException | None:
        return self._exception

    def result(self) -> list[Any]:
        self.wait()
        return self._result

    def __repr__(self) -> str:
        state = "failed" if self._exception else "completed" if self._done.is_set() else "pending"
        return f"Work({self.label}, {state})"

    # -- for the executor ---------------------------------------------------------------------------
    def _finish(self, exception: BaseException | None = None) -> None:
        self._exception = exception
        self._done.set()


def completed_work(label: str, result: "list[Any] | None" = None) -> Work:
    work = Work(label, result)
    work._finish()
    return work


class Executor:
    """One daemon thread running posted operations in order; :meth:`run` runs one on the caller's thread
    when the queue is empty, behind it otherwise."""

    def __init__(self) -> None:
        self._queue: collections.deque[tuple[Callable[[], None], Work]] = collections.deque()
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, fn: Callable[[], None], work: Work) -> Work:
        with self._cond:
            if self._closed:
                raise DistributedError(f"{work.label}: the process group was destroyed")
            self._queue.append((fn, work))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="axon-distributed-worker", daemon=True)
                self._thread.start()
            self._cond.notify()
        return work

    def run(self, fn: Callable[[], None], label: str) -> None:
        """Run ``fn`` now if nothing is queued or running, else queue it and wait; raises what it raised."""
        with self._cond:  # the worker pops and marks itself busy under this lock
            idle = not self._queue and not self._busy
        if idle:  # only the caller's thread posts, so nothing can start before fn returns
            fn()
            return
        self.submit(fn, Work(label)).wait()

    def drain(self) -> None:
        """Wait until every posted operation has finished."""
        with self._cond:
            while self._queue or self._busy:
                self._cond.wait(0.05)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                fn, work = self._queue.popleft()
                self._busy = True
            try:
                fn()
            except BaseException as exc:  # handed to whoever waits on the work
                work._finish(exc)
            else:
                work._finish()
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
