"""``axon zip``: a reproducible zip of a project, without caches and checkpoints.

Reproducible: entries sorted by path, every timestamp 1980-01-01 00:00, permissions 0644 (0755 for
executables), deflate level 9, no extra fields; so two archives of the same files are the same
bytes whatever the files' mtimes, owners or the order the file system lists them in.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import typer

from .._errors import CLIError

#: folders never archived: caches, environments, version control.
EXCLUDED_DIRS = frozenset(
    {
        "__pycache__",
        ".git",
        ".hg",
        ".venv",
        "venv",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".ipynb_checkpoints",
        ".cache",
        "axon-server-data",
    }
)
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _checkpoint_dir(folder: Path) -> str:
    """The config's checkpoint.dir (``checkpoints`` by default)."""
    from .training import read_config

    for name in ("config.yaml", "config.toml"):
        if (folder / name).is_file():
            try:
                config = read_config(folder / name)
            except CLIError:
                break
            return str((config.get("checkpoint") or {}).get("dir", "checkpoints"))
    return "checkpoints"


def project_files(folder: Path, skip: set[Path]) -> list[Path]:
    """The files of ``folder`` the archive holds, sorted by their POSIX path relative to it."""
    excluded = {(folder / _checkpoint_dir(folder)).resolve()}
    found = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = [d for d in dirs if d not in EXCLUDED_DIRS and (here / d).resolve() not in excluded]
        for name in files:
            path = here / name
            if name.endswith(EXCLUDED_SUFFIXES) or path.is_symlink() or path.resolve() in skip:
                continue
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def zip_project(
    project: Path = typer.Argument(Path("."), help="the project folder"),
    out: Path | None = typer.Option(None, "--out", help="the archive (default: NAME.zip next to the project)"),
) -> None:
    """A reproducible zip of a project (sorted, fixed timestamps), without caches and checkpoints."""
    from axon_core import atomic_writer

    folder = project.resolve()
    if not folder.is_dir():
        raise CLIError(f"{project}: no such folder")
    target = (out or folder.with_name(f"{folder.name}.zip")).resolve()
    if target.suffix != ".zip":
        raise typer.BadParameter(f"{out}: the archive must end in .zip", param_hint="--out")
    files = project_files(folder, {target})
    with atomic_writer(target) as handle, zipfile.ZipFile(handle, "w") as archive:
        for path in files:
            info = zipfile.ZipInfo(f"{folder.name}/{path.relative_to(folder).as_posix()}", date_time=_EPOCH)
            executable = path.stat().st_mode & stat.S_IXUSR
            info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the permission bits are read back
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    typer.echo(f"wrote {target} ({len(files)} files)")
