"""Assemble PTX with ``ptxas -v`` (from the ``nvidia-cuda-nvcc-cu12`` wheel or PATH) and read its report."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from ...errors import KernelCompileError

__all__ = ["KernelResources", "assemble", "find_ptxas"]


@dataclass(frozen=True)
class KernelResources:
    """What ptxas reports for one kernel on one arch (bytes for memory)."""

    kernel: str
    arch: str
    registers: int
    spill_stores: int
    spill_loads: int
    shared_bytes: int
    stack_bytes: int


@functools.cache
def find_ptxas() -> str:
    """Path of a ptxas binary; raises :class:`KernelCompileError` when none is installed."""
    try:
        import nvidia.cuda_nvcc as nvcc_package

        for root in nvcc_package.__path__:
            candidate = os.path.join(root, "bin", "ptxas")
            if os.access(candidate, os.X_OK):
                return candidate
    except ImportError:
        pass
    found = shutil.which("ptxas")
    if found:
        return found
    raise KernelCompileError("ptxas not found: install the nvidia-cuda-nvcc-cu12 wheel or put ptxas on PATH")


_ENTRY = re.compile(r"Compiling entry function '([^']+)' for '(sm_\d+a?)'")
_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_USED = re.compile(r"Used (\d+) registers")
_SMEM = re.compile(r"(\d+) bytes smem")


def assemble(ptx: bytes, arch: str, name: str) -> tuple[list[KernelResources], list[str]]:
    """Assemble ``ptx`` for ``arch``; returns per-kernel resources and ptxas's warnings.

    Raises :class:`KernelCompileError` naming ``name`` with ptxas's output when it fails.
    """
    with tempfile.TemporaryDirectory(prefix="axon-ptxas-") as folder:
        source = os.path.join(folder, f"{name}.ptx")
        with open(source, "wb") as stream:
            stream.write(ptx)
        completed = subprocess.run(
            [
                find_ptxas(),
                f"-arch={arch}",
                "-v",
                "-warn-spills",
                "-warn-lmem-usage",
                source,
                "-o",
                os.path.join(folder, f"{name}.cubin"),
            ],
            capture_output=True,
            text=True,
        )
    report = completed.stdout + completed.stderr
    if completed.returncode != 0:
        raise KernelCompileError(f"kernel {name!r} failed to assemble for {arch}:\n{report.strip()}")
    return _parse(report, arch), [line.strip() for line in report.splitlines() if "warning" in line.lower()]


def _parse(report: str, arch: str) -> list[KernelResources]:
    rows: list[KernelResources] = []
    current: dict | None = None

    def flush() -> None:
        if current is not None:
            rows.append(KernelResources(arch=arch, **current))

    for line in report.splitlines():
        entry = _ENTRY.search(line)
        if entry:
            flush()
            current = {
                "kernel": entry.group(1),
                "registers": 0,
                "spill_stores": 0,
                "spill_loads": 0,
                "shared_bytes": 0,
                "stack_bytes": 0,
            }
            continue
        if current is None:
            continue
        frame = _FRAME.search(line)
        if frame:
            current["stack_bytes"], current["spill_stores"], current["spill_loads"] = (int(g) for g in frame.groups())
        used = _USED.search(line)
        if used:
            current["registers"] = int(used.group(1))
            smem = _SMEM.search(line)
            if smem:
                current["shared_bytes"] = int(smem.group(1))
    flush()
    return rows
