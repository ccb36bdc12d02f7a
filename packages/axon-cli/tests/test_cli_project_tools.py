"""The installed ``axon`` entry point on a project: ``scaffold`` (the model template trained by
``axon train`` and checked against its forward pass written in NumPy; the dataset template's rows
against ``numpy.loadtxt``; the script template's predictions against ``axon predict``), ``rename``
(folder, README title, checkpoints that still evaluate to the same loss) and ``zip`` (byte-identical
archives whatever the mtimes; caches and checkpoints left out; contents equal the files)."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file


def _project(axon, tmp_path: Path, epochs: int = 2) -> Path:
    assert axon("new", "demo", cwd=tmp_path).returncode == 0
    project = tmp_path / "demo"
    config = (project / "config.yaml").read_text().replace("epochs: 10", f"epochs: {epochs}")
    (project / "config.yaml").write_text(config)
    return project


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _validation(project: Path, fraction: float = 0.25) -> np.ndarray:
    table = np.loadtxt(project / "data.csv", delimiter=",", skiprows=1)
    order = np.random.default_rng(0).permutation(len(table))
    return table[order[: round(len(table) * fraction)]]


def test_scaffold_model_trains_and_matches_numpy(axon, tmp_path):
    project = _project(axon, tmp_path)
    made = axon("scaffold", "model", "res_mlp", cwd=project)
    assert made.returncode == 0, made.stderr
    assert "class ResMlp(nn.Module)" in (project / "models" / "res_mlp.py").read_text()
    config = (project / "config.yaml").read_text()
    config = config.replace("  file: model.py          # build(**the other keys) makes the model\n", "")
    config = config.replace(
        "  layers: [4, 16, 3]      # an MLP: input features, hidden widths, classes\n  activation: relu\n",
        "  file: models/res_mlp.py\n  features: 4\n  hidden: 12\n  classes: 3\n  depth: 2\n",
    )
    assert "res_mlp" in config and "layers" not in config
    (project / "config.yaml").write_text(config)
    trained = axon("train", "config.yaml", "--json", cwd=project)
    assert trained.returncode == 0, trained.stderr
    assert axon("convert", "checkpoints/last.axon", "w.safetensors", cwd=project).returncode == 0
    w = {k: v.astype(np.float64) for k, v in load_file(str(project / "w.safetensors")).items()}
    assert sorted(w) == sorted([f"{m}.{p}" for m in ("inp", "blocks.0", "blocks.1", "out") for p in ("weight", "bias")])
    val = _validation(project)
    h = np.maximum(val[:, :-1].astype(np.float32) @ w["inp.weight"].T + w["inp.bias"], 0)
    for i in range(2):
        h = h + np.maximum(h @ w[f"blocks.{i}.weight"].T + w[f"blocks.{i}.bias"], 0)
    logits = h @ w["out.weight"].T + w["out.bias"]
    log_probs = logits - logits.max(1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
    want = -log_probs[np.arange(len(val)), val[:, -1].astype(int)].mean()
    evaluated = axon("eval", "checkpoints/last.axon", "--json", cwd=project)
    assert evaluated.returncode == 0, evaluated.stderr
    np.testing.assert_allclose(json.loads(evaluated.stdout)["loss"], want, rtol=1e-5)
    assert json.loads(trained.stdout)["epochs"][-1]["val_loss"] == json.loads(evaluated.stdout)["loss"]


def test_scaffold_dataset_and_script(axon, tmp_path):
    project = _project(axon, tmp_path, epochs=1)
    assert axon("scaffold", "dataset", "rows", cwd=project).returncode == 0
    assert axon("scaffold", "script", "predict_csv", cwd=project).returncode == 0
    dataset = _load(project / "datasets" / "rows.py").Rows()
    table = np.loadtxt(project / "data.csv", delimiter=",", skiprows=1)
    assert len(dataset) == len(table)
    for i in (0, 17, len(table) - 1):
        features, label = dataset[i]
        np.testing.assert_array_equal(features.numpy(), table[i, :-1].astype(np.float32))
        assert label == int(table[i, -1])
    from axon_data import DataLoader

    batches = list(DataLoader(dataset, batch_size=50))
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), table[:, :-1].astype(np.float32))

    assert axon("train", "config.yaml", cwd=project).returncode == 0
    np.savetxt(project / "x.csv", table[:7, :-1], delimiter=",", header="f0,f1,f2,f3", comments="")
    script = [sys.executable, "scripts/predict_csv.py", "checkpoints/last.axon", "--input", "x.csv"]
    ran = subprocess.run(script, cwd=project, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0] == "row,class,probability"
    predicted = json.loads(axon("predict", "checkpoints/last.axon", "--input", "x.csv", "--json", cwd=project).stdout)
    got = [line.split(",") for line in lines[1:]]
    assert [int(c) for _, c, _ in got] == [p["class"] for p in predicted["predictions"]]
    np.testing.assert_allclose(
        [float(p) for *_, p in got], [p["probability"] for p in predicted["predictions"]], atol=1e-6
    )

    again = axon("scaffold", "dataset", "rows", cwd=project)
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = axon("scaffold", "widget", "x", cwd=project)
    assert bad.returncode == 2 and "KIND" in bad.stderr
    outside = axon("scaffold", "model", "m", cwd=tmp_path)
    assert outside.returncode == 1 and "not a project" in outside.stderr


def test_rename_keeps_checkpoints_usable(axon, tmp_path):
    project = _project(axon, tmp_path, epochs=1)
    assert axon("train", "config.yaml", cwd=project).returncode == 0
    before = json.loads(axon("eval", "checkpoints/last.axon", "--json", cwd=project).stdout)
    renamed = axon("rename", "demo2", "--project", "demo", cwd=tmp_path)
    assert renamed.returncode == 0, renamed.stderr
    assert not project.exists() and (tmp_path / "demo2" / "config.yaml").is_file()
    assert (tmp_path / "demo2" / "README.md").read_text().splitlines()[0] == "# demo2"
    after = axon("eval", "demo2/checkpoints/last.axon", "--json", cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == before
    (tmp_path / "taken").mkdir()
    clash = axon("rename", "taken", "--project", "demo2", cwd=tmp_path)
    assert clash.returncode == 1 and "already exists" in clash.stderr


def test_zip_is_reproducible_and_leaves_caches_out(axon, tmp_path):
    project = _project(axon, tmp_path, epochs=1)
    assert axon("train", "config.yaml", cwd=project).returncode == 0
    (project / "__pycache__").mkdir()
    (project / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"\0cache")
    (project / "notes").mkdir()
    (project / "notes" / "a.txt").write_text("kept")
    (project / "stray.pyc").write_bytes(b"\0")
    first = axon("zip", "demo", "--out", "one.zip", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    for path in project.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    assert axon("zip", "demo", "--out", "two.zip", cwd=tmp_path).returncode == 0
    one, two = (tmp_path / "one.zip").read_bytes(), (tmp_path / "two.zip").read_bytes()
    assert one == two
    with zipfile.ZipFile(io.BytesIO(one)) as archive:
        names = archive.namelist()
        expected = sorted(
            f"demo/{p.relative_to(project).as_posix()}"
            for p in project.rglob("*")
            if p.is_file() and "checkpoints" not in p.parts and "__pycache__" not in p.parts and p.suffix != ".pyc"
        )
        assert names == expected and "demo/notes/a.txt" in names
        for name in names:
            assert archive.read(name) == (tmp_path / name).read_bytes()
            assert archive.getinfo(name).date_time == (1980, 1, 1, 0, 0, 0)
    (project / "data.csv").write_text((project / "data.csv").read_text() + "0,0,0,0,0\n")
    assert axon("zip", "demo", "--out", "three.zip", cwd=tmp_path).returncode == 0
    assert (tmp_path / "three.zip").read_bytes() != one
