"""An ASGI middleware that answers 413 to a request body over ``max_bytes`` (by Content-Length,
or while it streams in without one) before any route sees it: the body is read up to the cap,
then handed to the app."""

from __future__ import annotations

import json
from typing import Any

from .errors import error_body


class BodyLimit:
    """``exempt``: path prefixes whose routes stream the body themselves under their own cap."""

    def __init__(self, app: Any, max_bytes: int, exempt: tuple[str, ...] = ()):
        self.app, self.max_bytes, self.exempt = app, max_bytes, exempt

    async def _refuse(self, send: Any) -> None:
        body = json.dumps(
            error_body(413, f"The request body is larger than {self.max_bytes} bytes", code="body_too_large")
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or (scope.get("method") == "POST" and any(scope["path"] == p for p in self.exempt)):
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(send)
            return
        parts, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left before sending it all
                return
            parts.append(message.get("body", b""))
            size += len(parts[-1])
            if size > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(parts), "more_body": False}
            return await receive()  # after the body: the disconnect message, when it comes

        await self.app(scope, replay, send)
