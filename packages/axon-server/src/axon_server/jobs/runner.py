"""The job runner: one supervisor thread that starts queued jobs in worker processes
(``python -m axon_cli train CONFIG --metrics metrics.jsonl`` in the job's folder), watches them
exit, and records the outcome in the database. A worker is a separate process, so a job that
crashes (or is killed with -9) is marked failed and the server serves on.

At start, a job the database still calls ``running`` was cut off by the server stopping: it goes
back in the queue and its next worker runs ``axon resume`` from its last checkpoint (``axon
resume`` continues bit for bit), or ``axon train`` again when it had none yet.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from axon_core import atomic_writer

from ..db import Database, Job

__all__ = ["TERMINAL", "JobRunner", "last_error_line"]

log = logging.getLogger("axon_server.jobs")

TERMINAL = ("succeeded", "failed", "cancelled")
_LAUNCHER = str(Path(__file__).with_name("_launch.py"))


def last_error_line(log_path: Path, limit: int = 64 * 1024) -> str | None:
    """The last ``error: ...`` line ``axon`` printed (its one-line failure report), if any."""
    try:
        with open(log_path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - limit))
            tail = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    lines = [line.strip() for line in tail.splitlines() if line.startswith("error: ")]
    return lines[-1][len("error: ") :] if lines else None


def _checkpoint_epoch(path: Path) -> int:
    from axon_serialize import Checkpoint

    return int(Checkpoint.load(path).training.epoch)


def _truncate_metrics(path: Path, epoch: int) -> None:
    """Keep the records of the first ``epoch`` epochs: a resumed worker writes the rest again."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut off by the kill
            continue
        if isinstance(record, dict) and isinstance(record.get("epoch"), int) and record["epoch"] <= epoch:
            kept.append(line + "\n")
    with atomic_writer(path) as out:
        out.write("".join(kept).encode())


