"""Losses with ``reduction`` 'none' | 'mean' | 'sum'.

Pointwise losses share :class:`PointwiseLossFunction` (a table of loss and gradient rules);
classification losses share :class:`ClassLossFunction` (log-softmax optional, class weights,
``ignore_index``, label smoothing, index or probability targets).
"""

from __future__ import annotations

from typing import Any, Callable

from axon_autograd import Function
from axon_autograd.functions import sum_to, where
from axon_autograd.variable import make_variable
from axon_core import DTypeError, ShapeError

from ._twice import graph_backward
from ._util import check_reduction, out_like, reduce, reduce_backward, saved, tensor_of, xp_of

__all__ = [
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "nll_loss",
    "cross_entropy",
]


def _sigmoid(xp: Any, x: Any) -> Any:
    # Split by sign so that exp never overflows.
    positive = x >= 0
    z = xp.exp(xp.where(positive, -x, x))
    return xp.where(positive, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False)


def _softplus(xp: Any, x: Any) -> Any:
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def _smooth_l1(xp, x, t, beta):
    d = x - t
    a = xp.abs(d)
    if beta == 0:
        return a, xp.sign(d), -xp.sign(d)
    loss = xp.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)
    grad = xp.where(a < beta, d / beta, xp.sign(d))
    return loss, grad, -grad


def _huber(xp, x, t, delta):
    d = x - t
    a = xp.abs(d)
    loss = xp.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    grad = xp.where(a < delta, d, delta * xp.sign(d))
    return loss, grad, -grad


def _bce(xp, p, t, _):
    log_p, log_q = xp.maximum(xp.log(p), -100.0), xp.maximum(xp.log1p(-p), -100.0)
    # PyTorch's clamp of the denominator keeps the gradient finite at p = 0 or 1.
    grad = (p - t) / xp.maximum((1 - p) * p, 1e-12)
    return -(t * log_p + (1 - t) * log_q), grad, log_q - log_p


def _bce_logits(xp, x, t, pos_weight):
    soft = _softplus(xp, -x)
    if pos_weight is None:
        return (1 - t) * x + soft, _sigmoid(xp, x) - t, -x
    log_weight = 1 + (pos_weight - 1) * t
    return (1 - t) * x + log_weight * soft, (1 - t) - log_weight * _sigmoid(xp, -x), -x + (pos_weight - 1) * soft


def _kl(xp, x, t, log_target):
    if log_target:
        e = xp.exp(t)
        return e * (t - x), -e, e * (t - x + 1)
    positive = t > 0
    log_t = xp.log(xp.where(positive, t, 1))
    return xp.where(positive, t * log_t, 0) - t * x, -t, xp.where(positive, log_t + 1 - x, 0)


# kind -> rule(xp, input, target, param) returning (loss, d loss / d input, d loss / d target).
_RULES: dict[str, Callable[..., tuple[Any, Any, Any]]] = {
    "mse": lambda xp, x, t, _: ((x - t) ** 2, 2 * (x - t), -2 * (x - t)),
    "l1": lambda xp, x, t, _: (xp.abs(x - t), xp.sign(x - t), -xp.sign(x - t)),
    "smooth_l1": _smooth_l1,
    "huber": _huber,
    "bce": _bce,
    "bce_logits": _bce_logits,
    "kl": _kl,
}


def _kl_composite(x, t, log_target):
    if log_target:
        return t.exp() * (t - x)
    positive = t.data > 0
    return where(positive, t * where(positive, t, 1.0).log(), 0.0) - t * x


def _bce_logits_composite(x, t, pos_weight):
    soft = (-x).softplus()
    if pos_weight is None:
        return (1 - t) * x + soft
    return (1 - t) * x + (1 + (_constant(pos_weight, x) - 1) * t) * soft


def _smooth_l1_composite(x, t, beta):
    d = x - t
    a = d.abs()
    return a if beta == 0 else where(a.data < beta, d * d * (0.5 / beta), a - 0.5 * beta)


def _huber_composite(x, t, delta):
    d = x - t
    a = d.abs()
    return where(a.data < delta, d * d * 0.5, (a - 0.5 * delta) * delta)


