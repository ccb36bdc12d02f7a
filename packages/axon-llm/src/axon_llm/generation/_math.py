"""float32 softmax / log-softmax over the last axis, as the scores of one generation step need them."""

from __future__ import annotations

import numpy as np

__all__ = ["log_softmax", "softmax"]


def log_softmax(scores: np.ndarray) -> np.ndarray:
    """``x - max - log(sum(exp(x - max)))`` over the last axis, in float32 (torch's formula)."""
    x = np.asarray(scores, dtype=np.float32)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(scores: np.ndarray) -> np.ndarray:
    """``exp(x - max) / sum(exp(x - max))`` over the last axis, in float32; ``-inf`` entries get 0."""
    x = np.asarray(scores, dtype=np.float32)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
