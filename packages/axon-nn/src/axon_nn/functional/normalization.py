"""Normalization: batch, layer, RMS, group and instance norm.

LayerNorm and RMSNorm call the backend's fused ``layer_norm`` / ``rms_norm`` over the trailing
dims; GroupNorm and InstanceNorm (with input statistics) are ``layer_norm`` over each group's
row followed by a per-channel affine (:class:`GroupNormFunction`), so they run our CUDA kernels
too. BatchNorm (statistics across the batch) and normalisation with running statistics use
:class:`NormalizeFunction`, written with ``xp``: each op chooses a view of the input in which
the statistics run over ``stat_axes`` and a broadcast shape for its affine weight and bias.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from axon_autograd import Function
from axon_autograd.functions import sum_to
from axon_autograd.variable import make_variable
from axon_core import DTypeError, ShapeError

from ._twice import graph_backward
from ._util import out_like, saved, tensor_of, xp_of

__all__ = ["batch_norm", "layer_norm", "rms_norm", "group_norm", "instance_norm"]


def _normalize_composite(ctx, x, weight, bias):
    """:class:`NormalizeFunction` as Variable ops (batch statistics recomputed from ``x``)."""
    xv = x.reshape(ctx.view_shape)
    if ctx.from_input:
        centred = xv - xv.mean(ctx.stat_axes, keepdim=True)
        y = centred * ((centred * centred).mean(ctx.stat_axes, keepdim=True) + ctx.eps).rsqrt()
    else:
        y = (xv - _constant(ctx.mean, x)) * _constant(ctx.rstd, x)
    y = y.reshape(tuple(x.shape))
    if weight is not None:
        y = y * weight.reshape(ctx.affine_shape)
    if bias is not None:
        y = y + bias.reshape(ctx.affine_shape)
    return y


def _last_dim_composite(ctx, x, weight, bias):
    """:class:`LastDimNormFunction` as Variable ops."""
    n, eps = ctx.n, ctx.eps
    x2 = x.reshape(-1, n)
    if ctx.center:
        x2 = x2 - x2.mean(1, keepdim=True)
    y = x2 * ((x2 * x2).mean(1, keepdim=True) + eps).rsqrt()
    if weight is not None:
        y = y * weight.reshape(n)
    if bias is not None:
        y = y + bias.reshape(n)
    return y.reshape(tuple(x.shape))


def _group_composite(ctx, x, weight, bias):
    """:class:`GroupNormFunction` as Variable ops."""
    shape = tuple(x.shape)
    rows = x.reshape(shape[0] * ctx.groups, -1)
    centred = rows - rows.mean(1, keepdim=True)
    y = (centred * ((centred * centred).mean(1, keepdim=True) + ctx.eps).rsqrt()).reshape(shape[0], shape[1], -1)
    if weight is not None:
        y = y * weight.reshape(1, shape[1], 1)
    if bias is not None:
        y = y + bias.reshape(1, shape[1], 1)
    return y.reshape(shape)


def _constant(array: Any, like: Any) -> Any:
    """A backend array as a Variable without gradient on ``like``'s device."""
    return make_variable(out_like(array, tensor_of(like)), False, None)


