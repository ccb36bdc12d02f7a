"""Watching the ranks: which are alive, where each one is, and failing well when one dies or hangs.

MPI alone cannot say which rank a stuck collective waits for, and without fault tolerance a rank's
death leaves the others blocked for ever. So every rank keeps one TCP connection to a small
monitor that rank 0 serves (torch.distributed's TCPStore plays this part there), and a watchdog
thread per rank:

- sends a heartbeat every ``heartbeat_s`` saying where the rank is (the last collective it entered
  on each group, the operation it is blocked in);
- learns at once when a rank's connection closes: the kernel closes a killed process's socket, so
  ``kill -9`` is noticed in milliseconds; a rank leaving cleanly says goodbye first, with the
  error it is exiting on, if any;
- watches every blocking MPI call of its own rank. When the call outlives the timeout, or a rank it
  waits for has died (and ``grace_s`` passes without the call completing), it builds the error:
  :class:`~axon_distributed.CollectiveTimeoutError` / :class:`~axon_distributed.RankFailureError`
  naming the ranks at fault and what each was doing. It revokes the communicator (Open MPI's ULFM,
  which ``axon_distributed.launch`` turns on) so the blocked call returns and the error is raised
  in the caller's thread; if MPI does not return within ``abort_s``, it prints the error and ends
  the process with exit code :data:`FAILURE_EXIT_CODE`, since nothing else can unblock it.

The connection carries one JSON object per line; the monitor is not on the data path (a collective
costs a few attribute writes for the heartbeat's sake).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import selectors
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import CollectiveTimeoutError, DistributedError, RankFailureError

__all__ = ["FAILURE_EXIT_CODE", "Monitor"]

# Exit code of a rank whose watchdog had to end it (MPI never returned from a failed collective).
FAILURE_EXIT_CODE = 75


@dataclass
class _InFlight:
    group: Any
    label: str
    peers: list[int]
    comm: Any
    timeout_s: float
    seq: int | None = None
    started: float = field(default_factory=time.monotonic)
    error: BaseException | None = None
    failing: bool = False


class _Guard:
    """The context of :meth:`Monitor.guard` (a class: it sits on every collective's path)."""

    __slots__ = ("monitor", "record", "token")

    def __init__(self, monitor: "Monitor", record: _InFlight) -> None:
        self.monitor, self.record = monitor, record

    def __enter__(self) -> _InFlight:
        self.token = next(self.monitor._tokens)
        self.monitor._inflight[self.token] = self.record
        return self.record

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        del self.monitor._inflight[self.token]
        if exc is None or not isinstance(exc, _mpi_exception()):
            return False
        record = self.record
        if record.error is not None:
            raise record.error from None
        raise self.monitor._from_mpi(exc, record) from None


def _mpi_exception() -> type:
    from mpi4py import MPI

    return MPI.Exception


class Monitor:
    """The rank's view of the others (see the module docstring). ``comm`` is the world communicator,
    used once, to hand rank 0's monitor address to everyone."""

    def __init__(
        self,
        rank: int,
        size: int,
        timeout_s: float,
        comm: Any = None,
        *,
        heartbeat_s: float = 0.5,
        grace_s: float = 2.0,
        abort_s: float = 3.0,
        enabled: bool = True,
    ) -> None:
        self.rank, self.size, self.timeout_s = rank, size, timeout_s
        self.heartbeat_s, self.grace_s, self.abort_s = heartbeat_s, min(grace_s, timeout_s), abort_s
        self.broken: BaseException | None = None
        self.gone: dict[int, dict[str, Any]] = {}  # rank -> {"how": "died"|"exited", "reason", "state", "at"}
        self._positions: dict[int, tuple[int, str]] = {}  # group id -> (last seq entered, its label)
        self._inflight: dict[int, _InFlight] = {}
        self._tokens = itertools.count()
        self._lock = threading.Lock()
        self._answers: dict[int, Any] = {}
        self._answered = threading.Condition(self._lock)
        self._closed = False
        self._server: _Server | None = None
        self._sock: socket.socket | None = None
        if enabled and size > 1 and comm is not None:
            self._connect(comm)
        self._thread = threading.Thread(target=self._watch, name="axon-distributed-watchdog", daemon=True)
        self._thread.start()

    # -- the seam the process groups call ---------------------------------------------------------------
    def entering(self, group: Any, seq: int, label: str, peers: list[int]) -> None:
        """Note that this rank posts collective ``seq`` of ``group``; raise now if it cannot complete."""
        self._positions[group.group_id] = (seq, label)
        self.check_peers(label, peers, group=group, seq=seq)

    def check_peers(self, label: str, peers: list[int], group: Any = None, seq: int | None = None) -> None:
        if self.broken is None and not self.gone:
            return
        if self.broken is not None:
            raise DistributedError(f"{label}: the process group is broken since an earlier failure: {self.broken}")
        fallen = []
        for peer in peers:
            info = self.gone.get(peer)
            if info is None:
                continue
            if info["how"] == "exited" and seq is None and not (info.get("reason") or info.get("blame")):
                continue  # point to point: what it sent before leaving cleanly is still there to receive
            if info["how"] == "exited" and group is not None and seq is not None:
                last = (info.get("state") or {}).get("groups", {}).get(str(group.group_id))
                if last is not None and last[0] >= seq:
                    continue  # it took part in this one before leaving
            fallen.append(peer)
        if fallen:
            error = RankFailureError(f"{label}: {self._gone_text(fallen)}", self._culprits(fallen), label)
            self.broken = error
            raise error

    def guard(
        self, group: Any, label: str, peers: list[int], comm: Any, timeout: Any = None, seq: int | None = None
    ) -> "_Guard":
        """Around one blocking MPI section: watched by the watchdog; MPI's failure errors become ours.

        ``seq`` is the collective's number on ``group`` (None for point-to-point); ``timeout`` (seconds or a
        timedelta) overrides the group's.
        """
        if timeout is None:
            timeout_s = self.timeout_s
        else:
            timeout_s = timeout.total_seconds() if hasattr(timeout, "total_seconds") else float(timeout)
        return _Guard(self, _InFlight(group, label, peers, comm, timeout_s, seq))

    def work_timeout(self, work: Any, timeout: float) -> BaseException:
        """The error of a ``Work.wait(timeout)`` that ran out."""
        group = getattr(work, "group", None)
        members = group.ranks if group is not None else range(self.size)
        peers = getattr(work, "peers", None) or [r for r in members if r != self.rank]
        text, ranks = self._diagnose(work.label, peers, group, getattr(work, "seq", None))
        message = f"{work.label} did not complete within {timeout:.1f} s: {text}"
        return CollectiveTimeoutError(message, ranks, work.label)

    def close(self, reason: str = "", wait_s: float = 0.0) -> None:
        """Say goodbye (with ``reason``, the error this rank exits on, if any) and stop watching.

        With ``wait_s``, first wait that long for every other rank to leave too, so :meth:`unclean`
        knows whether one died or failed (then MPI_Finalize must be skipped: it would wait for it).
        Rank 0 serves the others' news, so it stays until they have all left or the time is up.
        """
        if self._closed:
            return
        blame = sorted(getattr(self.broken, "ranks", ()) or ())
        self._send({"bye": reason, "state": self._state(), "blame": blame})
        if self._server is not None:  # tell the others before the server goes (it lives in this process)
            self._server.announce(self.rank, "exited", reason, self._state(), blame)
        deadline = time.monotonic() + wait_s
        while self._sock is not None and len(self.gone) < self.size - 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        if self._server is not None:
            time.sleep(0.05)  # let the server thread finish relaying the last departures
            self._server.stop()
        self._closed = True
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()

    def unclean(self) -> bool:
        """True when a rank died or left on an error: it never called MPI_Finalize."""
        return any(info["how"] == "died" or info.get("reason") or info.get("blame") for info in self.gone.values())

    # -- errors -------------------------------------------------------------------------------------------
    def _from_mpi(self, exc: Any, record: _InFlight) -> BaseException:
        from mpi4py import MPI

        cls = exc.Get_error_class()
        if cls in (getattr(MPI, "ERR_PROC_FAILED", -1), getattr(MPI, "ERR_PROC_FAILED_PENDING", -1)):
            failed = self._mpi_failed(record)
            error = RankFailureError(
                f"{record.label}: MPI reports rank(s) {failed} failed. {self._gone_text(failed)}", failed, record.label
            )
        elif cls == getattr(MPI, "ERR_REVOKED", -1):
            text, ranks = self._diagnose(record.label, record.peers, record.group, record.seq)
            error = RankFailureError(
                f"{record.label}: another rank gave up on it after a failure (it revoked the communicator): {text}",
                ranks,
                record.label,
            )
        else:
            return DistributedError(f"{record.label}: MPI error: {exc.Get_error_string()}")
        self.broken = error
        return error

    def _mpi_failed(self, record: _InFlight) -> list[int]:
        try:
            failed_group = record.comm.Get_failed()
            local = failed_group.Translate_ranks(list(range(failed_group.Get_size())), record.comm.Get_group())
            return sorted(record.group.ranks[r] for r in local if r >= 0)
        except Exception:
            return sorted(p for p in record.peers if p in self.gone)

    def _culprits(self, ranks: list[int]) -> list[int]:
        """``ranks``, each one that left only because another failed replaced by the rank(s) it blamed."""
        found: set[int] = set()
        for rank in ranks:
            blame = (self.gone.get(rank) or {}).get("blame") or []
            found.update([r for r in blame if r != self.rank] or ([] if blame else [rank]))
        return sorted(found)

    def _gone_text(self, ranks: list[int]) -> str:
        parts = []
        for rank in ranks:
            info = self.gone.get(rank)
            if info is None:
                continue
            ago = time.monotonic() - info["at"]
            where = _where(info.get("state"))
            if info["how"] == "died":
                parts.append(f"rank {rank} died {ago:.1f} s ago (its process ended without leaving; {where})")
            elif info.get("blame"):
                parts.append(f"rank {rank} gave up {ago:.1f} s ago, blaming rank(s) {info['blame']}")
            else:
                why = f" on {info['reason']}" if info.get("reason") else ""
                parts.append(f"rank {rank} exited{why} {ago:.1f} s ago ({where})")
        return "; ".join(parts)

    def _diagnose(self, label: str, peers: list[int], group: Any = None, seq: int | None = None) -> tuple[str, list]:
        """Why ``label`` is stuck: what each peer is doing, and which peers are at fault."""
        table = self._query()
        at_fault, parts = [], []
        for peer in peers:
            if peer in self.gone:
                at_fault += self._culprits([peer])
                parts.append(self._gone_text([peer]))
                continue
            info = None if table is None else table.get(str(peer))
            if info is None:
                continue
            ago = info["ago"]
            state = info.get("state") or {}
            last = state.get("groups", {}).get(str(group.group_id)) if group is not None else None
            if ago > max(3 * self.heartbeat_s, 1.5):
                at_fault.append(peer)
                parts.append(f"rank {peer} stopped answering {ago:.1f} s ago ({_where(state)})")
            elif seq is None:  # point to point: the peer has not posted the matching send or receive
                at_fault.append(peer)
                parts.append(f"rank {peer} posted no matching message: it is alive but {_where(state)}")
            elif group is not None and (last is None or last[0] < seq):
                at_fault.append(peer)
                parts.append(f"rank {peer} never reached it: it is alive but {_where(state)}")
        if table is None and not at_fault:
            return "the monitor did not answer (rank 0 may be hung)", [0] if self.rank != 0 else []
        if not parts:
            return "every rank of the group reached it; MPI itself is stuck", []
        return "; ".join(parts), sorted(set(at_fault))

    # -- the watchdog thread --------------------------------------------------------------------------------
    def _watch(self) -> None:
        next_beat = 0.0
        while not self._closed:
            now = time.monotonic()
            if now >= next_beat:
                self._send({"hb": self._state()})
                next_beat = now + self.heartbeat_s
            self._read(0.1)
            for record in list(self._inflight.values()):
                if not record.failing:
                    self._check(record, time.monotonic())

    def _check(self, record: _InFlight, now: float) -> None:
        fallen = [p for p in record.peers if p in self.gone and now - self.gone[p]["at"] >= self.grace_s]
        if fallen:
            text = f"{record.label}: {self._gone_text(fallen)}"
            error: BaseException = RankFailureError(text, self._culprits(fallen), record.label)
        elif now - record.started > record.timeout_s:
            text, ranks = self._diagnose(record.label, record.peers, record.group, record.seq)
            error = CollectiveTimeoutError(
                f"{record.label} did not complete within the timeout of {record.timeout_s:.1f} s: {text}",
                ranks,
                record.label,
            )
        else:
            return
        record.failing = True
        threading.Thread(target=self._fail, args=(record, error), daemon=True).start()

    def _fail(self, record: _InFlight, error: BaseException) -> None:
        """Make the blocked MPI call return with ``error`` (revoke), or end the process."""
        record.error = error
        self.broken = error
        with contextlib.suppress(Exception):
            record.comm.Revoke()
        deadline = time.monotonic() + self.abort_s
        while time.monotonic() < deadline:
            if record not in self._inflight.values():
                return
            time.sleep(0.05)
        sys.stderr.write(f"axon_distributed: rank {self.rank}: {type(error).__name__}: {error}\n")
        sys.stderr.write("axon_distributed: MPI did not return from the failed operation; ending this process\n")
        sys.stderr.flush()
        write_error_file(self.rank, error, FAILURE_EXIT_CODE)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os._exit(FAILURE_EXIT_CODE)

    def _state(self) -> dict[str, Any]:
        now = time.monotonic()
        blocked = [(r.label, now - r.started) for r in list(self._inflight.values())]
        return {
            "groups": {str(g): list(p) for g, p in list(self._positions.items())},
            "in": blocked[0] if blocked else None,
        }

    # -- the connection to rank 0's monitor --------------------------------------------------------------------
    def _connect(self, comm: Any) -> None:
        address = None
        if self.rank == 0:
            self._server = _Server(self.size, _bind_host(comm))
            address = self._server.address
        else:
            _bind_host(comm)
        address = comm.bcast(address, root=0)
        self._sock = socket.create_connection(tuple(address), timeout=30)
        self._sock.settimeout(None)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""
        self._send({"hello": self.rank})
        comm.Barrier()  # everyone is connected before any failure can be reported

    def _send(self, message: dict[str, Any]) -> None:
        if self._sock is None:
            return
        data = (json.dumps(message) + "\n").encode()
        with self._lock:
            try:
                self._sock.sendall(data)
            except OSError:
                pass

    def _read(self, wait_s: float) -> None:
        sock = self._sock
        if sock is None:
            time.sleep(wait_s)
            return
        import select

        try:
            ready, _, _ = select.select([sock], [], [], wait_s)
        except (OSError, ValueError):
            return
        if not ready:
            return
        try:
            chunk = sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            self._lost_server()
            return
        self._buffer += chunk
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            try:
                self._on_message(json.loads(line))
            except (ValueError, KeyError, TypeError):
                pass

    def _on_message(self, message: dict[str, Any]) -> None:
        if "gone" in message:
            rank = int(message["gone"])
            if rank != self.rank:
                self.gone.setdefault(
                    rank,
                    {"how": message["how"], "reason": message.get("reason", ""), "state": message.get("state"),
                     "blame": message.get("blame") or [], "at": time.monotonic()},
                )  # fmt: skip
        elif "answer" in message:
            with self._answered:
                self._answers[message["answer"]] = message["ranks"]
                self._answered.notify_all()

    def _lost_server(self) -> None:
        sock, self._sock = self._sock, None
        with contextlib.suppress(OSError):
            sock.close()
        if self.rank != 0 and not self._closed:
            self.gone.setdefault(0, {"how": "died", "reason": "", "state": None, "at": time.monotonic()})

    def _query(self) -> dict[str, Any] | None:
        """The monitor's table of every rank (seconds since its heartbeat, its state), or None."""
        if self._sock is None:
            return None
        key = next(self._tokens)
        self._send({"query": key})
        deadline = time.monotonic() + 2.0
        reader = threading.current_thread() is self._thread
        while time.monotonic() < deadline:
            if reader:
                self._read(0.05)
            with self._answered:
                if key in self._answers:
                    return self._answers.pop(key)
                if not reader:
                    self._answered.wait(0.05)
        return None


class _Server:
    """Rank 0's monitor: a thread that keeps every rank's last heartbeat and announces departures."""

    def __init__(self, size: int, host: str) -> None:
        self.size = size
        self._listener = socket.create_server((host, 0))
        self.address = [host if host not in ("", "0.0.0.0") else socket.gethostname(), self._listener.getsockname()[1]]
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ)
        self._rank_of: dict[socket.socket, int] = {}
        self._buffers: dict[socket.socket, bytes] = {}
        self._beats: dict[int, tuple[float, Any]] = {}
        self._left: set[int] = set()
        self._write_lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._serve, name="axon-distributed-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop = True

    def _serve(self) -> None:
        while not self._stop:
            for key, _ in self._sel.select(0.1):
                sock = key.fileobj
                if sock is self._listener:
                    conn, _ = self._listener.accept()
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self._sel.register(conn, selectors.EVENT_READ)
                    self._buffers[conn] = b""
                    continue
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    self._closed(sock)
                    continue
                self._buffers[sock] += chunk
                while b"\n" in self._buffers.get(sock, b""):
                    line, self._buffers[sock] = self._buffers[sock].split(b"\n", 1)
                    try:
                        self._on_message(sock, json.loads(line))
                    except (ValueError, KeyError, TypeError):
                        pass  # not one of ours (the port may be reachable from other hosts): ignored

    def _on_message(self, sock: socket.socket, message: dict[str, Any]) -> None:
        if "hello" in message:
            rank = int(message["hello"])
            if 0 <= rank < self.size:
                self._rank_of[sock] = rank
                self._beats[rank] = (time.monotonic(), None)
            return
        if sock not in self._rank_of:
            return
        if "hb" in message:
            self._beats[self._rank_of[sock]] = (time.monotonic(), message["hb"])
        elif "query" in message:
            now = time.monotonic()
            ranks = {str(r): {"ago": now - t, "state": s} for r, (t, s) in self._beats.items()}
            self._write(sock, {"answer": message["query"], "ranks": ranks})
        elif "bye" in message:
            rank = self._rank_of.get(sock)
            if rank is not None:
                self.announce(rank, "exited", message.get("bye", ""), message.get("state"), message.get("blame"))

    def _closed(self, sock: socket.socket) -> None:
        rank = self._rank_of.pop(sock, None)
        with contextlib.suppress(Exception):
            self._sel.unregister(sock)
        sock.close()
        if rank is not None and rank not in self._left:
            self.announce(rank, "died", "", self._beats.get(rank, (0, None))[1])

    def announce(self, rank: int, how: str, reason: str, state: Any, blame: Any = None) -> None:
        """Tell every other rank that ``rank`` is gone (``how``: "died" or "exited")."""
        if rank in self._left:
            return
        self._left.add(rank)
        for sock in list(self._rank_of):
            if self._rank_of[sock] != rank:
                self._write(sock, {"gone": rank, "how": how, "reason": reason, "state": state, "blame": blame})

    def _write(self, sock: socket.socket, message: dict[str, Any]) -> None:
        with self._write_lock:
            try:
                sock.sendall((json.dumps(message) + "\n").encode())
            except OSError:
                pass


