"""Training losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (over ``[N, C, *d]``
scores and ``[N, *d]`` class targets), with class weights, ``ignore_index`` and the three
reductions, as onnx's reference computes them (a weighted mean divides by the summed weights)."""

from __future__ import annotations

import numpy as np

import axon_nn.functional as F

from ..registry import register
from ._util import const, fail

_REDUCTIONS = ("none", "sum", "mean")


def _check(attrs):
    mode = attrs.get("reduction", "mean")
    return None if mode in _REDUCTIONS else f"reduction {mode!r}"


def _nll(node, log_prob, target, weight):
    if log_prob.ndim < 2 or tuple(target.shape) != (log_prob.shape[0], *log_prob.shape[2:]):
        raise fail(node, f"target shape {target.shape} does not fit input {log_prob.shape} ([N, C, *d] vs [N, *d])")
    labels = np.asarray(target.detach().numpy()).astype(np.int64)
    ignore = node.get("ignore_index")
    ignored = np.zeros(labels.shape, dtype=bool) if ignore is None else labels == ignore
    # Ignored positions may hold any value (often -1 or -100): point them at class 0, weight 0.
    safe = np.where(ignored, 0, labels)
    classes = log_prob.shape[1]
    if safe.size and (safe.min() < 0 or safe.max() >= classes):
        raise fail(node, f"target class out of range [0, {classes})")
    picked = log_prob.gather(1, const(node, safe[:, None])).squeeze(1)
    keep = const(node, (~ignored).astype(log_prob.dtype.np))
    if weight is not None:
        per = weight.index_select(0, const(node, safe.reshape(-1))).reshape(safe.shape) * keep
    elif ignore is not None:
        per = keep
    else:
        per = None
    loss = -picked if per is None else -picked * per
    mode = node.get("reduction", "mean")
    if mode == "none":
        return loss
    if mode == "sum":
        return loss.sum()
    return loss.mean() if per is None else loss.sum() / per.sum()


@register("NegativeLogLikelihoodLoss", attrs=("ignore_index", "reduction"), check=_check)
def negative_log_likelihood_loss(node, log_prob, target, weight=None):
    return _nll(node, log_prob, target, weight)


@register("SoftmaxCrossEntropyLoss", attrs=("ignore_index", "reduction"), check=_check)
def softmax_cross_entropy_loss(node, scores, labels, weights=None):
    log_prob = F.log_softmax(scores, 1)
    loss = _nll(node, log_prob, labels, weights)
    return loss, log_prob