class NormalizeFunction(Function):
    """``y = (x - mean) * rstd * weight + bias``.

    ``x`` is seen as ``view_shape`` while normalising; ``mean``/``rstd`` (arrays broadcastable
    to the view) are given. With ``from_input`` they are statistics of ``x`` over ``stat_axes``
    (``rstd = 1 / sqrt(var + eps)``) and the backward differentiates through them; otherwise
    (running statistics) they are constants.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, mean, rstd, view_shape, stat_axes, affine_shape, from_input, eps):
        data = x.array
        x_hat = ((data.reshape(view_shape) - mean) * rstd).astype(data.dtype, copy=False).reshape(data.shape)
        y = x_hat
        if weight is not None:
            y = y * weight.array.reshape(affine_shape)
        if bias is not None:
            y = y + bias.array.reshape(affine_shape)
        ctx.save_for_backward(x, weight, bias)
        ctx.x_hat, ctx.mean, ctx.rstd, ctx.eps = x_hat, mean, rstd, eps
        ctx.view_shape, ctx.stat_axes, ctx.affine_shape = view_shape, stat_axes, affine_shape
        ctx.from_input, ctx.has_bias = from_input, bias is not None
        ctx.bias_shape = None if bias is None else bias.shape
        return out_like(y if y is not data else y.copy(), x)

    @staticmethod
    @graph_backward(_normalize_composite)
    def backward(ctx, grad):
        _, weight, _ = saved(ctx)
        g, xh = grad.array, ctx.x_hat
        needs = ctx.needs_input_grad
        grad_x = grad_w = grad_b = None
        if needs[0]:
            g_hat = g * weight.array.reshape(ctx.affine_shape) if weight is not None else g
            g_hat, xv = g_hat.reshape(ctx.view_shape), xh.reshape(ctx.view_shape)
            if ctx.from_input:
                axes = ctx.stat_axes
                inner = g_hat - g_hat.mean(axis=axes, keepdims=True) - xv * (g_hat * xv).mean(axis=axes, keepdims=True)
                gx = inner * ctx.rstd
            else:
                gx = g_hat * ctx.rstd
            grad_x = out_like(gx.astype(g.dtype, copy=False).reshape(g.shape), grad)
        if weight is not None and needs[1]:
            grad_w = out_like(sum_to(g * xh, _full_affine(ctx.affine_shape, g.ndim)).reshape(weight.shape), grad)
        if ctx.has_bias and needs[2]:
            grad_b = out_like(sum_to(g, _full_affine(ctx.affine_shape, g.ndim)).reshape(ctx.bias_shape), grad)
        return grad_x, grad_w, grad_b, None, None, None, None, None, None, None


class LastDimNormFunction(Function):
    """LayerNorm (``center``) or RMSNorm over the trailing dims through the backend's fused op.

    ``x [*, *normalized]`` is viewed as ``[rows, n]``; ``weight``/``bias`` ``[*normalized]`` or None.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, n, eps, center):
        backend = x.backend
        x2 = x.array.reshape(-1, n)
        w = None if weight is None else weight.array.reshape(n)
        if center:
            y, mean, rstd = backend.layer_norm(x2, w, None if bias is None else bias.array.reshape(n), eps)
        else:
            (y, rstd), mean = backend.rms_norm(x2, w, eps), None
        ctx.arrays = (x2, w, mean, rstd)
        ctx.save_for_backward(x, weight, bias)
        ctx.n, ctx.eps, ctx.center, ctx.has_bias = n, eps, center, bias is not None
        ctx.shapes = (x.array.shape, None if weight is None else weight.shape)
        return out_like(y.reshape(x.array.shape), x)

    @staticmethod
    @graph_backward(_last_dim_composite)
    def backward(ctx, grad):
        backend = grad.backend
        x2, w, mean, rstd = ctx.arrays
        x_shape, w_shape = ctx.shapes
        g2 = grad.array.reshape(x2.shape)
        if ctx.center:
            dx, dw, db = backend.layer_norm_backward(g2, x2, w, mean, rstd, ctx.has_bias)
        else:
            (dx, dw), db = backend.rms_norm_backward(g2, x2, w, rstd), None
        params = [None if a is None else out_like(a.reshape(w_shape or a.shape), grad) for a in (dw, db)]
        return out_like(dx.reshape(x_shape), grad), params[0], params[1], None, None, None


