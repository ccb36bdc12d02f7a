"""The memory timeline of a profile: live tracked storage after every allocation and free, its
peak, and each op's high-water mark (the most storage live at any moment while it ran), and a PNG
of it (matplotlib, the ``axon-profile[plot]`` extra)."""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass
from typing import Any

from axon_core import atomic_writer

from .events import MemoryEvent, OpEvent

__all__ = ["MemoryTimeline"]


@dataclass
class MemoryTimeline:
    """``times_us`` (from the profile's start) and ``live_bytes`` are parallel lists, one entry per
    allocation or free, in the order they happened."""

    events: list[MemoryEvent]
    ops: list[OpEvent]
    origin_ns: int

    @property
    def times_us(self) -> list[float]:
        return [(m.time_ns - self.origin_ns) / 1e3 for m in self.events]

    @property
    def live_bytes(self) -> list[int]:
        return [m.live_bytes for m in self.events]

    @property
    def peak_bytes(self) -> int:
        """The most tracked storage live at once (0 when nothing was allocated)."""
        return max([0] + self.live_bytes)

    def high_water(self, op: OpEvent) -> int:
        """The most tracked storage live at any moment from ``op``'s start to its end."""
        times = [m.time_ns for m in self.events]
        live = self.live_bytes
        first = bisect.bisect_left(times, op.start_ns)
        last = bisect.bisect_right(times, op.end_ns)
        before = live[first - 1] if first > 0 else 0
        return max([before] + live[first:last])

    def per_op_high_water(self) -> list[tuple[OpEvent, int]]:
        """Every recorded op with its high-water mark, in recording order."""
        return [(op, self.high_water(op)) for op in self.ops]

    def plot(self, path: str | os.PathLike[str], *, title: str = "Tracked memory") -> Any:
        """Write a PNG of the timeline to ``path`` (atomically) and return the matplotlib Figure.

        A step line of live bytes over time (µs from the profile's start), a dashed line at the
        peak, and each top-level op's high-water mark as a segment over the op's span. Needs
        matplotlib (``pip install axon-profile[plot]``); drawn with the Agg canvas, no pyplot state.
        """
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError as exc:
            raise ImportError("MemoryTimeline.plot needs matplotlib: pip install 'axon-profile[plot]'") from exc
        figure = Figure(figsize=(8, 3.5), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        axes.step([0.0] + self.times_us, [0] + self.live_bytes, where="post", label="live bytes")
        axes.axhline(self.peak_bytes, linestyle="--", color="tab:red", label=f"peak {self.peak_bytes} B")
        for op in self.ops:
            if op.depth == 0 and op.end_ns:
                start, end = (op.start_ns - self.origin_ns) / 1e3, (op.end_ns - self.origin_ns) / 1e3
                axes.hlines(self.high_water(op), start, end, color="tab:orange", linewidth=3, alpha=0.6)
        axes.set_xlabel("time since the profile started (µs)")
        axes.set_ylabel("bytes")
        axes.set_title(title)
        axes.legend(loc="upper left")
        figure.tight_layout()
        with atomic_writer(path) as handle:
            figure.savefig(handle, format="png")
        return figure
