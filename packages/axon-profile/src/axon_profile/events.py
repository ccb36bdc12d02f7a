"""What a profile records: one :class:`OpEvent` per op or backward node, one :class:`KernelEvent`
per device kernel launch, one :class:`MemoryEvent` per allocation or free of a tensor's storage.

Times are ``time.perf_counter_ns`` readings (wall) and ``time.thread_time_ns`` differences (CPU
time of the calling thread), in nanoseconds; bytes are the storage sizes of the tensors involved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["OpEvent", "KernelEvent", "MemoryEvent"]


@dataclass(eq=False)
class OpEvent:
    """One call of a tensor op (``kind == "op"``) or an autograd backward node (``"backward"``).

    ``input_shapes`` / ``input_dtypes`` list one entry per positional argument (``[]`` / ``""`` for
    non-tensors), like torch.profiler's ``record_shapes``; ``parent`` is the op this call ran inside.
    ``self_bytes_allocated`` counts storage first returned by this call (a view allocates nothing);
    ``self_bytes_freed`` counts storage released while this call was the innermost one running.
    """

    index: int
    kind: str
    name: str
    thread: int
    depth: int
    parent: "OpEvent | None"
    start_ns: int
    end_ns: int = 0
    cpu_ns: int = 0
    device: str = ""
    input_shapes: list = field(default_factory=list)
    input_dtypes: list = field(default_factory=list)
    call_site: str = ""
    self_bytes_allocated: int = 0
    self_bytes_freed: int = 0
    children: list = field(default_factory=list)
    kernels: list = field(default_factory=list)

    @property
    def wall_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def self_wall_ns(self) -> int:
        """Wall time less the wall time of the ops called inside this one."""
        return self.wall_ns - sum(c.wall_ns for c in self.children)

    @property
    def bytes_allocated(self) -> int:
        """Storage allocated by this call and everything it called."""
        return self.self_bytes_allocated + sum(c.bytes_allocated for c in self.children)

    @property
    def bytes_freed(self) -> int:
        return self.self_bytes_freed + sum(c.bytes_freed for c in self.children)

    @property
    def self_device_ns(self) -> int:
        """Device time of the kernels this call launched itself."""
        return sum(k.device_ns for k in self.kernels)

    @property
    def device_ns(self) -> int:
        return self.self_device_ns + sum(c.device_ns for c in self.children)


@dataclass(eq=False)
class KernelEvent:
    """A kernel launch: host clock readings around the launch, and its device time (CUDA events
    on a GPU; the executor's clock under cuda-sim), filled in when the profile stops."""

    name: str
    device: str
    grid: tuple
    block: tuple
    thread: int
    start_ns: int
    end_ns: int
    parent: "OpEvent | None"
    device_ns: int = 0


@dataclass(eq=False)
class MemoryEvent:
    """``nbytes`` of storage allocated (positive) or freed (negative) at ``time_ns``;
    ``live_bytes`` is the profile's total of live tracked storage just after it."""

    time_ns: int
    nbytes: int
    live_bytes: int
    op: "OpEvent | None"