class GroupNormFunction(Function):
    """``x [N, C, *]`` normalised over each of ``groups`` channel groups per sample, then
    ``weight [C]`` / ``bias [C]`` (either may be None) per channel.

    The statistics are the backend's ``layer_norm`` over rows ``[N * groups, C / groups * prod(*)]``.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, groups, eps):
        backend, data = x.backend, x.array
        n, c = data.shape[:2]
        spatial = math.prod(data.shape[2:])
        rows = data.reshape(n * groups, c // groups * spatial)
        y_hat, mean, rstd = backend.layer_norm(rows, None, None, eps)
        y = _channel_affine(y_hat.reshape(n, c, spatial), weight, bias).reshape(data.shape)
        ctx.arrays = (rows, mean, rstd)
        ctx.has_weight, ctx.has_bias = weight is not None, bias is not None
        ctx.groups, ctx.eps = groups, eps
        ctx.save_for_backward(x, weight, bias)
        return out_like(y, x)

    @staticmethod
    @graph_backward(_group_composite)
    def backward(ctx, grad):
        backend = grad.backend
        _, weight, _ = saved(ctx)
        rows, mean, rstd = ctx.arrays
        g = grad.array
        g3 = g.reshape(g.shape[0], g.shape[1], math.prod(g.shape[2:]))
        needs = ctx.needs_input_grad
        grad_x = grad_w = grad_b = None
        if needs[0]:
            g_hat = g3 * weight.array[:, None] if weight is not None else g3
            dx, _, _ = backend.layer_norm_backward(g_hat.reshape(rows.shape), rows, None, mean, rstd, has_bias=False)
            grad_x = out_like(dx.reshape(g.shape), grad)
        if weight is not None and needs[1]:
            y_hat = (rows - mean[:, None]) * rstd[:, None]
            grad_w = out_like((g3 * y_hat.reshape(g3.shape)).sum(axis=(0, 2)).astype(g.dtype, copy=False), grad)
        if ctx.has_bias and needs[2]:
            grad_b = out_like(g3.sum(axis=(0, 2)), grad)
        return grad_x, grad_w, grad_b, None, None


def _channel_affine(y: Any, weight: Any, bias: Any) -> Any:
    """``y [N, C, S] * weight [C] + bias [C]`` (either may be None)."""
    if weight is not None:
        y = y * weight.array[:, None]
    if bias is not None:
        y = y + bias.array[:, None]
    return y


def _full_affine(affine_shape: tuple[int, ...], ndim: int) -> tuple[int, ...]:
    return (1,) * (ndim - len(affine_shape)) + tuple(affine_shape)


def _moments(input: Any, axes: tuple[int, ...]) -> tuple[Any, Any]:
    """Mean and biased variance of ``input``'s array over ``axes`` (kept as size-1 dims)."""
    data = tensor_of(input).array
    mean = data.mean(axis=axes, keepdims=True)
    return mean, ((data - mean) ** 2).mean(axis=axes, keepdims=True)


def _check_float(op: str, input: Any) -> None:
    if not input.dtype.is_floating_point:
        raise DTypeError(f"{op}: expected a floating-point input, got {input.dtype}")


def _check_param(op: str, name: str, param: Any, shape: tuple[int, ...]) -> None:
    if param is not None and tuple(param.shape) != tuple(shape):
        raise ShapeError(f"{op}: {name} has shape {tuple(param.shape)}, expected {tuple(shape)}")


def _update_running(running: Any, batch_value: Any, momentum: float) -> None:
    data = running.array
    data *= 1.0 - momentum
    data += (momentum * batch_value).astype(data.dtype, copy=False)


def batch_norm(
    input: Any,
    running_mean: Any,
    running_var: Any,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Any:
    """Normalise ``input [N, C, *]`` per channel ``C``.

    Training uses the batch's statistics and, when running buffers are given, updates them in
    place (``running = (1 - momentum) * running + momentum * batch``, the variance unbiased).
    Otherwise the running statistics are used.
    """
    _check_float("batch_norm", input)
    shape = tuple(input.shape)
    if len(shape) < 2:
        raise ShapeError(f"batch_norm: expected an input [N, C, *], got shape {shape}")
    channels = shape[1]
    for name, param in (
        ("weight", weight),
        ("bias", bias),
        ("running_mean", running_mean),
        ("running_var", running_var),
    ):
        _check_param("batch_norm", name, param, (channels,))
    stat_axes = (0,) + tuple(range(2, len(shape)))
    affine_shape = (channels,) + (1,) * (len(shape) - 2)
    if training:
        count = math.prod(shape) // max(channels, 1)
        if count <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input of shape {shape}"
            )
        mean, var = _moments(input, stat_axes)
        rstd = 1.0 / xp_of(tensor_of(input)).sqrt(var + eps)
        out = NormalizeFunction.apply(input, weight, bias, mean, rstd, shape, stat_axes, affine_shape, True, eps)
        if running_mean is not None:
            _update_running(running_mean, mean.reshape(channels), momentum)
        if running_var is not None:
            _update_running(running_var, var.reshape(channels) * (count / (count - 1)), momentum)
        return out
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are needed outside training")
    xp = xp_of(tensor_of(input))
    mean = running_mean.array.reshape(affine_shape)
    rstd = 1.0 / xp.sqrt(running_var.array.reshape(affine_shape) + eps)
    return NormalizeFunction.apply(input, weight, bias, mean, rstd, shape, stat_axes, affine_shape, False, eps)


