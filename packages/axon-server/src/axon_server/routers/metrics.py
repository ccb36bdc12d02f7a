"""``GET /metrics``: Prometheus' text exposition format (version 0.0.4) — HTTP requests by method,
route and status with their total seconds, and per generation model the scheduler's counters and
gauges. Needs auth like every route but /health and /ready."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from ..dependencies import require_auth

router = APIRouter(tags=["system"], dependencies=[Depends(require_auth)])


class RequestCounts:
    """(method, route template, status) -> [count, seconds]."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[tuple[str, str, int], list[float]] = defaultdict(lambda: [0, 0.0])

    def add(self, method: str, route: str, status: int, seconds: float) -> None:
        with self.lock:
            entry = self.values[(method, route, status)]
            entry[0] += 1
            entry[1] += seconds


class RequestMetrics:
    """ASGI middleware feeding the app's :class:`RequestCounts` (``app.state.request_counts``).
    Routes are labelled by their template (``/models/{artifact_id}``), so ids never make new series."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            scope["app"].state.request_counts.add(scope["method"], template, status, time.perf_counter() - start)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    counts: RequestCounts = request.app.state.request_counts
    lines = [
        "# HELP axon_http_requests_total HTTP requests answered.",
        "# TYPE axon_http_requests_total counter",
    ]
    with counts.lock:
        snapshot = sorted(counts.values.items())
    labels = {key: f'method="{key[0]}",route="{_label(key[1])}",status="{key[2]}"' for key, _ in snapshot}
    lines += [f"axon_http_requests_total{{{labels[key]}}} {n}" for key, (n, _) in snapshot]
    lines += [
        "# HELP axon_http_request_seconds_total Seconds spent answering.",
        "# TYPE axon_http_request_seconds_total counter",
    ]
    lines += [f"axon_http_request_seconds_total{{{labels[key]}}} {sec:.6f}" for key, (_, sec) in snapshot]
    schedulers = [(e.id, e.scheduler) for e in request.app.state.registry.models.values() if e.scheduler is not None]
    for stat, help_text in [
        ("tokens", "Tokens generated."),
        ("admitted", "Sequences admitted to a slot."),
        ("finished", "Sequences finished (stop or length)."),
        ("cancelled", "Sequences cancelled (client gone)."),
        ("failed", "Sequences that failed."),
        ("steps", "Scheduler steps."),
    ]:
        lines += [f"# HELP axon_scheduler_{stat}_total {help_text}", f"# TYPE axon_scheduler_{stat}_total counter"]
        lines += [f'axon_scheduler_{stat}_total{{model="{_label(m)}"}} {s.stats[stat]}' for m, s in schedulers]
    for gauge, help_text in [("active", "Sequences decoding now."), ("waiting", "Sequences waiting for a slot.")]:
        lines += [f"# HELP axon_scheduler_{gauge} {help_text}", f"# TYPE axon_scheduler_{gauge} gauge"]
        lines += [f'axon_scheduler_{gauge}{{model="{_label(m)}"}} {getattr(s, gauge)}' for m, s in schedulers]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4; charset=utf-8")
