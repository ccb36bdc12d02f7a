"""Checkpoints in one process (a world of one MPI rank): sharded and full round trips of FSDP,
DDP and plain modules with their optimizers, resuming bit-for-bit (RNG state in ``extra``), the
manifest as the commit point (a save that fails part-way leaves the last checkpoint loadable),
damaged files, and what a checkpoint refuses. Resuming across world sizes is in
tests-integration/test_distributed_parallel.py."""

from __future__ import annotations

import importlib.util
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import axon_nn as nn
import axon_optim as optim
from axon_distributed import (
    CheckpointError,
    DistributedDataParallel,
    FullyShardedDataParallel,
    ModuleWrapPolicy,
    ShardingStrategy,
    load_checkpoint,
    read_manifest,
    save_checkpoint,
)
from axon_tensor import default_generator, manual_seed, randn

_spec = importlib.util.spec_from_file_location("_models", Path(__file__).with_name("_models.py"))
M = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(M)


@pytest.fixture(scope="module", autouse=True)
def _world():
    M.world_of_one()


def fsdp(seed=0, strategy=ShardingStrategy.FULL_SHARD):
    return FullyShardedDataParallel(
        M.mlp(seed), sharding_strategy=strategy, auto_wrap_policy=ModuleWrapPolicy([nn.Linear])
    )


def step(model, opt, x, y):
    """One step whose batch is perturbed by the default generator (so its state matters)."""
    noise = randn(*x.shape, dtype="float64") * 0.01
    opt.zero_grad()
    M.mse(model, x + noise, y).backward()
    opt.step()


def params_of(model):
    if isinstance(model, FullyShardedDataParallel):
        return {k: v.numpy().copy() for k, v in model.full_state_dict().items()}
    return M.state(model.module if isinstance(model, DistributedDataParallel) else model)


@pytest.mark.parametrize(
    "make, kind",
    [
        (fsdp, "sharded"),
        (fsdp, "full"),
        (lambda seed=0: DistributedDataParallel(M.mlp(seed)), "full"),
        (lambda seed=0: DistributedDataParallel(M.mlp(seed)), "sharded"),
        (lambda seed=0: M.mlp(seed), "full"),
    ],
    ids=["fsdp-sharded", "fsdp-full", "ddp-full", "ddp-sharded", "module-full"],
)
def test_resume_continues_bit_for_bit(tmp_path, make, kind):
    x, y = M.batch()
    manual_seed(11)
    model = make()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        step(model, opt, x, y)
    save_checkpoint(tmp_path, model, opt, kind=kind, extra={"step": 3, "rng": default_generator.get_state()})
    for _ in range(3):
        step(model, opt, x, y)
    expected = params_of(model)

    manual_seed(99)  # another stream, restored from the checkpoint
    resumed = make(seed=4)
    resumed_opt = optim.Adam(resumed.parameters(), lr=1e-3)  # the saved lr wins
    extra = load_checkpoint(tmp_path, resumed, resumed_opt)
    assert extra["step"] == 3 and resumed_opt.param_groups[0]["lr"] == 1e-2
    default_generator.set_state(extra["rng"])
    for _ in range(3):
        step(resumed, resumed_opt, x, y)
    for key, value in params_of(resumed).items():
        np.testing.assert_array_equal(value, expected[key], err_msg=key)


def test_a_full_fsdp_checkpoint_loads_into_an_unwrapped_model_and_another_strategy(tmp_path):
    x, y = M.batch()
    model = fsdp()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step(model, opt, x, y)
    save_checkpoint(tmp_path, model, opt, kind="full")
    plain = M.mlp(seed=3)
    plain_opt = optim.SGD(plain.parameters(), lr=0.1, momentum=0.9)
    load_checkpoint(tmp_path, plain, plain_opt)
    other = fsdp(seed=5, strategy=ShardingStrategy.NO_SHARD)
    other_opt = optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
    load_checkpoint(tmp_path, other, other_opt)
    step_state = default_generator.get_state()
    step(plain, plain_opt, x, y)
    default_generator.set_state(step_state)
    step(other, other_opt, x, y)
    for key, value in M.state(plain).items():
        np.testing.assert_array_equal(params_of(other)[key], value, err_msg=key)


