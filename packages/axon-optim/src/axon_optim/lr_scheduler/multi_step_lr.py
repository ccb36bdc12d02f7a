"""MultiStepLR: multiply the lr by ``gamma`` at each milestone epoch."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from typing import Iterable

from ..optimizer import Optimizer
from .scheduler import LRScheduler

__all__ = ["MultiStepLR"]


class MultiStepLR(LRScheduler):
    """``lr = base_lr * gamma ** (milestones passed)``; a milestone listed twice counts twice."""

    def __init__(
        self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._group_lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._group_lrs()]

    def _closed_form_lr(self) -> list[float]:
        passed = bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base_lr * self.gamma**passed for base_lr in self.base_lrs]
