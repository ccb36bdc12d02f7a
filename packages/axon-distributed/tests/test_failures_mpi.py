"""A rank that dies, hangs or raises mid-step makes every other rank fail, in time, with an error naming it.

Real processes: three ranks under ``python -m axon_distributed.launch`` (Open MPI with ULFM), one of
them SIGKILLed by this test while it computes, or hanging, or raising (mpi_failures.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("mpi4py", reason="needs axon-distributed[mpi]")

_spec = importlib.util.spec_from_file_location("_mpi_run", Path(__file__).with_name("_mpi_run.py"))
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)

SCRIPT = run.HERE / "mpi_failures.py"
N = 3
TIMEOUT = 4.0  # the process group's timeout, seconds


def _env(out: Path) -> dict[str, str]:
    return {**os.environ, "AXON_DISTRIBUTED_ERROR_FILE": str(out / "error{rank}.json")}


def _survivors(out: Path, victim: int) -> list[dict]:
    """Each surviving rank's error file (written whether the error was raised in the script or the
    watchdog had to end the process), with ``after``: seconds from the victim's failure to the error."""
    failed_at = float((out / "failed_at").read_text())
    reports = []
    for rank in range(N):
        if rank != victim:
            path = out / f"error{rank}.json"
            assert path.exists(), f"rank {rank} recorded no error"
            report = json.loads(path.read_text())
            reports.append({**report, "after": report["time"] - failed_at})
    return reports


@pytest.mark.parametrize("victim", [1, 0])
def test_a_rank_killed_mid_step_is_named_by_every_other_rank(tmp_path: Path, victim: int) -> None:
    cmd = [sys.executable, "-m", "axon_distributed.launch", "-n", str(N), "--timeout", "600", str(SCRIPT)]
    proc = subprocess.Popen(
        [*cmd, str(tmp_path), "external-kill", str(victim)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(tmp_path),
    )
    try:
        pid_file = tmp_path / "victim.pid"
        deadline = time.time() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert time.time() < deadline and proc.poll() is None, "the victim never reached the step"
            time.sleep(0.05)
        time.sleep(0.3)  # the others are now blocked in the step's all_reduce
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0, output
    for report in _survivors(tmp_path, victim):
        # The timeout is 10 minutes: the death itself is what ended the wait, within seconds.
        assert report["error"] == "RankFailureError", report
        assert report["ranks"] == [victim], report
        assert f"rank {victim}" in report["message"] and "all_reduce #4" in report["message"], report
        assert report["after"] < 15, report


@pytest.mark.parametrize("numel", [1000, 4_000_000])
def test_a_hung_rank_times_the_others_out_naming_it(tmp_path: Path, numel: int) -> None:
    victim = 2
    launcher = ("--timeout", str(TIMEOUT))
    proc = run.launch(N, SCRIPT, tmp_path, "hang", victim, numel, launcher=launcher, timeout=90, env=_env(tmp_path))
    assert proc.returncode != 0
    reports = _survivors(tmp_path, victim)
    timed_out = [r for r in reports if r["error"] == "CollectiveTimeoutError"]
    assert timed_out, reports  # at least one rank's own watchdog fired; the others may learn it by revocation
    for report in reports:
        assert report["ranks"] == [victim], report
        assert "never reached it" in report["message"] and "all_reduce #3" in report["message"], report
        assert TIMEOUT - 0.5 < report["after"] < TIMEOUT + 15, report


def test_a_rank_that_raises_is_named_with_its_error(tmp_path: Path) -> None:
    victim = 1
    launcher = ("--timeout", "600")
    proc = run.launch(N, SCRIPT, tmp_path, "raise", victim, launcher=launcher, timeout=90, env=_env(tmp_path))
    assert proc.returncode != 0
    assert "boom in the model's forward" in proc.stderr  # the victim's own traceback
    for report in _survivors(tmp_path, victim):
        assert report["error"] == "RankFailureError" and report["ranks"] == [victim], report
        assert "rank 1 exited on ValueError: boom in the model's forward" in report["message"], report
        assert report["after"] < 15, report
