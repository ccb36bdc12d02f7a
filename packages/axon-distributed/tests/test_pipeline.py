"""Pipeline schedules as data (each stage's action list is complete, ordered and deadlock-free
when run against its neighbours; 1F1B keeps at most num_stages - stage micro-batches), layer
splitting, and a one-stage pipeline in one process training like the unwrapped model. Real 2-
and 4-stage pipelines are in tests-integration/test_distributed_parallel.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import axon_nn.functional as F
import axon_optim as optim
from axon_core import ShapeError
from axon_distributed import PipelineStage, Schedule1F1B, ScheduleGPipe, split_sequential

_spec = importlib.util.spec_from_file_location("_models", Path(__file__).with_name("_models.py"))
M = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(M)

SCHEDULES = [ScheduleGPipe, Schedule1F1B]


@pytest.fixture(scope="module", autouse=True)
def _world():
    M.world_of_one()


def run_against_neighbours(schedule, stages: int, micro: int) -> None:
    """Play every stage's actions in lockstep rounds: F(i) on stage s waits for F(i) on s - 1,
    B(i) waits for B(i) on s + 1 (receives block, sends do not). Fails on a deadlock."""
    plans = [schedule.actions(s, stages, micro) for s in range(stages)]
    done = [set() for _ in range(stages)]
    cursor = [0] * stages
    while any(c < len(p) for c, p in zip(cursor, plans)):
        moved = False
        for s in range(stages):
            if cursor[s] == len(plans[s]):
                continue
            kind, i = plans[s][cursor[s]]
            needs = (
                (s - 1, ("F", i))
                if kind == "F" and s > 0
                else (s + 1, ("B", i))
                if kind == "B" and s < stages - 1
                else None
            )
            if needs is None or needs[1] in done[needs[0]]:
                done[s].add((kind, i))
                cursor[s] += 1
                moved = True
        assert moved, f"{schedule.name} deadlocks with {stages} stages and {micro} micro-batches at {cursor}"


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s.name)
@pytest.mark.parametrize("stages", [1, 2, 3, 4])
@pytest.mark.parametrize("micro", [1, 2, 4, 7])
def test_action_lists_are_complete_ordered_and_deadlock_free(schedule, stages, micro):
    for s in range(stages):
        plan = schedule.actions(s, stages, micro)
        assert sorted(plan) == sorted([("F", i) for i in range(micro)] + [("B", i) for i in range(micro)])
        assert [i for k, i in plan if k == "F"] == list(range(micro))
        assert [i for k, i in plan if k == "B"] == list(range(micro))
        live = peak = 0
        for kind, i in plan:
            assert kind == "F" or ("F", i) in plan[: plan.index((kind, i))]
            live += 1 if kind == "F" else -1
            peak = max(peak, live)
        assert peak == (micro if schedule is ScheduleGPipe else min(stages - s, micro))
    run_against_neighbours(schedule, stages, micro)


def test_split_sequential_keeps_layer_names():
    model = M.mlp()
    parts = split_sequential(model, 2)
    assert [len(p) for p in parts] == [3, 2]
    assert [k for p in parts for k in p.state_dict()] == list(model.state_dict())
    assert [len(p) for p in split_sequential(model, 3, balance=[1, 1, 3])] == [1, 1, 3]
    with pytest.raises(ValueError, match="cannot split 5 layers into 6"):
        split_sequential(model, 6)
    with pytest.raises(ValueError, match="balance"):
        split_sequential(model, 2, balance=[1, 1])


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s.name)
def test_one_stage_pipeline_trains_like_the_unwrapped_model(schedule):
    x, y = M.batch()
    plain = M.mlp()
    opt = optim.Adam(plain.parameters(), lr=1e-2)
    for _ in range(5):
        opt.zero_grad()
        M.mse(plain, x, y).backward()
        opt.step()
    stage = PipelineStage(M.mlp(), 0, 1)
    runner = schedule(stage, 4, loss_fn=F.mse_loss)
    opt = optim.Adam(stage.parameters(), lr=1e-2)
    for _ in range(5):
        opt.zero_grad()
        losses: list = []
        out = runner.step(x, target=y, losses=losses)
        opt.step()
    assert tuple(out.shape) == (8, 3) and len(losses) == 4
    ref = M.state(plain)
    for key, value in M.state(stage.submodule).items():
        np.testing.assert_allclose(value, ref[key], rtol=0, atol=1e-14, err_msg=key)
    stats = runner.memory_stats
    assert stats.peak_inflight == (4 if schedule is ScheduleGPipe else 1)
    assert stats.peak_activation_bytes == stats.peak_inflight * stats.activation_bytes_per_microbatch > 0


def test_errors():
    stage = PipelineStage(M.mlp(), 0, 1)
    with pytest.raises(ValueError, match="needs a loss_fn"):
        ScheduleGPipe(stage, 2)
    x, y = M.batch(n=6)
    with pytest.raises(ShapeError, match="does not split into 4"):
        ScheduleGPipe(stage, 4, loss_fn=F.mse_loss).step(x, target=y)
    with pytest.raises(ValueError, match="group of 2 ranks"):
        PipelineStage(M.mlp(), 0, 2)
    with pytest.raises(ValueError, match="n_microbatches"):
        Schedule1F1B(stage, 0, loss_fn=F.mse_loss)
