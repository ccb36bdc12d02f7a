"""Per-row cross-entropy of logits against class indices (weights, ignore_index, label smoothing), forward and backward.

The reference implementation, written against ``self.xp`` (NumPy or CuPy); the CUDA backend
overrides it in ``backend/cuda/cross_entropy.py`` with the kernels of ``kernels/cross_entropy.py``.
"""

from __future__ import annotations

from typing import Any

from ..checks import check_cross_entropy
from ..numerics import upcast

__all__ = ["CrossEntropyReference"]

Array = Any
Pair = Any  # an int or an (h, w) pair of ints


class CrossEntropyReference:
    """Reference cross entropy ops of :class:`~axon_core.backend.Backend` (a mixin; needs ``self.xp``)."""

    def cross_entropy(
        self,
        logits: Array,
        target: Array,
        weight: Array | None = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
    ) -> tuple[Array, Array]:
        """Per-sample cross-entropy of ``logits [N, C]`` against class indices ``target [N]``.

        Returns ``(loss [N], lse [N])`` in the compute dtype, with ``lse`` the logsumexp of each
        row (for the backward). ``loss_i = (1-ε) w[t_i] (lse_i - x_i[t_i]) + ε/C Σ_c w_c (lse_i - x_ic)``
        (``w`` = 1 without ``weight [C]``; ε = ``label_smoothing``), 0 where ``t_i == ignore_index``.
        PyTorch's ``mean`` divides the sum by ``Σ w[t_i]`` over kept rows: see
        :func:`cross_entropy_weight_total`.
        """
        check_cross_entropy(self.xp, "cross_entropy", logits, target, weight, ignore_index, label_smoothing)
        xp = self.xp
        work = upcast(xp, logits)
        row_max = work.max(axis=1, keepdims=True)
        lse = (xp.log(xp.exp(work - row_max).sum(axis=1, keepdims=True)) + row_max)[:, 0]
        kept = target != ignore_index
        safe_target = xp.where(kept, target, 0)
        picked = xp.take_along_axis(work, safe_target[:, None], axis=1)[:, 0]
        classes = logits.shape[1]
        if weight is None:
            target_weight = xp.ones_like(lse)
            smooth = classes * lse - work.sum(axis=1)
        else:
            work_w = weight.astype(work.dtype, copy=False)
            target_weight = work_w[safe_target]
            smooth = work_w.sum() * lse - work @ work_w
        loss = (1.0 - label_smoothing) * target_weight * (lse - picked) + (label_smoothing / classes) * smooth
        return xp.where(kept, loss, 0).astype(work.dtype, copy=False), lse

    def cross_entropy_backward(
        self,
        grad: Array,
        logits: Array,
        target: Array,
        lse: Array,
        weight: Array | None = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
    ) -> Array:
        """``d logits [N, C]`` of :meth:`cross_entropy` given ``grad [N]``, the gradient of each row's loss.

        ``d x_ic = g_i [(1-ε) w[t_i] (p_ic - [c == t_i]) + ε/C (p_ic Σw - w_c)]``, 0 on ignored rows.
        """
        check_cross_entropy(self.xp, "cross_entropy_backward", logits, target, weight, ignore_index, label_smoothing)
        xp = self.xp
        work = upcast(xp, logits)
        probs = xp.exp(work - lse[:, None])
        kept = target != ignore_index
        safe_target = xp.where(kept, target, 0)
        classes = logits.shape[1]
        one_hot = xp.arange(classes)[None, :] == safe_target[:, None]
        if weight is None:
            target_weight = 1.0
            smooth = probs * classes - 1.0
        else:
            work_w = weight.astype(work.dtype, copy=False)
            target_weight = work_w[safe_target][:, None]
            smooth = probs * work_w.sum() - work_w[None, :]
        d = (1.0 - label_smoothing) * target_weight * (probs - one_hot) + (label_smoothing / classes) * smooth
        d = d * xp.where(kept, upcast(xp, grad), 0)[:, None]
        return d.astype(logits.dtype, copy=False)
