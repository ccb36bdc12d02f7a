"""Dropout family. Masks are drawn on the host from axon's seeded generator, then moved.

With its mask drawn, dropout is linear in its input (:class:`ScaleShiftFunction`), so its gradient is
differentiable again as PyTorch's (:func:`~._twice.linear_backward`): the same mask applied to the
incoming gradient, whose own gradient is that mask again.
"""

from __future__ import annotations

from typing import Any

from axon_autograd import Function
from axon_core.backend.numerics import SELU_ALPHA, SELU_SCALE
from axon_tensor import default_generator

from ._twice import linear_backward
from ._util import out_like

__all__ = ["dropout", "dropout2d", "alpha_dropout"]

# SELU's saturation value -scale*alpha, the value AlphaDropout drops to.
_SELU_SATURATION = -SELU_SCALE * SELU_ALPHA


class ScaleShiftFunction(Function):
    """``x * scale + shift`` with ``scale``/``shift`` constant arrays broadcast against ``x``."""

    @staticmethod
    def forward(ctx, x, scale, shift):
        ctx.scale = scale
        y = x.array * scale
        if shift is not None:
            y += shift
        return out_like(y.astype(x.array.dtype, copy=False), x)

    @staticmethod
    @linear_backward(lambda ctx: lambda u: ScaleShiftFunction.apply(u, ctx.scale, None))
    def backward(ctx, grad):
        return out_like((grad.array * ctx.scale).astype(grad.array.dtype, copy=False), grad), None, None


def _keep_mask(input: Any, shape: tuple[int, ...], p: float, generator: Any) -> Any:
    rng = (default_generator if generator is None else generator).numpy_generator
    keep = rng.random(shape) >= p
    return input.device.backend.from_numpy(keep.astype(input.dtype.np))


def _check_p(op: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: p must be in [0, 1], got {p}")


def dropout(input: Any, p: float = 0.5, training: bool = True, generator: Any = None) -> Any:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``."""
    _check_p("dropout", p)
    if not training or p == 0.0:
        return input
    keep = _keep_mask(input, tuple(input.shape), p, generator)
    scale = keep * (0.0 if p == 1.0 else 1.0 / (1.0 - p))
    return ScaleShiftFunction.apply(input, scale.astype(input.dtype.np, copy=False), None)


def dropout2d(input: Any, p: float = 0.5, training: bool = True, generator: Any = None) -> Any:
    """Zero whole channels: ``input [N, C, H, W]`` (or ``[C, H, W]``), one draw per channel."""
    _check_p("dropout2d", p)
    if len(input.shape) not in (3, 4):
        from axon_core import ShapeError

        raise ShapeError(f"dropout2d: expected a 3-d or 4-d input, got shape {tuple(input.shape)}")
    if not training or p == 0.0:
        return input
    channel_shape = tuple(input.shape[:-2]) + (1, 1)
    keep = _keep_mask(input, channel_shape, p, generator)
    scale = keep * (0.0 if p == 1.0 else 1.0 / (1.0 - p))
    return ScaleShiftFunction.apply(input, scale.astype(input.dtype.np, copy=False), None)


def alpha_dropout(input: Any, p: float = 0.5, training: bool = False, generator: Any = None) -> Any:
    """Dropout that keeps SELU's self-normalising mean 0 and variance 1.

    Dropped elements become SELU's saturation value, then an affine map restores the moments.
    """
    _check_p("alpha_dropout", p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return ScaleShiftFunction.apply(input, 0.0, None)
    keep = _keep_mask(input, tuple(input.shape), p, generator)
    a = ((1.0 - p) * (1.0 + p * _SELU_SATURATION**2)) ** -0.5
    b = -a * _SELU_SATURATION * p
    scale = (keep * a).astype(input.dtype.np, copy=False)
    shift = ((1.0 - keep) * (a * _SELU_SATURATION) + b).astype(input.dtype.np, copy=False)
    return ScaleShiftFunction.apply(input, scale, shift)
