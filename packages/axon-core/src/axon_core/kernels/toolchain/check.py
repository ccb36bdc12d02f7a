"""The kernel check: compile every family with NVRTC and assemble it with ptxas for each arch, no GPU needed."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...errors import KernelCompileError
from .nvrtc import compile_source
from .ptxas import KernelResources, assemble

if TYPE_CHECKING:
    from ..source import KernelSource

__all__ = ["CheckReport", "check_kernels"]


@dataclass
class CheckReport:
    """Per-kernel resources, plus the errors and warnings met (empty when everything is clean)."""

    rows: list[tuple[str, KernelResources]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.warnings


def _check_one(source: KernelSource, arch: str) -> tuple[list[KernelResources], list[str], list[str]]:
    try:
        compiled = compile_source(source.source, source.family, arch, source.options, target="ptx")
        rows, warnings = assemble(compiled.image, arch, source.family)
    except KernelCompileError as exc:
        return [], [str(exc)], []
    errors = [
        f"{source.family} ({arch}): entry point {name!r} missing"
        for name in sorted(set(source.kernels) - {r.kernel for r in rows})
    ]
    notes = [f"{source.family} ({arch}) NVRTC: {compiled.log}"] if compiled.log else []
    return rows, errors, notes + [f"{source.family} ({arch}): {w}" for w in warnings]


def check_kernels(sources: list[KernelSource], archs: list[str], workers: int | None = None) -> CheckReport:
    """Compile and assemble each of ``sources`` for each of ``archs`` (in parallel threads)."""
    report = CheckReport()
    jobs = [(source, arch) for source in sources for arch in archs]
    with ThreadPoolExecutor(max_workers=workers or min(len(jobs), os.cpu_count() or 1) or 1) as pool:
        for (source, _), (rows, errors, warnings) in zip(jobs, pool.map(lambda job: _check_one(*job), jobs)):
            report.rows.extend((source.family, row) for row in rows)
            report.errors.extend(errors)
            report.warnings.extend(warnings)
    return report
