"""``/models`` and ``/datasets``: upload (the raw body, streamed to disk, size-capped, SHA-256
checked, atomically placed), list with versions, inspect, download and delete. A user sees only
their own files (another user's id answers 404); an admin sees all."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import FileResponse
from sqlalchemy import func, select

from ..db import Artifact
from ..dependencies import DB, Caller, RowId, Writer
from ..errors import APIError
from ..security import Principal
from ..storage import KINDS, check_name, inspect_file, receive_file

__all__ = ["UPLOAD_PREFIXES", "datasets", "models"]

#: Paths whose bodies stream past the JSON body cap (their own cap is ``max_upload_bytes``).
UPLOAD_PREFIXES = ("/models", "/datasets")


def _card(a: Artifact) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "version": a.version,
        "filename": a.filename,
        "size": a.size,
        "sha256": a.sha256,
        "owner_id": a.owner_id,
        "created_at": a.created_at.isoformat(),
    }


def _make(kind: str) -> APIRouter:
    assert kind in KINDS
    router = APIRouter(prefix=f"/{kind}s", tags=["files"])

    def folder(request: Request) -> Path:
        return Path(request.app.state.config.data_dir) / "files" / kind

    def owned(db: DB, caller: Principal, artifact_id: int) -> Artifact:
        row = db.get(Artifact, artifact_id)
        if row is None or row.kind != kind or not (caller.is_admin or row.owner_id == caller.user_id):
            raise APIError(404, f"No {kind} {artifact_id}", code="not_found")
        return row

    @router.post("", status_code=201, name=f"upload_{kind}")
    async def upload(
        request: Request,
        caller: Writer,
        db: DB,
        name: str = Query(..., max_length=128),
        filename: str = Query(..., max_length=128),
        x_checksum_sha256: str | None = Header(None, pattern=r"^[0-9a-fA-F]{64}$"),
    ) -> dict[str, Any]:
        """The body is the file's bytes; ``X-Checksum-SHA256`` (optional) must match them."""
        check_name(name, "name")
        check_name(filename, "filename")
        config = request.app.state.config
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > config.max_upload_bytes:
            raise APIError(413, f"The upload is larger than {config.max_upload_bytes} bytes", code="upload_too_large")
        stored, size, sha = await receive_file(
            request.stream(), folder(request), max_bytes=config.max_upload_bytes, expected_sha256=x_checksum_sha256
        )
        last = db.execute(
            select(func.max(Artifact.version)).where(
                Artifact.owner_id.is_(None) if caller.user_id is None else Artifact.owner_id == caller.user_id,
                Artifact.kind == kind,
                Artifact.name == name,
            )
        ).scalar()
        row = Artifact(
            owner_id=caller.user_id,
            kind=kind,
            name=name,
            version=(last or 0) + 1,
            filename=filename,
            stored_as=stored,
            size=size,
            sha256=sha,
            created_at=datetime.now(UTC),
        )
        db.add(row)
        db.flush()
        return _card(row)

    @router.get("", name=f"list_{kind}s")
    def listing(caller: Caller, db: DB) -> dict[str, Any]:
        query = select(Artifact).where(Artifact.kind == kind).order_by(Artifact.name, Artifact.version)
        if not caller.is_admin:
            query = query.where(Artifact.owner_id == caller.user_id)
        return {"data": [_card(a) for a in db.execute(query).scalars()]}

    @router.get("/{artifact_id}", name=f"inspect_{kind}")
    def inspect(artifact_id: RowId, request: Request, caller: Caller, db: DB) -> dict[str, Any]:
        row = owned(db, caller, artifact_id)
        return {**_card(row), "inspect": inspect_file(folder(request) / row.stored_as, row.filename)}

    @router.get("/{artifact_id}/download", name=f"download_{kind}")
    def download(artifact_id: RowId, request: Request, caller: Caller, db: DB) -> FileResponse:
        row = owned(db, caller, artifact_id)
        headers = {"X-Checksum-SHA256": row.sha256}
        return FileResponse(folder(request) / row.stored_as, filename=row.filename, headers=headers)

    @router.delete("/{artifact_id}", name=f"delete_{kind}")
    def delete(artifact_id: RowId, request: Request, caller: Writer, db: DB) -> dict[str, Any]:
        row = owned(db, caller, artifact_id)
        path = folder(request) / row.stored_as
        db.delete(row)
        db.flush()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return {"id": artifact_id, "deleted": True}

    return router


models = _make("model")
datasets = _make("dataset")
