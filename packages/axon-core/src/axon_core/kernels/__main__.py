"""``python -m axon_core.kernels check [--arch sm_80,sm_90,sm_120] [--family NAME ...]``.

Compiles every kernel family with NVRTC, assembles it with ptxas, prints one row per kernel and
arch (registers, spills, shared and stack bytes) and exits 1 on any error or warning.
"""

from __future__ import annotations

import argparse
import sys

from . import REGISTRY
from .toolchain import check_kernels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m axon_core.kernels", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="compile and assemble every kernel without a GPU")
    check.add_argument("--arch", default="sm_80,sm_90,sm_120", help="comma-separated real archs (default: %(default)s)")
    check.add_argument("--family", action="append", choices=sorted(REGISTRY), help="only these families (repeatable)")
    args = parser.parse_args(argv)

    archs = [arch.strip() for arch in args.arch.split(",") if arch.strip()]
    for arch in archs:
        if not arch.startswith("sm_") or not arch[3:].isdigit():
            parser.error(f"--arch: {arch!r} is not like sm_80")
    sources = [REGISTRY[name] for name in (args.family or sorted(REGISTRY))]
    report = check_kernels(sources, archs)

    header = (
        f"{'family':<14} {'kernel':<30} {'arch':<7} {'regs':>5} "
        f"{'spill st':>9} {'spill ld':>9} {'smem':>7} {'stack':>6}"
    )
    print(header)
    print("-" * len(header))
    for family, row in sorted(report.rows, key=lambda item: (item[0], item[1].kernel, int(item[1].arch[3:]))):
        print(
            f"{family:<14} {row.kernel:<30} {row.arch:<7} {row.registers:>5} {row.spill_stores:>9} "
            f"{row.spill_loads:>9} {row.shared_bytes:>7} {row.stack_bytes:>6}"
        )
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    kernels = len({row.kernel for _, row in report.rows})
    status = "ok" if report.ok else "FAILED"
    print(
        f"{status}: {kernels} kernels in {len(sources)} families x {len(archs)} archs, "
        f"{len(report.errors)} errors, {len(report.warnings)} warnings"
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
