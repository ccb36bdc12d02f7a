"""``axon train/resume --metrics FILE``: the JSON-lines stream a job server follows. Step losses are
checked against NumPy's cross-entropy of the checkpointed weights on the batch the epoch's seeded
order picks; epoch records against ``--json``; a resumed run appends the uninterrupted run's records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

AXON = str(Path(sys.executable).with_name("axon"))


def axon(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AXON, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_metrics_lines_match_numpy_and_json(tmp_path):
    assert axon("new", "demo", cwd=tmp_path).returncode == 0
    project = tmp_path / "demo"
    config = (project / "config.yaml").read_text().replace("epochs: 10", "epochs: 3")
    (project / "config.yaml").write_text(config)
    trained = axon("train", "config.yaml", "--json", "--metrics", "m.jsonl", cwd=project)
    assert trained.returncode == 0, trained.stderr
    epochs = json.loads(trained.stdout)["epochs"]
    records = _records(project / "m.jsonl")
    steps = [r for r in records if r["event"] == "step"]
    # 120 rows, 25% held out: 90 training rows in batches of 16 = 6 steps per epoch.
    assert [r["step"] for r in steps] == list(range(1, 19))
    assert [r["epoch"] for r in steps] == [1] * 6 + [2] * 6 + [3] * 6
    ends = [r for r in records if r["event"] == "epoch"]
    assert [{k: v for k, v in r.items() if k not in ("event", "step")} for r in ends] == epochs
    assert [r["step"] for r in ends] == [6, 12, 18]
    for end in ends:
        assert end["loss"] == float(np.mean([s["loss"] for s in steps if s["epoch"] == end["epoch"]]))

    # The first step of epoch 2 starts from epoch 1's weights: NumPy's loss on the batch it draws.
    assert axon("convert", "checkpoints/epoch-1.axon", "w.safetensors", cwd=project).returncode == 0
    state = {k: v.astype(np.float64) for k, v in load_file(str(project / "w.safetensors")).items()}
    table = np.loadtxt(project / "data.csv", delimiter=",", skiprows=1)
    order = np.random.default_rng(0).permutation(len(table))
    train = table[order[round(len(table) * 0.25) :]]
    batch = train[np.random.default_rng([0, 1]).permutation(len(train))[:16]]
    x = batch[:, :-1].astype(np.float32).astype(np.float64)
    logits = np.maximum(x @ state["0.weight"].T + state["0.bias"], 0.0) @ state["2.weight"].T + state["2.bias"]
    logits -= logits.max(1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    want = -log_probs[np.arange(16), batch[:, -1].astype(int)].mean()
    np.testing.assert_allclose(steps[6]["loss"], want, rtol=1e-5)

    resumed = axon("resume", "checkpoints/epoch-1.axon", "--metrics", "r.jsonl", cwd=project)
    assert resumed.returncode == 0, resumed.stderr
    assert _records(project / "r.jsonl") == [r for r in records if r["epoch"] > 1]


def test_python_m_axon_cli_runs_the_command(tmp_path):
    done = subprocess.run([sys.executable, "-m", "axon_cli", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "train" in done.stdout
