"""Checkpoint round trips of nested optimizer-like state, training state and RNG states."""

from __future__ import annotations

import math

import numpy as np
import pytest

from axon_serialize import Checkpoint, SerializationError, TrainingState, save_state_dict
from axon_tensor import Generator, from_numpy, randn


def test_checkpoint_round_trip_keeps_structure_and_values(tmp_path) -> None:
    generator = Generator(123)
    randn(5, generator=generator)
    optimizer = {
        "state": {0: {"step": 7, "exp_avg": from_numpy(np.full(3, 0.25, np.float32))}, 1: {"step": 7}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1], "eps": math.inf}],
    }
    training = TrainingState(epoch=2, step=140, loss_history=[2.3, 1.7], best_metric=0.91)
    training.record("val_accuracy", 0.88)
    checkpoint = Checkpoint(
        model={
            "fc.weight": from_numpy(np.arange(6, dtype=np.float32).reshape(2, 3)),
            "fc.bias": from_numpy(np.zeros(2, np.float32)),
        },
        optimizer=optimizer,
        scheduler={"last_epoch": 3, "base_lrs": [0.1]},
        training=training,
        rng={"default": generator.get_state()},
        extra={"note": "hello", "blob": b"\x00\x01"},
    )
    checkpoint.save(tmp_path / "run.axon")
    loaded = Checkpoint.load(tmp_path / "run.axon")

    np.testing.assert_array_equal(loaded.model["fc.weight"].numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))
    assert set(loaded.optimizer["state"]) == {0, 1}
    assert loaded.optimizer["state"][0]["step"] == 7
    np.testing.assert_array_equal(loaded.optimizer["state"][0]["exp_avg"].numpy(), np.full(3, 0.25, np.float32))
    assert loaded.optimizer["param_groups"][0]["betas"] == (0.9, 0.999)
    assert loaded.optimizer["param_groups"][0]["eps"] == math.inf
    assert loaded.scheduler == {"last_epoch": 3, "base_lrs": [0.1]}
    assert loaded.training == training
    assert loaded.extra == {"note": "hello", "blob": b"\x00\x01"}

    resumed = Generator(0)
    resumed.set_state(loaded.rng["default"])
    np.testing.assert_array_equal(randn(4, generator=resumed).numpy(), randn(4, generator=generator).numpy())


def test_state_dict_file_is_not_a_checkpoint(tmp_path) -> None:
    save_state_dict({"w": from_numpy(np.ones(2, np.float32))}, tmp_path / "w.axon")
    with pytest.raises(SerializationError, match="not a checkpoint"):
        Checkpoint.load(tmp_path / "w.axon")


def test_corrupted_checkpoint_is_detected(tmp_path) -> None:
    Checkpoint(model={"w": from_numpy(np.ones(64, np.float32))}).save(tmp_path / "c.axon")
    content = bytearray((tmp_path / "c.axon").read_bytes())
    content[-100] ^= 0xFF
    (tmp_path / "c.axon").write_bytes(bytes(content))
    with pytest.raises(SerializationError, match="checksum"):
        Checkpoint.load(tmp_path / "c.axon")


def test_unserializable_values_are_named(tmp_path) -> None:
    with pytest.raises(SerializationError, match="object at extra.fn"):
        Checkpoint(model={}, extra={"fn": object()}).save(tmp_path / "x.axon")


def test_checkpoint_with_an_empty_tensor_loads(tmp_path) -> None:
    Checkpoint(
        model={"w": from_numpy(np.ones(3, np.float32)), "mask": from_numpy(np.zeros((0, 1024), np.float32))}
    ).save(tmp_path / "c.axon")
    loaded = Checkpoint.load(tmp_path / "c.axon")
    assert loaded.model["mask"].shape == (0, 1024)
    assert loaded.model["w"].numpy().tolist() == [1.0, 1.0, 1.0]
