"""Log-mel features from axon-audio: ``MelSpectrogram`` (512-point FFT, hop 256, 40 mels) then
``AmplitudeToDB`` (power, 80 dB floor), standardised per mel band with the training set's statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from axon_audio import AmplitudeToDB, MelSpectrogram
from axon_autograd import no_grad
from axon_tensor import tensor

from .calls import RATE

N_MELS = 40


def log_mel(waves: np.ndarray, batch: int = 256) -> np.ndarray:
    """``waves [n, samples]`` -> log-mel ``[n, 1, N_MELS, frames]`` float32 in dB."""
    mel = MelSpectrogram(RATE, n_fft=512, hop_length=256, n_mels=N_MELS)
    to_db = AmplitudeToDB("power", top_db=80.0)
    out = []
    with no_grad():
        for start in range(0, len(waves), batch):
            out.append(to_db(mel(tensor(waves[start : start + batch]))).numpy())
    return np.concatenate(out)[:, None].astype(np.float32)


@dataclass(frozen=True)
class Standardizer:
    """Per-mel-band mean and standard deviation ``[1, N_MELS, 1]`` of a training set."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray) -> "Standardizer":
        return cls(features.mean(axis=(0, 3))[..., None], features.std(axis=(0, 3))[..., None] + 1e-6)

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.std).astype(np.float32)
