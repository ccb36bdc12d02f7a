"""``axon report METRICS``: one self-contained HTML page of a run from its log (``axon train
--metrics FILE``): the loss curves as an inline SVG, the config, the per-epoch table and the final
metrics.

The SVG maps epoch ``x`` (a step's x is ``epoch - 1 + its place in the epoch``) and loss ``y`` onto
the plot box linearly; the box and the ranges are in the ``<svg>``'s ``data-`` attributes, so the
points can be read back. Numbers in the tables are Python's shortest round-trip repr of the log's
floats. The config is the one the last epoch's checkpoint holds (``--config`` names another).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import typer

from .._errors import CLIError, require

_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 720, 360, 64, 24, 24, 44
_SERIES = {"step loss": "#9ab8d8", "train loss": "#1f5fa8", "val loss": "#d0621b"}


def read_log(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(step records, epoch records)`` of a ``--metrics`` log, each sorted and one per step / epoch."""
    if not path.is_file():
        raise CLIError(f"{path}: no such metrics log (axon train --metrics FILE writes one)")
    steps, epochs = [], []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CLIError(f"{path}:{number}: not a JSON line ({exc})") from exc
        event = record.get("event") if isinstance(record, dict) else None
        if event == "step":
            steps.append(record)
        elif event == "epoch":
            epochs.append(record)
        else:
            raise CLIError(f"{path}:{number}: not a step or epoch record")
    if not epochs:
        raise CLIError(f"{path}: no finished epoch in the log")
    # A run resumed into the same log repeats the epochs after its checkpoint: the later record wins.
    by_step = {int(r["step"]): r for r in steps}
    by_epoch = {int(r["epoch"]): r for r in epochs}
    return [by_step[k] for k in sorted(by_step)], [by_epoch[k] for k in sorted(by_epoch)]


def _points(series: list[tuple[float, float]], x1: float, y0: float, y1: float) -> str:
    def px(x: float) -> float:
        return _LEFT + (_W - _LEFT - _RIGHT) * x / x1

    def py(y: float) -> float:
        return _H - _BOTTOM - (_H - _TOP - _BOTTOM) * (y - y0) / (y1 - y0)

    return " ".join(f"{px(x):.2f},{py(y):.2f}" for x, y in series)


