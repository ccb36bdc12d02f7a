"""The second oracle for DDP, on real processes: torch.distributed's DDP with the gloo backend
trains the models of models.py from axon's initial weights on the same batches.

``python -m axon_distributed.launch -n N torch_ddp_worker.py OUT PORT``: each rank finds its rank
in the launcher's environment (mpiexec's ``OMPI_COMM_WORLD_RANK`` / ``_SIZE``), joins a gloo group
over TCP on 127.0.0.1:PORT, and rank 0 writes ``OUT/torch.npz`` (``{kind}/{dtype}/{param}``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as tdist
from torch.nn.parallel import DistributedDataParallel as TorchDDP

sys.path.insert(0, str(Path(__file__).resolve().parent))
import models as M  # noqa: E402

TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def torch_model(kind: str, dtype: str) -> torch.nn.Module:
    if kind == "mlp":
        t = torch.nn
        model = t.Sequential(
            t.Linear(6, 16), t.Tanh(), t.Linear(16, 16), t.Tanh(), t.Linear(16, 16), t.Tanh(), t.Linear(16, 3)
        )
    else:
        layer = dict(d_model=M.WIDTH, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=True)
        model = torch.nn.Sequential(
            torch.nn.Embedding(M.VOCAB, M.WIDTH),
            torch.nn.TransformerEncoderLayer(**layer),
            torch.nn.TransformerEncoderLayer(**layer),
            torch.nn.Linear(M.WIDTH, M.VOCAB),
        )
    model = model.to(TORCH_DTYPES[dtype])
    # axon's initial weights, by name (axon's layers use torch's parameter names).
    start = {k: torch.from_numpy(v) for k, v in M.params(M.build(kind, dtype)).items()}
    model.load_state_dict(start, strict=True)
    return model


def loss_fn(kind: str):
    if kind == "mlp":
        return torch.nn.functional.mse_loss
    return lambda logits, target: torch.nn.functional.cross_entropy(logits.reshape(-1, M.VOCAB), target.reshape(-1))


def main() -> None:
    out, port = Path(sys.argv[1]), int(sys.argv[2])
    rank, world = int(os.environ["OMPI_COMM_WORLD_RANK"]), int(os.environ["OMPI_COMM_WORLD_SIZE"])
    torch.set_num_threads(1)
    tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    arrays = {}
    for kind in ("mlp", "transformer"):
        for dtype in ("float64", "float32"):
            ddp = TorchDDP(torch_model(kind, dtype))
            opt = torch.optim.Adam(ddp.parameters(), lr=M.LR)
            loss = loss_fn(kind)
            for step in range(M.STEPS):
                x, y = (a[rank * len(a) // world : (rank + 1) * len(a) // world] for a in M.batch(kind, dtype, step))
                opt.zero_grad()
                loss(ddp(torch.from_numpy(x)), torch.from_numpy(y)).backward()
                opt.step()
            for name, value in ddp.module.state_dict().items():
                arrays[f"{kind}/{dtype}/{name}"] = value.detach().numpy().copy()
    if rank == 0:
        np.savez(out / "torch.npz", **arrays)
    tdist.destroy_process_group()


if __name__ == "__main__":
    main()
