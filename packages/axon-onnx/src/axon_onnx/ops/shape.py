"""Shape and layout: Reshape, Transpose, Flatten, Squeeze, Unsqueeze, Concat, Shape, Size, Expand,
Slice, Split, Tile, Identity. Shapes, axes and bounds that ONNX passes as tensors are read on the
host; the data stays on its device and every op here is an autograd view or copy."""

from __future__ import annotations

import math

import numpy as np

from axon_autograd import cat

from ..registry import register
from ._util import axis, const, fail, ints


@register("Identity")
def identity(node, x):
    return x


@register("Reshape", attrs=("allowzero",))
def reshape(node, x, shape):
    target = ints(shape)
    if not node.get("allowzero", 0):
        # 0 copies the input's dim at that position (unless allowzero says it means 0).
        for i, size in enumerate(target):
            if size == 0:
                if i >= x.ndim:
                    raise fail(node, f"shape {target}: 0 at position {i} has no input dim to copy ({x.shape})")
                target[i] = x.shape[i]
    if target.count(-1) > 1:
        raise fail(node, f"shape {target} has more than one -1")
    if -1 in target:
        known = math.prod(s for s in target if s != -1)
        if known == 0 or x.numel() % known:
            raise fail(node, f"cannot reshape {x.shape} to {target}")
        target[target.index(-1)] = x.numel() // known
    if math.prod(target) != x.numel():
        raise fail(node, f"cannot reshape {x.shape} ({x.numel()} elements) to {target}")
    return x.reshape(tuple(target))


@register("Transpose", attrs=("perm",))
def transpose(node, x):
    perm = node.get("perm") or list(range(x.ndim))[::-1]
    if sorted(perm) != list(range(x.ndim)):
        raise fail(node, f"perm {perm} is not a permutation of the {x.ndim} axes of {x.shape}")
    return x.permute(*perm)


@register("Flatten", attrs=("axis",))
def flatten(node, x):
    split = node.get("axis", 1)
    if not -x.ndim <= split <= x.ndim:
        raise fail(node, f"axis {split} is out of range for rank {x.ndim}")
    split = split + x.ndim if split < 0 else split
    return x.reshape((math.prod(x.shape[:split]), math.prod(x.shape[split:])))


@register("Squeeze")
def squeeze(node, x, axes=None):
    if axes is None:
        return x.reshape(tuple(s for s in x.shape if s != 1))
    dims = {axis(node, a, x.ndim) for a in ints(axes)}
    if any(x.shape[d] != 1 for d in dims):
        raise fail(node, f"cannot squeeze axes {sorted(dims)} of shape {x.shape}")
    return x.reshape(tuple(s for d, s in enumerate(x.shape) if d not in dims))


@register("Unsqueeze")
def unsqueeze(node, x, axes):
    rank = x.ndim + len(ints(axes))
    dims = sorted(axis(node, a, rank) for a in ints(axes))
    if len(set(dims)) != len(dims):
        raise fail(node, f"repeated axes {ints(axes)}")
    shape = list(x.shape)
    for d in dims:
        shape.insert(d, 1)
    return x.reshape(tuple(shape))


@register("Concat", attrs=("axis",))
def concat(node, *inputs):
    dim = axis(node, node.get("axis"), inputs[0].ndim)
    return cat([v for v in inputs if v.numel() or v.ndim == inputs[0].ndim], dim)


@register("Shape", attrs=("start", "end"))
def shape(node, x):
    dims = list(x.shape)
    rank = len(dims)
    start, end = node.get("start", 0), node.get("end", rank)
    # Out-of-range bounds clamp, as the spec says (opset 15).
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    return const(node, np.array(dims[start:end], dtype=np.int64))


@register("Size")
def size(node, x):
    return const(node, np.array(x.numel(), dtype=np.int64))


@register("Expand")
def expand(node, x, shape):
    target = ints(shape)
    try:
        out = np.broadcast_shapes(tuple(x.shape), tuple(target))
    except ValueError as exc:
        raise fail(node, f"cannot expand {x.shape} to {target}: {exc}") from None
    lifted = x.reshape((1,) * (len(out) - x.ndim) + tuple(x.shape))
    return lifted.expand(*out)


