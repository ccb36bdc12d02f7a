"""Runs on real MPI ranks: ``python -m axon_distributed.launch -n N train_worker.py OUT [JOB ...]``.

Jobs (each rank writes ``OUT/rank{r}.npz`` with the parameters it ends with and
``OUT/rank{r}.json`` with what it measured):

- ``train[=MODE+MODE...]``: DDP, FSDP (FULL_SHARD, SHARD_GRAD_OP, NO_SHARD) and the GPipe and 1F1B pipelines
  train the MLP and the transformer of models.py, in float64 and float32, for 20 steps; DDP and
  FSDP each take their shard of every step's batch, pipelines take the whole batch in 4
  micro-batches (or only the modes named). Keys ``{kind}/{dtype}/{mode}/{param}`` (rank 0 for
  DDP/FSDP, each stage its own).
- ``extras``: DDP's bucket posting mid-backward, buffers broadcast, a model mismatch; FSDP's
  measured memory per strategy; sharded checkpoints of FSDP and of a 1F1B pipeline (each stage
  its own layers) resumed on the same world size.
- ``save_full=DIR``: FSDP trains 10 steps and saves a full checkpoint into DIR.
- ``load_full=DIR``: FSDP, DDP and (on rank 0, alone, on the whole batch) the unwrapped model
  each load DIR and train steps 10..19 (keys ``resumed/{mode}/{param}``).
"""

from __future__ import annotations

import gc
import json
import sys
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import models as M  # noqa: E402

import axon_distributed as dist  # noqa: E402
import axon_nn as nn  # noqa: E402
import axon_optim as optim  # noqa: E402
from axon_distributed import (  # noqa: E402
    DistributedDataParallel,
    FullyShardedDataParallel,
    ModuleWrapPolicy,
    PipelineStage,
    Schedule1F1B,
    ScheduleGPipe,
    ShardingStrategy,
    load_checkpoint,
    save_checkpoint,
    split_sequential,
)

DP_MODES = {
    "ddp": None,
    "fsdp_full_shard": ShardingStrategy.FULL_SHARD,
    "fsdp_shard_grad_op": ShardingStrategy.SHARD_GRAD_OP,
    "fsdp_no_shard": ShardingStrategy.NO_SHARD,
}
PIPELINES = {"gpipe": ScheduleGPipe, "1f1b": Schedule1F1B}


def shard(array: np.ndarray, rank: int, world: int) -> np.ndarray:
    size = len(array) // world
    return array[rank * size : (rank + 1) * size]


def wrap(kind: str, dtype: str, mode: str):
    if mode == "ddp":
        return DistributedDataParallel(M.build(kind, dtype), bucket_cap_mb=0.001)
    return FullyShardedDataParallel(
        M.build(kind, dtype), sharding_strategy=DP_MODES[mode], auto_wrap_policy=ModuleWrapPolicy([M.wrap_class(kind)])
    )


def train_data_parallel(model, kind: str, dtype: str, opt, start: int, steps: int) -> None:
    rank, world = dist.get_rank(), dist.get_world_size()
    loss = M.loss_fn(kind)
    for step in range(start, start + steps):
        x, y = (shard(a, rank, world) for a in M.batch(kind, dtype, step))
        opt.zero_grad()
        loss(model(M.as_input(kind, x)), M.as_input(kind, y)).backward()
        opt.step()


def full_params(model) -> dict[str, np.ndarray] | None:
    if isinstance(model, FullyShardedDataParallel):
        state = model.full_state_dict()
        return None if state is None else {k: v.numpy().copy() for k, v in state.items()}
    return M.params(model.module) if dist.get_rank() == 0 else None


