"""Typed errors shared by every axon package.

Each error subclasses the builtin a Python user would expect to catch (``ValueError`` for a bad
shape, ``TypeError`` for a bad dtype, ``RuntimeError`` for a device problem), so ``except
ValueError`` keeps working while ``except AxonError`` catches all of ours.
"""

from __future__ import annotations

__all__ = [
    "AxonError",
    "ShapeError",
    "DTypeError",
    "DeviceError",
    "DeviceUnavailableError",
    "KernelCompileError",
]


class AxonError(Exception):
    """Base class of every error raised by axon."""


class ShapeError(AxonError, ValueError):
    """Shapes that an op cannot combine; the message names the op and every shape."""


class DTypeError(AxonError, TypeError):
    """A dtype an op does not accept, or one that cannot be cast safely."""


class DeviceError(AxonError, RuntimeError):
    """Tensors on different devices, or a malformed device string."""


class DeviceUnavailableError(DeviceError):
    """The device was asked for but this machine cannot provide it (e.g. ``cuda`` with no GPU)."""


class KernelCompileError(AxonError, RuntimeError):
    """A CUDA kernel failed to compile or assemble; the message holds the compiler's log."""
