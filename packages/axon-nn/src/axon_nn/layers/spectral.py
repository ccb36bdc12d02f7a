"""Spectral layers: ``FFT1d``, ``STFT``, ``ISTFT`` (complex values as real/imag pairs ``[..., 2]``)."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..module import Module

__all__ = ["FFT1d", "STFT", "ISTFT"]

_KINDS = {"fft": F.fft, "ifft": F.ifft, "rfft": F.rfft, "irfft": F.irfft}


class FFT1d(Module):
    """One of ``fft``/``ifft`` (pairs -> pairs), ``rfft`` (real -> pairs), ``irfft`` (pairs -> real)
    along ``dim`` (counted over the complex dims), with length ``n`` and ``norm``."""

    def __init__(self, kind: str = "fft", n: int | None = None, dim: int = -1, norm: str | None = None) -> None:
        super().__init__()
        if kind not in _KINDS:
            raise ValueError(f"FFT1d: kind must be one of {tuple(_KINDS)}, got {kind!r}")
        self.kind, self.n, self.dim, self.norm = kind, n, dim, norm

    def forward(self, input: Any) -> Any:
        return _KINDS[self.kind](input, n=self.n, dim=self.dim, norm=self.norm)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, n={self.n}, dim={self.dim}, norm={self.norm!r}"


class STFT(Module):
    """:func:`axon_nn.functional.stft` with its settings; ``window [win_length]`` is a buffer."""

    def __init__(
        self,
        n_fft: int,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: Any = None,
        center: bool = True,
        pad_mode: str = "reflect",
        normalized: bool = False,
        onesided: bool | None = None,
        output: str = "pairs",
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.center, self.pad_mode, self.normalized, self.onesided, self.output = (
            center,
            pad_mode,
            normalized,
            onesided,
            output,
        )
        self.register_buffer("window", window)

    def forward(self, input: Any) -> Any:
        return F.stft(
            input,
            self.n_fft,
            self.hop_length,
            self.win_length,
            self.window,
            self.center,
            self.pad_mode,
            self.normalized,
            self.onesided,
            self.output,
        )

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, hop_length={self.hop_length}, win_length={self.win_length}, output={self.output!r}"


class ISTFT(Module):
    """:func:`axon_nn.functional.istft` with its settings; ``window [win_length]`` is a buffer."""

    def __init__(
        self,
        n_fft: int,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: Any = None,
        center: bool = True,
        normalized: bool = False,
        onesided: bool | None = None,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.center, self.normalized, self.onesided = center, normalized, onesided
        self.register_buffer("window", window)

    def forward(self, input: Any, length: int | None = None) -> Any:
        return F.istft(
            input,
            self.n_fft,
            self.hop_length,
            self.win_length,
            self.window,
            self.center,
            self.normalized,
            self.onesided,
            length,
        )

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, hop_length={self.hop_length}, win_length={self.win_length}"
