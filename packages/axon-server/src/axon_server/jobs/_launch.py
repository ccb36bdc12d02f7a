"""Run as a script (not imported), between the server and a job's worker:
``python _launch.py SERVER_PID COMMAND...`` asks Linux to SIGKILL this process when the server
thread that started it ends (``PR_SET_PDEATHSIG``, kept across ``exec``), checks the server is
still its parent, and becomes ``COMMAND``. So a server killed with -9 leaves no worker running on
beside the one its restart starts. Only the standard library, so it starts fast."""

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def main() -> None:
    server, command = int(sys.argv[1]), sys.argv[2:]
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            sys.exit(f"axon-server worker: prctl(PR_SET_PDEATHSIG) failed (errno {ctypes.get_errno()})")
    if os.getppid() != server:  # the server died before the prctl took effect
        sys.exit("axon-server worker: the server that started this job is gone")
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