def write_error_file(rank: int, error: BaseException, exit_code: int) -> None:
    """Record the failure this rank ends on as JSON in ``AXON_DISTRIBUTED_ERROR_FILE`` (``{rank}`` in it
    becomes the rank), as torchelastic's error file does: launchers and schedulers read it when the
    rank's own output is lost. Nothing is written when the variable is unset."""
    template = os.environ.get("AXON_DISTRIBUTED_ERROR_FILE")
    if not template:
        return
    report = {
        "rank": rank,
        "error": type(error).__name__,
        "message": str(error),
        "ranks": list(getattr(error, "ranks", ())),
        "exit_code": exit_code,
        "time": time.time(),
    }
    with contextlib.suppress(OSError):
        with open(template.replace("{rank}", str(rank)), "w") as handle:
            handle.write(json.dumps(report))


def _bind_host(comm: Any) -> str:
    """Loopback when every rank runs on this host, else all interfaces (AXON_DISTRIBUTED_MONITOR_HOST wins)."""
    from mpi4py import MPI

    names = comm.allgather(MPI.Get_processor_name())
    host = os.environ.get("AXON_DISTRIBUTED_MONITOR_HOST")
    if host:
        return host
    return "127.0.0.1" if len(set(names)) == 1 else "0.0.0.0"


def _where(state: Any) -> str:
    if not state:
        return "no report from it yet"
    blocked = state.get("in")
    if blocked:
        return f"it was in {blocked[0]} for {blocked[1]:.1f} s"
    groups = state.get("groups") or {}
    if not groups:
        return "it had entered no collective"
    last = max(groups.values(), key=lambda p: p[0])
    return f"it was running its own code; its last collective was {last[1]}"
