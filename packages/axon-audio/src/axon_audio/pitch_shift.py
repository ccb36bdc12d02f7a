"""``PitchShift``: time-stretch by the pitch ratio with the phase vocoder, then resample back to the
original duration, as ``torchaudio.transforms.PitchShift`` and ``librosa.effects.pitch_shift``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from axon_nn import Module
from axon_nn.functional import istft, pad, stft

from ._util import as_variable, constant_like
from .resample import resample
from .spectrogram import WindowFn
from .time_stretch import phase_vocoder
from .window import hann_window

__all__ = ["PitchShift", "pitch_shift"]


def pitch_shift(
    waveform: Any,
    sample_rate: int,
    n_steps: float,
    bins_per_octave: int = 12,
    n_fft: int = 512,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: np.ndarray | None = None,
    resampling_method: str = "sinc_interp_hann",
    pad_mode: str = "reflect",
) -> Any:
    """Shift ``waveform [..., time]`` by ``n_steps`` of ``bins_per_octave`` -> ``[..., time]``.

    ``rate = 2^(-n_steps / bins_per_octave)``: the STFT is phase-vocoded by ``rate`` (duration times
    ``1 / rate``), inverted to ``round(time / rate)`` samples and resampled from
    ``sample_rate / rate`` to ``sample_rate`` Hz (librosa's rates), then trimmed or zero-padded
    to ``time``. Differentiable with the default (sinc) resampling.
    """
    win_length = win_length if win_length is not None else n_fft
    hop_length = hop_length if hop_length is not None else win_length // 4
    win = window if window is not None else hann_window(win_length)
    signal = as_variable(waveform)
    shape = tuple(signal.shape)
    flat = signal.reshape(-1, shape[-1])
    length = shape[-1]
    rate = 2.0 ** (-float(n_steps) / bins_per_octave)
    window_tensor = constant_like(win, flat)
    spec = stft(flat, n_fft, hop_length, win_length, window_tensor, True, pad_mode)
    advance = constant_like(np.linspace(0, math.pi * hop_length, n_fft // 2 + 1)[:, None], flat)
    stretched = phase_vocoder(spec, rate, advance)
    len_stretch = int(round(length / rate))
    waveform_stretch = istft(stretched, n_fft, hop_length, win_length, window_tensor, True, False, True, len_stretch)
    # librosa's rate sample_rate / rate, to a thousandth of a Hz (torchaudio truncates it to an integer,
    # which drifts the phase by up to 0.2 samples a second).
    shifted = resample(waveform_stretch, round(sample_rate * 1000 / rate), sample_rate * 1000, resampling_method)
    shifted = as_variable(shifted)
    if shifted.shape[-1] > length:
        shifted = shifted.narrow(-1, 0, length)
    elif shifted.shape[-1] < length:
        shifted = pad(shifted, (0, length - shifted.shape[-1]))
    return shifted.reshape(shape)


class PitchShift(Module):
    """``torchaudio.transforms.PitchShift``: waveform ``[..., time]`` -> the same shape, ``n_steps`` higher."""

    def __init__(
        self,
        sample_rate: int,
        n_steps: float,
        bins_per_octave: int = 12,
        n_fft: int = 512,
        win_length: int | None = None,
        hop_length: int | None = None,
        window_fn: WindowFn = hann_window,
        wkwargs: dict | None = None,
        resampling_method: str = "sinc_interp_hann",
    ) -> None:
        super().__init__()
        self.sample_rate, self.n_steps, self.bins_per_octave, self.n_fft = sample_rate, n_steps, bins_per_octave, n_fft
        self.win_length = win_length if win_length is not None else n_fft
        self.hop_length = hop_length if hop_length is not None else self.win_length // 4
        self.window = np.asarray(window_fn(self.win_length, **(wkwargs or {})), dtype=np.float64)
        self.resampling_method = resampling_method

    def forward(self, waveform: Any) -> Any:
        return pitch_shift(
            waveform,
            self.sample_rate,
            self.n_steps,
            self.bins_per_octave,
            self.n_fft,
            self.hop_length,
            self.win_length,
            self.window,
            self.resampling_method,
        )

    def extra_repr(self) -> str:
        return f"sample_rate={self.sample_rate}, n_steps={self.n_steps}, bins_per_octave={self.bins_per_octave}"
