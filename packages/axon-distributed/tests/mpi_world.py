"""Small programs for test_launch.py, run as ranks: ``launch -n N mpi_world.py OUT WHAT``."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import axon_distributed as dist
import axon_tensor as at


def main(out: Path, what: str) -> None:
    if what == "world":
        dist.init_process_group("mpi")
        t = at.ones(2) * (dist.get_rank() + 1)
        dist.all_reduce(t)
        report = {"rank": dist.get_rank(), "size": dist.get_world_size(), "sum": t.numpy().tolist(),
                  "backend": dist.get_backend(), "timeout": os.environ.get("AXON_DISTRIBUTED_TIMEOUT"),
                  "argv": sys.argv[3:]}  # fmt: skip
        dist.destroy_process_group()
        assert not dist.is_initialized()
        (out / f"rank{report['rank']}.json").write_text(json.dumps(report))
    elif what == "wait-timeout":  # rank 0 waits on a message rank 1 never sends
        dist.init_process_group("mpi")
        if dist.get_rank() == 0:
            work = dist.irecv(at.zeros(2), src=1)
            start = time.time()
            try:
                work.wait(timeout=1.0)
            except dist.CollectiveTimeoutError as error:
                report = {"ranks": list(error.ranks), "message": str(error), "after": time.time() - start}
                (out / "rank0.json").write_text(json.dumps(report))
        else:
            time.sleep(4)
    elif what == "group-timeout":  # a sub-group with its own 1 s timeout; the world keeps 30 minutes
        dist.init_process_group("mpi")
        pair = dist.new_group([0, 1], timeout=1.0)
        if dist.get_rank() == 0:
            start = time.time()
            try:
                dist.all_reduce(at.ones(3), group=pair)
            except dist.CollectiveTimeoutError as error:
                report = {"ranks": list(error.ranks), "message": str(error), "after": time.time() - start}
                (out / "rank0.json").write_text(json.dumps(report))
        else:
            time.sleep(5)
    elif what == "exit-code":  # rank 1 ends with sys.exit(3), rank 2 is killed after the last collective
        dist.init_process_group("mpi")
        dist.barrier()
        if dist.get_rank() == 1:
            sys.exit(3)
        if dist.get_rank() == 2:
            os.kill(os.getpid(), 9)
    elif what == "wrong-env":  # a launcher variable that disagrees with MPI's world
        os.environ["RANK"], os.environ["WORLD_SIZE"] = "1", "4"
        try:
            dist.init_process_group("mpi")
        except dist.DistributedError as error:
            (out / "rank0.json").write_text(json.dumps({"error": str(error)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
