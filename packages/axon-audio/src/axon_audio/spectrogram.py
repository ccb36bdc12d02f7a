"""``Spectrogram`` and ``InverseSpectrogram``: torchaudio's transforms over :func:`axon_nn.functional.stft`.

Complex spectrograms are axon's real/imag pairs, ``[..., freq, time, 2]`` (autograd carries real
tensors only); ``freq = n_fft // 2 + 1`` when onesided.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from axon_core import ShapeError
from axon_nn import Module
from axon_nn.functional import complex_abs, istft, pad, stft

from ._util import as_variable, constant_like
from .window import hann_window

__all__ = ["InverseSpectrogram", "Spectrogram", "spectrogram"]

WindowFn = Callable[..., np.ndarray]


def _window_norm(normalized: bool | str) -> tuple[bool, bool]:
    """(divide by the window's L2 norm, ortho FFT) for torchaudio's ``normalized`` values."""
    if normalized in (True, "window"):
        return True, False
    if normalized == "frame_length":
        return False, True
    if normalized is False:
        return False, False
    raise ValueError(f"normalized must be True, False, 'window' or 'frame_length', got {normalized!r}")


def spectrogram(
    waveform: Any,
    pad_amount: int,
    window: np.ndarray,
    n_fft: int,
    hop_length: int,
    win_length: int,
    power: float | None,
    normalized: bool | str,
    center: bool = True,
    pad_mode: str = "reflect",
    onesided: bool = True,
) -> Any:
    """``torchaudio.functional.spectrogram``: ``[..., time] -> [..., freq, frames]`` (``|X|^power``), or the
    complex pairs ``[..., freq, frames, 2]`` when ``power`` is None. ``window`` is ``[win_length]``."""
    by_window, ortho = _window_norm(normalized)
    signal = as_variable(waveform)
    shape = tuple(signal.shape)
    if len(shape) == 0:
        raise ShapeError("spectrogram: waveform must be [..., time], got a scalar")
    if pad_amount > 0:
        signal = pad(signal, (pad_amount, pad_amount))
    flat = signal.reshape(-1, signal.shape[-1])
    win = constant_like(window, flat)
    pairs = stft(flat, n_fft, hop_length, win_length, win, center, pad_mode, ortho, onesided)
    pairs = pairs.reshape(shape[:-1] + tuple(pairs.shape[1:]))
    if by_window:
        pairs = pairs / float(np.sqrt((window**2).sum()))
    if power is None:
        return pairs
    # re² + im² from the two halves: a sum over the trailing size-2 dim is a slow strided reduction.
    real, imag = pairs.select(-1, 0), pairs.select(-1, 1)
    energy = real * real + imag * imag
    if power == 2.0:
        return energy
    if power == 1.0:
        return complex_abs(pairs)
    return energy ** (power / 2.0)


class Spectrogram(Module):
    """``torchaudio.transforms.Spectrogram``: waveform ``[..., time]`` -> ``[..., n_fft // 2 + 1, frames]``.

    ``power`` 2 (power), 1 (magnitude) or None (complex pairs ``[..., freq, frames, 2]``); ``hop_length``
    defaults to ``win_length // 2``, ``win_length`` to ``n_fft``; ``window_fn(win_length, **wkwargs)``
    gives the window (Hann by default).
    """

    def __init__(
        self,
        n_fft: int = 400,
        win_length: int | None = None,
        hop_length: int | None = None,
        pad: int = 0,
        window_fn: WindowFn = hann_window,
        power: float | None = 2.0,
        normalized: bool | str = False,
        wkwargs: dict | None = None,
        center: bool = True,
        pad_mode: str = "reflect",
        onesided: bool = True,
    ) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.win_length = win_length if win_length is not None else n_fft
        self.hop_length = hop_length if hop_length is not None else self.win_length // 2
        self.pad, self.power, self.normalized = pad, power, normalized
        self.center, self.pad_mode, self.onesided = center, pad_mode, onesided
        self.window = np.asarray(window_fn(self.win_length, **(wkwargs or {})), dtype=np.float64)
        _window_norm(normalized)

    def forward(self, waveform: Any) -> Any:
        return spectrogram(
            waveform,
            self.pad,
            self.window,
            self.n_fft,
            self.hop_length,
            self.win_length,
            self.power,
            self.normalized,
            self.center,
            self.pad_mode,
            self.onesided,
        )

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, win_length={self.win_length}, hop_length={self.hop_length}, power={self.power}"


class InverseSpectrogram(Module):
    """``torchaudio.transforms.InverseSpectrogram`` (ISTFT): complex pairs ``[..., freq, frames, 2]`` ->
    waveform ``[..., time]`` (``length`` trims or pads to that many samples)."""

    def __init__(
        self,
        n_fft: int = 400,
        win_length: int | None = None,
        hop_length: int | None = None,
        pad: int = 0,
        window_fn: WindowFn = hann_window,
        normalized: bool | str = False,
        wkwargs: dict | None = None,
        center: bool = True,
        pad_mode: str = "reflect",
        onesided: bool = True,
    ) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.win_length = win_length if win_length is not None else n_fft
        self.hop_length = hop_length if hop_length is not None else self.win_length // 2
        self.pad, self.normalized, self.center, self.pad_mode, self.onesided = (
            pad,
            normalized,
            center,
            pad_mode,
            onesided,
        )
        self.window = np.asarray(window_fn(self.win_length, **(wkwargs or {})), dtype=np.float64)
        _window_norm(normalized)

    def forward(self, spectrogram: Any, length: int | None = None) -> Any:
        by_window, ortho = _window_norm(self.normalized)
        pairs = as_variable(spectrogram)
        shape = tuple(pairs.shape)
        if len(shape) < 3 or shape[-1] != 2:
            raise ShapeError(f"InverseSpectrogram: expected complex pairs [..., freq, frames, 2], got {shape}")
        if by_window:
            pairs = pairs * float(np.sqrt((self.window**2).sum()))
        flat = pairs.reshape((-1,) + shape[-3:])
        win = constant_like(self.window, flat)
        full = None if length is None else length + 2 * self.pad
        out = istft(flat, self.n_fft, self.hop_length, self.win_length, win, self.center, ortho, self.onesided, full)
        if self.pad > 0:
            out = out[:, self.pad : out.shape[-1] - self.pad]
        return out.reshape(shape[:-3] + (out.shape[-1],))

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, win_length={self.win_length}, hop_length={self.hop_length}"
