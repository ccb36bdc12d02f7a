"""``MFCC``: the DCT-II of the log mel spectrogram, as ``torchaudio.transforms.MFCC`` (and ``librosa.feature.mfcc``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from axon_nn import Module

from ._util import constant_like
from .amplitude import AmplitudeToDB
from .mel import MelSpectrogram

__all__ = ["MFCC", "create_dct"]


def create_dct(n_mfcc: int, n_mels: int, norm: str | None) -> np.ndarray:
    """DCT-II matrix ``[n_mels, n_mfcc]`` (``x @ dct``); ``norm="ortho"`` makes it orthonormal, None is
    unscaled ``2 cos(...)``, as ``torchaudio.functional.create_dct`` and ``scipy.fft.dct(type=2)``."""
    if norm not in (None, "ortho"):
        raise ValueError(f"create_dct: norm must be None or 'ortho', got {norm!r}")
    n = np.arange(n_mels, dtype=np.float64)
    k = np.arange(n_mfcc, dtype=np.float64)[:, None]
    dct = np.cos(math.pi / n_mels * (n + 0.5) * k)
    if norm is None:
        dct = dct * 2.0
    else:
        dct[0] *= 1.0 / math.sqrt(2.0)
        dct = dct * math.sqrt(2.0 / n_mels)
    return dct.T


class MFCC(Module):
    """``torchaudio.transforms.MFCC``: waveform ``[..., time]`` -> ``[..., n_mfcc, frames]``.

    The mel spectrogram (``melkwargs`` go to :class:`MelSpectrogram`) is taken to dB with
    ``AmplitudeToDB("power", top_db=80)`` (or ``log(mel + 1e-6)`` when ``log_mels``), then DCT-II'd
    over the mel axis. Only ``dct_type=2`` exists, as in torchaudio.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_mfcc: int = 40,
        dct_type: int = 2,
        norm: str | None = "ortho",
        log_mels: bool = False,
        melkwargs: dict | None = None,
    ) -> None:
        super().__init__()
        if dct_type != 2:
            raise ValueError(f"MFCC: only DCT type 2 is supported, got dct_type={dct_type}")
        self.sample_rate, self.n_mfcc, self.dct_type, self.norm, self.log_mels = (
            sample_rate,
            n_mfcc,
            dct_type,
            norm,
            log_mels,
        )
        self.MelSpectrogram = MelSpectrogram(sample_rate=sample_rate, **(melkwargs or {}))
        if n_mfcc > self.MelSpectrogram.n_mels:
            raise ValueError(f"MFCC: n_mfcc={n_mfcc} cannot exceed n_mels={self.MelSpectrogram.n_mels}")
        self.amplitude_to_DB = AmplitudeToDB("power", top_db=80.0)
        self.dct_mat = create_dct(n_mfcc, self.MelSpectrogram.n_mels, norm)

    def forward(self, waveform: Any) -> Any:
        mel = self.MelSpectrogram(waveform)
        mel = (mel + 1e-6).log() if self.log_mels else self.amplitude_to_DB(mel)
        return mel.transpose(-1, -2).matmul(constant_like(self.dct_mat, mel)).transpose(-1, -2)

    def extra_repr(self) -> str:
        return f"sample_rate={self.sample_rate}, n_mfcc={self.n_mfcc}, norm={self.norm!r}, log_mels={self.log_mels}"