class JobRunner:
    """Runs the jobs of ``database`` whose folders live under ``root``, at most ``max_workers`` at
    once. ``max_attempts``: worker starts a job gets across server restarts before it is failed.
    :meth:`start` recovers interrupted jobs and starts the supervisor thread; :meth:`stop` stops
    the workers (their jobs stay ``running`` in the database, so the next start resumes them)."""

    def __init__(self, database: Database, root: Path, *, max_workers: int = 1, max_attempts: int = 3):
        self.database, self.root = database, Path(root)
        self.max_workers, self.max_attempts = max_workers, max_attempts
        self.poll_s = 0.2
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._signalled: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def folder(self, job: Job) -> Path:
        return self.root / job.folder

    def start(self) -> None:
        self._recover()
        self._thread = threading.Thread(target=self._run, name="axon-server-jobs", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the queue now (after a submit or a cancel)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def worker_pid(self, job_id: int) -> int | None:
        proc = self._procs.get(job_id)
        return proc.pid if proc is not None else None

    def cancel(self, job_id: int) -> str:
        """Cancel job ``job_id``: a queued job at once, a running one by SIGTERM to its worker
        (the status becomes ``cancelled`` when it has exited). Returns the status now."""
        with self._lock, self.database.session() as session:
            job = session.get(Job, job_id)
            if job.status == "queued":
                job.status, job.reason, job.finished_at = "cancelled", "cancelled before it started", _now()
            elif job.status == "running":
                job.cancel_requested = 1
            status = job.status
        self.wake()
        return status

    def _recover(self) -> None:
        with self.database.session() as session:
            for job in session.execute(select(Job).where(Job.status == "running")).scalars():
                job.pid = None
                if job.cancel_requested:
                    job.status, job.finished_at, job.reason = "cancelled", _now(), "cancelled while it ran"
                    continue
                if job.attempts >= self.max_attempts:
                    job.status, job.finished_at = "failed", _now()
                    job.reason = f"interrupted by {job.attempts} server stops; not started again"
                    continue
                last = self.folder(job) / job.checkpoint_dir / "last.axon"
                job.status = "queued"
                if last.is_file():
                    job.resume_from = str(last.relative_to(self.folder(job)))
                    job.reason = f"the server stopped while it ran; resuming from {job.resume_from}"
                else:
                    job.resume_from = None
                    job.reason = "the server stopped before its first checkpoint; starting again"

    def _run(self) -> None:
        # Workers are started from this thread only: PR_SET_PDEATHSIG ties them to it.
        try:
            while not self._stop.is_set():
                try:
                    self._reap()
                    self._signal_cancels()
                    self._launch()
                except Exception:  # a database hiccup must not end the supervisor
                    log.exception("job supervisor step failed")
                self._wake.wait(self.poll_s)
                self._wake.clear()
        finally:
            self._terminate_all()

    def _launch(self) -> None:
        with self._lock:
            free = self.max_workers - len(self._procs)
            if free <= 0:
                return
            with self.database.session() as session:
                queued = session.execute(select(Job).where(Job.status == "queued").order_by(Job.id).limit(free))
                for job in queued.scalars():
                    self._start_worker(job)

    def _start_worker(self, job: Job) -> None:
        folder = self.folder(job)
        if importlib.util.find_spec("axon_cli") is None:
            job.status, job.finished_at = "failed", _now()
            job.reason = "axon-cli is not installed on the server (pip install axon-cli): jobs run `axon train`"
            return
        if job.resume_from:
            try:
                _truncate_metrics(folder / "metrics.jsonl", _checkpoint_epoch(folder / job.resume_from))
            except Exception as exc:  # a damaged checkpoint fails its job, not the supervisor
                job.status, job.finished_at = "failed", _now()
                job.reason = f"cannot resume from {job.resume_from}: {exc}"
                return
            command = ["resume", job.resume_from]
        else:
            (folder / "metrics.jsonl").unlink(missing_ok=True)
            command = ["train", job.config_file]
        command = [sys.executable, "-m", "axon_cli", *command, "--metrics", "metrics.jsonl"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(folder / "job.log", "ab") as log_file:
            log_file.write(f"[axon-server] attempt {job.attempts + 1}: axon {' '.join(command[3:])}\n".encode())
            log_file.flush()
            try:
                proc = subprocess.Popen(
                    [sys.executable, _LAUNCHER, str(os.getpid()), *command],
                    cwd=folder,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # its own process group: cancel signals the whole worker
                )
            except OSError as exc:
                job.status, job.finished_at, job.reason = "failed", _now(), f"the worker did not start: {exc}"
                return
        self._procs[job.id] = proc
        job.status, job.pid, job.attempts = "running", proc.pid, job.attempts + 1
        job.started_at = job.started_at or _now()

    def _reap(self) -> None:
        with self._lock:
            done = {job_id: proc.returncode for job_id, proc in self._procs.items() if proc.poll() is not None}
            if not done:
                return
            with self.database.session() as session:
                for job_id, code in done.items():
                    del self._procs[job_id]
                    self._signalled.discard(job_id)
                    job = session.get(Job, job_id)
                    job.pid, job.exit_code, job.finished_at = None, code, _now()
                    if job.cancel_requested:
                        job.status, job.reason = "cancelled", "cancelled while it ran"
                    elif code == 0:
                        job.status = "succeeded"  # a reason saying how it was resumed stays
                    elif code < 0:
                        job.status = "failed"
                        job.reason = f"the worker was killed by signal {-code} ({signal.Signals(-code).name})"
                    else:
                        job.status = "failed"
                        error = last_error_line(self.folder(job) / "job.log")
                        job.reason = error or f"the worker exited with status {code} (see the job's log)"

    def _signal_cancels(self) -> None:
        with self._lock:
            running = [j for j in self._procs if j not in self._signalled]
            if not running:
                return
            with self.database.session() as session:
                wanted = select(Job.id).where(Job.id.in_(running), Job.cancel_requested == 1)
                for job_id in session.execute(wanted).scalars():
                    _kill_group(self._procs[job_id], signal.SIGTERM)
                    self._signalled.add(job_id)

    def _terminate_all(self) -> None:
        with self._lock:
            for proc in self._procs.values():
                _kill_group(proc, signal.SIGTERM)
            for proc in self._procs.values():
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    _kill_group(proc, signal.SIGKILL)
                    proc.wait()
            self._procs.clear()


def _kill_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _now() -> datetime:
    return datetime.now(UTC)