def _trailing(op: str, input: Any, normalized_shape: Any) -> tuple[int, ...]:
    normalized = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    shape = tuple(input.shape)
    if len(normalized) == 0 or len(normalized) > len(shape) or shape[len(shape) - len(normalized) :] != normalized:
        raise ShapeError(f"{op}: normalized_shape {normalized} does not match the end of input shape {shape}")
    return normalized


def layer_norm(
    input: Any, normalized_shape: Sequence[int] | int, weight: Any = None, bias: Any = None, eps: float = 1e-5
) -> Any:
    """Normalise over the trailing ``normalized_shape`` dims of ``input [*, *normalized_shape]``."""
    _check_float("layer_norm", input)
    normalized = _trailing("layer_norm", input, normalized_shape)
    _check_param("layer_norm", "weight", weight, normalized)
    _check_param("layer_norm", "bias", bias, normalized)
    return LastDimNormFunction.apply(input, weight, bias, math.prod(normalized), float(eps), True)


def rms_norm(input: Any, normalized_shape: Sequence[int] | int, weight: Any = None, eps: float | None = None) -> Any:
    """``x / sqrt(mean(x²) + eps) * weight`` over the trailing dims; ``eps`` defaults to the dtype's epsilon."""
    _check_float("rms_norm", input)
    normalized = _trailing("rms_norm", input, normalized_shape)
    _check_param("rms_norm", "weight", weight, normalized)
    if eps is None:
        import numpy as np

        eps = float(np.finfo(input.dtype.np).eps)
    return LastDimNormFunction.apply(input, weight, None, math.prod(normalized), float(eps), False)


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Any:
    """Normalise ``input [N, C, *]`` over each group of ``C / num_groups`` channels (and all positions)."""
    _check_float("group_norm", input)
    shape = tuple(input.shape)
    if len(shape) < 2 or num_groups <= 0 or shape[1] % num_groups:
        raise ShapeError(f"group_norm: {num_groups} groups do not divide the channels of input shape {shape}")
    channels = shape[1]
    _check_param("group_norm", "weight", weight, (channels,))
    _check_param("group_norm", "bias", bias, (channels,))
    return GroupNormFunction.apply(input, weight, bias, num_groups, float(eps))


def instance_norm(
    input: Any,
    running_mean: Any = None,
    running_var: Any = None,
    weight: Any = None,
    bias: Any = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Any:
    """Normalise each channel of each sample over its spatial positions: ``input [N, C, *spatial]``.

    With ``use_input_stats`` (training, or no running buffers) the statistics come from the
    input and running buffers, when given, are updated with their mean over the batch.
    """
    _check_float("instance_norm", input)
    shape = tuple(input.shape)
    if len(shape) < 3:
        raise ShapeError(f"instance_norm: expected an input [N, C, *spatial], got shape {shape}")
    channels = shape[1]
    for name, param in (
        ("weight", weight),
        ("bias", bias),
        ("running_mean", running_mean),
        ("running_var", running_var),
    ):
        _check_param("instance_norm", name, param, (channels,))
    axes = tuple(range(2, len(shape)))
    affine_shape = (channels,) + (1,) * (len(shape) - 2)
    if use_input_stats:
        if running_mean is not None or running_var is not None:
            mean, var = _moments(input, axes)
            count = math.prod(shape[2:])
            if running_mean is not None:
                _update_running(running_mean, mean.reshape(shape[0], channels).mean(axis=0), momentum)
            if running_var is not None:
                _update_running(
                    running_var, var.reshape(shape[0], channels).mean(axis=0) * (count / max(count - 1, 1)), momentum
                )
        return GroupNormFunction.apply(input, weight, bias, channels, float(eps))
    if running_mean is None or running_var is None:
        raise ValueError("instance_norm: running_mean and running_var are needed when use_input_stats=False")
    xp = xp_of(tensor_of(input))
    mean = running_mean.array.reshape(affine_shape)
    rstd = 1.0 / xp.sqrt(running_var.array.reshape(affine_shape) + eps)
    return NormalizeFunction.apply(input, weight, bias, mean, rstd, shape, axes, affine_shape, False, eps)
