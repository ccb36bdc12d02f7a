"""axon-profile: an op profiler for axon with torch.profiler's names.

``with axon_profile.profile(record_shapes=True, profile_memory=True) as prof:`` records every
tensor op, autograd backward node and device kernel launch; ``prof.key_averages().table()``,
``prof.export_chrome_trace(path)`` and ``prof.memory_timeline()`` read the result.
"""

from __future__ import annotations

from .averages import EventList, FunctionEventAvg
from .chrome_trace import trace_events
from .events import KernelEvent, MemoryEvent, OpEvent
from .memory import MemoryTimeline
from .profiler import profile

__all__ = [
    "EventList",
    "FunctionEventAvg",
    "KernelEvent",
    "MemoryEvent",
    "MemoryTimeline",
    "OpEvent",
    "profile",
    "trace_events",
]
