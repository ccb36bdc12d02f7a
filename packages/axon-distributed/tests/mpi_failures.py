"""A training-like loop in which one rank fails mid-step: ``launch -n N mpi_failures.py OUT MODE VICTIM [NUMEL]``.

MODE: ``external-kill`` (the victim writes ``OUT/victim.pid`` mid-step and computes until the test
kills it with SIGKILL), ``hang`` (the victim sleeps through the step), ``raise`` (the victim's script
raises). The victim writes the time it failed to ``OUT/failed_at``; every survivor's error lands in
the error file (``AXON_DISTRIBUTED_ERROR_FILE``) the test sets, and the script re-raises it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

import axon_distributed as dist
import axon_tensor as at


def main(out: Path, mode: str, victim: int, numel: int) -> None:
    dist.init_process_group("mpi")
    rank = dist.get_rank()
    grads = at.tensor(np.ones(numel, dtype=np.float32))
    failed_at = out / "failed_at"
    try:
        for step in range(20):
            if step == 3 and rank == victim:
                failed_at.write_text(repr(time.time()))
                if mode == "external-kill":
                    (out / "victim.pid").write_text(str(os.getpid()))
                    deadline = time.time() + 60
                    while time.time() < deadline:  # "the forward pass" until the test kills this process
                        np.dot(np.ones((200, 200)), np.ones((200, 200)))
                elif mode == "hang":
                    time.sleep(60)
                elif mode == "raise":
                    raise ValueError("boom in the model's forward")
            dist.all_reduce(grads)
            time.sleep(0.02)
    except dist.RankFailureError as error:
        print(f"rank {rank}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        raise


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 1000)
