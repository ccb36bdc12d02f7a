"""The training loop: class-balanced sampling, SpecAugment, Adam with a cosine schedule and gradient
clipping, an atomic checkpoint after every epoch, and a resume that continues bit for bit.

Randomness is per epoch and derived from the seed (the sampler's generator and SpecAugment's
masks), and dropout draws from axon's default generator, whose state the checkpoint keeps; so a run
resumed from epoch ``k``'s checkpoint computes exactly what the uninterrupted run computed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from axon_audio import SpecAugment
from axon_autograd import Variable, no_grad
from axon_core import Device
from axon_data import WeightedRandomSampler
from axon_nn import functional as F
from axon_optim import Adam, CosineAnnealingLR, clip_grad_norm_
from axon_serialize import Checkpoint, TrainingState
from axon_tensor import Generator, default_generator, manual_seed, tensor

from .metrics import ClassScores, class_scores, confusion_matrix
from .model import CallNet


@dataclass(frozen=True)
class RunConfig:
    epochs: int = 12
    batch: int = 32
    lr: float = 3e-3
    clip: float = 1.0
    width: int = 16
    seed: int = 0
    spec_augment: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Sampling weight ``1 / count(class)`` per example ``[n]``: every class is drawn equally often."""
    counts = np.bincount(labels)
    return 1.0 / counts[labels]


class Trainer:
    """Trains a :class:`CallNet` on standardised log-mel features ``[n, 1, mels, frames]``."""

    def __init__(
        self, run: RunConfig, classes: int, train_x: np.ndarray, train_y: np.ndarray, device: str = "cpu"
    ) -> None:
        self.run, self.device = run, device
        self.train_x, self.train_y = train_x, train_y
        manual_seed(run.seed)
        self.model = CallNet(classes, run.width)
        if Device(device).type != "cpu":
            self.model.to(device)
        self.optimizer = Adam(self.model.parameters(), lr=run.lr)
        self.scheduler = CosineAnnealingLR(self.optimizer, T_max=run.epochs)
        self.state = TrainingState()
        self.weights = balanced_weights(train_y)

    def train_epoch(self) -> float:
        """One epoch of ``len(train)`` class-balanced draws; the mean batch loss."""
        epoch = self.state.epoch
        sampler = WeightedRandomSampler(
            self.weights, len(self.train_y), generator=Generator(self.run.seed * 10_007 + epoch)
        )
        augment = SpecAugment(
            n_time_masks=2,
            time_mask_param=8,
            n_freq_masks=2,
            freq_mask_param=6,
            generator=np.random.default_rng([self.run.seed, epoch]),
        )
        order = np.fromiter(sampler, dtype=np.int64)
        self.model.train()
        losses = []
        for start in range(0, len(order), self.run.batch):
            batch = order[start : start + self.run.batch]
            x = Variable(tensor(self.train_x[batch], device=self.device))
            if self.run.spec_augment:
                x = augment(x)
            loss = F.cross_entropy(self.model(x), tensor(self.train_y[batch], device=self.device))
            self.optimizer.zero_grad()
            loss.backward()
            clip_grad_norm_(self.model.parameters(), self.run.clip)
            self.optimizer.step()
            losses.append(loss.item())
            self.state.step += 1
        self.scheduler.step()
        self.state.epoch += 1
        mean = float(np.mean(losses))
        self.state.loss_history.append(mean)
        return mean

    def predict(self, x: np.ndarray, batch: int = 256) -> np.ndarray:
        """Class probabilities ``[n, classes]`` float64 in eval mode."""
        self.model.eval()
        out = []
        with no_grad():
            for start in range(0, len(x), batch):
                logits = self.model(Variable(tensor(x[start : start + batch], device=self.device)))
                out.append(F.softmax(logits, dim=-1).to("cpu").numpy().astype(np.float64))
        return np.concatenate(out)

    def evaluate(self, x: np.ndarray, y: np.ndarray, classes: int) -> tuple[np.ndarray, ClassScores]:
        matrix = confusion_matrix(y, self.predict(x).argmax(-1), classes)
        return matrix, class_scores(matrix)

    def save_checkpoint(self, path: str | Path, data_digest: str) -> None:
        """The whole training state, written atomically (temp file, fsync, rename)."""
        Checkpoint(
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            training=self.state,
            rng={"default": default_generator.get_state()},
            extra={"run": self.run.to_dict(), "data": data_digest},
        ).save(path)

    def restore(self, path: str | Path, data_digest: str) -> None:
        """Continue a checkpoint of the same run configuration and data."""
        saved = Checkpoint.load(path, device=self.device)
        if saved.extra.get("run") != self.run.to_dict() or saved.extra.get("data") != data_digest:
            raise ValueError(f"{path}: the checkpoint is of another run or other data; start without --resume")
        self.model.load_state_dict(saved.model)
        self.optimizer.load_state_dict(saved.optimizer)
        self.scheduler.load_state_dict(saved.scheduler)
        default_generator.set_state(saved.rng["default"])
        self.state = saved.training


def fit(
    trainer: Trainer,
    checkpoint: Path | None,
    data_digest: str,
    on_epoch: Callable[[int, float], None] | None = None,
    stop_after: int | None = None,
) -> None:
    """Train up to ``run.epochs`` (or ``stop_after`` epochs in all), checkpointing after each epoch."""
    last = trainer.run.epochs if stop_after is None else min(stop_after, trainer.run.epochs)
    while trainer.state.epoch < last:
        loss = trainer.train_epoch()
        if checkpoint is not None:
            trainer.save_checkpoint(checkpoint, data_digest)
        if on_epoch is not None:
            on_epoch(trainer.state.epoch, loss)
