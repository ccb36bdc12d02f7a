"""Drawing token ids from per-row probabilities with a NumPy ``Generator`` (seeded runs repeat exactly)."""

from __future__ import annotations

import numpy as np

from ..errors import LLMError

__all__ = ["multinomial", "sample_without_replacement"]


def multinomial(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One id per row of ``probs [batch, vocab]`` (non-negative, each row summing to about 1) -> ``[batch]``.

    Inverse-CDF sampling on a float64 running sum: one uniform per row, and a token of probability
    0 is never drawn (its CDF step is empty).
    """
    cdf = np.cumsum(probs.astype(np.float64), axis=-1)
    total = cdf[:, -1]
    if not np.all(np.isfinite(total)) or np.any(total <= 0):
        raise LLMError("sampling: a row of probabilities is all zero, negative or not finite (check the scores)")
    u = rng.random(probs.shape[0]) * total
    # The drawn id is the number of CDF entries <= u (searchsorted, side="right", per row); u * total
    # may round up to total, which must still land on a token of nonzero probability.
    drawn = (cdf <= u[:, None]).sum(axis=-1)
    last_nonzero = probs.shape[-1] - 1 - np.argmax(probs[:, ::-1] > 0, axis=-1)
    return np.minimum(drawn, last_nonzero).astype(np.int64)


def sample_without_replacement(probs: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` distinct ids per row of ``probs [batch, n]`` -> ``[batch, k]``, in draw order.

    The Gumbel-top-k trick: the ``k`` largest ``log p + Gumbel`` keys are distributed exactly as ``k``
    successive draws without replacement (what ``torch.multinomial(probs, k)`` does).
    """
    if np.any((probs > 0).sum(axis=-1) < k):
        raise LLMError(f"sampling: fewer than {k} tokens of nonzero probability to draw {k} without replacement")
    with np.errstate(divide="ignore"):
        keys = np.log(probs.astype(np.float64)) + rng.gumbel(size=probs.shape)
    return np.argsort(-keys, axis=-1, kind="stable")[:, :k]