def job_train(modes: str, arrays: dict, report: dict) -> None:
    rank, world = dist.get_rank(), dist.get_world_size()
    wanted = set(modes.split("+")) if modes else set(DP_MODES) | set(PIPELINES)
    for kind in ("mlp", "transformer"):
        for dtype in ("float64", "float32"):
            for mode in (m for m in DP_MODES if m in wanted):
                model = wrap(kind, dtype, mode)
                opt = optim.Adam(model.parameters(), lr=M.LR)
                train_data_parallel(model, kind, dtype, opt, 0, M.STEPS)
                for name, value in (full_params(model) or {}).items():
                    arrays[f"{kind}/{dtype}/{mode}/{name}"] = value
            for mode, schedule_cls in ((m, c) for m, c in PIPELINES.items() if m in wanted):
                stage = PipelineStage(split_sequential(M.build(kind, dtype), world)[rank], rank, world)
                schedule = schedule_cls(stage, M.MICROBATCHES, loss_fn=M.loss_fn(kind))
                opt = optim.Adam(stage.parameters(), lr=M.LR)
                for step in range(M.STEPS):
                    x, y = M.batch(kind, dtype, step)
                    opt.zero_grad()
                    if stage.is_first and stage.is_last:
                        schedule.step(M.as_input(kind, x), target=M.as_input(kind, y))
                    elif stage.is_first:
                        schedule.step(M.as_input(kind, x))
                    elif stage.is_last:
                        schedule.step(target=M.as_input(kind, y))
                    else:
                        schedule.step()
                    opt.step()
                for name, value in M.params(stage.submodule).items():
                    arrays[f"{kind}/{dtype}/{mode}/{name}"] = value
                report.setdefault("pipeline_memory", {})[f"{kind}/{dtype}/{mode}"] = schedule.memory_stats.to_dict()


def job_extras(arrays: dict, report: dict) -> None:
    rank, world = dist.get_rank(), dist.get_world_size()
    # DDP: how many buckets were posted when backward produced its last gradient (the first layer's weight).
    model = M.build("mlp", "float64")
    seen: dict = {}
    model[0].weight.register_post_accumulate_grad_hook(
        lambda p: seen.update(posted=ddp.buckets_posted, first_posted=ddp.buckets[0].work is not None)
    )
    ddp = DistributedDataParallel(model, bucket_cap_mb=1e-9)
    x, y = (shard(a, rank, world) for a in M.batch("mlp", "float64", 0))
    M.loss_fn("mlp")(ddp(M.as_input("mlp", x)), M.as_input("mlp", y)).backward()
    report["ddp_overlap"] = {"buckets": len(ddp.buckets), **seen, "posted_at_end": ddp.buckets_posted}

    # DDP broadcasts rank 0's buffers before every forward.
    bn = DistributedDataParallel(nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4)).double())
    opt = optim.SGD(bn.parameters(), lr=0.1)
    for step in range(3):
        x, _ = (shard(a, rank, world) for a in M.batch("mlp", "float64", step))
        opt.zero_grad()
        bn(M.as_input("mlp", x)).sum().backward()
        opt.step()
    bn.eval()
    bn(M.as_input("mlp", x))  # broadcasts rank 0's running statistics; in eval mode nothing updates them
    mean = bn.module[1].running_mean
    every = [mean.clone() for _ in range(world)]
    dist.all_gather(every, mean)
    report["ddp_buffers_spread"] = float(max(np.abs(t.numpy() - every[0].numpy()).max() for t in every))

    # Every rank refuses a model that differs on one rank.
    try:
        DistributedDataParallel(nn.Linear(6, 4 if rank == world - 1 else 3).double())
        report["ddp_mismatch"] = None
    except RuntimeError as exc:
        report["ddp_mismatch"] = str(exc)

    # FSDP: what a rank holds, measured with tracemalloc (NumPy reports its buffers to it).
    memory = {}
    for strategy in ShardingStrategy:
        gc.collect()
        tracemalloc.start()
        fsdp = FullyShardedDataParallel(
            _memory_model(), sharding_strategy=strategy, auto_wrap_policy=ModuleWrapPolicy([nn.Linear])
        )
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        xb = M.as_input("mlp", np.random.default_rng(rank).standard_normal((4, 64)))
        before = tracemalloc.get_traced_memory()[0]
        out = fsdp(xb)
        after_forward = tracemalloc.get_traced_memory()[0] - before
        live_after_forward = fsdp._state.live_bytes
        out.sum().backward()
        opt = optim.Adam(fsdp.parameters(), lr=1e-3)
        opt.step()
        state_bytes = sum(v.nbytes for s in opt.state.values() for k, v in s.items() if k != "step")
        memory[strategy.name] = {
            "param_bytes": fsdp.sharded_param_bytes(),
            "traced_after_wrap": held,
            "traced_forward": after_forward,
            "gathered_live_after_forward": live_after_forward,
            "peak_gathered": fsdp.peak_unsharded_bytes,
            "optimizer_state_bytes": state_bytes,
        }
        del fsdp, out, opt
        tracemalloc.stop()
    report["fsdp_memory"] = memory
    report["memory_model_bytes"] = sum(p.data.nbytes for p in _memory_model().parameters())

    # A sharded checkpoint resumes bit-for-bit on the same world size.
    ckpt = Path(sys.argv[1]) / "sharded-ckpt"
    model = wrap("transformer", "float64", "fsdp_full_shard")
    opt = optim.Adam(model.parameters(), lr=M.LR)
    train_data_parallel(model, "transformer", "float64", opt, 0, 5)
    save_checkpoint(ckpt, model, opt, extra={"step": 5})
    train_data_parallel(model, "transformer", "float64", opt, 5, 5)
    expected = full_params(model)
    again = wrap("transformer", "float64", "fsdp_full_shard")
    again_opt = optim.Adam(again.parameters(), lr=M.LR)
    start = load_checkpoint(ckpt, again, again_opt)["step"]
    train_data_parallel(again, "transformer", "float64", again_opt, start, 5)
    got = full_params(again)
    if rank == 0:
        report["sharded_resume_max_diff"] = float(max(np.abs(got[k] - expected[k]).max() for k in expected))

    # A pipeline's sharded checkpoint: each stage saves and resumes its own layers.
    def pipeline_run(stage, opt, start, steps):
        schedule = Schedule1F1B(stage, M.MICROBATCHES, loss_fn=M.loss_fn("mlp"))
        for step in range(start, start + steps):
            x, y = M.batch("mlp", "float64", step)
            opt.zero_grad()
            schedule.step(*([M.as_input("mlp", x)] if stage.is_first else []), target=M.as_input("mlp", y))
            opt.step()

    def new_stage():
        stage = PipelineStage(split_sequential(M.build("mlp", "float64"), world)[rank], rank, world)
        return stage, optim.Adam(stage.parameters(), lr=M.LR)

    stage, opt = new_stage()
    pipeline_run(stage, opt, 0, 5)
    save_checkpoint(Path(sys.argv[1]) / "pipeline-ckpt", stage.submodule, opt, extra={"step": 5})
    pipeline_run(stage, opt, 5, 5)
    again, again_opt = new_stage()
    start = load_checkpoint(Path(sys.argv[1]) / "pipeline-ckpt", again.submodule, again_opt)["step"]
    pipeline_run(again, again_opt, start, 5)
    expected, got = M.params(stage.submodule), M.params(again.submodule)
    report["pipeline_resume_max_diff"] = float(max(np.abs(got[k] - expected[k]).max() for k in expected))


