"""Neural-network operators: MatMul, Gemm, Conv, ConvTranspose, MaxPool, AveragePool, global
pools, BatchNormalization, LayerNormalization, InstanceNormalization, GroupNormalization,
Dropout, Pad. Each is one call into ``axon_nn.functional`` (ONNX's asymmetric pads become an
explicit ``F.pad`` first), so they run on every device and differentiate."""

from __future__ import annotations

import math

import numpy as np

import axon_nn.functional as F

from ..registry import register
from ._util import axis, const, fail, ints


@register("MatMul")
def matmul(node, a, b):
    return a.matmul(b)


@register("Gemm", attrs=("alpha", "beta", "transA", "transB"))
def gemm(node, a, b, c=None):
    if node.get("transA", 0):
        a = a.t()
    if node.get("transB", 0):
        b = b.t()
    out = a.matmul(b)
    alpha, beta = node.get("alpha", 1.0), node.get("beta", 1.0)
    if alpha != 1.0:
        out = out * alpha
    if c is not None and beta != 0.0:
        out = out + (c * beta if beta != 1.0 else c)
    return out


_AUTO_PAD = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def _auto_pad_check(attrs):
    mode = attrs.get("auto_pad", "NOTSET")
    return None if mode in _AUTO_PAD else f"auto_pad {mode!r}"


def _pads(node, x, kernel, strides, dilations) -> list[tuple[int, int]]:
    """(begin, end) padding per spatial axis from ``pads`` or ``auto_pad``."""
    spatial = len(kernel)
    mode = node.get("auto_pad", "NOTSET")
    if mode == "VALID":
        return [(0, 0)] * spatial
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        out = []
        for size, k, s, d in zip(x.shape[2:], kernel, strides, dilations, strict=True):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small = total // 2
            out.append((small, total - small) if mode == "SAME_UPPER" else (total - small, small))
        return out
    pads = node.get("pads") or [0] * (2 * spatial)
    if len(pads) != 2 * spatial:
        raise fail(node, f"pads {pads} do not fit {spatial} spatial axes")
    return list(zip(pads[:spatial], pads[spatial:], strict=True))


def _explicit_pad(x, pads, value=0.0):
    flat = []
    for lo, hi in reversed(pads):
        flat += [lo, hi]
    return F.pad(x, tuple(flat), value=value)


def _spatial_attrs(node, x, kernel):
    spatial = len(kernel)
    strides = node.get("strides") or [1] * spatial
    dilations = node.get("dilations") or [1] * spatial
    return strides, dilations, _pads(node, x, kernel, strides, dilations)


_CONVS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@register("Conv", attrs=("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"), check=_auto_pad_check)
def conv(node, x, w, b=None):
    spatial = x.ndim - 2
    if spatial not in _CONVS:
        raise fail(node, f"Conv over {spatial} spatial axes is not supported (1 to 3 are)")
    kernel = list(w.shape[2:])
    strides, dilations, pads = _spatial_attrs(node, x, kernel)
    symmetric = all(lo == hi for lo, hi in pads)
    if not symmetric:
        x = _explicit_pad(x, pads)
    padding = [lo for lo, _ in pads] if symmetric else 0
    return _CONVS[spatial](x, w, b, stride=strides, padding=padding, dilation=dilations, groups=node.get("group", 1))


_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


