"""What an operator function sees of its node: attributes, the opset and the device."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from axon_core import Device

__all__ = ["Node"]


@dataclass
class Node:
    """One graph node prepared for running: ``attrs`` are Python values (tensors as NumPy arrays)."""

    name: str
    op_type: str
    opset: int
    device: Device
    attrs: dict[str, Any] = field(default_factory=dict)
    outputs: int = 1  # how many outputs the graph asks of the node (trailing optional ones dropped)

    def get(self, name: str, default: Any = None) -> Any:
        """Attribute ``name``, or ``default`` when the node does not set it."""
        return self.attrs.get(name, default)

    def where(self) -> str:
        return f"node {self.name or '<unnamed>'} ({self.op_type}, opset {self.opset})"