def _positive_slice(start: int, stop: int, step: int, length: int) -> tuple[slice, bool]:
    """The positive-step slice of ``range(start, stop, step)`` (normalised by Python), and whether
    the axis must be flipped first (a negative step walks the flipped axis forward)."""
    begin, end, stride = slice(start, stop, step).indices(length)
    count = len(range(begin, end, stride))
    if stride > 0:
        return slice(begin, begin + max(count - 1, 0) * stride + 1 if count else begin, stride), False
    first = length - 1 - begin
    return slice(first, first + max(count - 1, 0) * -stride + 1 if count else first, -stride), True


@register("Slice")
def slice_(node, x, starts, ends, axes=None, steps=None):
    starts, ends = ints(starts), ints(ends)
    dims = list(range(len(starts))) if axes is None else ints(axes)
    strides = [1] * len(starts) if steps is None else ints(steps)
    if not len(starts) == len(ends) == len(dims) == len(strides):
        raise fail(node, "starts, ends, axes and steps must have equal lengths")
    key = [slice(None)] * x.ndim
    flips = []
    for start, end, dim, step in zip(starts, ends, dims, strides, strict=True):
        dim = axis(node, dim, x.ndim)
        if step == 0:
            raise fail(node, f"step 0 on axis {dim}")
        # ONNX clamps huge bounds (INT64_MAX stands for "to the end"); Python's slice does too.
        key[dim], flip = _positive_slice(start, end, step, x.shape[dim])
        if flip:
            flips.append(dim)
    if flips:
        x = x.flip(*flips)
    return x[tuple(key)]


@register("Split", attrs=("axis",))
def split(node, x, sizes=None):
    return _split(node, x, None if sizes is None else ints(sizes))


@register("Split", since=18, attrs=("axis", "num_outputs"))
def split_18(node, x, sizes=None):
    return _split(node, x, None if sizes is None else ints(sizes))


def _split(node, x, sizes):
    dim = axis(node, node.get("axis", 0), x.ndim)
    length = x.shape[dim]
    if sizes is None:
        parts = node.get("num_outputs", node.outputs)
        if parts < 1:
            raise fail(node, "Split needs at least one output")
        # Equal parts, the last one smaller when the axis does not divide (opset 18's rule).
        chunk = -(-length // parts)
        sizes = [min(chunk, max(length - i * chunk, 0)) for i in range(parts)]
    if sum(sizes) != length or any(s < 0 for s in sizes):
        raise fail(node, f"split sizes {sizes} do not add up to {length} (axis {dim} of {x.shape})")
    out, offset = [], 0
    for s in sizes:
        out.append(x.narrow(dim, offset, s))
        offset += s
    return tuple(out)


@register("Tile")
def tile(node, x, repeats):
    reps = ints(repeats)
    if len(reps) != x.ndim or any(r < 0 for r in reps):
        raise fail(node, f"repeats {reps} do not fit rank {x.ndim}")
    return x.repeat(*reps)


@register(
    "SpaceToDepth",
    since=1,
    attrs=("blocksize", "mode"),
    check=lambda a: None if a.get("mode", "DCR") in ("DCR", "CRD") else "mode",
)
def space_to_depth(node, x):
    b = node.get("blocksize")
    n, c, h, w = x.shape
    if h % b or w % b:
        raise fail(node, f"blocksize {b} does not divide {x.shape[2:]}")
    # DCR puts the block offsets before the channel in the output depth, CRD after it.
    order = (0, 3, 5, 1, 2, 4) if node.get("mode", "DCR") == "DCR" else (0, 1, 3, 5, 2, 4)
    y = x.reshape((n, c, h // b, b, w // b, b)).permute(*order)
    return y.reshape((n, c * b * b, h // b, w // b))


@register(
    "DepthToSpace",
    attrs=("blocksize", "mode"),
    check=lambda a: None if a.get("mode", "DCR") in ("DCR", "CRD") else "mode",
)
def depth_to_space(node, x):
    b = node.get("blocksize")
    n, c, h, w = x.shape
    if c % (b * b):
        raise fail(node, f"blocksize {b} squared does not divide {c} channels")
    if node.get("mode", "DCR") == "DCR":
        y = x.reshape((n, b, b, c // (b * b), h, w)).permute(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape((n, c // (b * b), b, b, h, w)).permute(0, 1, 4, 2, 5, 3)
    return y.reshape((n, c // (b * b), h * b, w * b))
