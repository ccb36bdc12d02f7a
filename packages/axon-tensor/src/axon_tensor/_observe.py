"""Tensor ops seen by :mod:`axon_core.observe`'s observers (a profiler), free while none listens.

Switched on, every op function attached to :class:`Tensor` (methods and operators) and every
module-level op of ``axon_tensor`` is replaced, wherever an ``axon*`` module holds it as a global,
by an observed wrapper (one wrapper per function object, so ``t.add``, ``axon_tensor.add`` and a
module's ``from .arithmetic import add`` are one op). Switched off, the very same original
objects go back: an unprofiled run executes no profiling code at all. References kept elsewhere
(closures, tables of functions) are not replaced, so ops reached only through them go unrecorded.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from axon_core.observe import observed

from .tensor import INFRASTRUCTURE, Tensor

__all__ = ["instrument_tensor_ops"]

# (namespace, key, original) for every replacement made, to undo them exactly; the namespace is
# a module's dict, or None for Tensor's class attributes (a read-only mapping: set with setattr).
_replaced: list[tuple[dict | None, str, Any]] = []


def _op_name(fn: Any) -> str:
    return fn.__name__.strip("_")


def _originals(namespace: dict) -> dict[int, Any]:
    found: dict[int, Any] = {}
    for name, value in Tensor.__dict__.items():
        if name not in INFRASTRUCTURE and isinstance(value, types.FunctionType):
            found[id(value)] = value
    for name in namespace.get("__all__", ()):
        value = namespace.get(name)
        if isinstance(value, types.FunctionType) and value.__module__.startswith("axon_tensor"):
            found[id(value)] = value
    return found


def instrument_tensor_ops(on: bool) -> None:
    """Replace the ops by observed wrappers (``on``) or put the originals back."""
    if not on:
        for namespace, key, original in reversed(_replaced):
            if namespace is None:
                setattr(Tensor, key, original)
            else:
                namespace[key] = original
        _replaced.clear()
        return
    if _replaced:
        return
    originals = _originals(sys.modules["axon_tensor"].__dict__)
    wrappers = {key: observed("op", _op_name(fn), fn) for key, fn in originals.items()}
    for key, value in list(Tensor.__dict__.items()):
        wrapper = wrappers.get(id(value))
        if wrapper is not None and originals[id(value)] is value:
            _replaced.append((None, key, value))
            setattr(Tensor, key, wrapper)
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith("axon"):
            continue
        namespace = module.__dict__
        for key, value in list(namespace.items()):
            wrapper = wrappers.get(id(value))
            if wrapper is not None and originals[id(value)] is value:
                _replaced.append((namespace, key, value))
                namespace[key] = wrapper
