"""The operator registry: one small function per (op type, first opset it serves).

An entry serves its op from ``since`` up to the next entry's ``since`` (exclusive), like
onnxruntime's kernel registrations and onnx2torch's converters. ``attrs`` lists the attributes the
function understands; ``check`` refuses attribute values it cannot honour. Both are consulted at
load time, so an unsupported node is reported before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["OpSpec", "register", "lookup", "supported_ops", "MIN_OPSET"]

# The default first opset of an entry: opset 13 moved ReduceSum axes, Split split and
# Squeeze/Unsqueeze axes from attributes to inputs; an op whose semantics are older says so.
MIN_OPSET = 13


@dataclass(frozen=True)
class OpSpec:
    """One implementation: ``fn(node, *inputs)`` returns one Variable or a tuple of them."""

    op_type: str
    since: int
    fn: Callable[..., Any]
    attrs: frozenset[str]
    check: Callable[[dict[str, Any]], str | None] | None


_REGISTRY: dict[str, list[OpSpec]] = {}


def register(
    *op_types: str,
    since: int = MIN_OPSET,
    attrs: tuple[str, ...] = (),
    check: Callable[[dict[str, Any]], str | None] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function for ``op_types`` from opset ``since`` on."""

    def add(fn: Callable[..., Any]) -> Callable[..., Any]:
        for op_type in op_types:
            entries = _REGISTRY.setdefault(op_type, [])
            if any(e.since == since for e in entries):
                raise ValueError(f"{op_type} is already registered for opset {since}")
            entries.append(OpSpec(op_type, since, fn, frozenset(attrs), check))
            entries.sort(key=lambda e: e.since)
        return fn

    return add


def lookup(op_type: str, opset: int) -> OpSpec | None:
    """The entry serving ``op_type`` at ``opset`` (the newest one with ``since <= opset``), or None."""
    found = None
    for entry in _REGISTRY.get(op_type, ()):
        if entry.since <= opset:
            found = entry
    return found


def supported_ops() -> dict[str, tuple[int, ...]]:
    """Every registered op type and the opsets where its entries start."""
    return {op: tuple(e.since for e in entries) for op, entries in sorted(_REGISTRY.items())}
