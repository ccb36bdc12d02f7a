"""A small HTTP server for the dashboard: the page, its assets and ``/api/metrics``."""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Callable

__all__ = ["DashboardServer"]

_ASSETS = {
    "/": ("dashboard.html", "text/html; charset=utf-8"),
    "/index.html": ("dashboard.html", "text/html; charset=utf-8"),
    "/static/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
    "/static/dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
}


def _asset(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


class DashboardServer:
    """Serves the dashboard on ``host:port`` (port 0 picks a free one) in a daemon thread."""

    def __init__(self, snapshot: Callable[[], dict], host: str = "127.0.0.1", port: int = 0) -> None:
        handler = _make_handler(snapshot)
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="axon-monitor", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def host(self) -> str:
        return self._httpd.server_address[0]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _make_handler(snapshot: Callable[[], dict]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0]
            if path == "/api/metrics":
                body = json.dumps(snapshot(), allow_nan=False).encode()
                self._send(HTTPStatus.OK, "application/json", body)
            elif path in _ASSETS:
                name, content_type = _ASSETS[path]
                self._send(HTTPStatus.OK, content_type, _asset(name))
            else:
                self._send(
                    HTTPStatus.NOT_FOUND, "application/json", json.dumps({"error": f"no such path: {path}"}).encode()
                )

        def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            # Training output stays readable: requests are not logged to stderr.
            return

    return Handler
