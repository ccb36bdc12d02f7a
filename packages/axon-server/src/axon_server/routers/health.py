"""``GET /health`` (the process answers) and ``GET /ready`` (models loaded; scheduler load). No auth."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..dependencies import Registry

router = APIRouter(tags=["system"])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(registry: Registry) -> dict[str, Any]:
    schedulers = {
        e.id: {"active": e.scheduler.active, "waiting": e.scheduler.waiting, **e.scheduler.stats}
        for e in registry.models.values()
        if e.scheduler is not None
    }
    return {"status": "ready", "models": sorted(registry.models), "schedulers": schedulers}