def _memory_model() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, 64)).double()


def job_save_full(directory: str, arrays: dict, report: dict) -> None:
    model = wrap("transformer", "float64", "fsdp_shard_grad_op")
    opt = optim.Adam(model.parameters(), lr=M.LR)
    train_data_parallel(model, "transformer", "float64", opt, 0, M.STEPS // 2)
    save_checkpoint(directory, model, opt, kind="full", extra={"step": M.STEPS // 2})


def job_load_full(directory: str, arrays: dict, report: dict) -> None:
    for mode in ("fsdp_full_shard", "ddp"):
        model = wrap("transformer", "float64", mode)
        opt = optim.Adam(model.parameters(), lr=M.LR)
        start = load_checkpoint(directory, model, opt)["step"]
        train_data_parallel(model, "transformer", "float64", opt, start, M.STEPS - start)
        for name, value in (full_params(model) or {}).items():
            arrays[f"resumed/{mode}/{name}"] = value
    if dist.get_rank() == 0:
        # The unwrapped model needs no process group beyond reading the files: it trains alone.
        plain = M.build("transformer", "float64")
        opt = optim.Adam(plain.parameters(), lr=1.0)
        start = load_checkpoint(directory, plain, opt, group=dist.new_group([0]))["step"]
        M.reference("transformer", "float64", M.STEPS - start, plain, opt, start)
        for name, value in M.params(plain).items():
            arrays[f"resumed/module/{name}"] = value
    else:
        dist.new_group([0])  # every rank takes part in creating a group


def main() -> None:
    dist.init_process_group("mpi")
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    arrays: dict = {}
    report: dict = {"world_size": dist.get_world_size()}
    for job in sys.argv[2:]:
        name, _, value = job.partition("=")
        if name == "train":
            job_train(value, arrays, report)
        elif name == "extras":
            job_extras(arrays, report)
        elif name == "save_full":
            job_save_full(value, arrays, report)
        elif name == "load_full":
            job_load_full(value, arrays, report)
        else:
            raise SystemExit(f"train_worker: unknown job {job!r}")
    rank = dist.get_rank()
    np.savez(out / f"rank{rank}.npz", **arrays)
    (out / f"rank{rank}.json").write_text(json.dumps(report, indent=1))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
