"""What ``axon_distributed.launch`` runs on each rank: the user's script, then its exit status on disk.

``python -m axon_distributed._rank [-m] SCRIPT ARGS`` runs SCRIPT as ``python SCRIPT ARGS`` would
(``__main__``, ``sys.argv``, the script's folder first on ``sys.path``) and writes the exit code to
``$AXON_DISTRIBUTED_STATUS_DIR/status{rank}``. The launcher needs it because Open MPI, told to let
the other ranks live on when one exits non-zero (so they can say which rank failed), no longer
reports the exit codes itself. A rank with no status file was killed.
"""

from __future__ import annotations

import os
import runpy
import sys
import traceback

from ._env import launcher_rank


def main() -> None:
    args = sys.argv[1:]
    module = bool(args) and args[0] == "-m"
    if module:
        args = args[1:]
    if not args:
        raise SystemExit("usage: python -m axon_distributed._rank [-m] SCRIPT [ARGS...]")
    target, sys.argv = args[0], args
    code: int = 0
    try:
        if module:
            sys.path.insert(0, os.getcwd())
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.path[0] = os.path.dirname(os.path.abspath(target))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as exit_:
        code = _exit_code(exit_.code)
        if exit_.code is not None and not isinstance(exit_.code, int):
            print(exit_.code, file=sys.stderr)
    except BaseException as error:
        sys.last_type, sys.last_value, sys.last_traceback = type(error), error, error.__traceback__
        traceback.print_exception(error)
        code = 1
    _write_status(code)
    from . import collectives

    collectives.exit_code.append(code)  # for an exit that has to skip MPI_Finalize
    sys.stdout.flush()
    sys.stderr.flush()
    # Exit through SystemExit so atexit handlers (the process group's goodbye) run.
    raise SystemExit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1


def _write_status(code: int) -> None:
    folder = os.environ.get("AXON_DISTRIBUTED_STATUS_DIR")
    found = launcher_rank()
    if not folder or found is None:
        return
    try:
        with open(os.path.join(folder, f"status{found[1]}"), "w") as handle:
            handle.write(str(code))
    except OSError:
        pass


if __name__ == "__main__":
    main()
