"""``axon train CONFIG``, ``axon resume CHECKPOINT``, ``axon eval CHECKPOINT``, ``axon predict CHECKPOINT``.

The config (YAML or TOML) names a model file (``build(**model)``), a CSV (numeric columns, the last
the class label), an axon-optim optimizer and scheduler, epochs, batch size and checkpointing.
Checkpoints hold the model, optimizer and scheduler state, the epoch, and the config; each epoch's
sample order comes from ``(seed, epoch)``, so a resumed run continues bit for bit.
"""

from __future__ import annotations

import importlib.util
import json
import tomllib
from pathlib import Path
from typing import Any

import typer

from .._errors import CLIError, require


def read_config(path: Path) -> dict[str, Any]:
    """The config file as a dict (``.toml`` read by tomllib, anything else as YAML)."""
    if not path.is_file():
        raise CLIError(f"{path}: no such config file")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            config = tomllib.loads(text)
        else:
            import yaml

            config = yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, Exception) as exc:
        raise CLIError(f"{path}: not a valid config ({exc})") from exc
    if not isinstance(config, dict):
        raise CLIError(f"{path}: the config must be a mapping")
    for section in ("model", "data", "optimizer", "training"):
        if not isinstance(config.get(section), dict):
            raise CLIError(f"{path}: the config lacks the {section!r} section")
    return config


def _build_model(config: dict[str, Any], root: Path) -> Any:
    spec = dict(config["model"])
    file = root / spec.pop("file", "model.py")
    if not file.is_file():
        raise CLIError(f"{file}: no such model file (model.file in the config)")
    module_spec = importlib.util.spec_from_file_location("axon_project_model", file)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not hasattr(module, "build"):
        raise CLIError(f"{file}: defines no build(...) function")
    return module.build(**spec)


def _read_data(config: dict[str, Any], root: Path) -> tuple[Any, Any, Any, Any]:
    """Features ``[N, F]`` float32 and labels ``[N]`` int64, split into train and validation rows."""
    import numpy as np

    path = root / config["data"]["path"]
    if not path.is_file():
        raise CLIError(f"{path}: no such data file (data.path in the config)")
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except ValueError as exc:
        raise CLIError(f"{path}: not a numeric CSV with a header row ({exc})") from exc
    x, y = table[:, :-1].astype(np.float32), table[:, -1].astype(np.int64)
    order = np.random.default_rng(int(config.get("seed", 0))).permutation(len(x))
    n_val = int(round(len(x) * float(config["data"].get("validation_fraction", 0.0))))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


def _project_root(recorded: Path, checkpoint: Path, config: dict[str, Any]) -> Path:
    """The project folder of a checkpoint: the one it recorded, or, when that is gone (the project
    was renamed or moved), the folder that holds the checkpoint at ``checkpoint.dir``."""
    if recorded.is_dir():
        return recorded
    depth = len(Path((config.get("checkpoint") or {}).get("dir", "checkpoints")).parts)
    return checkpoint.resolve().parents[depth]