# kind -> the loss of :data:`_RULES` as Variable ops, for double backward.
_COMPOSITES: dict[str, Callable[..., Any]] = {
    "mse": lambda x, t, _: (x - t) ** 2,
    "l1": lambda x, t, _: (x - t).abs(),
    "smooth_l1": _smooth_l1_composite,
    "huber": _huber_composite,
    "bce": lambda p, t, _: -(t * p.log().clamp(min=-100.0) + (1 - t) * (-p).log1p().clamp(min=-100.0)),
    "bce_logits": _bce_logits_composite,
    "kl": _kl_composite,
}


def _constant(array: Any, like: Any) -> Any:
    """A backend array as a Variable without gradient on ``like``'s device."""
    return make_variable(out_like(array, tensor_of(like)), False, None)


def _reduce_composite(loss: Any, reduction: str, denominator: Any) -> Any:
    """:func:`reduce` on Variables."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.mean() if denominator is None else loss.sum() / float(denominator)


def _pointwise_composite(ctx, input, target, weight):
    loss = _COMPOSITES[ctx.kind](input, target, ctx.param)
    if weight is not None:
        loss = loss * weight.detach()  # as in the first backward, the weight gets no gradient
    return _reduce_composite(loss, ctx.reduction, ctx.denominator)


class PointwiseLossFunction(Function):
    """``reduce(weight * rule(input, target))`` with ``input`` and ``target`` broadcast together."""

    @staticmethod
    def forward(ctx, input, target, weight, kind, reduction, param, denominator):
        xp = xp_of(input)
        loss, _, _ = _RULES[kind](xp, input.array, target.array, param)
        if weight is not None:
            loss = loss * weight.array
        ctx.save_for_backward(input, target, weight)
        ctx.kind, ctx.reduction, ctx.param, ctx.denominator, ctx.loss_shape = (
            kind,
            reduction,
            param,
            denominator,
            loss.shape,
        )
        return out_like(xp.asarray(reduce(loss, reduction, denominator)).astype(input.array.dtype, copy=False), input)

    @staticmethod
    @graph_backward(_pointwise_composite)
    def backward(ctx, grad):
        input, target, weight = saved(ctx)
        xp = xp_of(input)
        g = reduce_backward(xp, grad.array, ctx.loss_shape, ctx.reduction, ctx.denominator)
        if weight is not None:
            g = g * weight.array
        _, d_input, d_target = _RULES[ctx.kind](xp, input.array, target.array, ctx.param)
        needs = ctx.needs_input_grad
        grad_input = (
            out_like(sum_to(g * d_input, input.shape).astype(input.array.dtype, copy=False), input)
            if needs[0]
            else None
        )
        grad_target = (
            out_like(sum_to(g * d_target, target.shape).astype(target.array.dtype, copy=False), target)
            if needs[1]
            else None
        )
        return grad_input, grad_target, None, None, None, None, None


def _pointwise(
    op: str,
    kind: str,
    input: Any,
    target: Any,
    reduction: str,
    weight: Any = None,
    param: Any = None,
    allowed: tuple[str, ...] = ("none", "mean", "sum"),
) -> Any:
    check_reduction(op, reduction, allowed)
    if not input.dtype.is_floating_point or not target.dtype.is_floating_point:
        raise DTypeError(f"{op}: expected floating-point input and target, got {input.dtype} and {target.dtype}")
    try:
        import numpy as np

        np.broadcast_shapes(tuple(input.shape), tuple(target.shape), () if weight is None else tuple(weight.shape))
    except ValueError as exc:
        raise ShapeError(
            f"{op}: input {tuple(input.shape)}, target {tuple(target.shape)}"
            + ("" if weight is None else f" and weight {tuple(weight.shape)}")
            + " cannot be broadcast together"
        ) from exc
    denominator = None
    if reduction == "batchmean":
        reduction, denominator = "mean", (input.shape[0] if len(input.shape) else 1)
    return PointwiseLossFunction.apply(input, target, weight, kind, reduction, param, denominator)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """``(input - target)²``; shapes broadcast."""
    return _pointwise("mse_loss", "mse", input, target, reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """``|input - target|``."""
    return _pointwise("l1_loss", "l1", input, target, reduction)


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Any:
    """``0.5 d² / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (L1 when ``beta == 0``)."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    return _pointwise("smooth_l1_loss", "smooth_l1", input, target, reduction, param=float(beta))


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Any:
    """``0.5 d²`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _pointwise("huber_loss", "huber", input, target, reduction, param=float(delta))


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, reduction: str = "mean") -> Any:
    """``-w (t log p + (1 - t) log(1 - p))`` for probabilities ``input`` in [0, 1] (logs clamped at -100)."""
    data = tensor_of(input).array
    if data.size and (float(data.min()) < 0 or float(data.max()) > 1):
        raise ValueError("binary_cross_entropy: all elements of input must lie in [0, 1]")
    return _pointwise("binary_cross_entropy", "bce", input, target, reduction, weight)


def binary_cross_entropy_with_logits(
    input: Any, target: Any, weight: Any = None, reduction: str = "mean", pos_weight: Any = None
) -> Any:
    """BCE on ``sigmoid(input)`` computed stably from logits; ``pos_weight`` scales positives
    (broadcast over the last dim)."""
    param = None if pos_weight is None else tensor_of(pos_weight).array
    return _pointwise("binary_cross_entropy_with_logits", "bce_logits", input, target, reduction, weight, param)


def kl_div(input: Any, target: Any, reduction: str = "mean", log_target: bool = False) -> Any:
    """``target * (log target - input)`` for log-probabilities ``input``; 'batchmean' divides the
    sum by the batch size."""
    return _pointwise(
        "kl_div", "kl", input, target, reduction, param=bool(log_target), allowed=("none", "mean", "sum", "batchmean")
    )


class CrossEntropyIndexFunction(Function):
    """Cross-entropy of logits against class indices through the backend's fused op (our kernel on CUDA).

    ``input [N, C, *d]`` or ``[C]``, ``target [N, *d]`` (or 0-d) -> per-sample or reduced loss.
    """

    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, label_smoothing, reduction):
        xp, backend = xp_of(input), input.backend
        x2, t = _classes_last(xp, input.array), target.array.reshape(-1)
        w = None if weight is None else weight.array
        loss, lse = backend.cross_entropy(x2, t, w, ignore_index, label_smoothing)
        kept = t != ignore_index
        denominator = kept.sum() if w is None else (w[xp.where(kept, t, 0)] * kept).sum()
        ctx.arrays = (x2, t, w, lse)
        ctx.options = (ignore_index, label_smoothing, reduction, denominator, input.array.shape)
        ctx.save_for_backward(input)
        if reduction == "none":
            return out_like(loss.astype(x2.dtype, copy=False).reshape(_without_class_axis(input.array.shape)), input)
        with xp.errstate(invalid="ignore", divide="ignore") if xp.__name__ == "numpy" else _nullcontext():
            return out_like(xp.asarray(reduce(loss, reduction, denominator)).astype(x2.dtype, copy=False), input)

    @staticmethod
    @graph_backward(lambda ctx, input: _index_composite(ctx, input))
    def backward(ctx, grad):
        xp, backend = xp_of(grad), grad.backend
        x2, t, w, lse = ctx.arrays
        ignore_index, label_smoothing, reduction, denominator, in_shape = ctx.options
        with xp.errstate(invalid="ignore", divide="ignore") if xp.__name__ == "numpy" else _nullcontext():
            g = reduce_backward(
                xp,
                grad.array.reshape(-1) if reduction == "none" else grad.array,
                (x2.shape[0],),
                reduction,
                denominator,
            )
        d = backend.cross_entropy_backward(xp.ascontiguousarray(g), x2, t, lse, w, ignore_index, label_smoothing)
        return out_like(_classes_back(xp, d, in_shape), grad), None, None, None, None, None


class ClassLossFunction(Function):
    """Negative log-likelihood over a class axis, optionally of ``log_softmax(input)``.

    ``input [N, C, *d]`` or ``[C]``; ``target`` ``[N, *d]`` class indices or probabilities
    shaped like ``input``. Internally classes are moved last: ``[M, C]`` with ``M = N * prod(d)``.
    ``loss_m = -Σ_c q_mc log p_mc`` where ``q`` mixes the target with
    the uniform distribution by ``label_smoothing`` and carries the class weights.
    """

    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, label_smoothing, reduction, from_logits):
        xp, backend = xp_of(input), input.backend
        x, t = _classes_last(xp, input.array), target.array
        t = _classes_last(xp, t) if t.ndim == input.array.ndim else t.reshape(-1)
        logp = backend.log_softmax(x, 1) if from_logits else x
        q, denominator = _target_distribution(xp, t, weight, ignore_index, label_smoothing, x.shape, x.dtype)
        loss = -(logp * q).sum(axis=1)
        ctx.logp, ctx.q = logp, q
        ctx.denominator, ctx.reduction, ctx.from_logits = denominator, reduction, from_logits
        ctx.weight_row = None if weight is None else weight.array
        ctx.smoothing, ctx.backend = label_smoothing, backend
        ctx.in_shape, ctx.target_shape = input.array.shape, target.array.shape
        ctx.save_for_backward(input, target if target.dtype.is_floating_point else None)
        if reduction == "none":
            loss = loss.reshape(_without_class_axis(input.array.shape))
        with xp.errstate(invalid="ignore", divide="ignore") if xp.__name__ == "numpy" else _nullcontext():
            out = xp.asarray(reduce(loss, reduction, denominator)).astype(x.dtype, copy=False)
        return out_like(out, input)

    @staticmethod
    @graph_backward(lambda ctx, input, target: _class_composite(ctx, input, target))
    def backward(ctx, grad):
        xp = xp_of(grad)
        logp = ctx.logp
        with xp.errstate(invalid="ignore", divide="ignore") if xp.__name__ == "numpy" else _nullcontext():
            g = reduce_backward(
                xp,
                grad.array.reshape(-1) if ctx.reduction == "none" else grad.array,
                (logp.shape[0],),
                ctx.reduction,
                ctx.denominator,
            )
        d_logp = -(ctx.q * g[:, None]).astype(logp.dtype, copy=False)
        grad_input = ctx.backend.log_softmax_backward(d_logp, logp, 1) if ctx.from_logits else d_logp
        grad_target = None
        if ctx.needs_input_grad[1]:
            scaled = logp if ctx.weight_row is None else logp * ctx.weight_row
            grad_target = out_like(
                _classes_back(xp, -(scaled * g[:, None]) * (1.0 - ctx.smoothing), ctx.target_shape), grad
            )
        return out_like(_classes_back(xp, grad_input, ctx.in_shape), grad), grad_target, None, None, None, None, None


def _index_composite(ctx, input):
    """:class:`CrossEntropyIndexFunction` as Variable ops: ``-Σ q * log_softmax(x)`` with the
    target distribution ``q`` a constant."""
    x2, t, w, _ = ctx.arrays
    ignore_index, smoothing, reduction, denominator, in_shape = ctx.options
    xp = xp_of(tensor_of(input))
    weight = None if w is None else out_like(w, tensor_of(input))
    q, _ = _target_distribution(xp, t, weight, ignore_index, smoothing, x2.shape, x2.dtype)
    loss = -(_classes_last_var(input).log_softmax(1) * _constant(q, input)).sum(1)
    if reduction == "none":
        return loss.reshape(_without_class_axis(in_shape))
    return _reduce_composite(loss, reduction, denominator)


def _class_composite(ctx, input, target):
    """:class:`ClassLossFunction` as Variable ops; a probability target carries its graph."""
    x = _classes_last_var(input)
    logp = x.log_softmax(1) if ctx.from_logits else x
    if target is None:
        q = _constant(ctx.q, input)
    else:
        q = _classes_last_var(target)
        if ctx.smoothing:
            q = q * (1.0 - ctx.smoothing) + ctx.smoothing / x.shape[1]
        if ctx.weight_row is not None:
            q = q * _constant(ctx.weight_row, input)
    loss = -(logp * q).sum(1)
    if ctx.reduction == "none":
        return loss.reshape(_without_class_axis(ctx.in_shape))
    return _reduce_composite(loss, ctx.reduction, ctx.denominator)


def _classes_last_var(x: Any) -> Any:
    """:func:`_classes_last` on a Variable."""
    shape = tuple(x.shape)
    if len(shape) == 1:
        return x.reshape(1, shape[0])
    if len(shape) == 2:
        return x
    return x.reshape(shape[0], shape[1], -1).permute(0, 2, 1).reshape(-1, shape[1])


def _without_class_axis(shape: tuple[int, ...]) -> tuple[int, ...]:
    return () if len(shape) == 1 else shape[:1] + shape[2:]


def _classes_last(xp: Any, x: Any) -> Any:
    """``[N, C, *d]`` -> ``[N * prod(d), C]``; ``[C]`` -> ``[1, C]``."""
    if x.ndim == 1:
        return x[None]
    if x.ndim == 2:
        return x
    return xp.moveaxis(x.reshape(x.shape[0], x.shape[1], -1), 1, 2).reshape(-1, x.shape[1])


def _classes_back(xp: Any, x2: Any, shape: tuple[int, ...]) -> Any:
    """Inverse of :func:`_classes_last`."""
    if len(shape) <= 2:
        return x2.reshape(shape)
    moved = x2.reshape(shape[0], -1, shape[1])
    return xp.ascontiguousarray(xp.moveaxis(moved, 2, 1)).reshape(shape)


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def _target_distribution(
    xp: Any, target: Any, weight: Any, ignore_index: int, smoothing: float, shape: tuple[int, int], dtype: Any
) -> tuple[Any, Any]:
    """The weighted target distribution ``q [M, C]`` and the denominator of the 'mean' reduction."""
    m, classes = shape
    w_row = None if weight is None else weight.array
    if target.ndim == 2:
        q = target * (1.0 - smoothing) + smoothing / classes if smoothing else target
        if w_row is not None:
            q = q * w_row
        return q.astype(dtype, copy=False), m
    valid = target != ignore_index
    safe = xp.where(valid, target, 0)
    valid_f = valid.astype(dtype)
    w_target = valid_f if w_row is None else w_row[safe] * valid_f
    q = xp.zeros(shape, dtype=dtype)
    q[xp.arange(m), safe] = w_target * (1.0 - smoothing)
    if smoothing:
        q += (smoothing / classes) * (valid_f[:, None] if w_row is None else valid_f[:, None] * w_row)
    return q, w_target.sum()


def _class_loss(
    op: str,
    input: Any,
    target: Any,
    weight: Any,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
    from_logits: bool,
) -> Any:
    check_reduction(op, reduction)
    if not input.dtype.is_floating_point:
        raise DTypeError(f"{op}: expected a floating-point input, got {input.dtype}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    shape, t_shape = tuple(input.shape), tuple(target.shape)
    if len(shape) == 0:
        raise ShapeError(f"{op}: input must have a class dimension, got a 0-d input")
    class_axis = 0 if len(shape) == 1 else 1
    classes = shape[class_axis]
    probabilities = target.dtype.is_floating_point
    if probabilities:
        if t_shape != shape:
            raise ShapeError(f"{op}: probability target {t_shape} must match input {shape}")
    else:
        if target.dtype.is_bool or not target.dtype.is_integer:
            raise DTypeError(
                f"{op}: target must hold class indices (integers) or probabilities (floats), got {target.dtype}"
            )
        expected = shape[:class_axis] + shape[class_axis + 1 :]
        if t_shape != expected:
            raise ShapeError(f"{op}: input {shape} needs a target of shape {expected}, got {t_shape}")
        data = tensor_of(target).array
        valid = data[data != ignore_index]
        if valid.size and (int(valid.min()) < 0 or int(valid.max()) >= classes):
            raise IndexError(
                f"{op}: target class indices must lie in [0, {classes}), "
                f"got values in [{int(valid.min())}, {int(valid.max())}]"
            )
    if weight is not None and tuple(weight.shape) != (classes,):
        raise ShapeError(f"{op}: weight {tuple(weight.shape)} must have one entry per class ({classes})")
    if from_logits and not probabilities:
        return CrossEntropyIndexFunction.apply(input, target, weight, ignore_index, float(label_smoothing), reduction)
    return ClassLossFunction.apply(input, target, weight, ignore_index, float(label_smoothing), reduction, from_logits)


def nll_loss(input: Any, target: Any, weight: Any = None, ignore_index: int = -100, reduction: str = "mean") -> Any:
    """``-weight[t] * input[t]`` for log-probabilities ``input [N, C, *d]`` (or ``[C]``) and
    indices ``target [N, *d]``."""
    return _class_loss("nll_loss", input, target, weight, ignore_index, reduction, 0.0, from_logits=False)


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Any:
    """Cross-entropy of logits ``input [N, C, *d]`` (or ``[C]``) against indices ``[N, *d]`` or
    probabilities ``[N, C, *d]``.

    'mean' divides by the summed weights of the non-ignored targets (indices) or by the number
    of samples (probabilities), as PyTorch.
    """
    return _class_loss(
        "cross_entropy", input, target, weight, ignore_index, reduction, label_smoothing, from_logits=True
    )