@register(
    "ConvTranspose",
    attrs=("auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads", "strides"),
    check=_auto_pad_check,
)
def conv_transpose(node, x, w, b=None):
    spatial = x.ndim - 2
    if spatial not in _CONV_T:
        raise fail(node, f"ConvTranspose over {spatial} spatial axes is not supported (1 to 3 are)")
    kernel = list(w.shape[2:])
    strides = node.get("strides") or [1] * spatial
    dilations = node.get("dilations") or [1] * spatial
    extra = node.get("output_padding") or [0] * spatial
    full = [
        (size - 1) * s + (k - 1) * d + 1 + e
        for size, k, s, d, e in zip(x.shape[2:], kernel, strides, dilations, extra, strict=True)
    ]
    wanted = node.get("output_shape")
    mode = node.get("auto_pad", "NOTSET")
    if wanted or mode in ("SAME_UPPER", "SAME_LOWER"):
        targets = (
            list(wanted)[-spatial:] if wanted else [size * s for size, s in zip(x.shape[2:], strides, strict=True)]
        )
        pads = []
        for f, t in zip(full, targets, strict=True):
            total = f - t
            small = total // 2
            # The spec puts the larger half at the start for SAME_UPPER (and without auto_pad).
            pads.append((small, total - small) if mode == "SAME_UPPER" else (total - small, small))
    elif mode == "VALID":
        pads = [(0, 0)] * spatial
    else:
        raw = node.get("pads") or [0] * (2 * spatial)
        pads = list(zip(raw[:spatial], raw[spatial:], strict=True))
    # The full transposed convolution, then ONNX's pads crop it (they may differ per side).
    # A negative pad (output_shape beyond the full result) grows the output with zeros, then bias.
    y = _CONV_T[spatial](
        x, w, None, stride=strides, padding=0, output_padding=extra, groups=node.get("group", 1), dilation=dilations
    )
    y = _explicit_pad(y, [(-lo, -hi) for lo, hi in pads])
    return y if b is None else y + b.reshape((1, -1) + (1,) * spatial)


_MAX_POOLS = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOLS = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _pool_check(attrs):
    return _auto_pad_check(attrs)


def _fits_torch(pads, kernel, dilations) -> bool:
    # PyTorch's pools take symmetric padding of at most half the (dilated) kernel.
    return all(
        lo == hi and lo <= ((k - 1) * d + 1) // 2 for (lo, hi), k, d in zip(pads, kernel, dilations, strict=True)
    )


@register(
    "MaxPool",
    attrs=("auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"),
    check=_pool_check,
)
def max_pool(node, x):
    kernel = node.get("kernel_shape")
    spatial = len(kernel)
    strides, dilations, pads = _spatial_attrs(node, x, kernel)
    ceil = bool(node.get("ceil_mode", 0))
    want_indices = node.outputs > 1
    if want_indices and spatial != 2:
        raise fail(node, "MaxPool's Indices output is supported for 2-d pooling only")
    lead = pads
    if not _fits_torch(pads, kernel, dilations):
        if want_indices:
            raise fail(node, "MaxPool's Indices output with padding larger than half the kernel is not supported")
        x = _explicit_pad(x, pads, value=-math.inf if x.dtype.is_floating_point else np.iinfo(x.dtype.np).min)
        lead = [(0, 0)] * spatial
    pool = _MAX_POOLS[spatial]
    padding = [lo for lo, _ in lead]
    if not want_indices:
        return pool(x, kernel, strides, padding, dilations, ceil)
    values, idx = pool(x, kernel, strides, padding, dilations, ceil, return_indices=True)
    # axon (like PyTorch) indexes each [H, W] plane; ONNX indexes the whole tensor.
    n, c, h, w = x.shape
    plane = const(node, (np.arange(n * c, dtype=np.int64) * (h * w)).reshape(n, c, 1, 1))
    idx = idx.to(np.int64)
    if node.get("storage_order", 0):
        # Column-major within the plane: row i // w, column i % w becomes column * h + row.
        idx = (idx % w) * h + idx // w
    return values, idx + plane


@register(
    "AveragePool",
    attrs=("auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides"),
    check=_auto_pad_check,
)
def average_pool(node, x):
    kernel = node.get("kernel_shape")
    spatial = len(kernel)
    strides, dilations, pads = _spatial_attrs(node, x, kernel)
    ceil = bool(node.get("ceil_mode", 0))
    include = bool(node.get("count_include_pad", 0))
    if any(d != 1 for d in dilations):
        return _dilated_average_pool(node, x, kernel, strides, dilations, pads, ceil, include)
    pool = _AVG_POOLS[spatial]
    if _fits_torch(pads, kernel, dilations):
        return pool(x, kernel, strides, [lo for lo, _ in pads], ceil, include)
    padded = _explicit_pad(x, pads)
    summed = pool(padded, kernel, strides, 0, ceil, True)
    if include:
        return summed
    # Mean over the real elements only: the window sums of x over those of a mask of ones.
    ones = const(node, np.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype.np))
    counts = pool(_explicit_pad(ones, pads), kernel, strides, 0, ceil, True)
    return summed / counts