class _Run:
    """The model, optimizer and scheduler a config describes, and the epoch loop over its data."""

    def __init__(self, config: dict[str, Any], root: Path) -> None:
        optim = require("axon_optim", "cli")
        tensor_mod = require("axon_tensor", "cli")
        self.config, self.root = config, root
        self.seed = int(config.get("seed", 0))
        tensor_mod.manual_seed(self.seed)
        self.model = _build_model(config, root)
        self.x, self.y, self.x_val, self.y_val = _read_data(config, root)
        training = config["training"]
        self.epochs, self.batch = int(training.get("epochs", 1)), int(training.get("batch_size", 32))
        opt_spec = dict(config["optimizer"])
        opt_name = opt_spec.pop("name", "AdamW")
        if not hasattr(optim, opt_name):
            raise CLIError(f"optimizer.name: axon_optim has no optimizer {opt_name!r}")
        self.optimizer = getattr(optim, opt_name)(self.model.parameters(), **opt_spec)
        self.scheduler = None
        schedule = dict(config.get("schedule") or {})
        if schedule:
            name = schedule.pop("name")
            if not hasattr(optim, name):
                raise CLIError(f"schedule.name: axon_optim has no scheduler {name!r}")
            if name == "CosineAnnealingLR":
                schedule.setdefault("T_max", self.epochs * self.steps_per_epoch)
            self.scheduler = getattr(optim, name)(self.optimizer, **schedule)
        self.state = require("axon_serialize", "cli").TrainingState()

    @property
    def steps_per_epoch(self) -> int:
        return -(-len(self.x) // self.batch)

    def train_epoch(self, on_step: Any) -> float:
        import numpy as np

        import axon_nn.functional as F
        from axon_autograd import Variable
        from axon_tensor import tensor

        order = np.random.default_rng([self.seed, self.state.epoch]).permutation(len(self.x))
        self.model.train()
        losses = []
        for start in range(0, len(order), self.batch):
            idx = order[start : start + self.batch]
            self.optimizer.zero_grad()
            loss = F.cross_entropy(self.model(Variable(tensor(self.x[idx]))), tensor(self.y[idx]))
            loss.backward()
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            losses.append(loss.item())
            self.state.step += 1
            on_step(losses[-1])
        self.state.epoch += 1
        mean = float(np.mean(losses))
        self.state.loss_history.append(mean)
        return mean

    def evaluate(self, x: Any, y: Any) -> dict[str, float]:
        """Mean cross-entropy and accuracy of the model on ``x`` ``[N, F]``, ``y`` ``[N]``."""
        import axon_nn.functional as F
        from axon_autograd import Variable, no_grad
        from axon_tensor import tensor

        self.model.eval()
        with no_grad():
            logits = self.model(Variable(tensor(x)))
            loss = F.cross_entropy(logits, tensor(y)).item()
        predicted = logits.data.numpy().argmax(axis=1)
        return {"loss": float(loss), "accuracy": float((predicted == y).mean()), "samples": int(len(y))}

    def save(self, path: Path) -> None:
        from axon_serialize import Checkpoint

        Checkpoint(
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict() if self.scheduler is not None else None,
            training=self.state,
            extra={"config": json.dumps(self.config), "root": str(self.root.resolve())},
        ).save(path)

    @classmethod
    def restore(cls, path: Path) -> "_Run":
        serialize = require("axon_serialize", "cli")
        if not path.is_file():
            raise CLIError(f"{path}: no such checkpoint")
        checkpoint = serialize.Checkpoint.load(path)
        if "config" not in checkpoint.extra:
            raise CLIError(f"{path}: a checkpoint, but not one written by axon train (no config in it)")
        config = json.loads(checkpoint.extra["config"])
        run = cls(config, _project_root(Path(checkpoint.extra["root"]), path, config))
        run.model.load_state_dict(checkpoint.model)
        run.optimizer.load_state_dict(checkpoint.optimizer)
        if run.scheduler is not None and checkpoint.scheduler is not None:
            run.scheduler.load_state_dict(checkpoint.scheduler)
        run.state = checkpoint.training
        return run


class _MetricsLog:
    """``--metrics FILE``: one JSON object per line, appended and flushed as each is made, so a
    reader (axon-server's job metrics) follows the run live: ``{"event": "step", "epoch", "step",
    "loss"}`` per optimizer step (``epoch`` 1-based, the one being trained) and ``{"event": "epoch",
    "epoch", "step", "loss", ...}`` per finished epoch (the epoch's mean loss, validation results,
    the checkpoint written)."""

    def __init__(self, path: Path | None) -> None:
        self.handle = open(path, "a", encoding="utf-8") if path is not None else None

    def write(self, record: dict[str, Any]) -> None:
        if self.handle is not None:
            self.handle.write(json.dumps(record) + "\n")
            self.handle.flush()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def _loop(run: _Run, monitor: bool, as_json: bool, metrics_path: Path | None = None) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    checkpointing = run.config.get("checkpoint") or {}
    folder = run.root / checkpointing.get("dir", "checkpoints")
    every = int(checkpointing.get("every", 1))
    dashboard = None
    if monitor:
        from axon import TrainingMonitor

        params = sum(p.numel() for p in run.model.parameters())
        dashboard = (
            TrainingMonitor(run.root.name, params)
            .total_epochs(run.epochs)
            .batch_size(run.batch)
            .launch(open_browser=True)
        )
        typer.echo(f"dashboard at {dashboard.url}", err=True)
    columns = (TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    results = []
    metrics = _MetricsLog(metrics_path)

    def on_step(loss: float) -> None:
        progress.advance(task)
        metrics.write({"event": "step", "epoch": run.state.epoch + 1, "step": run.state.step, "loss": loss})

    with Progress(*columns, transient=True, disable=as_json) as progress:
        task = progress.add_task("train", total=run.epochs * run.steps_per_epoch, epoch=run.state.epoch + 1)
        progress.update(task, completed=run.state.epoch * run.steps_per_epoch)
        while run.state.epoch < run.epochs:
            loss = run.train_epoch(on_step)
            row = {"epoch": run.state.epoch, "loss": loss}
            if len(run.y_val):
                val = run.evaluate(run.x_val, run.y_val)
                row.update(val_loss=val["loss"], val_accuracy=val["accuracy"])
                run.state.record("val_accuracy", val["accuracy"])
            progress.update(task, epoch=run.state.epoch + 1)
            if dashboard is not None:
                dashboard.log_epoch(
                    run.state.epoch, loss, extras={k: v for k, v in row.items() if k.startswith("val_")}
                )
            if run.state.epoch % every == 0 or run.state.epoch == run.epochs:
                folder.mkdir(parents=True, exist_ok=True)
                run.save(folder / f"epoch-{run.state.epoch}.axon")
                run.save(folder / "last.axon")
                row["checkpoint"] = str(folder / f"epoch-{run.state.epoch}.axon")
            results.append(row)
            metrics.write({"event": "epoch", "step": run.state.step, **row})
            if not as_json:
                text = " ".join(f"{k} {v:.6f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())
                progress.console.print(text, soft_wrap=True, highlight=False)
    metrics.close()
    if dashboard is not None:
        dashboard.set_status("done")
        dashboard.close()
    if as_json:
        typer.echo(json.dumps({"epochs": results}))


def train(
    config: Path = typer.Argument(..., help="the training config (.yaml, .yml or .toml)"),
    monitor: bool = typer.Option(False, "--monitor", help="show the run on axon's TrainingMonitor in the browser"),
    as_json: bool = typer.Option(False, "--json", help="print the per-epoch results as one JSON object"),
    metrics: Path | None = typer.Option(None, "--metrics", help="append one JSON line per step and per epoch to FILE"),
) -> None:
    """Train the model a config describes, writing checkpoints as it goes."""
    _loop(_Run(read_config(config), config.resolve().parent), monitor, as_json, metrics)


def resume(
    checkpoint: Path = typer.Argument(..., help="a checkpoint written by axon train"),
    monitor: bool = typer.Option(False, "--monitor", help="show the run on axon's TrainingMonitor in the browser"),
    as_json: bool = typer.Option(False, "--json", help="print the per-epoch results as one JSON object"),
    metrics: Path | None = typer.Option(None, "--metrics", help="append one JSON line per step and per epoch to FILE"),
) -> None:
    """Continue a run from a checkpoint; the result is the uninterrupted run's, bit for bit."""
    _loop(_Run.restore(checkpoint), monitor, as_json, metrics)


def evaluate(
    checkpoint: Path = typer.Argument(..., help="a checkpoint written by axon train"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Loss and accuracy of a checkpoint on its config's validation rows."""
    run = _Run.restore(checkpoint)
    if not len(run.y_val):
        raise CLIError(f"{checkpoint}: its config has no validation rows (data.validation_fraction)")
    result = run.evaluate(run.x_val, run.y_val)
    if as_json:
        typer.echo(json.dumps(result))
    else:
        typer.echo(f"samples {result['samples']}  loss {result['loss']:.6f}  accuracy {result['accuracy']:.4f}")


def predict(
    checkpoint: Path = typer.Argument(..., help="a checkpoint written by axon train"),
    input_csv: Path = typer.Option(..., "--input", help="a CSV of feature columns (with a header row)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """The predicted class (and its probability) of each row of a CSV."""
    import numpy as np

    from axon_autograd import Variable, no_grad
    from axon_tensor import tensor

    run = _Run.restore(checkpoint)
    if not input_csv.is_file():
        raise CLIError(f"{input_csv}: no such file")
    try:
        x = np.loadtxt(input_csv, delimiter=",", skiprows=1, ndmin=2).astype(np.float32)
    except ValueError as exc:
        raise CLIError(f"{input_csv}: not a numeric CSV with a header row ({exc})") from exc
    if x.shape[1] != run.x.shape[1]:
        raise CLIError(f"{input_csv}: {x.shape[1]} columns, the model takes {run.x.shape[1]} features")
    run.model.eval()
    with no_grad():
        logits = run.model(Variable(tensor(x))).data.numpy().astype(np.float64)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    classes = probs.argmax(axis=1)
    rows = [{"row": i, "class": int(c), "probability": float(probs[i, c])} for i, c in enumerate(classes)]
    if as_json:
        typer.echo(json.dumps({"predictions": rows}))
    else:
        for row in rows:
            typer.echo(f"{row['row']}\t{row['class']}\t{row['probability']:.4f}")
