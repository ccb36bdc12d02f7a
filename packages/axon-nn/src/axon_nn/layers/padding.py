"""Padding modules, thin over ``F.pad``: constant, zero, reflection, replication and circular
padding of the last 1, 2 or 3 dims (PyTorch's names, arguments and reprs)."""

from __future__ import annotations

from typing import Any

from axon_core import ShapeError

from .. import functional as F
from ..module import Module

__all__ = [
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
]


class _Pad(Module):
    """``padding``: an int for every side, or ``(left, right[, top, bottom[, front, back]])``."""

    _dims = 1
    _mode = "constant"

    def __init__(self, padding: Any, value: float = 0.0) -> None:
        super().__init__()
        sides = 2 * self._dims
        if isinstance(padding, int):
            padding = (padding,) * sides
        padding = tuple(padding)
        if len(padding) != sides or not all(isinstance(p, int) for p in padding):
            raise ValueError(f"{type(self).__name__}: padding must be an int or {sides} ints, got {padding!r}")
        self.padding, self.value = padding, value

    def forward(self, input: Any) -> Any:
        if len(input.shape) not in (self._dims + 1, self._dims + 2):
            raise ShapeError(
                f"{type(self).__name__}: expected a {self._dims + 1}-d or {self._dims + 2}-d input, got shape "
                f"{tuple(input.shape)}"
            )
        return F.pad(input, self.padding, self._mode, self.value)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPad(_Pad):
    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding, value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ZeroPad(_ConstantPad):
    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


def _padding(name: str, base: type, dims: int, mode: str, doc: str) -> type:
    return type(name, (base,), {"_dims": dims, "_mode": mode, "__doc__": doc, "__module__": __name__})


_SHAPES = {1: "[N, C, W] or [C, W]", 2: "[N, C, H, W] or [C, H, W]", 3: "[N, C, D, H, W] or [C, D, H, W]"}

ConstantPad1d = _padding("ConstantPad1d", _ConstantPad, 1, "constant", f"Pads {_SHAPES[1]} with ``value``.")
ConstantPad2d = _padding("ConstantPad2d", _ConstantPad, 2, "constant", f"Pads {_SHAPES[2]} with ``value``.")
ConstantPad3d = _padding("ConstantPad3d", _ConstantPad, 3, "constant", f"Pads {_SHAPES[3]} with ``value``.")
ZeroPad1d = _padding("ZeroPad1d", _ZeroPad, 1, "constant", f"Pads {_SHAPES[1]} with zeros.")
ZeroPad2d = _padding("ZeroPad2d", _ZeroPad, 2, "constant", f"Pads {_SHAPES[2]} with zeros.")
ZeroPad3d = _padding("ZeroPad3d", _ZeroPad, 3, "constant", f"Pads {_SHAPES[3]} with zeros.")
ReflectionPad1d = _padding("ReflectionPad1d", _Pad, 1, "reflect", f"Mirrors {_SHAPES[1]} at its edges.")
ReflectionPad2d = _padding("ReflectionPad2d", _Pad, 2, "reflect", f"Mirrors {_SHAPES[2]} at its edges.")
ReflectionPad3d = _padding("ReflectionPad3d", _Pad, 3, "reflect", f"Mirrors {_SHAPES[3]} at its edges.")
ReplicationPad1d = _padding("ReplicationPad1d", _Pad, 1, "replicate", f"Repeats the edges of {_SHAPES[1]}.")
ReplicationPad2d = _padding("ReplicationPad2d", _Pad, 2, "replicate", f"Repeats the edges of {_SHAPES[2]}.")
ReplicationPad3d = _padding("ReplicationPad3d", _Pad, 3, "replicate", f"Repeats the edges of {_SHAPES[3]}.")
CircularPad1d = _padding("CircularPad1d", _Pad, 1, "circular", f"Wraps {_SHAPES[1]} around.")
CircularPad2d = _padding("CircularPad2d", _Pad, 2, "circular", f"Wraps {_SHAPES[2]} around.")
CircularPad3d = _padding("CircularPad3d", _Pad, 3, "circular", f"Wraps {_SHAPES[3]} around.")
