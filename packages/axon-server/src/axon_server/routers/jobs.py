"""``/jobs``: submit a training config (run by ``axon train`` in a worker process), list, status,
cancel, the worker's log (streamed), its step/loss records (server-sent events) and its
checkpoints (list and download). A user sees only their own jobs (another's id answers 404); an
admin sees all; read-only users cannot submit or cancel (403)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from sqlalchemy import select

from axon_core import atomic_writer

from ..db import Artifact, Database, Job
from ..dependencies import DB, Caller, RowId, Writer
from ..errors import APIError
from ..jobs import TERMINAL, JobRunner, check_submission
from ..schemas import JobCreate
from ..security import Principal
from ..storage import check_name

__all__ = ["router"]

router = APIRouter(prefix="/jobs", tags=["jobs"])

_POLL_S = 0.25
_CHUNK = 64 * 1024


def _card(job: Job) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": job.id,
        "name": job.name,
        "status": job.status,
        "reason": job.reason,
        "owner_id": job.owner_id,
        "attempts": job.attempts,
        "exit_code": job.exit_code,
        "cancel_requested": bool(job.cancel_requested),
        "config_file": job.config_file,
        "checkpoint_dir": job.checkpoint_dir,
        "created_at": when(job.created_at),
        "started_at": when(job.started_at),
        "finished_at": when(job.finished_at),
    }


def _runner(request: Request) -> JobRunner:
    return request.app.state.jobs


def _owned(db: DB, caller: Principal, job_id: int) -> Job:
    job = db.get(Job, job_id)
    if job is None or not (caller.is_admin or job.owner_id == caller.user_id):
        raise APIError(404, f"No job {job_id}", code="not_found")
    return job


def _copy_dataset(db: DB, caller: Principal, request: Request, dataset_id: int, target: Path) -> None:
    row = db.get(Artifact, dataset_id)
    if row is None or row.kind != "dataset" or not (caller.is_admin or row.owner_id == caller.user_id):
        raise APIError(404, f"No dataset {dataset_id}", param="datasets", code="not_found")
    source = Path(request.app.state.config.data_dir) / "files" / "dataset" / row.stored_as
    with open(source, "rb") as src, atomic_writer(target) as out:
        shutil.copyfileobj(src, out, _CHUNK)


@router.post("", status_code=201, name="submit_job")
def submit(body: JobCreate, request: Request, caller: Writer, db: DB) -> dict[str, Any]:
    """Store the config and its files in a new job folder and queue the job."""
    spec = check_submission(body)
    runner = _runner(request)
    folder_name = f"job-{secrets.token_hex(8)}"
    folder = runner.root / folder_name
    folder.mkdir(parents=True)
    try:
        with atomic_writer(folder / spec.config_file) as out:
            out.write(spec.config_text.encode())
        for name, text in spec.files.items():
            with atomic_writer(folder / name) as out:
                out.write(text.encode())
        for name, dataset_id in spec.datasets.items():
            _copy_dataset(db, caller, request, dataset_id, folder / name)
        database: Database = request.app.state.database
        with database.session() as session:  # committed before the runner is woken
            job = Job(
                owner_id=caller.user_id,
                name=body.name or folder_name,
                status="queued",
                config_file=spec.config_file,
                checkpoint_dir=spec.checkpoint_dir,
                folder=folder_name,
                attempts=0,
                cancel_requested=0,
                created_at=datetime.now(UTC),
            )
            session.add(job)
            session.flush()
            card = _card(job)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    runner.wake()
    return card


@router.get("", name="list_jobs")
def listing(caller: Caller, db: DB) -> dict[str, Any]:
    query = select(Job).order_by(Job.id)
    if not caller.is_admin:
        query = query.where(Job.owner_id == caller.user_id)
    return {"data": [_card(job) for job in db.execute(query).scalars()]}


@router.get("/{job_id}", name="get_job")
def status(job_id: RowId, request: Request, caller: Caller, db: DB) -> dict[str, Any]:
    """The job's card, the config it runs and the files of its folder."""
    job = _owned(db, caller, job_id)
    folder = _runner(request).folder(job)
    return {
        **_card(job),
        "config": (folder / job.config_file).read_text(encoding="utf-8"),
        "files": sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")),
    }