def loss_svg(steps: list[dict[str, Any]], epochs: list[dict[str, Any]]) -> str:
    """The SVG plot of the step losses, the epochs' mean training loss and validation loss."""
    per_epoch: dict[int, list[float]] = {}
    for record in steps:
        per_epoch.setdefault(int(record["epoch"]), []).append(float(record["loss"]))
    series: dict[str, list[tuple[float, float]]] = {"step loss": [], "train loss": [], "val loss": []}
    for epoch, losses in sorted(per_epoch.items()):
        series["step loss"] += [(epoch - 1 + (i + 1) / len(losses), v) for i, v in enumerate(losses)]
    series["train loss"] = [(float(e["epoch"]), float(e["loss"])) for e in epochs]
    series["val loss"] = [(float(e["epoch"]), float(e["val_loss"])) for e in epochs if "val_loss" in e]
    values = [y for points in series.values() for _, y in points]
    low, high = min(values), max(values)
    pad = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    y0, y1, x1 = low - pad, high + pad, float(max(e["epoch"] for e in epochs))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="loss-curve" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" data-box="{_LEFT} {_TOP} {_W - _RIGHT} {_H - _BOTTOM}" '
        f'data-x-range="0 {x1!r}" data-y-range="{y0!r} {y1!r}">',
        f'<rect x="{_LEFT}" y="{_TOP}" width="{_W - _LEFT - _RIGHT}" height="{_H - _TOP - _BOTTOM}" '
        'fill="none" stroke="#999"/>',
    ]
    for i in range(5):
        y = y0 + (y1 - y0) * i / 4
        parts.append(
            f'<text x="{_LEFT - 6}" y="{_points([(0, y)], x1, y0, y1).split(",")[1]}" '
            f'font-size="11" text-anchor="end">{y:.3g}</text>'
        )
    for epoch in range(int(x1) + 1):
        x = _points([(epoch, y0)], x1, y0, y1).split(",")[0]
        parts.append(f'<text x="{x}" y="{_H - _BOTTOM + 16}" font-size="11" text-anchor="middle">{epoch}</text>')
    parts.append(f'<text x="{(_W + _LEFT) // 2}" y="{_H - 8}" font-size="12" text-anchor="middle">epoch</text>')
    for offset, (name, colour) in enumerate(_SERIES.items()):
        if not series[name]:
            continue
        width = 1 if name == "step loss" else 2
        parts.append(
            f'<polyline data-series="{name}" fill="none" stroke="{colour}" stroke-width="{width}" '
            f'points="{_points(series[name], x1, y0, y1)}"/>'
        )
        parts.append(
            f'<text x="{_W - _RIGHT - 8}" y="{_TOP + 16 + 14 * offset}" font-size="12" fill="{colour}" '
            f'text-anchor="end">{name}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _table(table_id: str, columns: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape('' if v is None else repr(v) if isinstance(v, float) else str(v))}</td>" for v in row
        )
        + "</tr>"
        for row in rows
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _config_of(epochs: list[dict[str, Any]], config: Path | None) -> dict[str, Any] | None:
    if config is not None:
        from .training import read_config

        return read_config(config)
    checkpoint = next((e["checkpoint"] for e in reversed(epochs) if e.get("checkpoint")), None)
    if checkpoint is None or not Path(checkpoint).is_file():
        return None
    extra = require("axon_serialize", "cli").Checkpoint.load(checkpoint).extra
    return json.loads(extra["config"]) if "config" in extra else None


def render(
    metrics: Path, steps: list[dict[str, Any]], epochs: list[dict[str, Any]], config: dict[str, Any] | None
) -> str:
    """The HTML page (see the module docstring)."""
    columns = ["epoch", "step", "loss"] + [k for k in ("val_loss", "val_accuracy") if k in epochs[-1]]
    last = epochs[-1]
    final = [[k, last[k]] for k in columns] + ([["checkpoint", last["checkpoint"]]] if last.get("checkpoint") else [])
    config_text = json.dumps(config, indent=2) if config is not None else "(no config: the checkpoint is gone)"
    title = f"axon run report: {metrics.name}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}pre{background:#f6f6f6;padding:1em}</style>",
            "</head><body>",
            f"<h1>{html.escape(title)}</h1>",
            f"<p>{len(epochs)} epochs, {last['step']} optimizer steps; log {html.escape(str(metrics))}</p>",
            "<h2>Final metrics</h2>",
            _table("final", ["metric", "value"], final),
            "<h2>Loss</h2>",
            loss_svg(steps, epochs),
            "<h2>Epochs</h2>",
            _table("epochs", columns, [[e.get(c) for c in columns] for e in epochs]),
            "<h2>Config</h2>",
            f'<pre id="config">{html.escape(config_text)}</pre>',
            "</body></html>",
            "",
        ]
    )


def report(
    metrics: Path = typer.Argument(..., help="the run's log (axon train --metrics FILE)"),
    out: Path = typer.Option(Path("report.html"), "--out", help="the HTML file to write"),
    config: Path | None = typer.Option(None, "--config", help="the config to show (default: the last checkpoint's)"),
) -> None:
    """An HTML report of a run: loss curves (inline SVG), the config, per-epoch and final metrics."""
    from axon_core import atomic_writer

    steps, epochs = read_log(metrics)
    page = render(metrics, steps, epochs, _config_of(epochs, config))
    with atomic_writer(out) as handle:
        handle.write(page.encode())
    typer.echo(f"wrote {out} ({len(epochs)} epochs)")
