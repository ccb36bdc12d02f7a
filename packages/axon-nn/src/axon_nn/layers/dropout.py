"""Dropout layers: active in training mode, the identity in eval mode."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..module import Module

__all__ = ["Dropout", "Dropout2d", "AlphaDropout"]


class _Dropout(Module):
    _fn = staticmethod(F.dropout)

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, input: Any) -> Any:
        return type(self)._fn(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout(_Dropout):
    """Zero elements with probability ``p``, scale the rest by ``1 / (1 - p)``."""


class Dropout2d(_Dropout):
    """Zero whole channels of ``[N, C, H, W]`` with probability ``p``."""

    _fn = staticmethod(F.dropout2d)


class AlphaDropout(_Dropout):
    """Dropout for SELU networks: keeps zero mean and unit variance."""

    _fn = staticmethod(F.alpha_dropout)
