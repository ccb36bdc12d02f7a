"""``axon rename NEW_NAME``: rename a project: its folder and its README's title.

Checkpoints stay valid: they record the project folder, and ``axon resume``/``eval`` find a renamed
one from the checkpoint's own place in it (see ``training._Run.restore``).
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from .._errors import CLIError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def rename(
    new_name: str = typer.Argument(..., help="the project's new name (letters, digits, _ and -)"),
    project: Path = typer.Option(Path("."), "--project", help="the project folder (with config.yaml)"),
) -> None:
    """Rename a project: its folder (to a sibling NEW_NAME) and the title of its README.md."""
    from axon_core import atomic_writer

    if not _NAME.match(new_name):
        raise typer.BadParameter(
            f"{new_name!r} is not a project name (letters, digits, _ and -)", param_hint="NEW_NAME"
        )
    folder = project.resolve()
    if not (folder / "config.yaml").is_file() and not (folder / "config.toml").is_file():
        raise CLIError(f"{project}: not a project (no config.yaml)")
    target = folder.with_name(new_name)
    if target.exists():
        raise CLIError(f"{target}: already exists")
    readme = folder / "README.md"
    if readme.is_file():
        lines = readme.read_text().split("\n")
        if lines and lines[0] == f"# {folder.name}":
            lines[0] = f"# {new_name}"
            with atomic_writer(readme) as handle:
                handle.write("\n".join(lines).encode())
    folder.rename(target)
    typer.echo(f"renamed {folder} -> {target}")
