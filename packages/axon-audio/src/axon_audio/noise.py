"""``AddNoise``: add noise scaled to a signal-to-noise ratio in dB, as ``torchaudio.transforms.AddNoise``;
without a noise signal, Gaussian noise (the seed's) is drawn from the module's generator."""

from __future__ import annotations

from typing import Any

import numpy as np

from axon_core import ShapeError
from axon_nn import Module

from ._util import as_variable, constant_like

__all__ = ["AddNoise", "add_noise"]


def add_noise(waveform: Any, noise: Any, snr: Any) -> Any:
    """``waveform [..., L] + scale * noise [..., L]`` with ``scale`` per row so that
    ``10 log10(|waveform|^2 / |scale noise|^2) = snr`` (``snr [...]`` in dB, or a number)."""
    signal, noise = as_variable(waveform), as_variable(noise)
    if tuple(signal.shape) != tuple(noise.shape):
        raise ShapeError(f"add_noise: waveform {tuple(signal.shape)} and noise {tuple(noise.shape)} differ")
    snr = as_variable(snr if not isinstance(snr, (int, float)) else constant_like(np.array(float(snr)), signal))
    energy_signal = (signal * signal).sum(-1)
    energy_noise = (noise * noise).sum(-1)
    original_snr_db = (energy_signal.log10() - energy_noise.log10()) * 10.0
    scale = (10.0 ** ((original_snr_db - snr) / 20.0)).unsqueeze(-1)
    return signal + noise * scale


class AddNoise(Module):
    """``forward(waveform [..., L], noise [..., L] | None, snr)`` -> ``[..., L]`` at ``snr`` dB.

    ``noise=None`` draws standard Gaussian noise from ``generator`` (a ``numpy.random.Generator``; a fresh
    seed-0 one by default, so runs repeat).
    """

    def __init__(self, generator: np.random.Generator | None = None) -> None:
        super().__init__()
        self.generator = generator if generator is not None else np.random.default_rng(0)

    def forward(self, waveform: Any, noise: Any = None, snr: Any = 20.0) -> Any:
        if noise is None:
            noise = constant_like(self.generator.standard_normal(tuple(waveform.shape)), as_variable(waveform))
        return add_noise(waveform, noise, snr)
