"""``TimeStretch``: the phase vocoder, as ``torchaudio.transforms.TimeStretch`` and ``librosa.phase_vocoder``.

Frames are read at steps of ``rate``; each output frame's magnitude interpolates linearly between its
two neighbours and its phase accumulates their (wrapped) phase difference, so the frequencies stay
and the duration changes by ``1 / rate``. Pairs ``[..., freq, time, 2]`` in and out; differentiable
(the phase comes from ``atan2``, whose gradient is undefined at an exactly-zero bin).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from axon_autograd import cat, stack
from axon_core import ShapeError
from axon_nn import Module
from axon_nn.functional import complex_abs, pad

from ._util import as_variable, constant_like

__all__ = ["TimeStretch", "phase_vocoder"]


def phase_vocoder(complex_specgrams: Any, rate: float, phase_advance: Any) -> Any:
    """``torchaudio.functional.phase_vocoder``: pairs ``[..., freq, time, 2]`` -> ``[..., freq, ceil(time / rate), 2]``.

    ``phase_advance`` ``[freq, 1]`` is the expected phase step per hop of each bin,
    ``linspace(0, pi * hop_length, freq)``.
    """
    if rate <= 0:
        raise ValueError(f"phase_vocoder: rate must be positive, got {rate}")
    spec = as_variable(complex_specgrams)
    if spec.ndim < 3 or spec.shape[-1] != 2:
        raise ShapeError(f"phase_vocoder: expected complex pairs [..., freq, time, 2], got {tuple(spec.shape)}")
    if rate == 1.0:
        return spec
    frames = spec.shape[-2]
    time_steps = np.arange(0, frames, rate, dtype=np.float64)
    alphas = constant_like(time_steps % 1.0, spec)
    advance = as_variable(phase_advance).reshape(-1, 1)
    phase_0 = spec.narrow(-2, 0, 1).select(-1, 1).atan2(spec.narrow(-2, 0, 1).select(-1, 0))
    padded = pad(spec, (0, 0, 0, 2))
    floor = time_steps.astype(np.int64)
    spec_0 = padded.index_select(-2, constant_like(floor, spec).long())
    spec_1 = padded.index_select(-2, constant_like(floor + 1, spec).long())
    angle_0 = spec_0.select(-1, 1).atan2(spec_0.select(-1, 0))
    angle_1 = spec_1.select(-1, 1).atan2(spec_1.select(-1, 0))
    phase = angle_1 - angle_0 - advance
    phase = phase - (phase / (2 * math.pi)).round() * (2 * math.pi)
    phase = phase + advance
    phase_acc = cat([phase_0, phase.narrow(-1, 0, phase.shape[-1] - 1)], dim=-1).cumsum(-1)
    mag = alphas * complex_abs(spec_1) + (1.0 - alphas) * complex_abs(spec_0)
    return stack([mag * phase_acc.cos(), mag * phase_acc.sin()], dim=-1)


class TimeStretch(Module):
    """``torchaudio.transforms.TimeStretch``: stretch complex pairs ``[..., n_freq, time, 2]`` in time by
    ``1 / rate`` (``fixed_rate``, or ``overriding_rate`` per call). ``hop_length`` defaults to ``n_freq - 1``
    (the hop of an ``n_fft = 2 (n_freq - 1)`` STFT at half overlap)."""

    def __init__(self, hop_length: int | None = None, n_freq: int = 201, fixed_rate: float | None = None) -> None:
        super().__init__()
        self.n_freq, self.fixed_rate = n_freq, fixed_rate
        self.hop_length = hop_length if hop_length is not None else n_freq - 1
        self.phase_advance = np.linspace(0, math.pi * self.hop_length, n_freq)[:, None]

    def forward(self, complex_specgrams: Any, overriding_rate: float | None = None) -> Any:
        rate = overriding_rate if overriding_rate is not None else self.fixed_rate
        if rate is None:
            raise ValueError("TimeStretch: give fixed_rate at construction or overriding_rate in the call")
        spec = as_variable(complex_specgrams)
        if spec.ndim < 3 or spec.shape[-3] != self.n_freq:
            raise ShapeError(f"TimeStretch: expected pairs [..., {self.n_freq}, time, 2], got {tuple(spec.shape)}")
        return phase_vocoder(spec, rate, constant_like(self.phase_advance, spec))

    def extra_repr(self) -> str:
        return f"hop_length={self.hop_length}, n_freq={self.n_freq}, fixed_rate={self.fixed_rate}"
