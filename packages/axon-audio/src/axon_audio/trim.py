"""``TrimSilence``: cut leading and trailing silence, as ``librosa.effects.trim``.

A frame is silent when its mean power is more than ``top_db`` below the loudest frame's (frames of
``frame_length`` every ``hop_length`` samples, centred with zero padding); the signal is cut from the
first non-silent frame's start to the last one's end. The cut points are found in NumPy; the cut
itself is a slice, so gradients flow to the kept samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from axon_core import ShapeError
from axon_nn import Module

from ._util import as_variable, numpy_of

__all__ = ["TrimSilence", "trim_indices"]


def trim_indices(
    waveform: Any, top_db: float = 60.0, frame_length: int = 2048, hop_length: int = 512
) -> tuple[int, int]:
    """``(start, end)`` sample indices of the non-silent part of ``waveform [..., time]`` (channels pooled:
    a frame is kept when any channel is loud). The loudest frame is always kept, so all-zero audio is
    returned whole, as librosa does."""
    data = numpy_of(waveform).astype(np.float64, copy=False)
    if data.ndim == 0 or data.shape[-1] == 0:
        raise ShapeError(f"trim_indices: waveform must be [..., time] with time > 0, got {data.shape}")
    half = frame_length // 2
    padded = np.pad(data, [(0, 0)] * (data.ndim - 1) + [(half, half)])
    count = 1 + (padded.shape[-1] - frame_length) // hop_length
    index = np.arange(count)[:, None] * hop_length + np.arange(frame_length)[None, :]
    power = (np.abs(padded[..., index]) ** 2).mean(axis=-1)  # [..., frames]
    amin = 1e-10
    db = 10.0 * np.log10(np.maximum(amin, power)) - 10.0 * np.log10(max(amin, power.max()))
    loud = (db > -top_db).reshape(-1, count).any(axis=0)
    frames = np.flatnonzero(loud)
    return int(frames[0] * hop_length), int(min(data.shape[-1], (frames[-1] + 1) * hop_length))


class TrimSilence(Module):
    """``[..., time] -> [..., kept]``; ``last_index`` holds the ``(start, end)`` of the latest call."""

    def __init__(self, top_db: float = 60.0, frame_length: int = 2048, hop_length: int = 512) -> None:
        super().__init__()
        if top_db <= 0 or frame_length < 1 or hop_length < 1:
            raise ValueError(
                f"TrimSilence: need top_db > 0, frame_length >= 1, hop_length >= 1; got {top_db}, {frame_length}, "
                f"{hop_length}"
            )
        self.top_db, self.frame_length, self.hop_length = top_db, frame_length, hop_length
        self.last_index: tuple[int, int] | None = None

    def forward(self, waveform: Any) -> Any:
        x = as_variable(waveform)
        start, end = trim_indices(x, self.top_db, self.frame_length, self.hop_length)
        self.last_index = (start, end)
        return x[..., start:end]

    def extra_repr(self) -> str:
        return f"top_db={self.top_db}, frame_length={self.frame_length}, hop_length={self.hop_length}"
