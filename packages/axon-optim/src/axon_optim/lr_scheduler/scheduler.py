"""The :class:`LRScheduler` base: PyTorch's epoch counting, recursive and closed-form lrs."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from ..optimizer import Optimizer

__all__ = ["LRScheduler"]


class LRScheduler:
    """Base of the epoch-driven schedulers; subclasses define :meth:`get_lr`.

    As in PyTorch, construction records each group's ``initial_lr`` (when ``last_epoch`` is
    -1) and takes an initial step to epoch 0. Each :meth:`step` advances ``last_epoch`` and
    writes ``get_lr()`` into the groups; most ``get_lr`` are recursive (they scale the group's
    current lr), so the schedule composes with other schedulers acting on the same optimizer.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for index, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: param_groups[{index}] has no 'initial_lr' while resuming with "
                        f"last_epoch={last_epoch}; load the optimizer's state dict first"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._is_initial = False
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        with self._initial_mode():
            self.step()

    @contextlib.contextmanager
    def _initial_mode(self) -> Iterator[None]:
        self._is_initial = True
        try:
            yield
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The lr of every group at ``last_epoch`` (called by :meth:`step`)."""
        raise TypeError(f"{type(self).__name__} does not define get_lr")

    def get_last_lr(self) -> list[float]:
        """The lr of every group as last set by this scheduler."""
        return self._last_lr

    def step(self) -> None:
        """Advance one epoch (or batch, for per-step schedules) and update every group's lr."""
        self._step_count += 1
        self.last_epoch += 1
        self._write_lrs(self.get_lr())

    def _restart_at(self, epoch: int) -> None:
        """Jump to ``epoch`` using the closed form (how SequentialLR hands over at a milestone)."""
        self.last_epoch = epoch
        self._write_lrs(self._closed_form_lr())

    def _closed_form_lr(self) -> list[float]:
        return self.get_lr()

    def _write_lrs(self, lrs: list[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer (plain Python values)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)

    def _group_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]
