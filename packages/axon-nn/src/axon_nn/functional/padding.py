"""``pad``: constant, reflect, replicate and circular padding of the last dimensions.

Padding is linear in its input (the constant ``value`` aside), so its gradient is differentiable
again as PyTorch's (:func:`~._twice.linear_backward`): the gradient of the gradient is the same
padding with ``value`` 0.
"""

from __future__ import annotations

from typing import Any

from axon_autograd import Function
from axon_core import ShapeError

from ._twice import linear_backward
from ._util import out_like, xp_of

__all__ = ["pad"]

_MODES = ("constant", "reflect", "replicate", "circular")


def _source_index(xp: Any, length: int, lo: int, hi: int, mode: str) -> Any:
    """For each padded position along one axis, the input position it copies."""
    positions = xp.arange(-lo, length + hi)
    if mode == "reflect":
        period = 2 * (length - 1)
        folded = xp.abs(positions) % period if period else xp.zeros_like(positions)
        return xp.where(folded >= length, period - folded, folded)
    if mode == "replicate":
        return xp.clip(positions, 0, length - 1)
    # Circular, as PyTorch: negative widths crop first, then the cropped span wraps around.
    start, stop = max(-lo, 0), length - max(-hi, 0)
    return start + (positions - start) % max(stop - start, 1)


class PadFunction(Function):
    """Pads the trailing ``len(widths)`` dims; ``widths`` is ``((lo, hi), ...)`` from the first padded dim."""

    @staticmethod
    def forward(ctx, x, widths, mode, value):
        xp, data = xp_of(x), x.array
        lead = data.ndim - len(widths)
        ctx.widths, ctx.mode, ctx.in_shape = widths, mode, data.shape
        if mode == "constant":
            full = [(0, 0)] * lead + [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
            padded = xp.pad(data, full, mode="constant", constant_values=value)
            # Negative widths crop, as in PyTorch.
            crop = (slice(None),) * lead + tuple(
                slice(max(-lo, 0), padded.shape[lead + k] - max(-hi, 0)) for k, (lo, hi) in enumerate(widths)
            )
            return out_like(xp.ascontiguousarray(padded[crop]), x)
        ctx.index = [_source_index(xp, data.shape[lead + k], lo, hi, mode) for k, (lo, hi) in enumerate(widths)]
        out = data
        for k, index in enumerate(ctx.index):
            out = xp.take(out, index, axis=lead + k)
        return out_like(out, x)

    @staticmethod
    @linear_backward(lambda ctx: lambda u: PadFunction.apply(u, ctx.widths, ctx.mode, 0.0))
    def backward(ctx, grad):
        xp, g = xp_of(grad), grad.array
        lead = g.ndim - len(ctx.widths)
        if ctx.mode == "constant":
            out = xp.zeros(ctx.in_shape, dtype=g.dtype)
            # Input position i sits at output position i + lo.
            src = (slice(None),) * lead + tuple(
                slice(max(-lo, 0), max(-lo, 0) + n) for (lo, hi), n in zip(ctx.widths, _inner_sizes(ctx, g))
            )
            dst = (slice(None),) * lead + tuple(
                slice(max(lo, 0), max(lo, 0) + n) for (lo, hi), n in zip(ctx.widths, _inner_sizes(ctx, g))
            )
            out[src] = g[dst]
            return out_like(out, grad), None, None, None
        # Each padded position adds its gradient to the input position it copied: a one-hot
        # matrix per axis, applied from the last padded axis backwards.
        for k in reversed(range(len(ctx.widths))):
            axis = lead + k
            index = ctx.index[k]
            onehot = (index[:, None] == xp.arange(ctx.in_shape[axis])[None, :]).astype(g.dtype)
            g = xp.moveaxis(xp.tensordot(xp.moveaxis(g, axis, -1), onehot, axes=(-1, 0)), -1, axis)
        return out_like(xp.ascontiguousarray(g), grad), None, None, None


def _inner_sizes(ctx: Any, g: Any) -> list[int]:
    """Per padded axis, how many positions are shared by input and output."""
    lead = g.ndim - len(ctx.widths)
    return [ctx.in_shape[lead + k] - max(-lo, 0) - max(-hi, 0) for k, (lo, hi) in enumerate(ctx.widths)]


def pad(input: Any, pad: tuple[int, ...], mode: str = "constant", value: float = 0.0) -> Any:
    """Pad ``input``'s last ``len(pad) // 2`` dims; ``pad`` lists (lo, hi) from the LAST dim first, as PyTorch."""
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be one of {_MODES}, got {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > len(input.shape):
        raise ShapeError(f"pad: padding {tuple(pad)} does not fit an input of shape {tuple(input.shape)}")
    pairs = [(int(pad[2 * k]), int(pad[2 * k + 1])) for k in range(len(pad) // 2)]
    widths = tuple(reversed(pairs))
    lead = len(input.shape) - len(widths)
    for k, (lo, hi) in enumerate(widths):
        size = input.shape[lead + k]
        # Negative widths crop (as PyTorch); reflect and replicate must keep at least one element.
        out = size + lo + hi
        cropped_away = mode == "constant" and (-lo > size or -hi > size)
        if out < 0 or cropped_away or (out == 0 and mode in ("reflect", "replicate")):
            raise ShapeError(
                f"pad: {mode} padding {(lo, hi)} leaves {out} elements of dimension {lead + k} (size {size}) "
                f"in shape {tuple(input.shape)}"
            )
        if mode == "constant":
            continue
        limit = size - 1 if mode == "reflect" else size
        if (mode != "replicate" and max(lo, hi) > limit) or size == 0:
            raise ShapeError(
                f"pad: {mode} padding {(lo, hi)} is invalid for dimension {lead + k} of size {size} in shape "
                f"{tuple(input.shape)}"
            )
    return PadFunction.apply(input, widths, mode, float(value))
