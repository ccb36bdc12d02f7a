"""The installed ``axon`` entry point in a subprocess: new, train, resume (bit-exact), eval and
predict on a fresh project, inspect and analyze of safetensors, checked against NumPy and the
safetensors reader."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

AXON = str(Path(sys.executable).with_name("axon"))


def axon(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AXON, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def _mlp_logits(state: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The project template's MLP (Linear, ReLU, Linear) in float64 NumPy."""
    hidden = np.maximum(x @ state["0.weight"].T.astype(np.float64) + state["0.bias"], 0.0)
    return hidden @ state["2.weight"].T.astype(np.float64) + state["2.bias"]


def test_new_train_resume_eval_predict(tmp_path):
    made = axon("new", "demo", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    project = tmp_path / "demo"
    assert {p.name for p in project.iterdir()} >= {"config.yaml", "model.py", "data.csv", "README.md"}
    config = (project / "config.yaml").read_text().replace("epochs: 10", "epochs: 3")
    (project / "config.yaml").write_text(config)
    trained = axon("train", "config.yaml", "--json", cwd=project)
    assert trained.returncode == 0, trained.stderr
    epochs = json.loads(trained.stdout)["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    final = (project / "checkpoints" / "epoch-3.axon").read_bytes()

    resumed = axon("resume", "checkpoints/epoch-1.axon", "--json", cwd=project)
    assert resumed.returncode == 0, resumed.stderr
    assert [e["loss"] for e in json.loads(resumed.stdout)["epochs"]] == [e["loss"] for e in epochs[1:]]
    assert (project / "checkpoints" / "epoch-3.axon").read_bytes() == final

    # The checkpoint's weights, exported to safetensors, give NumPy's validation loss and predictions.
    assert axon("convert", "checkpoints/last.axon", "w.safetensors", cwd=project).returncode == 0
    state = load_file(str(project / "w.safetensors"))
    table = np.loadtxt(project / "data.csv", delimiter=",", skiprows=1)
    order = np.random.default_rng(0).permutation(len(table))
    val = table[order[: round(len(table) * 0.25)]]
    logits = _mlp_logits(state, val[:, :-1].astype(np.float32).astype(np.float64))
    log_probs = logits - logits.max(1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
    labels = val[:, -1].astype(int)
    want_loss = -log_probs[np.arange(len(val)), labels].mean()
    evaluated = axon("eval", "checkpoints/last.axon", "--json", cwd=project)
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(evaluated.stdout)
    assert result["samples"] == len(val)
    np.testing.assert_allclose(result["loss"], want_loss, rtol=1e-5)
    np.testing.assert_allclose(epochs[-1]["val_loss"], want_loss, rtol=1e-5)
    assert result["accuracy"] == (log_probs.argmax(1) == labels).mean()

    np.savetxt(project / "x.csv", val[:5, :-1], delimiter=",", header="f0,f1,f2,f3", comments="")
    predicted = axon("predict", "checkpoints/last.axon", "--input", "x.csv", "--json", cwd=project)
    assert predicted.returncode == 0, predicted.stderr
    rows = json.loads(predicted.stdout)["predictions"]
    x5 = np.loadtxt(project / "x.csv", delimiter=",", skiprows=1).astype(np.float32).astype(np.float64)
    probs = np.exp(log_probs[:5])
    assert [r["class"] for r in rows] == list(_mlp_logits(state, x5).argmax(1))
    np.testing.assert_allclose([r["probability"] for r in rows], probs.max(1), rtol=1e-4)


def test_init_refuses_a_folder_that_holds_a_project(tmp_path):
    assert axon("init", cwd=tmp_path).returncode == 0
    again = axon("init", cwd=tmp_path)
    assert again.returncode == 1 and again.stderr.startswith("error: ") and "config.yaml" in again.stderr
    assert "Traceback" not in again.stderr


def test_inspect_and_analyze_a_safetensors_file(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "enc.weight": rng.standard_normal((8, 4)).astype(np.float32),
        "enc.bias": np.zeros(8, np.float32),
        "head.weight": rng.standard_normal((3, 8)).astype(np.float16),
    }
    save_file(arrays, str(tmp_path / "m.safetensors"), metadata={"note": "x"})
    shown = axon("inspect", "m.safetensors", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["metadata"] == {"note": "x"}
    assert {t["name"]: (t["dtype"], t["shape"], t["bytes"]) for t in report["tensors"]} == {
        k: (v.dtype.name, list(v.shape), v.nbytes) for k, v in arrays.items()
    }
    analyzed = axon("analyze", "m.safetensors", "--json", cwd=tmp_path)
    assert analyzed.returncode == 0, analyzed.stderr
    layers = json.loads(analyzed.stdout)
    assert layers["layers"]["enc"]["parameters"] == 40 and layers["layers"]["head"]["bytes"] == 48
    assert layers["total"]["parameters"] == sum(v.size for v in arrays.values())


def test_usage_error_exits_2_naming_the_option(tmp_path):
    bad = axon("quant", "--model", "x", cwd=tmp_path)
    assert bad.returncode == 2 and "--out" in bad.stderr
