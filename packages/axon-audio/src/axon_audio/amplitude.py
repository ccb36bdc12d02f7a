"""``AmplitudeToDB``: power or magnitude spectrograms to decibels, as torchaudio (and ``librosa.power_to_db``)."""

from __future__ import annotations

import math
from typing import Any

from axon_nn import Module

from ._util import as_variable

__all__ = ["AmplitudeToDB", "amplitude_to_DB"]


def amplitude_to_DB(x: Any, multiplier: float, amin: float, db_multiplier: float, top_db: float | None = None) -> Any:
    """``multiplier * log10(max(x, amin)) - multiplier * db_multiplier``; ``top_db`` floors each
    ``[channel, freq, time]`` block (the last three dims; the whole of a 1-d/2-d input) at its maximum
    minus ``top_db``, as torchaudio (the floor depends on the maximum, and so does the gradient)."""
    x = as_variable(x)
    x_db = x.clamp(min=amin).log10() * multiplier - multiplier * db_multiplier
    if top_db is not None:
        # torchaudio packs the channel dim with the spectrogram: [..., channel, freq, time] shares one floor.
        dims = tuple(range(max(0, x_db.ndim - 3), x_db.ndim)) if x_db.ndim > 2 else tuple(range(x_db.ndim))
        floor = x_db.amax(dim=dims, keepdim=True) - top_db
        x_db = x_db.maximum(floor.expand(*x_db.shape))
    return x_db


class AmplitudeToDB(Module):
    """``torchaudio.transforms.AmplitudeToDB``: ``stype`` ``"power"`` (10 log10) or ``"magnitude"`` (20 log10),
    relative to ``ref`` 1, values below ``amin`` 1e-10 clamped, optional ``top_db`` floor."""

    def __init__(
        self, stype: str = "power", top_db: float | None = None, ref: float = 1.0, amin: float = 1e-10
    ) -> None:
        super().__init__()
        if stype not in ("power", "magnitude"):
            raise ValueError(f"AmplitudeToDB: stype must be 'power' or 'magnitude', got {stype!r}")
        if top_db is not None and top_db < 0:
            raise ValueError(f"AmplitudeToDB: top_db must be positive, got {top_db}")
        self.stype, self.top_db, self.amin = stype, top_db, amin
        self.multiplier = 10.0 if stype == "power" else 20.0
        self.db_multiplier = math.log10(max(amin, ref))

    def forward(self, x: Any) -> Any:
        return amplitude_to_DB(x, self.multiplier, self.amin, self.db_multiplier, self.top_db)

    def extra_repr(self) -> str:
        return f"stype={self.stype!r}, top_db={self.top_db}"
