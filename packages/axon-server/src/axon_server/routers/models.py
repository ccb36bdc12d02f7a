"""``GET /v1/models`` and ``GET /v1/models/{id}``: the models this server serves."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ..dependencies import Registry, require_auth
from ..registry import LoadedModel

router = APIRouter(prefix="/v1", tags=["inference"], dependencies=[Depends(require_auth)])


def _card(entry: LoadedModel) -> dict[str, Any]:
    return {"id": entry.id, "object": "model", "created": entry.created, "owned_by": "axon", "kind": entry.kind}


@router.get("/models")
async def list_models(registry: Registry) -> dict[str, Any]:
    return {"object": "list", "data": [_card(e) for e in registry.models.values()]}


@router.get("/models/{model_id:path}")
async def get_model(model_id: str, registry: Registry) -> dict[str, Any]:
    entry = registry.models.get(model_id) or registry.get(model_id, "generation")
    return _card(entry)
