"""``/users`` (admin only): create, list and delete users."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy import select

from ..db import User
from ..dependencies import DB, RowId, require_admin
from ..errors import APIError
from ..schemas import UserCreate
from ..security import Principal, hash_password

router = APIRouter(prefix="/users", tags=["auth"])
Admin = Annotated[Principal, Depends(require_admin)]


def _card(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "role": user.role, "created_at": user.created_at.isoformat()}


@router.post("", status_code=201)
def create_user(body: UserCreate, _: Admin, db: DB) -> dict[str, Any]:
    if db.execute(select(User).where(User.username == body.username)).scalar_one_or_none() is not None:
        raise APIError(409, f"The user {body.username!r} exists already", param="username", code="user_exists")
    user = User(
        username=body.username, password_hash=hash_password(body.password), role=body.role, created_at=datetime.now(UTC)
    )
    db.add(user)
    db.flush()
    return _card(user)


@router.get("")
def list_users(_: Admin, db: DB) -> dict[str, Any]:
    return {"data": [_card(u) for u in db.execute(select(User).order_by(User.id)).scalars()]}


@router.delete("/{user_id}")
def delete_user(user_id: RowId, _: Admin, db: DB) -> dict[str, Any]:
    user = db.get(User, user_id)
    if user is None:
        raise APIError(404, f"No user {user_id}", code="not_found")
    db.delete(user)
    return {"id": user_id, "deleted": True}
