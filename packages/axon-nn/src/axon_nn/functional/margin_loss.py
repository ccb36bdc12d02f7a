"""Margin, embedding and likelihood losses, as PyTorch defines them, with ``reduction``
'none' | 'mean' | 'sum'.

Each loss is a composition of Variable ops (clamp, where, gather, norm, softplus, log), so its
gradient, and the gradient of that gradient, come from the ops it is built of. The hinge of
multi_margin_loss / multilabel_margin_loss is ``where(z > 0, z, 0)`` (zero gradient at the hinge,
as PyTorch's kernels); the others use ``clamp(min=0)`` as PyTorch's composites do.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np

import axon_tensor
from axon_autograd import Variable
from axon_autograd.functions import where
from axon_autograd.functions.reduction import minimum
from axon_core import DTypeError, ShapeError

from ._util import check_reduction, tensor_of
from .distance import clamp_forward_only, pairwise_distance
from .loss import _reduce_composite

__all__ = [
    "cosine_embedding_loss",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "poisson_nll_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]


def _tensors_stay_tensors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Plain Tensors in, a plain Tensor out (the composed ops hand back Variables)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = fn(*args, **kwargs)
        recorded = any(isinstance(a, Variable) for a in (*args, *kwargs.values()))
        return out if recorded or not isinstance(out, Variable) else out.data

    return wrapper


def _check_float(op: str, **named: Any) -> None:
    for name, x in named.items():
        if not tensor_of(x).dtype.is_floating_point:
            raise DTypeError(f"{op}: expected a floating-point {name}, got {tensor_of(x).dtype}")


def _check_same_shape(op: str, **named: Any) -> None:
    shapes = {name: tuple(x.shape) for name, x in named.items()}
    if len(set(shapes.values())) > 1:
        raise ShapeError(f"{op}: expected equal shapes, got " + ", ".join(f"{n} {s}" for n, s in shapes.items()))


def _check_broadcast(op: str, **named: Any) -> None:
    try:
        np.broadcast_shapes(*(tuple(x.shape) for x in named.values()))
    except ValueError as exc:
        shapes = ", ".join(f"{n} {tuple(x.shape)}" for n, x in named.items())
        raise ShapeError(f"{op}: {shapes} cannot be broadcast together") from exc


@_tensors_stay_tensors
def cosine_embedding_loss(input1: Any, input2: Any, target: Any, margin: float = 0, reduction: str = "mean") -> Any:
    """``1 - cos(x1, x2)`` where ``target == 1``, ``max(0, cos - margin)`` where ``target == -1``.

    ``input1, input2 [N, D]`` with ``target [N]`` of ±1, or ``[D]`` with a 0-d target -> ``[N]`` (or reduced).
    ``cos`` is ``Σ x1 x2 / sqrt((Σ x1² + 1e-12)(Σ x2² + 1e-12))``, PyTorch's formula.
    """
    op = "cosine_embedding_loss"
    check_reduction(op, reduction)
    _check_float(op, input1=input1, input2=input2)
    d1, d2, dt = len(input1.shape), len(input2.shape), len(target.shape)
    if d1 != d2 or d1 not in (1, 2) or dt != d1 - 1:
        raise ShapeError(
            f"{op}: expected input1 and input2 [N, D] with target [N] (or [D] with a 0-d target), got "
            f"{tuple(input1.shape)}, {tuple(input2.shape)} and {tuple(target.shape)}"
        )
    if tuple(input1.shape) != tuple(input2.shape) or (dt and target.shape[0] != input1.shape[0]):
        raise ShapeError(
            f"{op}: sizes do not match: input1 {tuple(input1.shape)}, input2 {tuple(input2.shape)}, "
            f"target {tuple(target.shape)}"
        )
    last = d1 - 1
    dot = (input1 * input2).sum(last)
    denominator = (((input1 * input1).sum(last) + 1e-12) * ((input2 * input2).sum(last) + 1e-12)).sqrt()
    cos = dot / denominator
    y = tensor_of(target)
    loss = where(y == 1, 1 - cos, 0.0) + where(y == -1, (cos - margin).clamp(min=0), 0.0)
    return _reduce_composite(loss, reduction, None)


@_tensors_stay_tensors
def hinge_embedding_loss(input: Any, target: Any, margin: float = 1.0, reduction: str = "mean") -> Any:
    """``x`` where ``target != -1`` plus ``max(0, margin - x)`` where ``target != 1``; shapes broadcast."""
    op = "hinge_embedding_loss"
    check_reduction(op, reduction)
    _check_float(op, input=input)
    _check_broadcast(op, input=input, target=target)
    y = tensor_of(target)
    loss = where(y != 1, (margin - input).clamp(min=0), 0.0) + where(y != -1, input, 0.0)
    return _reduce_composite(loss, reduction, None)


@_tensors_stay_tensors
def margin_ranking_loss(input1: Any, input2: Any, target: Any, margin: float = 0, reduction: str = "mean") -> Any:
    """``max(0, -target (input1 - input2) + margin)``; all three have the same number of dims."""
    op = "margin_ranking_loss"
    check_reduction(op, reduction)
    _check_float(op, input1=input1, input2=input2, target=target)
    if not len(input1.shape) == len(input2.shape) == len(target.shape):
        raise ShapeError(
            f"{op}: input1 {tuple(input1.shape)}, input2 {tuple(input2.shape)} and target "
            f"{tuple(target.shape)} must have the same number of dimensions"
        )
    _check_broadcast(op, input1=input1, input2=input2, target=target)
    return _reduce_composite((-target * (input1 - input2) + margin).clamp(min=0), reduction, None)


def _class_targets(op: str, input: Any, target: Any) -> tuple[Any, Any, int]:
    """``input [N, C]`` (or ``[C]``) and its index ``target [N]`` as a 2-d input and a ``[N, 1]`` index."""
    _check_float(op, input=input)
    shape, t_shape = tuple(input.shape), tuple(target.shape)
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] == 0):
        raise ShapeError(f"{op}: expected input [N, C] or [C] with C > 0, got {shape}")
    expected = shape[:1] if len(shape) == 2 else ()
    if t_shape not in (expected, (1,) if not expected else expected):
        raise ShapeError(f"{op}: input {shape} needs a target of shape {expected}, got {t_shape}")
    t = tensor_of(target)
    if t.dtype.is_floating_point or t.dtype.is_bool:
        raise DTypeError(f"{op}: target must hold class indices (integers), got {t.dtype}")
    classes = shape[-1]
    data = t.numpy().reshape(-1)
    if data.size and (int(data.min()) < 0 or int(data.max()) >= classes):
        raise IndexError(f"{op}: target class indices must lie in [0, {classes}), got {data.min()}..{data.max()}")
    x2 = input if len(shape) == 2 else input.reshape(1, classes)
    return x2, t.reshape(-1, 1).to(dtype="int64"), classes


def _per_sample(loss: Any, input: Any, reduction: str, shape: tuple[int, ...] = ()) -> Any:
    """``[N]`` per-sample losses, for a 1-d ``input`` reshaped to ``shape`` (torch's), then reduced."""
    if len(input.shape) == 1:
        loss = loss.reshape(shape)
    return _reduce_composite(loss, reduction, None)


@_tensors_stay_tensors
def multi_margin_loss(
    input: Any, target: Any, p: int = 1, margin: float = 1.0, weight: Any = None, reduction: str = "mean"
) -> Any:
    """``Σ_{j≠y} w[y] max(0, margin - x[y] + x[j])^p / C`` per sample; ``input [N, C]``, ``target [N]``."""
    op = "multi_margin_loss"
    check_reduction(op, reduction)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 are supported, got {p}")
    x, index, classes = _class_targets(op, input, target)
    if weight is not None and tuple(weight.shape) != (classes,):
        raise ShapeError(f"{op}: weight {tuple(weight.shape)} must have one entry per class ({classes})")
    z = margin - x.gather(1, index) + x
    others = tensor_of(z) > 0
    others = others & (_arange_like(z, classes) != index.expand(tuple(z.shape)))
    h = where(others, z if p == 1 else z * z, 0.0)
    if weight is not None:
        h = h * _take_weight(weight, index)
    return _per_sample(h.sum(1) / classes, input, reduction, tuple(target.shape))


def _arange_like(z: Any, classes: int) -> Any:
    return axon_tensor.arange(classes, device=tensor_of(z).device).reshape(1, classes)


def _take_weight(weight: Any, index: Any) -> Any:
    """``weight[target]`` as ``[N, 1]``; class weights get no gradient (as in PyTorch's kernel)."""
    return tensor_of(weight)[index.reshape(-1)].reshape(-1, 1)


@_tensors_stay_tensors
def multilabel_margin_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """``Σ_{j ∈ y} Σ_{k ∉ y} max(0, 1 - (x[j] - x[k])) / C`` per sample.

    ``input [N, C]`` (or ``[C]``); ``target`` of the same shape holds the class indices of each
    sample, ended by the first ``-1``.
    """
    op = "multilabel_margin_loss"
    check_reduction(op, reduction)
    _check_float(op, input=input)
    shape = tuple(input.shape)
    if len(shape) not in (1, 2) or tuple(target.shape) != shape:
        raise ShapeError(
            f"{op}: expected input [N, C] or [C] and a target of the same shape, got {shape} and {tuple(target.shape)}"
        )
    t = tensor_of(target)
    if t.dtype.is_floating_point or t.dtype.is_bool:
        raise DTypeError(f"{op}: target must hold class indices (integers), got {t.dtype}")
    classes = shape[-1]
    labels = t.numpy().reshape(-1, classes).astype(np.int64)
    if labels.size and (labels.min() < -1 or labels.max() >= classes):
        raise IndexError(f"{op}: target entries must lie in [-1, {classes}), got {labels.min()}..{labels.max()}")
    # A slot counts while no -1 came before it.
    valid = np.cumprod(labels != -1, axis=1).astype(bool)
    safe = np.where(valid, labels, 0)
    is_target = np.zeros(labels.shape, dtype=bool)
    rows = np.broadcast_to(np.arange(labels.shape[0])[:, None], labels.shape)
    is_target[rows[valid], safe[valid]] = True
    pairs = valid[:, :, None] & ~is_target[:, None, :]  # [N, slot j, class k]
    x = input if len(shape) == 2 else input.reshape(1, classes)
    device = t.device
    x_j = x.gather(1, axon_tensor.tensor(safe, device=device))
    z = 1 - x_j.reshape(-1, classes, 1) + x.reshape(-1, 1, classes)
    mask = axon_tensor.tensor(pairs, device=device) & (tensor_of(z) > 0)
    loss = where(mask, z, 0.0).sum((1, 2)) / classes
    return _per_sample(loss, input, reduction)


@_tensors_stay_tensors
def multilabel_soft_margin_loss(input: Any, target: Any, weight: Any = None, reduction: str = "mean") -> Any:
    """``-mean_c w (t log σ(x) + (1 - t) log σ(-x))`` over the last (class) dim: ``[N, C] -> [N]``."""
    op = "multilabel_soft_margin_loss"
    check_reduction(op, reduction)
    _check_float(op, input=input, target=target)
    if len(input.shape) == 0:
        raise ShapeError(f"{op}: input needs a class dimension, got a 0-d input")
    _check_broadcast(op, input=input, target=target, **({} if weight is None else {"weight": weight}))
    # logsigmoid(x) = -softplus(-x); the two terms combine to t softplus(-x) + (1 - t) softplus(x).
    loss = target * (-input).softplus() + (1 - target) * input.softplus()
    if weight is not None:
        loss = loss * weight
    last = len(input.shape) - 1
    return _reduce_composite(loss.sum(last) / input.shape[last], reduction, None)


@_tensors_stay_tensors
def soft_margin_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """``log(1 + exp(-target * input))``, computed as a softplus; shapes broadcast."""
    op = "soft_margin_loss"
    check_reduction(op, reduction)
    _check_float(op, input=input, target=target)
    _check_broadcast(op, input=input, target=target)
    return _reduce_composite((-input * target).softplus(), reduction, None)


@_tensors_stay_tensors
def gaussian_nll_loss(
    input: Any, target: Any, var: Any, full: bool = False, eps: float = 1e-6, reduction: str = "mean"
) -> Any:
    """``0.5 (log max(var, eps) + (input - target)² / max(var, eps))`` (+ ``0.5 log 2π`` when ``full``).

    ``var`` is shaped like ``input``, one dim short of it, with one dim of size 1 (homoscedastic),
    or a float. The clamp at ``eps`` does not enter ``var``'s gradient (as PyTorch's no-grad clamp).
    """
    op = "gaussian_nll_loss"
    check_reduction(op, reduction)
    _check_float(op, input=input, target=target)
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError(f"{op}: var has negative entries")
        var = axon_tensor.full(
            tuple(input.shape), float(var), dtype=tensor_of(input).dtype, device=tensor_of(input).device
        )
    elif bool((tensor_of(var) < 0).any()):
        raise ValueError(f"{op}: var has negative entries")
    shape, v_shape = tuple(input.shape), tuple(var.shape)
    if v_shape != shape:
        if shape[:-1] == v_shape:
            var = var.unsqueeze(-1)
        elif not (len(shape) == len(v_shape) and sum(v for s, v in zip(shape, v_shape) if s != v) == 1):
            raise ShapeError(f"{op}: var {v_shape} is of incorrect size for input {shape}")
    _check_broadcast(op, input=input, target=target)
    var = clamp_forward_only(var, eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce_composite(loss, reduction, None)


@_tensors_stay_tensors
def poisson_nll_loss(
    input: Any,
    target: Any,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> Any:
    """``exp(input) - target * input`` (``log_input``) or ``input - target * log(input + eps)``;
    ``full`` adds Stirling's ``t log t - t + 0.5 log(2π t)`` where ``target > 1``."""
    op = "poisson_nll_loss"
    check_reduction(op, reduction)
    _check_float(op, input=input, target=target)
    _check_broadcast(op, input=input, target=target)
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:
        big = tensor_of(target) > 1
        safe = where(big, target, 1.0)
        stirling = safe * safe.log() - safe + 0.5 * (2 * math.pi * safe).log()
        loss = loss + where(big, stirling, 0.0)
    return _reduce_composite(loss, reduction, None)


def _check_triplet(op: str, anchor: Any, positive: Any, negative: Any) -> None:
    dims = (len(anchor.shape), len(positive.shape), len(negative.shape))
    if len(set(dims)) != 1:
        raise ShapeError(
            f"{op}: anchor, positive and negative must have the same number of dimensions, got "
            f"anchor {dims[0]}D, positive {dims[1]}D and negative {dims[2]}D"
        )


@_tensors_stay_tensors
def triplet_margin_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> Any:
    """``max(0, margin + d(a, p) - d(a, n))`` with ``d`` the p-norm :func:`pairwise_distance`;
    ``[N, D]`` (or ``[D]``) each -> ``[N]``. ``swap`` uses ``min(d(a, n), d(p, n))``."""
    op = "triplet_margin_loss"
    check_reduction(op, reduction)
    _check_float(op, anchor=anchor, positive=positive, negative=negative)
    _check_triplet(op, anchor, positive, negative)
    if len(anchor.shape) not in (1, 2):
        raise ShapeError(f"{op}: expected [N, D] or [D] inputs, got {len(anchor.shape)}D")
    _check_broadcast(op, anchor=anchor, positive=positive, negative=negative)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce_composite((margin + d_pos - d_neg).clamp(min=0), reduction, None)


@_tensors_stay_tensors
def triplet_margin_with_distance_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    *,
    distance_function: Callable[[Any, Any], Any] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Any:
    """:func:`triplet_margin_loss` with any ``distance_function(x1, x2) -> [N]`` (default
    :func:`pairwise_distance`); ``margin`` must be positive."""
    op = "triplet_margin_with_distance_loss"
    check_reduction(op, reduction)
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    _check_triplet(op, anchor, positive, negative)
    distance = pairwise_distance if distance_function is None else distance_function
    d_pos, d_neg = distance(anchor, positive), distance(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, distance(positive, negative))
    return _reduce_composite((margin + d_pos - d_neg).clamp(min=0), reduction, None)
