"""Who a request acts for."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Principal"]


@dataclass(frozen=True)
class Principal:
    """``user_id`` None for the server's own key (``AXON_API_KEY``), which acts as an admin.
    ``via``: ``"server-key"``, ``"api-key"`` or ``"jwt"``."""

    user_id: int | None
    username: str
    role: str
    via: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def can_write(self) -> bool:
        return self.role in ("admin", "user")
