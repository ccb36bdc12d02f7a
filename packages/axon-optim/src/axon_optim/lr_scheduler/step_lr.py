"""StepLR: multiply the lr by ``gamma`` every ``step_size`` epochs."""

from __future__ import annotations

from ..optimizer import Optimizer
from .scheduler import LRScheduler

__all__ = ["StepLR"]


class StepLR(LRScheduler):
    """``lr = base_lr * gamma ** (epoch // step_size)`` (applied recursively, like PyTorch)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        if not isinstance(step_size, int) or step_size <= 0:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]

    def _closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]