def _pooled_size(size: int, k: int, s: int, d: int, lo: int, hi: int, ceil: bool) -> int:
    span = size + lo + hi - ((k - 1) * d + 1)
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + lo:
        out -= 1  # a last window starting in the end padding is dropped (PyTorch's and ONNX's rule)
    return out


def _dilated_average_pool(node, x, kernel, strides, dilations, pads, ceil, include):
    """Average pooling with dilations (which axon's pools lack): the sum over kernel offsets of
    strided slices of the zero-padded input, over the same sums of a mask of the counted cells."""
    outs = [
        _pooled_size(size, k, st, d, lo, hi, ceil)
        for size, k, st, d, (lo, hi) in zip(x.shape[2:], kernel, strides, dilations, pads, strict=True)
    ]
    # Extra zeros past the end padding so ceil-mode windows stay in range; they count for nobody.
    needed = [(o - 1) * st + (k - 1) * d + 1 for o, st, k, d in zip(outs, strides, kernel, dilations, strict=True)]
    extra = [max(n - (size + lo + hi), 0) for n, size, (lo, hi) in zip(needed, x.shape[2:], pads, strict=True)]
    full = [(lo, hi + e) for (lo, hi), e in zip(pads, extra, strict=True)]
    padded = _explicit_pad(x, full)
    counted = np.zeros(tuple(size + lo + hi for size, (lo, hi) in zip(x.shape[2:], full, strict=True)), x.dtype.np)
    if include:
        counted[tuple(slice(0, size + lo + hi) for size, (lo, hi) in zip(x.shape[2:], pads, strict=True))] = 1
    else:
        counted[tuple(slice(lo, lo + size) for size, (lo, _) in zip(x.shape[2:], pads, strict=True))] = 1
    mask = const(node, counted.reshape((1, 1) + counted.shape))
    total = count = None
    for offset in np.ndindex(*kernel):
        key = (slice(None), slice(None)) + tuple(
            slice(j * d, j * d + (o - 1) * st + 1, st)
            for j, d, o, st in zip(offset, dilations, outs, strides, strict=True)
        )
        total = padded[key] if total is None else total + padded[key]
        count = mask[key] if count is None else count + mask[key]
    return total / count


@register("GlobalAveragePool")
def global_average_pool(node, x):
    return x.mean(dim=tuple(range(2, x.ndim)), keepdim=True)


@register("GlobalMaxPool")
def global_max_pool(node, x):
    return x.amax(dim=tuple(range(2, x.ndim)), keepdim=True)


@register("BatchNormalization", since=15, attrs=("epsilon", "momentum", "training_mode"))
def batch_norm(node, x, scale, bias, mean, var):
    eps = node.get("epsilon", 1e-5)
    if not node.get("training_mode", 0):
        return F.batch_norm(x, mean, var, scale, bias, training=False, eps=eps)
    # Training: batch statistics (biased variance, as the spec) and ONNX's running-stat update
    # running = running * momentum + batch * (1 - momentum).
    momentum = node.get("momentum", 0.9)
    dims = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    batch_mean = x.mean(dim=dims)
    batch_var = ((x - batch_mean.reshape(shape)) ** 2).mean(dim=dims)
    y = (x - batch_mean.reshape(shape)) / (batch_var.reshape(shape) + eps).sqrt() * scale.reshape(shape) + bias.reshape(
        shape
    )
    running_mean = mean * momentum + batch_mean * (1 - momentum)
    running_var = var * momentum + batch_var * (1 - momentum)
    return y, running_mean, running_var


@register("LayerNormalization", since=17, attrs=("axis", "epsilon", "stash_type"))
def layer_norm(node, x, scale, bias=None):
    first = axis(node, node.get("axis", -1), x.ndim)
    eps = node.get("epsilon", 1e-5)
    normalized = tuple(x.shape[first:])
    if node.outputs == 1 and tuple(scale.shape) == normalized and (bias is None or tuple(bias.shape) == normalized):
        return F.layer_norm(x, normalized, scale, bias, eps)
    dims = tuple(range(first, x.ndim))
    mean = x.mean(dim=dims, keepdim=True)
    centered = x - mean
    inv_std = ((centered * centered).mean(dim=dims, keepdim=True) + eps).rsqrt()
    y = centered * inv_std * scale
    if bias is not None:
        y = y + bias
    return (y, mean, inv_std)[: max(node.outputs, 1)]