def test_manifest_is_the_commit_point_and_old_files_go(tmp_path):
    x, y = M.batch()
    model = fsdp()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    save_checkpoint(tmp_path, model, opt, extra={"step": 1})
    first = read_manifest(tmp_path)
    assert first["kind"] == "sharded" and first["world_size"] == 1
    step(model, opt, x, y)
    # A save that fails part-way (the extra cannot be stored) leaves the last checkpoint as it was.
    with pytest.raises(TypeError, match="cannot save a object"):
        save_checkpoint(tmp_path, model, opt, extra={"step": 2, "bad": object()})
    assert read_manifest(tmp_path) == first
    assert load_checkpoint(tmp_path, fsdp(seed=2))["step"] == 1
    save_checkpoint(tmp_path, model, opt, extra={"step": 2})
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"manifest.json", read_manifest(tmp_path)["files"]["0"]["name"]}


_SAVER = """
import sys, importlib.util
spec = importlib.util.spec_from_file_location("_models", sys.argv[2])
M = importlib.util.module_from_spec(spec); spec.loader.exec_module(M)
M.world_of_one()
import axon_optim as optim
from axon_distributed import FullyShardedDataParallel, save_checkpoint
model = FullyShardedDataParallel(M.mlp())
opt = optim.SGD(model.parameters(), lr=0.1)
x, y = M.batch()
for step in range(1, 10**6):
    opt.zero_grad(); M.mse(model, x, y).backward(); opt.step()
    save_checkpoint(sys.argv[1], model, opt, extra={"step": step})
    print(step, flush=True)
"""


def test_a_saver_killed_at_a_random_moment_leaves_a_loadable_checkpoint(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-c", _SAVER, str(tmp_path), str(Path(__file__).with_name("_models.py"))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(3):  # a few saves done, then SIGKILL somewhere inside a later one
            assert child.stdout.readline(), "the saver died"
        time.sleep(random.uniform(0.0, 0.2))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    model = FullyShardedDataParallel(M.mlp())
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = load_checkpoint(tmp_path, model, opt)["step"]
    assert step >= 3
    # The checkpoint holds the parameters after exactly `step` steps.
    replay = FullyShardedDataParallel(M.mlp())
    replay_opt = optim.SGD(replay.parameters(), lr=0.1)
    x, y = M.batch()
    for _ in range(step):
        replay_opt.zero_grad()
        M.mse(replay, x, y).backward()
        replay_opt.step()
    for key, value in params_of(replay).items():
        np.testing.assert_array_equal(params_of(model)[key], value, err_msg=key)


def test_damaged_and_mismatched_checkpoints_raise(tmp_path):
    model = fsdp()
    save_checkpoint(tmp_path / "a", model)
    with pytest.raises(CheckpointError, match="no checkpoint here"):
        load_checkpoint(tmp_path / "nothing", model)
    with pytest.raises(CheckpointError, match="no optimizer state"):
        load_checkpoint(tmp_path / "a", model, optim.SGD(model.parameters(), lr=0.1))
    whole = FullyShardedDataParallel(M.mlp())
    with pytest.raises(CheckpointError, match="units"):
        load_checkpoint(tmp_path / "a", whole)
    manifest = read_manifest(tmp_path / "a")
    data = tmp_path / "a" / manifest["files"]["0"]["name"]
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="SHA-256 does not match"):
        load_checkpoint(tmp_path / "a", model)
    (tmp_path / "a" / "manifest.json").write_text(json.dumps({**manifest, "world_size": 2}))
    with pytest.raises(CheckpointError, match="written by 2 ranks cannot be loaded by 1"):
        load_checkpoint(tmp_path / "a", model)
    (tmp_path / "a" / "manifest.json").write_text("{}")
    with pytest.raises(CheckpointError, match="not an axon-distributed checkpoint"):
        read_manifest(tmp_path / "a")
    with pytest.raises(ValueError, match="kind"):
        save_checkpoint(tmp_path / "b", model, kind="zip")
