"""``axon data CSV``: a preview, per-column statistics and seeded splits of a CSV dataset.

Statistics of a numeric column: count (non-empty cells), missing, mean, std (sample, ddof=1, as
pandas' ``describe``), min, the 25/50/75 percentiles (linear interpolation, NumPy's default) and max;
of any other column: count, missing, unique and the most frequent value. A last column of integers is
also counted per class. ``--val F --test G`` split the rows as ``axon train`` does: the permutation
``numpy.random.default_rng(seed)`` gives, its first ``round(n F)`` rows the validation split, the
next ``round(n G)`` the test split, the rest the training split; each is written as a CSV (the
header and the rows' original text) atomically.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import typer

from .._errors import CLIError


def read_table(path: Path) -> tuple[list[str], list[list[str]], list[str]]:
    """``(header, rows as cells, rows as their original lines)`` of a CSV with a header row."""
    if not path.is_file():
        raise CLIError(f"{path}: no such file (or registered dataset)")
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise CLIError(f"{path}: an empty file, not a CSV with a header row")
    header = next(csv.reader([lines[0]]))
    rows = []
    for number, cells in enumerate(csv.reader(lines[1:]), 2):
        if len(cells) != len(header):
            raise CLIError(f"{path}:{number}: {len(cells)} cells, the header has {len(header)}")
        rows.append(cells)
    return header, rows, lines[1:]


def _float(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def column_stats(values: list[str]) -> dict[str, Any]:
    """The statistics of one column's cells (see the module docstring)."""
    import numpy as np

    present = [v for v in values if v.strip() != ""]
    stats: dict[str, Any] = {"count": len(present), "missing": len(values) - len(present)}
    numbers = [_float(v) for v in present]
    if present and all(n is not None for n in numbers):
        array = np.array(numbers, dtype=np.float64)
        q25, q50, q75 = np.percentile(array, [25, 50, 75])
        stats.update(
            kind="numeric",
            mean=float(array.mean()),
            std=float(array.std(ddof=1)) if len(array) > 1 else None,
            min=float(array.min()),
            p25=float(q25),
            p50=float(q50),
            p75=float(q75),
            max=float(array.max()),
        )
        if np.all(array == np.round(array)) and len(set(numbers)) <= 50:
            stats["classes"] = {str(int(k)): n for k, n in sorted(Counter(numbers).items())}
        return stats
    counts = Counter(present)
    top, freq = counts.most_common(1)[0] if counts else (None, 0)
    stats.update(kind="text", unique=len(counts), top=top, freq=freq)
    return stats


def split_rows(n: int, val: float, test: float, seed: int) -> dict[str, list[int]]:
    """Row indices of the train / val / test splits (``axon train``'s validation rows for ``val``)."""
    import numpy as np

    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise typer.BadParameter(f"--val {val} and --test {test}: each in [0, 1), together below 1")
    order = np.random.default_rng(seed).permutation(n)
    n_val, n_test = int(round(n * val)), int(round(n * test))
    return {
        "train": sorted(order[n_val + n_test :].tolist()),
        "val": sorted(order[:n_val].tolist()),
        "test": sorted(order[n_val : n_val + n_test].tolist()),
    }


def _resolve(source: str) -> Path:
    """A CSV path, or the path of a dataset registered with ``axon dataset add``."""
    path = Path(source)
    if path.exists():
        return path
    from .datasets import read_registry

    entry = read_registry().get(source)
    return Path(entry["path"]) if entry is not None else path


def data(
    source: str = typer.Argument(..., help="a CSV file (header row) or a dataset name from `axon dataset add`"),
    rows: int = typer.Option(5, "--rows", min=0, help="rows to preview"),
    val: float = typer.Option(0.0, "--val", help="fraction of rows in the validation split"),
    test: float = typer.Option(0.0, "--test", help="fraction of rows in the test split"),
    seed: int = typer.Option(0, "--seed", help="the split's permutation seed (axon train's config seed)"),
    out: Path | None = typer.Option(None, "--out", help="write train.csv, val.csv, test.csv into this folder"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Preview, per-column statistics and (with --out) seeded train/val/test splits of a CSV dataset."""
    path = _resolve(source)
    header, cells, lines = read_table(path)
    report: dict[str, Any] = {
        "path": str(path),
        "rows": len(cells),
        "columns": header,
        "preview": [dict(zip(header, row, strict=True)) for row in cells[:rows]],
        "stats": {name: column_stats([row[i] for row in cells]) for i, name in enumerate(header)},
    }
    if out is not None or val or test:
        splits = split_rows(len(cells), val, test, seed)
        report["splits"] = {name: len(idx) for name, idx in splits.items()}
        if out is not None:
            from axon_core import atomic_writer

            first_line = path.read_text().splitlines()[0]
            for name, idx in splits.items():
                if not idx and name == "test":
                    continue
                with atomic_writer(out / f"{name}.csv") as handle:
                    handle.write(("\n".join([first_line] + [lines[i] for i in idx]) + "\n").encode())
            report["written"] = sorted(str(out / f"{n}.csv") for n, idx in splits.items() if idx or n != "test")
    if as_json:
        typer.echo(json.dumps(report))
        return
    _print_report(report)


def _print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    console.print(f"{report['path']}: {report['rows']} rows, {len(report['columns'])} columns", highlight=False)
    if report["preview"]:
        preview = Table(*report["columns"], title=f"first {len(report['preview'])} rows")
        for row in report["preview"]:
            preview.add_row(*row.values())
        console.print(preview)
    stats = Table("column", "count", "missing", "mean", "std", "min", "p50", "max", "unique / top", title="statistics")

    def num(value: Any) -> str:
        return "" if value is None else f"{value:.6g}"

    for name, s in report["stats"].items():
        if s.get("kind") == "numeric":
            stats.add_row(
                name, str(s["count"]), str(s["missing"]), *(num(s[k]) for k in ("mean", "std", "min", "p50", "max")), ""
            )
        else:
            stats.add_row(name, str(s["count"]), str(s["missing"]), "", "", "", "", "", f"{s['unique']} / {s['top']}")
    console.print(stats)
    last = list(report["stats"].values())[-1]
    if "classes" in last:
        console.print("classes: " + ", ".join(f"{k}: {v}" for k, v in last["classes"].items()), highlight=False)
    if "splits" in report:
        console.print("splits: " + ", ".join(f"{k} {v}" for k, v in report["splits"].items()), highlight=False)
    for path in report.get("written", []):
        console.print(f"wrote {path}", highlight=False)