@register("InstanceNormalization", attrs=("epsilon",))
def instance_norm(node, x, scale, bias):
    return F.instance_norm(x, weight=scale, bias=bias, eps=node.get("epsilon", 1e-5))


@register("GroupNormalization", since=21, attrs=("epsilon", "num_groups", "stash_type"))
def group_norm(node, x, scale, bias):
    return F.group_norm(x, node.get("num_groups"), scale, bias, node.get("epsilon", 1e-5))


@register("Dropout", since=10, attrs=("ratio", "seed"))
def dropout_10(node, x):
    # Opsets 10-11: the ratio is an attribute and the op is always inference (identity).
    return x, const(node, np.ones(x.shape, dtype=bool))


@register("Dropout", since=12, attrs=("seed",))
def dropout(node, x, ratio=None, training_mode=None):
    training = training_mode is not None and bool(training_mode.item())
    p = 0.5 if ratio is None else float(ratio.item())
    if not training or p == 0.0:
        mask = const(node, np.ones(x.shape, dtype=bool))
        return x, mask
    if not 0.0 <= p < 1.0:
        raise fail(node, f"ratio {p} must lie in [0, 1)")
    # ONNX leaves the random stream to the runtime; NumPy's RandomState seeded with the node's
    # seed, as onnx's reference draws it, makes a seeded graph reproduce the reference masks.
    keep = np.random.RandomState(node.get("seed")).uniform(0.0, 1.0, x.shape) >= p
    mask = const(node, keep)
    return x * const(node, keep.astype(x.dtype.np)) * (1.0 / (1.0 - p)), mask


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


@register(
    "Pad",
    attrs=("mode",),
    check=lambda a: None if a.get("mode", "constant") in _PAD_MODES else f"mode {a.get('mode')!r}",
)
def pad(node, x, pads, value=None, axes=None):
    widths = ints(pads)
    dims = list(range(x.ndim)) if axes is None else [axis(node, a, x.ndim) for a in ints(axes)]
    if len(widths) != 2 * len(dims):
        raise fail(node, f"pads {widths} do not fit axes {dims}")
    per_axis = [(0, 0)] * x.ndim
    for i, d in enumerate(dims):
        per_axis[d] = (widths[i], widths[i + len(dims)])
    fill = 0.0 if value is None or value.numel() == 0 else value.item()
    mode = _PAD_MODES[node.get("mode", "constant")]
    first = next((d for d, w in enumerate(per_axis) if w != (0, 0)), x.ndim)
    flat = []
    for lo, hi in reversed(per_axis[first:]):
        flat += [lo, hi]
    if not flat:
        return x
    return F.pad(x, tuple(flat), mode=mode, value=fill)


@register("RMSNormalization", since=23, attrs=("axis", "epsilon", "stash_type"))
def rms_norm(node, x, scale):
    first = axis(node, node.get("axis", -1), x.ndim)
    dims = tuple(range(first, x.ndim))
    # stash_type=1 (the default) computes in float32, as the spec's reference does.
    work = x.float() if x.dtype.itemsize < 4 else x
    inv_rms = ((work * work).mean(dim=dims, keepdim=True) + node.get("epsilon", 1e-5)).rsqrt()
    return (work * inv_rms).to(x.dtype) * scale


@register("LpNormalization", since=1, attrs=("axis", "p"))
def lp_normalization(node, x):
    dim = axis(node, node.get("axis", -1), x.ndim)
    p = node.get("p", 2)
    if p not in (1, 2):
        raise fail(node, f"p must be 1 or 2, got {p}")
    norm = x.abs().sum(dim=dim, keepdim=True) if p == 1 else (x * x).sum(dim=dim, keepdim=True).sqrt()
    # A zero norm leaves zeros (onnx's reference divides where the norm is non-zero).
    return x / norm.masked_fill(norm == 0, 1.0)
