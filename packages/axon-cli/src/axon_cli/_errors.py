"""The error the command reports as one line (exit 1), and the lazy import that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["CLIError", "require"]


class CLIError(Exception):
    """A runtime failure the ``axon`` command prints as ``error: <message>`` and exits 1 on."""


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``; when it is not installed, CLIError naming ``pip install axon[extra]``."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name.split(".")[0]):
            raise CLIError(f"this command needs {module} (pip install axon[{extra}])") from exc
        raise
