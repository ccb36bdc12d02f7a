"""axon-jit's errors: every one is an :class:`axon_core.AxonError`."""

from __future__ import annotations

from axon_core import AxonError

__all__ = ["JitError", "TraceError"]


class JitError(AxonError, RuntimeError):
    """Something axon-jit cannot do with this function or these inputs."""


class TraceError(JitError):
    """The function cannot be recorded as a graph: it reads a traced tensor's values in Python
    (``.item()``, ``bool(t)``, ``.numpy()``), changes a tensor in place, takes an argument the
    tracer does not handle (an autograd Variable), or returns something other than tensors."""
