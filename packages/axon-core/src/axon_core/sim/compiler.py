"""g++ compilation of kernel sources and of the signal host library, cached on disk.

The cache key hashes the translation unit, the compiler flags, every header of this package and
the compiler's version, so a change to any of them rebuilds. Libraries are written to a temporary
name and renamed into place, so concurrent processes never load a half-written file.
"""

from __future__ import annotations

import ctypes
import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from ..atomic import atomic_writer
from ..errors import KernelCompileError

__all__ = ["cache_dir", "compile_library", "compiler_version", "SIM_DIR", "BASE_FLAGS"]

SIM_DIR = Path(__file__).resolve().parent
INCLUDE_DIR = SIM_DIR / "include"
PRELUDE = SIM_DIR / "prelude.h"
BASE_FLAGS = (
    "-std=c++20",
    "-O2",
    "-fPIC",
    "-shared",
    "-pthread",
    # CUDA code puns types through pointers freely; nvcc does not exploit strict aliasing either.
    "-fno-strict-aliasing",
    # Probe every page of a large stack frame, so a fiber stack overflow hits its guard page.
    "-fstack-clash-protection",
    "-w",
)

_lock = threading.Lock()
_loaded: dict[str, ctypes.CDLL] = {}


def cache_dir() -> Path:
    """``$AXON_CACHE_DIR/sim`` when set, else ``~/.cache/axon/sim``."""
    root = os.environ.get("AXON_CACHE_DIR")
    return Path(root) / "sim" if root else Path.home() / ".cache" / "axon" / "sim"


def _compiler() -> str:
    cxx = os.environ.get("AXON_SIM_CXX", "g++")
    if shutil.which(cxx) is None:
        raise KernelCompileError(
            f"cuda-sim: the C++ compiler {cxx!r} was not found (install g++, e.g. build-essential)"
        )
    return cxx


@functools.lru_cache(maxsize=None)
def compiler_version(cxx: str) -> str:
    """The first line of ``cxx --version``."""
    result = subprocess.run([cxx, "--version"], capture_output=True, text=True, check=False)
    return result.stdout.splitlines()[0] if result.stdout else cxx


@functools.lru_cache(maxsize=1)
def _headers_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(SIM_DIR.glob("*.h")) + sorted(INCLUDE_DIR.glob("*.h")) + [SIM_DIR / "signals.cpp"]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def compile_library(
    code: str, flags: tuple[str, ...] = (), *, label: str = "kernel", prelude: bool = True
) -> ctypes.CDLL:
    """Compile ``code`` (C++; with the CUDA prelude unless ``prelude=False``) into a loaded library.

    Raises :class:`KernelCompileError` with g++'s log when it does not compile.
    """
    cxx = _compiler()
    all_flags = [*BASE_FLAGS, f"-I{INCLUDE_DIR}", f"-I{SIM_DIR}", *flags]
    key = hashlib.sha256(
        "\0".join([code, *all_flags, str(prelude), _headers_digest(), compiler_version(cxx)]).encode()
    ).hexdigest()[:32]
    with _lock:
        library = _loaded.get(key)
        if library is not None:
            return library
        directory = cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        if prelude:
            all_flags += ["-include", str(_precompiled_prelude(cxx, directory))]
        target = directory / f"{label}-{key}.so"
        if not target.exists():
            # One process builds, the others (pytest-xdist workers) wait for its result.
            with open(directory / f".{key}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not target.exists():
                    _build(cxx, code, all_flags, target, label)
        try:
            library = ctypes.CDLL(str(target))
        except OSError:
            # A damaged cache entry (a truncated copy): build it again.
            target.unlink(missing_ok=True)
            _build(cxx, code, all_flags, target, label)
            library = ctypes.CDLL(str(target))
        _loaded[key] = library
        return library


def _precompiled_prelude(cxx: str, directory: Path) -> Path:
    """A header that includes the prelude, with a precompiled ``.gch`` beside it when g++ can make one.

    Parsing the prelude's standard headers is most of the cost of compiling a small kernel
    family; g++ picks ``X.h.gch`` up for ``-include X.h`` when the flags agree, and otherwise
    (or when the PCH could not be built) reads ``X.h`` itself, so the result is the same.
    """
    flags = [*BASE_FLAGS, f"-I{INCLUDE_DIR}", f"-I{SIM_DIR}"]
    flags.remove("-shared")
    key = hashlib.sha256("\0".join([*flags, _headers_digest(), compiler_version(cxx)]).encode()).hexdigest()[:32]
    header = directory / f"prelude-{key}.h"
    precompiled = directory / f"prelude-{key}.h.gch"
    if header.exists() and precompiled.exists():
        return header
    with open(directory / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not header.exists():
            _write_atomic(header, f'#include "{PRELUDE}"\n'.encode())
        if not precompiled.exists():
            partial = directory / f".prelude-{key}.{os.getpid()}.gch"
            result = subprocess.run(
                [cxx, *flags, "-x", "c++-header", str(header), "-o", str(partial)],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode == 0:
                os.replace(partial, precompiled)
            else:
                partial.unlink(missing_ok=True)
    return header


def _write_atomic(path: Path, data: bytes) -> None:
    with atomic_writer(path) as handle:
        handle.write(data)


def _build(cxx: str, code: str, flags: list[str], target: Path, label: str) -> None:
    directory = target.parent
    fd, source_path = tempfile.mkstemp(prefix=f".{label}-", suffix=".cpp", dir=directory)
    with os.fdopen(fd, "w") as handle:
        handle.write(code)
    partial = Path(source_path).with_suffix(".so.partial")
    try:
        result = subprocess.run(
            [cxx, *flags, "-x", "c++", source_path, "-o", str(partial)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            log = "\n".join(result.stderr.splitlines()[:60])
            raise KernelCompileError(f"cuda-sim: g++ could not compile {label}:\n{log}")
        with open(partial, "rb") as built:
            os.fsync(built.fileno())
        os.replace(partial, target)
    finally:
        os.unlink(source_path)
        if partial.exists():
            partial.unlink()
