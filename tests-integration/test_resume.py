"""A run stopped at step k and resumed from its checkpoint ends bit-for-bit equal to the run that
was never stopped: dropout, a shuffling DataLoader, Adam and a scheduler, RNG states included."""

from __future__ import annotations

import numpy as np
import pytest

from axon_autograd import Variable
from axon_data import DataLoader, TensorDataset
from axon_nn import Dropout, Linear, ReLU, Sequential
from axon_nn.functional import cross_entropy
from axon_optim import Adam
from axon_optim.lr_scheduler import StepLR
from axon_serialize import Checkpoint, TrainingState
from axon_tensor import Generator, default_generator, from_numpy, manual_seed

EPOCHS = 3


def _data() -> TensorDataset:
    rng = np.random.default_rng(0)
    features = rng.standard_normal((90, 8)).astype(np.float32)
    labels = (features[:, 0] + features[:, 1] > 0).astype(np.int64)
    return TensorDataset(from_numpy(features), from_numpy(labels))


def _build(seed: int, num_workers: int):
    manual_seed(seed)
    model = Sequential(Linear(8, 16), ReLU(), Dropout(0.3), Linear(16, 2))
    optimizer = Adam(model.parameters(), lr=0.01)
    scheduler = StepLR(optimizer, step_size=5, gamma=0.5)
    loader = DataLoader(_data(), batch_size=16, shuffle=True, generator=Generator(seed + 1), num_workers=num_workers)
    return model, optimizer, scheduler, loader


def _train_step(model, optimizer, scheduler, batch, training: TrainingState) -> None:
    features, labels = batch
    loss = cross_entropy(model(Variable(features)), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()
    training.step += 1
    training.loss_history.append(loss.item())


def _weights(model) -> dict[str, bytes]:
    return {name: value.numpy().tobytes() for name, value in model.state_dict().items()}


def _run(stop_at: int | None, checkpoint_path, num_workers: int):
    """Train EPOCHS epochs; if ``stop_at`` is given, checkpoint after that many steps, rebuild
    everything from a different seed, restore from the checkpoint and finish."""
    model, optimizer, scheduler, loader = _build(seed=1, num_workers=num_workers)
    training = TrainingState()
    resumed = False
    epoch = 0
    while epoch < EPOCHS:
        for batch in loader:
            _train_step(model, optimizer, scheduler, batch, training)
            if stop_at is not None and not resumed and training.step == stop_at:
                Checkpoint(
                    model=model.state_dict(),
                    optimizer=optimizer.state_dict(),
                    scheduler=scheduler.state_dict(),
                    training=training,
                    rng={"default": default_generator.get_state(), "loader": loader.state_dict()},
                    extra={"epoch": epoch},
                ).save(checkpoint_path)
                model, optimizer, scheduler, loader = _build(seed=99, num_workers=num_workers)
                restored = Checkpoint.load(checkpoint_path)
                model.load_state_dict(restored.model)
                optimizer.load_state_dict(restored.optimizer)
                scheduler.load_state_dict(restored.scheduler)
                default_generator.set_state(restored.rng["default"])
                loader.load_state_dict(restored.rng["loader"])
                training = restored.training
                epoch = restored.extra["epoch"]
                resumed = True
                break
        else:
            epoch += 1
    return _weights(model), training


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("stop_at", [4, 6, 13])
def test_resumed_run_matches_uninterrupted_run_bit_for_bit(tmp_path, stop_at, num_workers) -> None:
    straight_weights, straight_training = _run(None, None, num_workers)
    resumed_weights, resumed_training = _run(stop_at, tmp_path / "ckpt.axon", num_workers)
    assert resumed_training.step == straight_training.step == EPOCHS * 6
    assert resumed_training.loss_history == straight_training.loss_history
    assert resumed_weights == straight_weights


def test_resume_from_a_different_seed_would_differ(tmp_path) -> None:
    # The check above can fail: without restoring the RNG states, the resumed run diverges.
    model_a, *_ = _build(seed=1, num_workers=0)
    model_b, *_ = _build(seed=99, num_workers=0)
    assert _weights(model_a) != _weights(model_b)
