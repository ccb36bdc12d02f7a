"""Generated kernel modules on disk, keyed by the hash of their source.

A fused group's source names everything it computes (formulas, operand layouts, dtype), so its
SHA-256 is the graph hash: ``$AXON_CACHE_DIR/jit/k<hash>.py`` (or ``~/.cache/axon/jit``) is written
once (atomically) and imported; its kernels are ``njit(cache=True)``, so Numba keeps their machine
code next to it (``__pycache__``) and a later process compiles nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
import types
from pathlib import Path

from axon_core import atomic_writer

from .errors import JitError

__all__ = ["cache_dir", "load_kernel_module"]

_loaded: dict[str, types.ModuleType] = {}
_lock = threading.Lock()


def cache_dir() -> Path:
    """``$AXON_CACHE_DIR/jit`` when set, else ``~/.cache/axon/jit``."""
    root = os.environ.get("AXON_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "axon") / "jit"


def load_kernel_module(source: str, folder: Path | None = None) -> tuple[types.ModuleType, str]:
    """The module of ``source`` (written under ``folder`` if not there yet) and its hash."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:32]
    folder = cache_dir() if folder is None else folder
    path = folder / f"k{digest}.py"
    key = f"{path}"
    with _lock:
        module = _loaded.get(key)
        if module is not None:
            return module, digest
        if not path.exists() or path.read_text() != source:
            folder.mkdir(parents=True, exist_ok=True)
            with atomic_writer(path) as handle:
                handle.write(source.encode())
        name = f"axon_jit_kernels.k{digest}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise JitError(f"axon-jit: cannot import the generated kernel module {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _loaded[key] = module
        return module, digest
