"""A small HTTP server for the dashboard: the page, its assets and ``/api/metrics``.

The training process owns this server, so no client may starve it. One thread waits on every
connection with a selector until the request head has arrived: an idle or trickling connection
holds a descriptor but no thread, and is closed at its deadline (``request_timeout``). A complete
request goes to a small pool of worker threads, which must hand the whole response over within
``response_timeout`` (a client that does not read is dropped). At most ``max_connections`` client
connections are open at once (and as many refused ones finishing). When full, a new connection
whose request came with it (a real client sends at once) evicts the oldest one still sending its
request (which is answered 503); one that has sent nothing evicts only a connection that has had
half a second to send and has not, or else gets a 503. So idle connections can neither exhaust the training process's
descriptors nor lock real clients out, however fast they are opened.
Each client's kernel send buffer is 256 KB, the listen backlog is 128, and a failed ``accept``
(out of descriptors) pauses accepting for 50 ms instead of spinning.

A request whose ``Host`` is not a name the server answers to is refused (421), so a page on another
site cannot read the metrics by DNS rebinding, and every response carries headers that forbid
framing, sniffing and scripts from elsewhere.
"""

from __future__ import annotations

import errno
import io
import ipaddress
import json
import selectors
import socket
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import Any, Callable, Iterable

__all__ = ["DashboardServer", "SECURITY_HEADERS"]

