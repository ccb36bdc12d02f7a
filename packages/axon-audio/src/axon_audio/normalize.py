"""``NormalizeAudio``: scale each signal so its peak magnitude is ``peak`` (the seed's pre-processing)."""

from __future__ import annotations

from typing import Any

from axon_nn import Module

from ._util import as_variable

__all__ = ["NormalizeAudio"]


class NormalizeAudio(Module):
    """``[..., time] -> [..., time]``: ``x * peak / max(max|x| over time, eps)`` (differentiable; a silent
    signal stays silent)."""

    def __init__(self, peak: float = 1.0, eps: float = 1e-12) -> None:
        super().__init__()
        if peak <= 0:
            raise ValueError(f"NormalizeAudio: peak must be positive, got {peak}")
        self.peak, self.eps = peak, eps

    def forward(self, waveform: Any) -> Any:
        x = as_variable(waveform)
        return x * self.peak / x.abs().amax(dim=-1, keepdim=True).clamp(min=self.eps)

    def extra_repr(self) -> str:
        return f"peak={self.peak}"
