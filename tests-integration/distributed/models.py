"""The models, data and single-process reference shared by the distributed oracle tests
(``test_distributed_parallel.py``) and the scripts they run on real MPI ranks (``train_worker.py``,
``torch_ddp_worker.py``). Imported by path from the tests, and from the scripts' own folder."""

from __future__ import annotations

import numpy as np

import axon_nn as nn
import axon_nn.functional as F
import axon_optim as optim
from axon_autograd import Variable
from axon_tensor import manual_seed, tensor

STEPS = 20
BATCH = 8  # the global batch: split into world_size shards (DDP, FSDP) or 4 micro-batches (pipelines)
MICROBATCHES = 4
LR = 1e-2
VOCAB, SEQ, WIDTH = 11, 5, 8


def build(kind: str, dtype: str) -> nn.Sequential:
    """``mlp``: 6 -> 16 -> 16 -> 16 -> 3 with tanh (7 layers); ``transformer``: token embedding,
    two post-norm encoder layers (2 heads, no dropout), a vocabulary head (4 layers)."""
    manual_seed(0)
    if kind == "mlp":
        model = nn.Sequential(
            nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3)
        )
    else:
        layer = dict(d_model=WIDTH, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=True)
        model = nn.Sequential(
            nn.Embedding(VOCAB, WIDTH),
            nn.TransformerEncoderLayer(**layer),
            nn.TransformerEncoderLayer(**layer),
            nn.Linear(WIDTH, VOCAB),
        )
    return model.to(dtype=dtype)


def wrap_class(kind: str) -> type:
    """The submodules FSDP wraps in units of their own."""
    return nn.Linear if kind == "mlp" else nn.TransformerEncoderLayer


def batch(kind: str, dtype: str, step: int) -> tuple[np.ndarray, np.ndarray]:
    """The whole batch of ``step`` (inputs, targets) as NumPy arrays."""
    rng = np.random.default_rng(1000 + step)
    if kind == "mlp":
        return rng.standard_normal((BATCH, 6)).astype(dtype), rng.standard_normal((BATCH, 3)).astype(dtype)
    tokens = rng.integers(0, VOCAB, size=(BATCH, SEQ + 1))
    return tokens[:, :-1].astype(np.int64), tokens[:, 1:].astype(np.int64)


def loss_fn(kind: str):
    if kind == "mlp":
        return F.mse_loss
    return lambda logits, target: F.cross_entropy(logits.reshape(-1, VOCAB), target.reshape(-1))


def as_input(kind: str, array: np.ndarray) -> Variable:
    return Variable(tensor(array))


def reference(kind: str, dtype: str, steps: int = STEPS, model: nn.Module | None = None, opt=None, start: int = 0):
    """One process training on the whole batch: the oracle every parallel run must match."""
    model = model or build(kind, dtype)
    opt = opt or optim.Adam(model.parameters(), lr=LR)
    loss = loss_fn(kind)
    for step in range(start, start + steps):
        x, y = batch(kind, dtype, step)
        opt.zero_grad()
        loss(model(as_input(kind, x)), as_input(kind, y)).backward()
        opt.step()
    return model, opt


def params(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def launch(n: int, script: str, *args: str, timeout: float = 570) -> None:
    """Run ``script`` (next to this file) as ``n`` MPI ranks through axon's launcher; fail with its output."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    cmd = [sys.executable, "-m", "axon_distributed.launch", "-n", str(n), str(Path(__file__).with_name(script))]
    proc = subprocess.run(
        [*cmd, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=dict(os.environ)
    )
    assert proc.returncode == 0, f"{script} on {n} ranks failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"


def rank_outputs(folder, n: int) -> tuple[dict, list[dict]]:
    """Every rank's arrays merged (keys are unique across ranks) and each rank's report."""
    import json
    from pathlib import Path

    arrays: dict = {}
    reports = []
    for rank in range(n):
        with np.load(Path(folder) / f"rank{rank}.npz") as archive:
            arrays.update({k: archive[k] for k in archive.files})
        reports.append(json.loads((Path(folder) / f"rank{rank}.json").read_text()))
    return arrays, reports
