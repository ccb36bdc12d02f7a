"""``key_averages()``: the recorded ops grouped by name (and input shapes), and their table.

The table has torch.profiler's columns and layout: ``Name``, ``Self CPU %``, ``Self CPU``,
``CPU total %``, ``CPU total``, ``CPU time avg``, then ``Self CUDA``, ``Self CUDA %``,
``CUDA total``, ``CUDA time avg`` when kernels ran, ``CPU Mem``, ``Self CPU Mem`` when memory was
profiled, ``# of Calls``, and ``Input Shapes`` when grouped by them. As in torch, "CPU" times are
wall-clock times of the calling thread's ops, self times exclude the ops called inside, and the
memory columns are bytes allocated less bytes freed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from .events import OpEvent

__all__ = ["FunctionEventAvg", "EventList", "key_averages"]


@dataclass
class FunctionEventAvg:
    """Totals over every call of one op name (and one input-shape list when grouped by them).
    Times in microseconds, memory in bytes."""

    key: str
    kind: str
    input_shapes: str = ""
    count: int = 0
    cpu_time_total: float = 0.0
    self_cpu_time_total: float = 0.0
    thread_cpu_time_total: float = 0.0
    device_time_total: float = 0.0
    self_device_time_total: float = 0.0
    cpu_memory_usage: int = 0
    self_cpu_memory_usage: int = 0
    call_sites: list = field(default_factory=list)

    @property
    def cpu_time(self) -> float:
        """Average wall time per call (µs)."""
        return self.cpu_time_total / self.count

    @property
    def device_time(self) -> float:
        return self.device_time_total / self.count

    def add(self, event: OpEvent) -> None:
        self.count += 1
        self.cpu_time_total += event.wall_ns / 1e3
        self.self_cpu_time_total += event.self_wall_ns / 1e3
        self.thread_cpu_time_total += event.cpu_ns / 1e3
        self.device_time_total += event.device_ns / 1e3
        self.self_device_time_total += event.self_device_ns / 1e3
        self.cpu_memory_usage += event.bytes_allocated - event.bytes_freed
        self.self_cpu_memory_usage += event.self_bytes_allocated - event.self_bytes_freed
        if event.call_site and event.call_site not in self.call_sites:
            self.call_sites.append(event.call_site)


_SORT_KEYS = {
    "cpu_time_total",
    "self_cpu_time_total",
    "cpu_time",
    "count",
    "device_time_total",
    "self_device_time_total",
    "cuda_time_total",
    "self_cuda_time_total",
    "cpu_memory_usage",
    "self_cpu_memory_usage",
    "thread_cpu_time_total",
}


class EventList(list):
    """A list of :class:`FunctionEventAvg` with :meth:`table`."""

    def __init__(self, items: Iterable[FunctionEventAvg], grouped_by_shapes: bool, memory: bool) -> None:
        super().__init__(items)
        self.grouped_by_shapes = grouped_by_shapes
        self.memory = memory

    def table(self, sort_by: str | None = None, row_limit: int = 100, max_name_column_width: int = 55) -> str:
        """The averages as torch.profiler's text table, sorted descending by ``sort_by``."""
        rows = list(self)
        if sort_by is not None:
            if sort_by not in _SORT_KEYS:
                raise ValueError(f"table(sort_by={sort_by!r}): expected one of {sorted(_SORT_KEYS)}")
            attr = sort_by.replace("cuda", "device")
            rows.sort(key=lambda r: getattr(r, attr), reverse=True)
        if row_limit > 0:
            rows = rows[:row_limit]
        return _render(rows, list(self), self.grouped_by_shapes, self.memory, max_name_column_width)


def key_averages(events: list[OpEvent], group_by_input_shape: bool = False, memory: bool = False) -> EventList:
    """Group ``events`` by name (and input shapes), in order of first appearance; ``memory``
    adds the memory columns to the table."""
    groups: dict[tuple, FunctionEventAvg] = {}
    for event in events:
        shapes = str(event.input_shapes) if group_by_input_shape else ""
        key = (event.name, event.kind, shapes)
        group = groups.get(key)
        if group is None:
            group = groups[key] = FunctionEventAvg(event.name, event.kind, shapes)
        group.add(event)
    return EventList(groups.values(), group_by_input_shape, memory)


def format_time(us: float) -> str:
    """torch's format: ``12.345us``, ``1.234ms``, ``1.234s``."""
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def format_memory(nbytes: int) -> str:
    """torch's format: ``64 B``, ``1.50 Kb``, ``2.00 Mb``, ``1.00 Gb`` (binary units)."""
    for unit, size in (("Gb", 1 << 30), ("Mb", 1 << 20), ("Kb", 1 << 10)):
        if abs(nbytes) >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{nbytes} B"


def _percent(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.2f}%" if whole > 0 else "0.00%"


def _render(rows: list, everything: list, shapes: bool, memory: bool, name_width: int) -> str:
    self_cpu_total = sum(r.self_cpu_time_total for r in everything)
    self_device_total = sum(r.self_device_time_total for r in everything)
    device = self_device_total > 0
    headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
    if device:
        headers += ["Self CUDA", "Self CUDA %", "CUDA total", "CUDA time avg"]
    if memory:
        headers += ["CPU Mem", "Self CPU Mem"]
    headers += ["# of Calls"]
    if shapes:
        headers += ["Input Shapes"]
    body = []
    for r in rows:
        cells = [
            r.key if len(r.key) <= name_width else r.key[: name_width - 3] + "...",
            _percent(r.self_cpu_time_total, self_cpu_total),
            format_time(r.self_cpu_time_total),
            _percent(r.cpu_time_total, self_cpu_total),
            format_time(r.cpu_time_total),
            format_time(r.cpu_time),
        ]
        if device:
            cells += [
                format_time(r.self_device_time_total),
                _percent(r.self_device_time_total, self_device_total),
                format_time(r.device_time_total),
                format_time(r.device_time),
            ]
        if memory:
            cells += [format_memory(r.cpu_memory_usage), format_memory(r.self_cpu_memory_usage)]
        cells.append(str(r.count))
        if shapes:
            cells.append(r.input_shapes)
        body.append(cells)
    widths = [max([len(h)] + [len(row[i]) for row in body]) for i, h in enumerate(headers)]
    widths = [max(w, 12) for w in widths]
    rule = "  ".join("-" * w for w in widths) + "  "

    def line(cells: list) -> str:
        return "  ".join(c.rjust(w) for c, w in zip(cells, widths)) + "  "

    out = [rule, line(headers), rule] + [line(row) for row in body] + [rule]
    out.append(f"Self CPU time total: {format_time(self_cpu_total)}")
    if device:
        out.append(f"Self CUDA time total: {format_time(self_device_total)}")
    return "\n".join(out) + "\n"