@router.post("/{job_id}/cancel", name="cancel_job")
def cancel(job_id: RowId, request: Request, caller: Writer, db: DB) -> dict[str, Any]:
    """A queued job is cancelled at once; a running one when its worker has stopped (SIGTERM).
    An ended job: 409."""
    job = _owned(db, caller, job_id)
    if job.status in TERMINAL:
        raise APIError(409, f"Job {job_id} has already {job.status}", code="job_finished")
    now = _runner(request).cancel(job_id)
    return {"id": job_id, "status": now, "cancel_requested": now == "running"}


def _job_state(request: Request, job_id: int) -> tuple[str, str | None]:
    database: Database = request.app.state.database
    with database.session() as session:
        job = session.get(Job, job_id)
        return job.status, job.reason


async def _follow(request: Request, job_id: int, path: Path, follow: bool) -> AsyncIterator[bytes]:
    """The bytes of ``path`` as they are written; with ``follow``, until the job has ended (or
    the client has gone), else what is there now."""
    offset = 0
    while True:
        ended = not follow or _job_state(request, job_id)[0] in TERMINAL
        # Read after the status check, so the last bytes written before the job ended are sent.
        while True:
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    chunk = f.read(_CHUNK)
            except FileNotFoundError:
                chunk = b""
            if not chunk:
                break
            offset += len(chunk)
            yield chunk
        if ended or await request.is_disconnected():
            return
        await asyncio.sleep(_POLL_S)


@router.get("/{job_id}/logs", name="job_logs")
def logs(
    job_id: RowId,
    request: Request,
    caller: Caller,
    db: DB,
    follow: bool = Query(False, description="keep the stream open until the job ends"),
) -> StreamingResponse:
    """The worker's output (stdout and stderr), streamed (chunked)."""
    job = _owned(db, caller, job_id)
    path = _runner(request).folder(job) / "job.log"
    return StreamingResponse(_follow(request, job_id, path, follow), media_type="text/plain; charset=utf-8")


async def _events(request: Request, job_id: int, path: Path, follow: bool) -> AsyncIterator[str]:
    pending = b""
    async for chunk in _follow(request, job_id, path, follow):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield f"data: {line.decode('utf-8', 'replace')}\n\n"
    state, reason = _job_state(request, job_id)
    yield f"event: end\ndata: {json.dumps({'status': state, 'reason': reason})}\n\n"


@router.get("/{job_id}/metrics", name="job_metrics")
def metrics(
    job_id: RowId,
    request: Request,
    caller: Caller,
    db: DB,
    follow: bool = Query(True, description="keep the stream open until the job ends"),
) -> StreamingResponse:
    """Server-sent events: one ``data:`` event per record the worker writes (``{"event": "step",
    "epoch", "step", "loss"}`` per optimizer step, ``{"event": "epoch", ...}`` per epoch, as
    ``axon train --metrics`` writes them), then ``event: end`` with the job's status."""
    job = _owned(db, caller, job_id)
    path = _runner(request).folder(job) / "metrics.jsonl"
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_events(request, job_id, path, follow), media_type="text/event-stream", headers=headers)


def _artifacts(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@router.get("/{job_id}/artifacts", name="job_artifacts")
def artifacts(job_id: RowId, request: Request, caller: Caller, db: DB) -> dict[str, Any]:
    """The checkpoints the job has written so far (name, size, SHA-256)."""
    job = _owned(db, caller, job_id)
    folder = _runner(request).folder(job) / job.checkpoint_dir
    return {
        "data": [
            {"name": p.name, "size": p.stat().st_size, "sha256": _sha256(p), "url": f"{request.url.path}/{p.name}"}
            for p in _artifacts(folder)
        ]
    }


@router.get("/{job_id}/artifacts/{name}", name="download_job_artifact")
def download(job_id: RowId, name: str, request: Request, caller: Caller, db: DB) -> FileResponse:
    job = _owned(db, caller, job_id)
    check_name(name, "name")
    path = _runner(request).folder(job) / job.checkpoint_dir / name
    if path not in _artifacts(path.parent):
        raise APIError(404, f"Job {job_id} has no artifact {name!r}", code="not_found")
    return FileResponse(path, filename=name, headers={"X-Checksum-SHA256": _sha256(path)})
