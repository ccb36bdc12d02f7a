"""What the parallel wrappers promise beyond equal parameters, on 2 and 4 real MPI processes:

- DDP posts its first bucket's all-reduce before backward ends (7 of 8 buckets are posted when
  backward produces its last gradient), broadcasts rank 0's buffers, and refuses on every rank a
  model that differs on one;
- FSDP's per-rank parameter memory, measured with tracemalloc after wrapping, falls as
  1/world_size (optimizer state too); FULL_SHARD frees each unit's gathered parameters after its
  forward (SHARD_GRAD_OP holds them all until backward); at most one unit is gathered at once;
- a sharded checkpoint (FSDP's, a pipeline's) resumes bit-for-bit on the same world size, and a full checkpoint written
  by FSDP on 2 ranks resumes on 4 (FSDP and DDP) and in one unwrapped process, ending where one
  process training all 20 steps ends (float64, 1e-10).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py", reason="needs axon-distributed[mpi]")
pytestmark = pytest.mark.slow

_spec = importlib.util.spec_from_file_location("dist_models", Path(__file__).parent / "distributed" / "models.py")
M = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(M)

WORLDS = (2, 4)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    full = tmp_path_factory.mktemp("full-ckpt")
    found = {}
    for n, job in ((2, f"save_full={full}"), (4, f"load_full={full}")):
        out = tmp_path_factory.mktemp(f"world{n}")
        M.launch(n, "train_worker.py", out, "extras", job)
        found[n] = M.rank_outputs(out, n)
    return found


@pytest.mark.parametrize("world", WORLDS)
def test_ddp_posts_the_first_bucket_before_backward_ends(runs, world):
    for report in runs[world][1]:
        overlap = report["ddp_overlap"]
        assert overlap["buckets"] == 8  # one bucket per parameter (bucket_cap_mb=1e-9)
        assert overlap["first_posted"] and overlap["posted"] == overlap["buckets"] - 1
        assert overlap["posted_at_end"] == overlap["buckets"]


@pytest.mark.parametrize("world", WORLDS)
def test_ddp_broadcasts_buffers_and_refuses_a_model_that_differs_on_one_rank(runs, world):
    for report in runs[world][1]:
        assert report["ddp_buffers_spread"] == 0.0
        assert report["ddp_mismatch"] is not None and f"rank(s) [{world - 1}]" in report["ddp_mismatch"]


@pytest.mark.parametrize("world", WORLDS)
def test_fsdp_per_rank_memory_falls_as_one_over_world_size(runs, world):
    for report in runs[world][1]:
        total = report["memory_model_bytes"]  # 791,040 bytes of float64 parameters
        memory = report["fsdp_memory"]
        largest_unit = (256 * 256 + 256) * 8
        for name in ("FULL_SHARD", "SHARD_GRAD_OP"):
            m = memory[name]
            # Every unit's numel divides by 2 and 4 here: the shards are exactly 1/world_size.
            assert m["param_bytes"] == total // world
            assert m["optimizer_state_bytes"] == 2 * total // world  # Adam's two moments, sharded
            # What the rank really holds after wrapping: its shards plus < 5% of the model in objects.
            assert total // world <= m["traced_after_wrap"] < total // world + 0.05 * total
        full, grad_op, none = memory["FULL_SHARD"], memory["SHARD_GRAD_OP"], memory["NO_SHARD"]
        assert none["param_bytes"] == total and none["traced_after_wrap"] >= total
        # After forward, FULL_SHARD holds no gathered parameters; SHARD_GRAD_OP holds all of them.
        assert full["gathered_live_after_forward"] == 0 and grad_op["gathered_live_after_forward"] == total
        assert grad_op["traced_forward"] - full["traced_forward"] > 0.95 * total
        assert full["traced_forward"] < 0.1 * total
        assert full["peak_gathered"] == largest_unit  # one unit at a time


def test_fsdp_memory_is_measured_lower_on_four_ranks_than_on_two(runs):
    two, four = (runs[n][1][0]["fsdp_memory"]["FULL_SHARD"]["traced_after_wrap"] for n in WORLDS)
    assert four < 0.6 * two


@pytest.mark.parametrize("world", WORLDS)
def test_a_sharded_checkpoint_resumes_bit_for_bit_on_the_same_world_size(runs, world):
    assert runs[world][1][0]["sharded_resume_max_diff"] == 0.0  # FSDP FULL_SHARD, the transformer
    assert [r["pipeline_resume_max_diff"] for r in runs[world][1]] == [0.0] * world  # every 1F1B stage


@pytest.mark.parametrize("mode", ["fsdp_full_shard", "ddp", "module"])
def test_a_full_checkpoint_from_two_ranks_resumes_on_four_and_unwrapped(runs, mode):
    arrays, _ = runs[4]
    expected = M.params(M.reference("transformer", "float64")[0])
    prefix = f"resumed/{mode}/"
    got = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
    assert sorted(got) == sorted(expected)
    for name, want in expected.items():
        np.testing.assert_allclose(got[name], want, rtol=0, atol=1e-10, err_msg=f"{mode} {name}")
