"""The launcher (``python -m axon_distributed.launch``, ``axon-distributed launch``), the launcher
environment, and errors before a process group exists."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import axon_distributed as dist
from axon_distributed import launch as launcher
from axon_distributed._env import launcher_rank

_spec = importlib.util.spec_from_file_location("_mpi_run", Path(__file__).with_name("_mpi_run.py"))
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)
WORLD = run.HERE / "mpi_world.py"
needs_mpi = pytest.mark.skipif(not dist.is_mpi_available(), reason="needs axon-distributed[mpi]")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_RANK": "0"},
         ("mpiexec (Open MPI)", 2, 4, 0)),
        ({"PMI_RANK": "1", "PMI_SIZE": "3"}, ("PMI", 1, 3, 0)),
        ({"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1"}, ("srun (Slurm)", 5, 8, 1)),
        ({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, ("torchrun-style", 0, 2, 0)),
        # Open MPI's variables win over Slurm's when mpiexec runs inside an allocation
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "1", "OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2"},
         ("mpiexec (Open MPI)", 1, 2, 0)),
        ({}, None),
    ],
)  # fmt: skip
def test_launcher_environment(env: dict, expected) -> None:
    assert launcher_rank(env) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [({"RANK": "x", "WORLD_SIZE": "2"}, "RANK='x'"), ({"SLURM_PROCID": "4", "SLURM_NTASKS": "4"}, "outside the world")],
)
def test_malformed_launcher_environment_names_the_variable(env: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        launcher_rank(env)


_BEFORE_INIT = """
import pytest
import axon_distributed as dist
from axon_distributed.reduce_op import as_reduce_op

assert not dist.is_initialized()
with pytest.raises(dist.DistributedError, match="not initialized; call init_process_group"):
    dist.get_rank()
with pytest.raises(dist.DistributedError, match="not initialized"):
    dist.all_reduce(None)
with pytest.raises(ValueError, match="backend 'gloo' is not available"):
    dist.init_process_group("gloo")
assert as_reduce_op("max") is dist.ReduceOp.MAX
with pytest.raises(ValueError, match="unknown reduce op 'median'"):
    as_reduce_op("median")
print("checked")
"""


def test_collectives_before_init_and_unknown_backend_or_op_raise() -> None:
    # A fresh interpreter: other tests in this process keep a world of one initialised (MPI starts once).
    done = subprocess.run([sys.executable, "-c", _BEFORE_INIT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "checked", done.stderr


@needs_mpi
def test_dry_run_builds_the_mpiexec_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "axon_distributed.launch", "-n", "64", "--timeout", "7", "--hostfile", "hosts.txt",
         "--mpiexec-arg=--map-by=node", "--dry-run", "train.py", "--lr", "0.1"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert out[0] == launcher.find_mpiexec() and out[1:3] == ["-n", "64"]
    assert "--with-ft" in out and out[out.index("--with-ft") + 1] == "ulfm"
    assert out[out.index("--hostfile") + 1] == "hosts.txt" and "--oversubscribe" not in out
    assert out[out.index("-x") + 1] == "AXON_DISTRIBUTED_TIMEOUT" and "--map-by=node" in out
    assert out[-4:] == [sys.executable, "train.py", "--lr", "0.1"]


@needs_mpi
def test_on_one_host_each_rank_runs_under_the_status_wrapper() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "axon_distributed.launch", "-n", "2", "--dry-run", "-m", "pkg.train", "--lr", "1"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert out[out.index("--runtime-options") + 1] == "error-nonzero-status=false"
    assert out[-6:] == [sys.executable, "-m", "axon_distributed._rank", "-m", "pkg.train", "--lr", "1"][-6:]


@needs_mpi
def test_the_launcher_exits_with_the_failing_ranks_code_and_names_them(tmp_path: Path) -> None:
    proc = run.launch(3, WORLD, tmp_path, "exit-code")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "axon_distributed.launch: rank 1 exited with code 3" in proc.stderr
    assert "axon_distributed.launch: rank 2 was killed" in proc.stderr
    assert "rank 0" not in proc.stderr


@needs_mpi
@pytest.mark.parametrize("command", ["module", "console-script"])
def test_launch_runs_a_script_on_every_rank(tmp_path: Path, command: str) -> None:
    if command == "module":
        proc = run.launch(2, WORLD, tmp_path, "world", "--flag", "x", launcher=("--timeout", "30"))
    else:
        script = shutil.which("axon-distributed") or str(Path(sys.executable).parent / "axon-distributed")
        cmd = [script, "launch", "-n", "2", "--timeout", "30", str(WORLD), str(tmp_path), "world", "--flag", "x"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = run.rank_reports(tmp_path, 2)
    for rank, report in enumerate(reports):
        assert report == {"rank": rank, "size": 2, "sum": [3.0, 3.0], "backend": "mpi", "timeout": "30.0",
                          "argv": ["--flag", "x"]}  # fmt: skip


@needs_mpi
def test_a_launcher_variable_that_disagrees_with_mpi_is_explained(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(WORLD), str(tmp_path), "wrong-env"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    error = run.rank_reports(tmp_path, 1)[0]["error"]
    assert "torchrun-style set rank 1 of 4, but MPI sees rank 0 of 1" in error and "srun --mpi=pmix" in error


@needs_mpi
def test_work_wait_with_a_timeout_names_the_rank_that_never_sent(tmp_path: Path) -> None:
    run.launch(2, WORLD, tmp_path, "wait-timeout")
    report = run.rank_reports(tmp_path, 1)[0]
    assert report["ranks"] == [1], report
    assert "recv from rank 1" in report["message"] and "rank 1" in report["message"], report
    assert 0.9 < report["after"] < 6, report


@needs_mpi
def test_a_sub_group_keeps_its_own_timeout(tmp_path: Path) -> None:
    run.launch(2, WORLD, tmp_path, "group-timeout")
    report = run.rank_reports(tmp_path, 1)[0]
    assert report["ranks"] == [1] and "all_reduce #1 on group 1" in report["message"], report
    assert "never reached it" in report["message"] and 0.9 < report["after"] < 6, report
