"""A small HTTP server for the dashboard: the page, its assets and ``/api/metrics``.

The training process owns this server, so a client must never be able to starve it: every
connection has a deadline to send its request and another to take the response (an idle or slow
client is dropped, not waited on), at most ``max_connections`` are served at once (the rest get a
503 at once and are closed, holding no thread), the listen backlog is 128, and a failed ``accept``
(out of file descriptors) backs off instead of spinning. A request whose ``Host`` is not one of the
names the server answers to is refused (421), so a page on another site cannot read the metrics by
DNS rebinding, and every response carries headers that forbid framing, sniffing and foreign scripts.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import socket
import sys
import threading
import time
import warnings
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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

_BUSY = b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


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


class _DeadlineReader:
    """``rfile`` for a handler: ``readline``/``read`` that fail with TimeoutError once the request's
    deadline passes, however slowly the bytes trickle in (a per-recv timeout alone lets a client
    that sends one byte a second hold the connection forever)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline, self.buffer = sock, deadline, b""

    def _fill(self) -> bool:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request deadline passed")
        self.sock.settimeout(left)
        chunk = self.sock.recv(8192)
        self.buffer += chunk
        return bool(chunk)

    def readline(self, limit: int = -1) -> bytes:
        while b"\n" not in self.buffer and (limit < 0 or len(self.buffer) < limit):
            if not self._fill():
                break
        end = self.buffer.find(b"\n") + 1 or len(self.buffer)
        if limit >= 0:
            end = min(end, limit)
        line, self.buffer = self.buffer[:end], self.buffer[end:]
        return line

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            if not self._fill():
                break
        size = len(self.buffer) if size < 0 else size
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def close(self) -> None:
        self.buffer = b""


class _Server(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], max_connections: int) -> None:
        self.max_connections = max_connections
        self.active = 0
        self.refused = 0
        self.count_lock = threading.Lock()
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                time.sleep(0.05)  # out of descriptors: wait for some to close rather than spin on accept
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.count_lock:
            busy = self.active >= self.max_connections
            if not busy:
                self.active += 1
            else:
                self.refused += 1
        if busy:
            try:
                request.setblocking(False)
                request.send(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hangs up or times out is routine; anything else is a bug worth a traceback
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def _release(self) -> None:
        with self.count_lock:
            self.active -= 1


class DashboardServer:
    """Serves the dashboard on ``host:port`` (port 0 picks a free one) in a daemon thread.

    ``request_timeout``: seconds a client has to send its whole request; ``response_timeout``:
    seconds it has to take the response; ``max_connections``: connections served at once.
    ``allowed_hosts``: extra names (``"example.lan"`` or ``"example.lan:8080"``) accepted in the
    ``Host`` header besides ``localhost``, ``127.0.0.1``, ``[::1]`` and the bound address;
    ``"*"`` accepts any (no DNS-rebinding protection). Binding to an address that other machines
    can reach warns: the dashboard has no authentication.
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
        max_connections: int = 32,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"DashboardServer: max_connections must be at least 1, got {max_connections}")
        if request_timeout <= 0 or response_timeout <= 0:
            raise ValueError("DashboardServer: timeouts must be positive")
        if not is_loopback(host):
            warnings.warn(
                f"TrainingMonitor serves on {host!r}, which other machines can reach; the dashboard has no "
                "authentication (anyone who can connect can read the run's metrics)",
                stacklevel=3,
            )
        self._allowed = {h.lower() for h in allowed_hosts}
        handler = _make_handler(snapshot, self, request_timeout, response_timeout)
        self._httpd = _Server((host, port), handler, max_connections)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="axon-monitor", daemon=True)
        names = {"localhost", "127.0.0.1", "[::1]", host.lower() if ":" not in host else f"[{host.lower()}]"}
        self._hosts = {_with_port(name, self.port) for name in names | self._allowed if name != "*"}

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def host(self) -> str:
        return self._httpd.server_address[0]

    @property
    def active_connections(self) -> int:
        """Connections being served now."""
        return self._httpd.active

    @property
    def refused_connections(self) -> int:
        """Connections answered 503 because ``max_connections`` were being served."""
        return self._httpd.refused

    def host_allowed(self, header: str | None) -> bool:
        if "*" in self._allowed:
            return True
        return header is not None and header.strip().lower() in self._hosts

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _make_handler(
    snapshot: Callable[[], dict], server: DashboardServer, request_timeout: float, response_timeout: float
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "axon-monitor"
        sys_version = ""

        def setup(self) -> None:
            super().setup()
            self.rfile = _DeadlineReader(self.connection, time.monotonic() + request_timeout)  # type: ignore[assignment]

        def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
            self._serve(body=False)

        def do_GET(self) -> None:  # noqa: N802
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            self.connection.settimeout(response_timeout)  # sendall: a total bound, not per send
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

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            self.connection.settimeout(response_timeout)
            super().send_error(code, message, explain)

        def log_message(self, format: str, *args: object) -> None:
            # Training output stays readable: requests are not logged to stderr.
            return

    return Handler
