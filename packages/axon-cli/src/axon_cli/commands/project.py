"""``axon new NAME`` / ``axon init``: a project folder with a training config, data, a model file and a README."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from .._errors import CLIError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

_CONFIG = """\
# axon train config.yaml
seed: 0
model:
  file: model.py          # build(**the other keys) makes the model
  layers: [4, 16, 3]      # an MLP: input features, hidden widths, classes
  activation: relu
data:
  path: data.csv          # numeric columns; the last one is the class label
  validation_fraction: 0.25
optimizer:
  name: AdamW
  lr: 0.01
  weight_decay: 0.0001
schedule:
  name: CosineAnnealingLR
training:
  epochs: 10
  batch_size: 16
checkpoint:
  dir: checkpoints
  every: 1                # epochs between checkpoints
"""

_MODEL = '''\
"""The model `axon train config.yaml` builds from the `model:` section (an MLP)."""

import axon_nn as nn


def build(layers: list[int], activation: str = "relu") -> nn.Module:
    blocks: list[nn.Module] = []
    for index, (width_in, width_out) in enumerate(zip(layers, layers[1:])):
        blocks.append(nn.Linear(width_in, width_out))
        if index < len(layers) - 2:
            blocks.append(nn.ReLU() if activation == "relu" else nn.Tanh())
    return nn.Sequential(*blocks)
'''

_README = """\
# {name}

An axon project.

    axon data data.csv          # preview and statistics of the data
    axon train config.yaml      # train; checkpoints go to checkpoints/
    axon resume checkpoints/last.axon
    axon eval checkpoints/last.axon
"""


def _data_csv(seed: int = 0) -> str:
    """Three separable classes of four features (so a fresh project trains to a visible result)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0, 0, 0], [3, 3, 0, 0], [0, 3, 3, 3]], dtype=np.float64)
    labels = np.repeat(np.arange(3), 40)
    features = centers[labels] + rng.normal(size=(labels.size, 4))
    rows = ["f0,f1,f2,f3,label"] + [
        ",".join(f"{v:.4f}" for v in row) + f",{label}" for row, label in zip(features, labels)
    ]
    return "\n".join(rows) + "\n"


def write_project(folder: Path, name: str) -> list[Path]:
    """The project files under ``folder`` (which must not hold them already); returns the paths written."""
    from axon_core import atomic_writer

    files = {
        "config.yaml": _CONFIG,
        "model.py": _MODEL,
        "data.csv": _data_csv(),
        "README.md": _README.format(name=name),
        ".gitignore": "checkpoints/\n__pycache__/\n",
    }
    existing = [n for n in files if (folder / n).exists()]
    if existing:
        raise CLIError(f"{folder}: already holds {', '.join(existing)}")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in files.items():
        with atomic_writer(folder / file_name) as handle:
            handle.write(text.encode())
        written.append(folder / file_name)
    return written


def new(name: str = typer.Argument(..., help="the project's name (a new folder of that name)")) -> None:
    """Create a new project folder: config.yaml, model.py, data.csv, README.md."""
    if not _NAME.match(name):
        raise typer.BadParameter(f"{name!r} is not a project name (letters, digits, _ and -)", param_hint="NAME")
    folder = Path(name)
    if folder.exists():
        raise CLIError(f"{folder}: already exists")
    for path in write_project(folder, name):
        typer.echo(f"created {path}")


def init() -> None:
    """Make the current folder a project: config.yaml, model.py, data.csv, README.md."""
    folder = Path.cwd()
    for path in write_project(folder, folder.name):
        typer.echo(f"created {path.name}")
