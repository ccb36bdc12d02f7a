"""``axon scaffold KIND NAME``: add a model, a dataset or a script to a project from a template.

- ``model``: ``models/NAME.py``, a residual MLP with ``build(features, hidden, classes, depth)`` that
  ``axon train`` builds when the config says ``model.file: models/NAME.py``.
- ``dataset``: ``datasets/NAME.py``, an :class:`axon_data.Dataset` over a numeric CSV (the last
  column the class label), rows as ``(features [F] float32 tensor, label int)``.
- ``script``: ``scripts/NAME.py``, a prediction script: a checkpoint of ``axon train`` and a CSV of
  features in, ``row,class,probability`` lines out.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from .._errors import CLIError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_MODEL = '''\
"""{name}: a residual MLP for `axon train` (in the config: model.file: models/{name}.py)."""

import axon_nn as nn


class {cls}(nn.Module):
    """x [batch, features] -> logits [batch, classes]: Linear, ReLU, then ``depth`` residual
    blocks h + ReLU(Linear(h)), then a Linear head."""

    def __init__(self, features: int, hidden: int, classes: int, depth: int) -> None:
        super().__init__()
        self.inp = nn.Linear(features, hidden)
        self.blocks = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(depth)])
        self.act = nn.ReLU()
        self.out = nn.Linear(hidden, classes)

    def forward(self, x):
        h = self.act(self.inp(x))
        for block in self.blocks:
            h = h + self.act(block(h))
        return self.out(h)


def build(features: int = 4, hidden: int = 32, classes: int = 3, depth: int = 2) -> nn.Module:
    return {cls}(features, hidden, classes, depth)
'''

_DATASET = '''\
"""{name}: the rows of a numeric CSV (a header row; the last column the class label) as a Dataset."""

from pathlib import Path

import numpy as np

from axon_data import Dataset
from axon_tensor import tensor


class {cls}(Dataset):
    """Item i: (features [F] float32 tensor, label int) of row i of ``path``."""

    def __init__(self, path: str | Path = Path(__file__).resolve().parent.parent / "data.csv") -> None:
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
        self.features = table[:, :-1].astype(np.float32)
        self.labels = table[:, -1].astype(np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return tensor(self.features[index]), int(self.labels[index])
'''

_SCRIPT = '''\
"""{name}: predictions of a checkpoint of `axon train` on a CSV of features.

    python scripts/{name}.py checkpoints/last.axon --input x.csv > predictions.csv

Prints ``row,class,probability`` lines (the class of highest softmax probability).
"""

import argparse
import importlib.util
import json
from pathlib import Path

import numpy as np

from axon_autograd import Variable, no_grad
from axon_serialize import Checkpoint
from axon_tensor import tensor

ROOT = Path(__file__).resolve().parent.parent


def build_model(config: dict):
    spec = dict(config["model"])
    file = ROOT / spec.pop("file", "model.py")
    module_spec = importlib.util.spec_from_file_location("project_model", file)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.build(**spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--input", required=True, help="a CSV of feature columns with a header row")
    args = parser.parse_args()
    checkpoint = Checkpoint.load(args.checkpoint)
    model = build_model(json.loads(checkpoint.extra["config"]))
    model.load_state_dict(checkpoint.model)
    model.eval()
    x = np.loadtxt(args.input, delimiter=",", skiprows=1, ndmin=2).astype(np.float32)
    with no_grad():
        logits = model(Variable(tensor(x))).data.numpy().astype(np.float64)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    print("row,class,probability")
    for row, p in enumerate(probs):
        print(f"{{row}},{{int(p.argmax())}},{{p.max():.6f}}")


if __name__ == "__main__":
    main()
'''

TEMPLATES = {"model": ("models", _MODEL), "dataset": ("datasets", _DATASET), "script": ("scripts", _SCRIPT)}


def _class_name(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or "Model"


def scaffold(
    kind: str = typer.Argument(..., help="what to add: model, dataset or script"),
    name: str = typer.Argument(..., help="its name (a Python identifier): the file is KIND-folder/NAME.py"),
    project: Path = typer.Option(Path("."), "--project", help="the project folder (with config.yaml)"),
) -> None:
    """Add a model, a dataset or a script to a project from a template."""
    from axon_core import atomic_writer

    if kind not in TEMPLATES:
        raise typer.BadParameter(f"{kind!r} is not one of {', '.join(TEMPLATES)}", param_hint="KIND")
    if not _NAME.match(name):
        raise typer.BadParameter(f"{name!r} is not a Python identifier", param_hint="NAME")
    if not (project / "config.yaml").is_file() and not (project / "config.toml").is_file():
        raise CLIError(f"{project}: not a project (no config.yaml); run `axon init` there first")
    folder, template = TEMPLATES[kind]
    path = project / folder / f"{name}.py"
    if path.exists():
        raise CLIError(f"{path}: already exists")
    with atomic_writer(path) as handle:
        handle.write(template.format(name=name, cls=_class_name(name)).encode())
    typer.echo(f"created {path}")
