"""The training loop: a LLaMA from axon-llm, AdamW (axon-optim's fused kernel where the device has
one), linear warmup then cosine decay, gradient clipping, flash attention, optional activation
checkpointing, validation loss every N steps and atomic checkpoints that resume bit for bit.

A step is: next batch ``[batch, seq_len]`` -> ``model.loss`` (HF's shifted causal-LM
cross-entropy) -> backward -> ``clip_grad_norm_`` -> ``optimizer.step()`` -> ``scheduler.step()``.
Everything a step depends on is in the checkpoint: parameters, AdamW's moments and step counts,
the scheduler, the default generator's state and the sampler's (epoch, cursor); so a run stopped
after ``k`` steps and resumed ends with the same bits as one that never stopped.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

import axon_optim
from axon_autograd import checkpoint, no_grad
from axon_core import Device
from axon_llm import CausalLM, LlamaConfig, LlamaForCausalLM
from axon_nn import Module
from axon_nn.functional import attention_path
from axon_serialize import Checkpoint, TrainingState
from axon_tensor import default_generator, manual_seed, tensor

from .data import WindowSampler, evaluation_windows
from .tokenizer import tokens_digest

__all__ = [
    "ATTENTION_PATHS",
    "RunConfig",
    "StepResult",
    "Trainer",
    "CHECKPOINT_NAME",
    "build_model",
    "build_optimizer",
    "build_scheduler",
    "enable_activation_checkpointing",
    "fit",
    "parameter_groups",
    "perplexity",
]

ATTENTION_PATHS = ("flash", "plain", "auto")
CHECKPOINT_NAME = "checkpoint.axon"


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's trajectory (a resumed run must match it field for field).

    ``lr`` peaks after ``warmup`` steps (linear from ``lr / warmup``), then decays along a cosine
    to ``lr * min_lr_ratio`` at ``steps``. AdamW decays weights (matrices, embeddings) by
    ``weight_decay`` and leaves norm gains alone. ``clip`` bounds the gradients' global 2-norm.
    ``attention`` is the scaled-dot-product path (``flash``: the blockwise online-softmax kernel);
    ``eval_windows`` how many validation windows each evaluation scores.
    """

    size: str
    vocab_size: int
    seq_len: int
    batch: int
    steps: int
    lr: float
    warmup: int
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    clip: float = 1.0
    seed: int = 0
    attention: str = "flash"
    activation_checkpointing: bool = False
    eval_windows: int = 32

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"RunConfig: steps must be positive, got {self.steps}")
        if not 0 <= self.warmup < self.steps:
            raise ValueError(f"RunConfig: warmup must be in [0, steps={self.steps}), got {self.warmup}")
        if self.attention not in ATTENTION_PATHS:
            raise ValueError(f"RunConfig: attention must be one of {ATTENTION_PATHS}, got {self.attention!r}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"RunConfig: min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")

    @property
    def tokens_per_step(self) -> int:
        return self.batch * self.seq_len

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class StepResult:
    """One optimisation step: its number (1-based), loss, lr used, gradient norm before clipping, seconds."""

    step: int
    loss: float
    lr: float
    grad_norm: float
    seconds: float


def build_model(config: LlamaConfig, seed: int, device: str = "cpu") -> LlamaForCausalLM:
    """``LlamaForCausalLM(config)`` initialised from ``seed`` on the host (HF's N(0, 0.02) init),
    then moved to ``device``: every device starts from the same weights."""
    manual_seed(seed)
    model = LlamaForCausalLM(config)
    if Device(device).type != "cpu":
        model.to(device)
    return model


def parameter_groups(model: Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW's two groups: parameters of rank >= 2 (weights, embeddings) decay, the rest (norm gains) do not."""
    decay, plain = [], []
    for _, param in model.named_parameters():
        (decay if len(param.shape) >= 2 else plain).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


def build_optimizer(model: Module, run: RunConfig) -> axon_optim.AdamW:
    """AdamW over :func:`parameter_groups`; ``fused=None`` lets the backend pick its fused kernel (cuda, cuda-sim)."""
    return axon_optim.AdamW(
        parameter_groups(model, run.weight_decay), lr=run.lr, betas=(run.beta1, run.beta2), eps=run.eps, fused=None
    )


def build_scheduler(optimizer: axon_optim.Optimizer, run: RunConfig) -> axon_optim.LRScheduler:
    """Linear warmup from ``lr / warmup`` over ``warmup`` steps, then a cosine to ``lr * min_lr_ratio``:
    PyTorch's ``SequentialLR([LinearLR(1/warmup, 1, warmup), CosineAnnealingLR(steps - warmup)], [warmup])``."""
    cosine = axon_optim.CosineAnnealingLR(optimizer, T_max=run.steps - run.warmup, eta_min=run.lr * run.min_lr_ratio)
    if run.warmup == 0:
        return cosine
    return axon_optim.LinearWarmup(cosine, run.warmup, start_factor=1.0 / run.warmup)


def enable_activation_checkpointing(model: CausalLM, attention: str = "auto") -> None:
    """Run every decoder layer under ``axon_autograd.checkpoint``: its activations are dropped after the
    forward and recomputed in the backward, trading one more forward for memory linear in depth.

    The recomputation runs in the backward pass, outside the loop's ``attention_path`` block, so the
    layer sets ``attention`` again itself: the recomputed forward takes the same path (flash keeps
    memory linear in the sequence there too) and gives the same numbers as the first.
    """
    for layer in model.model.layers:
        forward = layer.forward

        def on_path(hidden: Any, inputs: Any, forward: Callable[..., Any] = forward) -> Any:
            with attention_path(attention):
                return forward(hidden, inputs)

        def checkpointed(hidden: Any, inputs: Any, on_path: Callable[..., Any] = on_path) -> Any:
            return checkpoint(on_path, hidden, inputs)

        layer.forward = checkpointed


class Trainer:
    """A model, its optimizer and schedule, and the data, with ``train_step``, ``evaluate`` and checkpoints.

    ``train_tokens`` / ``val_tokens`` are int32 token streams. The model starts from ``run.seed``; the
    sampler draws its windows from ``run.seed + 1``. ``model`` trains another causal LM (built by the
    caller, on ``device``) in the same loop instead of the LLaMA of ``model_config``.
    """

    def __init__(
        self,
        run: RunConfig,
        model_config: LlamaConfig,
        train_tokens: np.ndarray,
        val_tokens: np.ndarray,
        device: str = "cpu",
        model: CausalLM | None = None,
    ) -> None:
        if model_config.vocab_size != run.vocab_size:
            raise ValueError(f"Trainer: the model has {model_config.vocab_size} ids, the run {run.vocab_size}")
        self.run, self.model_config, self.device = run, model_config, device
        self.model = build_model(model_config, run.seed, device) if model is None else model
        if run.activation_checkpointing:
            enable_activation_checkpointing(self.model, run.attention)
        self.optimizer = build_optimizer(self.model, run)
        self.scheduler = build_scheduler(self.optimizer, run)
        self.sampler = WindowSampler(train_tokens, run.seq_len, run.batch, seed=run.seed + 1)
        self.val_windows = evaluation_windows(val_tokens, run.seq_len, run.eval_windows)
        self.digests = {"train_tokens": tokens_digest(train_tokens), "val_tokens": tokens_digest(val_tokens)}
        self.state = TrainingState()

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def tokens_seen(self) -> int:
        return self.state.step * self.run.tokens_per_step

    def train_step(self) -> StepResult:
        """One optimisation step on the sampler's next batch."""
        start = time.perf_counter()
        ids = tensor(self.sampler.next_batch(), device=self.device)
        lr = float(self.optimizer.param_groups[0]["lr"])
        self.optimizer.zero_grad()
        with attention_path(self.run.attention):
            loss = self.model.loss(ids)
        loss.backward()
        grad_norm = float(axon_optim.clip_grad_norm_(self.model.parameters(), self.run.clip).item())
        self.optimizer.step()
        self.scheduler.step()
        value = float(loss.item())
        self.state.step += 1
        self.state.epoch = self.sampler.epoch
        self.state.loss_history.append(value)
        return StepResult(self.state.step, value, lr, grad_norm, time.perf_counter() - start)

    def evaluate(self) -> float:
        """Mean cross-entropy (nats per token) over the validation windows' targets, in batches of ``run.batch``."""
        self.model.eval()
        total, count = 0.0, 0
        try:
            with no_grad(), attention_path(self.run.attention):
                for first in range(0, len(self.val_windows), self.run.batch):
                    chunk = self.val_windows[first : first + self.run.batch]
                    loss = float(self.model.loss(tensor(chunk, device=self.device)).item())
                    targets = chunk.shape[0] * (chunk.shape[1] - 1)
                    total, count = total + loss * targets, count + targets
        finally:
            self.model.train()
        return total / count

    def record_evaluation(self, val_loss: float) -> None:
        self.state.record("val_loss", val_loss)
        self.state.record("val_step", float(self.state.step))
        if self.state.best_metric is None or val_loss < self.state.best_metric:
            self.state.best_metric = val_loss

    # -- checkpoints ------------------------------------------------------------------------------
    def save_checkpoint(self, path: str | Path) -> None:
        """Write the whole training state to ``path`` atomically (temp file, fsync, rename)."""
        Checkpoint(
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            training=self.state,
            rng={"default": default_generator.get_state()},
            extra={
                "run": self.run.to_dict(),
                "model_config": self.model_config.to_dict(),
                "data": self.sampler.state_dict(),
                "digests": dict(self.digests),
            },
        ).save(path)

    def restore(self, path: str | Path) -> None:
        """Continue from a checkpoint of the same run (same :class:`RunConfig` and token streams)."""
        saved = Checkpoint.load(path, device=self.device)
        run = saved.extra.get("run", {})
        differing = sorted(k for k, v in self.run.to_dict().items() if run.get(k) != v)
        if differing:
            details = ", ".join(f"{k}: checkpoint {run.get(k)!r}, now {getattr(self.run, k)!r}" for k in differing)
            raise ValueError(f"{path}: the checkpoint is of another run ({details}); start afresh without --resume")
        if saved.extra.get("digests") != self.digests:
            raise ValueError(f"{path}: the checkpoint was trained on other token streams; start without --resume")
        self.model.load_state_dict(saved.model)
        self.optimizer.load_state_dict(saved.optimizer)
        self.scheduler.load_state_dict(saved.scheduler)
        default_generator.set_state(saved.rng["default"])
        self.sampler.load_state_dict(saved.extra["data"])
        self.state = saved.training


def perplexity(loss: float) -> float:
    """``exp(loss)``, infinite for a diverged loss."""
    return math.exp(loss) if loss < 700 else math.inf


def fit(
    trainer: Trainer,
    checkpoint_path: str | Path | None,
    eval_every: int,
    checkpoint_every: int,
    stop_after: int | None = None,
    on_step: Callable[[StepResult], None] | None = None,
    on_eval: Callable[[int, float], None] | None = None,
) -> str:
    """Train from ``trainer.step`` to ``run.steps``; returns ``"done"``, or ``"stopped"`` at ``stop_after``.

    Every ``eval_every`` steps (and at the end) the validation loss is computed, recorded and
    passed to ``on_eval(step, val_loss)``; then, every ``checkpoint_every`` steps (0: never, but
    at the end and at a stop), the state is saved to ``checkpoint_path`` — after the evaluation,
    so a resumed run's history is the uninterrupted one's.
    """
    if eval_every < 1:
        raise ValueError(f"fit: eval_every must be positive, got {eval_every}")
    if checkpoint_every < 0:
        raise ValueError(f"fit: checkpoint_every must be >= 0, got {checkpoint_every}")
    steps = trainer.run.steps
    while trainer.step < steps:
        result = trainer.train_step()
        if on_step is not None:
            on_step(result)
        last = trainer.step == steps
        stopping = stop_after is not None and trainer.step >= stop_after and not last
        if trainer.step % eval_every == 0 or last:
            val_loss = trainer.evaluate()
            trainer.record_evaluation(val_loss)
            if on_eval is not None:
                on_eval(trainer.step, val_loss)
        periodic = checkpoint_every > 0 and trainer.step % checkpoint_every == 0
        if checkpoint_path is not None and (periodic or last or stopping):
            trainer.save_checkpoint(checkpoint_path)
        if stopping:
            return "stopped"
    return "done"
