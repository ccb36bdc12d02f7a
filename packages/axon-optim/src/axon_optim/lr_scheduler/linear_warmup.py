"""LinearWarmup: ramp the lr linearly for a few steps, then hand over to another scheduler."""

from __future__ import annotations

from typing import Any

from .scheduler import LRScheduler

__all__ = ["LinearWarmup"]


class LinearWarmup(LRScheduler):
    """Linear warmup from ``start_factor * base_lr`` to ``base_lr`` over ``warmup_steps``
    steps, then ``scheduler`` (built on the same optimizer beforehand) takes over from its
    epoch 0.

    Produces exactly the lrs of PyTorch's
    ``SequentialLR(opt, [LinearLR(opt, start_factor, 1.0, warmup_steps), scheduler],
    milestones=[warmup_steps])``: the same recursive warmup formula, and at the milestone the
    wrapped scheduler restarts at epoch 0 through its closed form.
    """

    def __init__(self, scheduler: LRScheduler, warmup_steps: int, start_factor: float = 1.0 / 3) -> None:
        if not isinstance(scheduler, LRScheduler):
            raise TypeError(
                f"LinearWarmup wraps an epoch-driven LRScheduler, got {type(scheduler).__name__} "
                "(ReduceLROnPlateau needs a metric per step and cannot be wrapped)"
            )
        if not isinstance(warmup_steps, int) or warmup_steps <= 0:
            raise ValueError(f"LinearWarmup: warmup_steps must be a positive integer, got {warmup_steps!r}")
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearWarmup: start_factor must be in (0, 1], got {start_factor}")
        self.scheduler = scheduler
        self.warmup_steps = warmup_steps
        self.start_factor = start_factor
        # Undo the wrapped scheduler's initial step: it starts counting at the milestone.
        for group in scheduler.optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        scheduler.last_epoch -= 1
        super().__init__(scheduler.optimizer)

    def step(self) -> None:
        self._step_count += 1
        self.last_epoch += 1
        if self.last_epoch < self.warmup_steps:
            self._write_lrs(self.get_lr())
        elif self.last_epoch == self.warmup_steps:
            self.scheduler._restart_at(0)
            self._last_lr = self.scheduler.get_last_lr()
        else:
            self.scheduler.step()
            self._last_lr = self.scheduler.get_last_lr()

    def get_lr(self) -> list[float]:
        """The warmup lrs (LinearLR's recursive form with ``end_factor = 1``)."""
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._group_lrs()]
        rise = 1.0 - self.start_factor
        scale = 1.0 + rise / (self.warmup_steps * self.start_factor + (self.last_epoch - 1) * rise)
        return [lr * scale for lr in self._group_lrs()]

    def state_dict(self) -> dict[str, Any]:
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "scheduler")}
        state["scheduler"] = self.scheduler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        self.scheduler.load_state_dict(state.pop("scheduler"))
        self.__dict__.update(state)
