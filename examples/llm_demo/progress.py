"""What a person watches while the model trains: a rich progress bar (step, tokens/s, loss, lr,
elapsed, ETA), a log line per evaluation, and with ``--monitor`` axon's live TrainingMonitor.

The monitor shows every step's loss and each evaluation as one of its "epochs" (train loss since
the last evaluation, validation loss, perplexity); its ETA counts evaluations.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .training import StepResult, perplexity

__all__ = ["TrainingDisplay"]


class TrainingDisplay:
    """Use as a context manager around the loop; pass :meth:`on_step` and :meth:`on_eval` to ``fit``.

    ``tokens_per_step`` converts steps to tokens; ``monitor`` is a launched ``axon.TrainingMonitor``
    or None. Tokens/s is averaged over the last ``window`` steps (the first step, which compiles
    kernels, is left out once later ones exist).
    """

    def __init__(
        self,
        total_steps: int,
        start_step: int,
        tokens_per_step: int,
        monitor: Any = None,
        console: Console | None = None,
        window: int = 20,
    ) -> None:
        self.total_steps, self.tokens_per_step, self.monitor = total_steps, tokens_per_step, monitor
        self.console = console or Console()
        self._times: deque[float] = deque(maxlen=window)
        self._first_step_s: float | None = None
        self._losses_since_eval: list[float] = []
        self._evaluations = 0
        self._progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("lr {task.fields[lr]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self._task = self._progress.add_task(
            "train", total=total_steps, completed=start_step, rate="", loss="-", lr="-"
        )

    def __enter__(self) -> "TrainingDisplay":
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    @property
    def tokens_per_second(self) -> float:
        if self._times:
            return self.tokens_per_step * len(self._times) / sum(self._times)
        return self.tokens_per_step / self._first_step_s if self._first_step_s else math.nan

    def on_step(self, result: StepResult) -> None:
        if self._first_step_s is None:
            self._first_step_s = result.seconds
        else:
            self._times.append(result.seconds)
        self._losses_since_eval.append(result.loss)
        rate = self.tokens_per_second
        self._progress.update(
            self._task,
            completed=result.step,
            rate=f"{rate:,.0f} tok/s",
            loss=f"{result.loss:.3f}",
            lr=f"{result.lr:.2e}",
        )
        if self.monitor is not None:
            extras = {"lr": result.lr, "tokens_per_s": rate, "grad_norm": result.grad_norm}
            self.monitor.log_step(result.step, result.loss, extras=extras)

    def on_eval(self, step: int, val_loss: float) -> None:
        losses = self._losses_since_eval
        train_loss = sum(losses) / len(losses) if losses else math.nan
        self._losses_since_eval = []
        self._evaluations += 1
        self._progress.console.print(
            f"step {step:>5}/{self.total_steps}  train loss {train_loss:.4f}  val loss {val_loss:.4f}  "
            f"val ppl {perplexity(val_loss):9.2f}  {self.tokens_per_second:,.0f} tok/s"
        )
        if self.monitor is not None:
            extras = {"val_perplexity": perplexity(val_loss), "step": float(step)}
            self.monitor.log_epoch(self._evaluations, train_loss, val_loss, extras=extras)