_ASSETS = {
    "/": ("dashboard.html", "text/html; charset=utf-8"),
    "/index.html": ("dashboard.html", "text/html; charset=utf-8"),
    "/static/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
    "/static/dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_MAX_HEAD = 64 * 1024  # request line plus headers
_BUSY = b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_TOO_LARGE = b"HTTP/1.0 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_GRACE = 0.5  # seconds a new connection has to send its request before a newer one may evict it
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def _asset(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only reaches this machine."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _with_port(name: str, port: int) -> str:
    """``name`` as a Host header carries it: ``localhost:8080``, ``[::1]:8080``."""
    if name.startswith("["):
        return name if "]:" in name else f"{name}:{port}"
    if name.count(":") == 1:
        return name
    return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"


def _send_nowait(sock: socket.socket, data: bytes) -> None:
    try:
        sock.send(data)  # non-blocking: a short reply or nothing, never a wait
    except OSError:
        pass


def _complete(head: bytes | bytearray) -> bool:
    """Whether ``head`` holds a whole request head (up to the blank line)."""
    return b"\r\n\r\n" in head or b"\n\n" in head


def _received(conn: socket.socket) -> bytes | None:
    """What a just-accepted, non-blocking connection has sent so far; None if it has hung up."""
    try:
        data = conn.recv(65536)
    except BlockingIOError:
        return b""
    except OSError:
        return None
    return data or None


class _Writer:
    """``wfile`` for a handler: collects the response and sends it in one ``sendall`` bounded by the
    response deadline in total (a per-send timeout would let a client reading a byte at a time hold
    the worker indefinitely)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline, self.parts, self.closed = sock, deadline, [], False

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        if self.parts:
            data, self.parts = b"".join(self.parts), []
            self.sock.settimeout(max(0.001, self.deadline - time.monotonic()))
            self.sock.sendall(data)

    def close(self) -> None:
        self.closed = True


class _Connections:
    """The accept loop: one selector thread for listening and for reading request heads, a worker
    pool for answering them."""

    def __init__(
        self,
        address: tuple[str, int],
        answer: Callable[[socket.socket, Any, bytes, float], None],
        max_connections: int,
        workers: int,
        request_timeout: float,
        response_timeout: float,
    ) -> None:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.listener = socket.create_server(address, family=family, backlog=128)
        self.listener.setblocking(False)
        self.answer, self.max_connections = answer, max_connections
        self.request_timeout, self.response_timeout = request_timeout, response_timeout
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self.selector.register(self._wake_read, selectors.EVENT_READ)
        # connections still sending their request: (deadline, head so far, peer, accepted at), oldest first
        self.pending: dict[socket.socket, tuple[float, bytearray, Any, float]] = {}
        # refused: answered, then drained until EOF or 1 s (at most max_connections of them)
        self.closing: dict[socket.socket, float] = {}
        self.serving = 0
        self.refused = 0  # answered 503: every connection was being served
        self.evicted = 0  # closed to make room for a newer connection
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="axon-monitor-worker")
        self.paused_until = 0.0
        self.stopping = False

    @property
    def open_connections(self) -> int:
        with self.lock:
            return len(self.pending) + self.serving

    def run(self) -> None:
        try:
            while not self.stopping:
                now = time.monotonic()
                if self.paused_until and now >= self.paused_until:
                    self.paused_until = 0.0
                    self.selector.register(self.listener, selectors.EVENT_READ)
                wait = 0.5
                if self.pending:
                    wait = min(wait, max(0.0, next(iter(self.pending.values()))[0] - now))
                if self.closing:
                    wait = min(wait, max(0.0, next(iter(self.closing.values())) - now))
                if self.paused_until:
                    wait = min(wait, max(0.0, self.paused_until - now))
                for key, _ in self.selector.select(wait):
                    if key.fileobj is self.listener:
                        self._accept()
                    elif key.fileobj is self._wake_read:
                        self._drain_wake()
                    elif key.fileobj in self.closing:
                        self._drain(key.fileobj)  # type: ignore[arg-type]
                    else:
                        self._read(key.fileobj)  # type: ignore[arg-type]
                self._expire()
        finally:
            self._close_all()

    def _accept(self) -> None:
        for _ in range(64):
            try:
                conn, peer = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_DESCRIPTORS:  # stop watching the listener for a moment
                    self.selector.unregister(self.listener)
                    self.paused_until = time.monotonic() + 0.05
                return
            conn.setblocking(False)
            # a bounded kernel buffer per client (autotuning grows it to 4 MB): 48 clients cost 24 MB at
            # most, and a client that does not read blocks its worker until the response deadline
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)
            # a real client sends its request with the connection, so it is usually here already
            head = _received(conn)
            if head is None:
                conn.close()
                continue
            now = time.monotonic()
            with self.lock:
                full = len(self.pending) + self.serving >= self.max_connections
            if full:
                # make room by closing the oldest connection still sending its request: at once for a
                # request already in hand, else only one that has had _GRACE seconds and sent nothing
                # (a real client sends at once); if none may go, this one is answered 503
                oldest = next(iter(self.pending.items()), None)
                if oldest is None or (not _complete(head) and now - oldest[1][3] < _GRACE):
                    with self.lock:
                        self.refused += 1
                    self._refuse(conn, _BUSY)
                    continue
                self.evicted += 1
                self._drop(oldest[0], close=False)
                self._refuse(oldest[0], _BUSY)  # a late real client is told to retry, not cut off
            entry = (now + self.request_timeout, bytearray(head), peer, now)
            with self.lock:
                self.pending[conn] = entry
            if _complete(head):
                self._start(conn, entry)
            else:
                self.selector.register(conn, selectors.EVENT_READ)

    def _read(self, conn: socket.socket) -> None:
        entry = self.pending.get(conn)
        if entry is None:
            return
        try:
            chunk = conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(conn)
            return
        head = entry[1]
        head += chunk
        if _complete(head):
            self.selector.unregister(conn)
            self._start(conn, entry)
        elif len(head) > _MAX_HEAD:
            self._drop(conn, close=False)
            self._refuse(conn, _TOO_LARGE)

    def _start(self, conn: socket.socket, entry: tuple[float, bytearray, Any, float]) -> None:
        """Hand a connection whose request head is complete to a worker."""
        with self.lock:
            del self.pending[conn]
            self.serving += 1
        self.pool.submit(self._serve, conn, entry[2], bytes(entry[1]))

    def _serve(self, conn: socket.socket, peer: Any, head: bytes) -> None:
        try:
            conn.setblocking(True)
            self.answer(conn, peer, head, time.monotonic() + self.response_timeout)
        except Exception:  # noqa: BLE001 (a client's failure never reaches the training process)
            pass
        finally:
            try:
                conn.close()
            finally:
                with self.lock:
                    self.serving -= 1

    def _refuse(self, conn: socket.socket, reply: bytes) -> None:
        """Answer without a worker, then read until the client hangs up: closing a socket whose
        request is still unread sends a reset, which can destroy the reply before it is read."""
        _send_nowait(conn, reply)
        try:
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            conn.close()
            return
        if len(self.closing) >= self.max_connections:
            oldest = next(iter(self.closing))
            self._drop(oldest)
        self.closing[conn] = time.monotonic() + 1.0
        self.selector.register(conn, selectors.EVENT_READ)

    def _drain(self, conn: socket.socket) -> None:
        try:
            if conn.recv(65536):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self._drop(conn)

    def _expire(self) -> None:
        now = time.monotonic()
        expired = [conn for conn, entry in list(self.pending.items()) if entry[0] <= now]
        expired += [conn for conn, deadline in list(self.closing.items()) if deadline <= now]
        for conn in expired:
            self._drop(conn)

    def _drop(self, conn: socket.socket, close: bool = True) -> None:
        with self.lock:
            self.pending.pop(conn, None)
        self.closing.pop(conn, None)
        try:
            self.selector.unregister(conn)
        except (KeyError, ValueError):
            pass
        if close:
            conn.close()

    def _drain_wake(self) -> None:
        try:
            while self._wake_read.recv(64):
                pass
        except BlockingIOError:
            pass

    def stop(self) -> None:
        self.stopping = True
        try:
            self._wake_write.send(b"x")
        except OSError:
            pass

    def _close_all(self) -> None:
        for conn in [*self.pending, *self.closing]:
            self._drop(conn)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.selector.close()
        self.listener.close()
        self._wake_read.close()
        self._wake_write.close()


class DashboardServer:
    """Serves the dashboard on ``host:port`` (port 0 picks a free one) from daemon threads.

    ``request_timeout``: seconds a client has to send its request head; ``response_timeout``:
    seconds it has to take the response; ``max_connections``: client connections open at once;
    ``workers``: requests answered at once. ``allowed_hosts``: extra names (``"trainer.lan"`` or
    ``"trainer.lan:8080"``) accepted in the ``Host`` header besides ``localhost``, ``127.0.0.1``,
    ``[::1]`` and the bound address; ``"*"`` accepts any (no DNS-rebinding protection). Binding to
    an address that other machines can reach warns: the dashboard has no authentication.
    """

    def __init__(
        self,
        snapshot: Callable[[], dict],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allowed_hosts: Iterable[str] = (),
        request_timeout: float = 5.0,
        response_timeout: float = 10.0,
        max_connections: int = 48,
        workers: int = 8,
    ) -> None:
        if max_connections < 1 or workers < 1:
            raise ValueError(f"DashboardServer: max_connections {max_connections} and workers {workers} must be >= 1")
        if request_timeout <= 0 or response_timeout <= 0:
            raise ValueError("DashboardServer: timeouts must be positive")
        if not is_loopback(host):
            warnings.warn(
                f"TrainingMonitor serves on {host!r}, which other machines can reach; the dashboard has no "
                "authentication (anyone who can connect can read the run's metrics)",
                stacklevel=3,
            )
        self._loop = _Connections(
            (host, port), self._answer, max_connections, workers, request_timeout, response_timeout
        )
        self._thread = threading.Thread(target=self._loop.run, name="axon-monitor", daemon=True)
        self._handler = _make_handler(snapshot, self)
        allowed = {h.lower() for h in allowed_hosts}
        self._any_host = "*" in allowed
        names = {"localhost", "127.0.0.1", "[::1]", host.lower()} | (allowed - {"*"})
        self._hosts = {_with_port(name, self.port) for name in names}

    @property
    def port(self) -> int:
        return self._loop.listener.getsockname()[1]

    @property
    def host(self) -> str:
        return self._loop.listener.getsockname()[0]

    @property
    def open_connections(self) -> int:
        """Client connections open now (waiting for their request or being answered)."""
        return self._loop.open_connections

    @property
    def refused_connections(self) -> int:
        """Connections answered 503 because ``max_connections`` were all being answered."""
        return self._loop.refused

    @property
    def evicted_connections(self) -> int:
        """Connections closed before their request was complete, to make room for newer ones."""
        return self._loop.evicted

    def host_allowed(self, header: str | None) -> bool:
        return self._any_host or (header is not None and header.strip().lower() in self._hosts)

    def _answer(self, conn: socket.socket, peer: Any, head: bytes, deadline: float) -> None:
        self._handler(conn, peer, (head, deadline))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._loop.stop()
        self._thread.join(timeout=5)


def _make_handler(snapshot: Callable[[], dict], server: DashboardServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def version_string(self) -> str:
            return "axon-monitor"

        def setup(self) -> None:
            head, deadline = self.server  # type: ignore[misc] (the loop hands over the head it read)
            self.connection = self.request
            self.rfile = io.BytesIO(head)
            self.wfile = _Writer(self.connection, deadline)  # type: ignore[assignment]

        def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
            self._serve(body=False)

        def do_GET(self) -> None:  # noqa: N802
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            if not server.host_allowed(self.headers.get("Host")):
                error = {"error": "unknown Host header; the dashboard answers to localhost (see allowed_hosts)"}
                self._send(HTTPStatus.MISDIRECTED_REQUEST, "application/json", json.dumps(error).encode(), body)
                return
            path = self.path.split("?", 1)[0]
            if path == "/api/metrics":
                self._send(HTTPStatus.OK, "application/json", json.dumps(snapshot(), allow_nan=False).encode(), body)
            elif path in _ASSETS:
                name, content_type = _ASSETS[path]
                self._send(HTTPStatus.OK, content_type, _asset(name), body)
            else:
                error = json.dumps({"error": f"no such path: {path[:200]}"}).encode()
                self._send(HTTPStatus.NOT_FOUND, "application/json", error, body)

        def _send(self, status: HTTPStatus, content_type: str, payload: bytes, body: bool) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if body:
                self.wfile.write(payload)

        def end_headers(self) -> None:
            for name, value in SECURITY_HEADERS.items():
                self.send_header(name, value)
            super().end_headers()

        def log_message(self, format: str, *args: object) -> None:
            # Training output stays readable: requests are not logged to stderr.
            return

    return Handler
