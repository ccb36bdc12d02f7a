"""The memory timeline of a profile: live tracked storage after every allocation and free, its
peak, and each op's high-water mark (the most storage live at any moment while it ran)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

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
