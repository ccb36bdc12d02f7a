"""Mel filter banks (HTK and Slaney scales, Slaney area norm), ``MelScale`` and ``MelSpectrogram``, as torchaudio."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from axon_core import ShapeError
from axon_nn import Module

from ._util import as_variable, constant_like
from .spectrogram import Spectrogram, WindowFn
from .window import hann_window

__all__ = ["MelScale", "MelSpectrogram", "hz_to_mel", "mel_to_hz", "melscale_fbanks"]

_MEL_SCALES = ("htk", "slaney")
# Slaney's scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above (27 steps per factor 6.4).
_F_SP, _MIN_LOG_HZ, _LOGSTEP = 200.0 / 3, 1000.0, math.log(6.4) / 27.0


def hz_to_mel(freq: Any, mel_scale: str = "htk") -> np.ndarray:
    """Hz -> mels on the ``"htk"`` (2595 log10(1 + f/700)) or ``"slaney"`` scale."""
    f = np.asarray(freq, dtype=np.float64)
    if mel_scale == "htk":
        return 2595.0 * np.log10(1.0 + f / 700.0)
    if mel_scale != "slaney":
        raise ValueError(f"hz_to_mel: mel_scale must be one of {_MEL_SCALES}, got {mel_scale!r}")
    mels = f / _F_SP
    log_part = _MIN_LOG_HZ / _F_SP + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log_part, mels)


def mel_to_hz(mels: Any, mel_scale: str = "htk") -> np.ndarray:
    """Mels -> Hz, the inverse of :func:`hz_to_mel`."""
    m = np.asarray(mels, dtype=np.float64)
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    if mel_scale != "slaney":
        raise ValueError(f"mel_to_hz: mel_scale must be one of {_MEL_SCALES}, got {mel_scale!r}")
    min_log_mel = _MIN_LOG_HZ / _F_SP
    return np.where(m >= min_log_mel, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - min_log_mel)), _F_SP * m)


def melscale_fbanks(
    n_freqs: int,
    f_min: float,
    f_max: float,
    n_mels: int,
    sample_rate: int,
    norm: str | None = None,
    mel_scale: str = "htk",
) -> np.ndarray:
    """``torchaudio.functional.melscale_fbanks``: triangular filters ``[n_freqs, n_mels]`` (float64).

    Filter edges are ``n_mels + 2`` points equally spaced in mels between ``f_min`` and ``f_max``;
    ``norm="slaney"`` divides each triangle by its width in Hz / 2 (unit area), as librosa's default.
    """
    if norm not in (None, "slaney"):
        raise ValueError(f"melscale_fbanks: norm must be None or 'slaney', got {norm!r}")
    if not 0 <= f_min < f_max:
        raise ValueError(f"melscale_fbanks: need 0 <= f_min < f_max, got f_min={f_min}, f_max={f_max}")
    all_freqs = np.linspace(0, sample_rate // 2, n_freqs)
    m_pts = np.linspace(hz_to_mel(f_min, mel_scale), hz_to_mel(f_max, mel_scale), n_mels + 2)
    f_pts = mel_to_hz(m_pts, mel_scale)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = np.maximum(0.0, np.minimum(down, up))
    if norm == "slaney":
        fb = fb * (2.0 / (f_pts[2 : n_mels + 2] - f_pts[:n_mels]))[None, :]
    return fb


class MelScale(Module):
    """``torchaudio.transforms.MelScale``: spectrogram ``[..., n_stft, time]`` -> ``[..., n_mels, time]``."""

    def __init__(
        self,
        n_mels: int = 128,
        sample_rate: int = 16000,
        f_min: float = 0.0,
        f_max: float | None = None,
        n_stft: int = 201,
        norm: str | None = None,
        mel_scale: str = "htk",
    ) -> None:
        super().__init__()
        self.n_mels, self.sample_rate, self.f_min = n_mels, sample_rate, f_min
        self.f_max = f_max if f_max is not None else float(sample_rate // 2)
        self.norm, self.mel_scale = norm, mel_scale
        self.fb = melscale_fbanks(n_stft, self.f_min, self.f_max, n_mels, sample_rate, norm, mel_scale)

    def forward(self, specgram: Any) -> Any:
        spec = as_variable(specgram)
        if spec.ndim < 2 or spec.shape[-2] != self.fb.shape[0]:
            raise ShapeError(f"MelScale: expected [..., {self.fb.shape[0]} (n_stft), time], got {tuple(spec.shape)}")
        return spec.transpose(-1, -2).matmul(constant_like(self.fb, spec)).transpose(-1, -2)

    def extra_repr(self) -> str:
        return (
            f"n_mels={self.n_mels}, sample_rate={self.sample_rate}, f_min={self.f_min}, f_max={self.f_max}, "
            f"norm={self.norm!r}, mel_scale={self.mel_scale!r}"
        )


class MelSpectrogram(Module):
    """``torchaudio.transforms.MelSpectrogram``: waveform ``[..., time]`` -> ``[..., n_mels, frames]``.

    A :class:`Spectrogram` (``power`` 2 by default) followed by a :class:`MelScale`. ``hop_length``
    defaults to ``win_length // 2``.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 400,
        win_length: int | None = None,
        hop_length: int | None = None,
        f_min: float = 0.0,
        f_max: float | None = None,
        pad: int = 0,
        n_mels: int = 128,
        window_fn: WindowFn = hann_window,
        power: float = 2.0,
        normalized: bool | str = False,
        wkwargs: dict | None = None,
        center: bool = True,
        pad_mode: str = "reflect",
        onesided: bool | None = None,
        norm: str | None = None,
        mel_scale: str = "htk",
    ) -> None:
        super().__init__()
        self.sample_rate, self.n_fft, self.n_mels = sample_rate, n_fft, n_mels
        self.spectrogram = Spectrogram(
            n_fft,
            win_length,
            hop_length,
            pad,
            window_fn,
            power,
            normalized,
            wkwargs,
            center,
            pad_mode,
            True if onesided is None else onesided,
        )
        self.mel_scale = MelScale(n_mels, sample_rate, f_min, f_max, n_fft // 2 + 1, norm, mel_scale)

    def forward(self, waveform: Any) -> Any:
        return self.mel_scale(self.spectrogram(waveform))
