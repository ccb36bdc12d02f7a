"""The Trace Event Format JSON that chrome://tracing and Perfetto open.

Ops are complete events (``"ph": "X"``) on their thread's track, with times in microseconds
from the start of the profile; kernels are complete events on one track per device (their
duration is the device time); tracked memory is a counter (``"ph": "C"``) of live bytes.
Tracks are named with metadata events (``"ph": "M"``). Reference:
https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from axon_core import atomic_writer

if TYPE_CHECKING:
    from .profiler import profile

__all__ = ["export_chrome_trace", "trace_events"]


def _us(ns: int, origin: int) -> float:
    return (ns - origin) / 1e3


def trace_events(prof: "profile") -> list[dict[str, Any]]:
    """The profile as a list of trace events (see the module docstring)."""
    pid = os.getpid()
    origin = prof.start_ns
    events: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": "axon (host)"}},
    ]
    threads = sorted({e.thread for e in prof.events} | {k.thread for k in prof.kernels})
    tids = {thread: i + 1 for i, thread in enumerate(threads)}
    for thread, tid in tids.items():
        events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": f"thread {thread}"}})
    for e in prof.events:
        args: dict[str, Any] = {"Device": e.device, "Call site": e.call_site, "Sequence": e.index}
        if prof.record_shapes:
            args["Input Dims"] = e.input_shapes
            args["Input type"] = e.input_dtypes
        if prof.profile_memory:
            args["Bytes allocated"] = e.self_bytes_allocated
            args["Bytes freed"] = e.self_bytes_freed
        events.append(
            {
                "name": e.name,
                "cat": "cpu_op" if e.kind == "op" else "backward",
                "ph": "X",
                "ts": _us(e.start_ns, origin),
                "dur": e.wall_ns / 1e3,
                "pid": pid,
                "tid": tids[e.thread],
                "args": args,
            }
        )
    devices = sorted({k.device for k in prof.kernels})
    device_tids = {device: len(tids) + 1 + i for i, device in enumerate(devices)}
    for device, tid in device_tids.items():
        events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": f"{device} kernels"}})
    for k in prof.kernels:
        events.append(
            {
                "name": k.name,
                "cat": "kernel",
                "ph": "X",
                "ts": _us(k.start_ns, origin),
                "dur": k.device_ns / 1e3,
                "pid": pid,
                "tid": device_tids[k.device],
                "args": {
                    "grid": list(k.grid),
                    "block": list(k.block),
                    "launched by": k.parent.name if k.parent is not None else "",
                },
            }
        )
    for m in prof.memory_events:
        events.append(
            {
                "name": "Tracked memory",
                "ph": "C",
                "ts": _us(m.time_ns, origin),
                "pid": pid,
                "tid": 0,
                "args": {"live bytes": m.live_bytes},
            }
        )
    return events


def export_chrome_trace(prof: "profile", path: str | os.PathLike[str]) -> None:
    """Write ``{"traceEvents": [...], "displayTimeUnit": "ms"}`` to ``path`` atomically."""
    document = {"traceEvents": trace_events(prof), "displayTimeUnit": "ms"}
    with atomic_writer(path) as handle:
        handle.write(json.dumps(document).encode("utf-8"))
