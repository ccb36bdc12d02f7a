"""Devices: ``cpu``, ``cuda[:N]`` and ``cuda-sim`` (the CUDA backend executed on the CPU)."""

from __future__ import annotations

import os
import threading

from .errors import DeviceError

__all__ = ["Device", "get_default_device", "set_default_device", "default_device"]

_KINDS = ("cpu", "cuda", "cuda-sim")


class Device:
    """A compute device.

    ``Device("cpu")``, ``Device("cuda")`` (same as ``cuda:0``), ``Device("cuda:1")`` or
    ``Device("cuda-sim")``. Devices are interned: ``Device("cuda") is Device("cuda:0")``, so code
    can compare them with ``is``. Creating a ``cuda`` device checks at once that a GPU exists and
    raises :class:`DeviceUnavailableError` if not; nothing falls back silently.

    ``device.backend`` is the :class:`~axon_core.backend.Backend` that runs ops on this device
    (a plain attribute, read-only like the rest of a Device: it sits on every op's hot path).
    """

    __slots__ = ("type", "index", "backend")
    _interned: dict[tuple[str, int | None], "Device"] = {}
    _lock = threading.Lock()

    def __new__(cls, spec: "str | Device", index: int | None = None) -> "Device":
        if isinstance(spec, Device):
            return spec
        if not isinstance(spec, str):
            raise DeviceError(f"Device: expected a string like 'cpu' or 'cuda:0', got {spec!r}")
        kind, parsed_index = _parse(spec)
        if index is not None:
            if parsed_index is not None and parsed_index != index:
                raise DeviceError(f"Device: index given twice and different in {spec!r}, {index}")
            parsed_index = index
        if kind == "cuda" and parsed_index is None:
            parsed_index = 0
        if kind != "cuda" and parsed_index not in (None, 0):
            raise DeviceError(f"Device: {kind!r} has no index {parsed_index}")
        key = (kind, parsed_index if kind == "cuda" else None)
        device = cls._interned.get(key)
        if device is not None:
            return device
        with cls._lock:
            device = cls._interned.get(key)
            if device is None:
                device = object.__new__(cls)
                object.__setattr__(device, "type", kind)
                object.__setattr__(device, "index", key[1])
                object.__setattr__(device, "backend", None)
                # Validate before interning so a failed cuda lookup can be retried.
                from .backend import backend_for

                object.__setattr__(device, "backend", backend_for(device))
                cls._interned[key] = device
        return device

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Device is immutable")

    def __str__(self) -> str:
        return f"cuda:{self.index}" if self.type == "cuda" else self.type

    def __repr__(self) -> str:
        return f"Device('{self}')"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                return self is Device(other)
            except DeviceError:
                return False
        return self is other

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (Device, (str(self),))


def _parse(spec: str) -> tuple[str, int | None]:
    text = spec.strip().lower()
    kind, sep, index_text = text.partition(":")
    if kind not in _KINDS:
        raise DeviceError(f"Device: unknown device {spec!r}; expected one of cpu, cuda, cuda:N, cuda-sim")
    if not sep:
        return kind, None
    if not index_text.isdigit():
        raise DeviceError(f"Device: bad index in {spec!r}; expected a non-negative integer")
    return kind, int(index_text)


_default: Device | None = None


def get_default_device() -> Device:
    """The device new tensors go to when none is named: ``AXON_DEFAULT_DEVICE`` or ``cpu``."""
    global _default
    if _default is None:
        _default = Device(os.environ.get("AXON_DEFAULT_DEVICE", "cpu"))
    return _default


def set_default_device(device: "str | Device") -> None:
    """Make ``device`` the default for new tensors in this process."""
    global _default
    _default = Device(device)


def default_device(device: "str | Device | None") -> Device:
    """``Device(device)``, or the default device when ``device`` is None."""
    if device is None:
        return _default if _default is not None else get_default_device()
    return device if device.__class__ is Device else Device(device)
