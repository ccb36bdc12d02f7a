"""``axon dataset list | add NAME PATH | remove NAME``: the registry of local datasets.

The registry is ``$AXON_HOME/datasets.json`` (``~/.axon`` without AXON_HOME): name -> ``{"path"``
(absolute), ``"kind"`` (``csv``, another suffix, or ``folder``), ``"bytes"``, ``"sha256"`` (files),
``"rows"`` (CSV rows after the header), ``"description"}``; it is rewritten atomically, so a
reader never sees half of it. ``axon data NAME`` reads a registered CSV.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import typer

from .._errors import CLIError

app = typer.Typer(
    help="List, add and remove local datasets (a registry in $AXON_HOME/datasets.json).", no_args_is_help=True
)


def axon_home() -> Path:
    """``$AXON_HOME``, or ``~/.axon``: where the CLI keeps its registry and server state."""
    return Path(os.environ.get("AXON_HOME") or Path.home() / ".axon")


def registry_path() -> Path:
    return axon_home() / "datasets.json"


def read_registry() -> dict[str, dict[str, Any]]:
    """The registered datasets, name -> entry (``{}`` with no registry yet)."""
    path = registry_path()
    if not path.is_file():
        return {}
    try:
        registry = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CLIError(f"{path}: not a JSON dataset registry ({exc})") from exc
    if not isinstance(registry, dict):
        raise CLIError(f"{path}: the dataset registry must be a JSON object")
    return registry


def _write_registry(registry: dict[str, dict[str, Any]]) -> None:
    from axon_core import atomic_writer

    with atomic_writer(registry_path()) as handle:
        handle.write((json.dumps(registry, indent=2, sort_keys=True) + "\n").encode())


def _describe(path: Path, description: str) -> dict[str, Any]:
    if path.is_dir():
        files = [p for p in path.rglob("*") if p.is_file()]
        return {
            "path": str(path),
            "kind": "folder",
            "files": len(files),
            "bytes": sum(p.stat().st_size for p in files),
            "description": description,
        }
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    entry: dict[str, Any] = {
        "path": str(path),
        "kind": path.suffix[1:].lower() or "file",
        "bytes": path.stat().st_size,
        "sha256": digest.hexdigest(),
        "description": description,
    }
    if entry["kind"] == "csv":
        from .data import read_table

        entry["rows"] = len(read_table(path)[1])
    return entry


@app.command("list")
def list_datasets(as_json: bool = typer.Option(False, "--json", help="print one JSON object")) -> None:
    """The registered datasets."""
    registry = read_registry()
    if as_json:
        typer.echo(json.dumps(registry))
        return
    if not registry:
        typer.echo(f"no datasets registered ({registry_path()})")
    for name, entry in sorted(registry.items()):
        rows = f", {entry['rows']} rows" if "rows" in entry else ""
        typer.echo(f"{name}\t{entry['kind']}\t{entry['bytes']:,} bytes{rows}\t{entry['path']}")


@app.command("add")
def add(
    name: str = typer.Argument(..., help="the dataset's name in the registry"),
    path: Path = typer.Argument(..., help="a data file or folder"),
    description: str = typer.Option("", "--description", help="a note stored with it"),
    replace: bool = typer.Option(False, "--replace", help="replace a dataset of that name"),
) -> None:
    """Register a local data file or folder under NAME."""
    if not path.exists():
        raise CLIError(f"{path}: no such file or folder")
    registry = read_registry()
    if name in registry and not replace:
        raise CLIError(f"dataset {name!r} is already registered ({registry[name]['path']}); use --replace")
    registry[name] = _describe(path.resolve(), description)
    _write_registry(registry)
    typer.echo(f"added {name}: {registry[name]['path']}")


@app.command("remove")
def remove(name: str = typer.Argument(..., help="a registered dataset's name")) -> None:
    """Unregister a dataset (its files stay where they are)."""
    registry = read_registry()
    if name not in registry:
        known = ", ".join(sorted(registry)) or "none"
        raise CLIError(f"no dataset named {name!r} (registered: {known})")
    del registry[name]
    _write_registry(registry)
    typer.echo(f"removed {name}")
