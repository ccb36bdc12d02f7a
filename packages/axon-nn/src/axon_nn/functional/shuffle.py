"""Channel rearrangements: ``pixel_shuffle``, ``pixel_unshuffle``, ``channel_shuffle``.

Each is a reshape, a permute and a reshape, so gradients are those of the views.
"""

from __future__ import annotations

from typing import Any

from axon_core import ShapeError

__all__ = ["pixel_shuffle", "pixel_unshuffle", "channel_shuffle"]


def _check_factor(op: str, name: str, factor: int) -> None:
    if not isinstance(factor, int) or factor <= 0:
        raise ValueError(f"{op}: {name} must be a positive int, got {factor!r}")


def pixel_shuffle(input: Any, upscale_factor: int) -> Any:
    """``[*, C r², H, W] -> [*, C, H r, W r]``."""
    op, r = "pixel_shuffle", upscale_factor
    _check_factor(op, "upscale_factor", r)
    shape = tuple(input.shape)
    if len(shape) < 3 or shape[-3] % (r * r):
        raise ShapeError(f"{op}: expected [*, C * {r * r}, H, W] (channels divisible by {r * r}), got {shape}")
    *lead, c, h, w = shape
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Any, downscale_factor: int) -> Any:
    """``[*, C, H r, W r] -> [*, C r², H, W]``."""
    op, r = "pixel_unshuffle", downscale_factor
    _check_factor(op, "downscale_factor", r)
    shape = tuple(input.shape)
    if len(shape) < 3 or shape[-2] % r or shape[-1] % r:
        raise ShapeError(f"{op}: expected [*, C, H, W] with H and W divisible by {r}, got {shape}")
    *lead, c, h, w = shape
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input: Any, groups: int) -> Any:
    """``[N, g k, *] -> [N, k g, *]``: channel ``i k + j`` moves to ``j g + i``."""
    op = "channel_shuffle"
    _check_factor(op, "groups", groups)
    shape = tuple(input.shape)
    if len(shape) < 3 or shape[1] % groups:
        raise ShapeError(f"{op}: expected [N, C, *] (at least 3-d) with C divisible by {groups}, got {shape}")
    n, c, *rest = shape
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(shape)
