"""Resampling between sample rates: soxr (polyphase, librosa's default quality) or differentiable interpolation.

Methods (``resampling_method``):

- ``"soxr_vhq"``, ``"soxr_hq"`` (default), ``"soxr_mq"``, ``"soxr_lq"``: the soxr library's polyphase
  resampler at that quality, as ``librosa.resample(res_type=...)``. NumPy in, no gradient.
- ``"sinc_interp_hann"``, ``"sinc_interp_kaiser"``: band-limited (windowed-sinc) interpolation at each
  output instant, torchaudio's methods and parameters (``lowpass_filter_width`` zero crossings,
  ``rolloff`` of the lower Nyquist, Kaiser ``beta``), for any ratio. Written as a gather and a
  weighted sum of axon ops, so gradients flow to the input.
- ``"kaiser_best"``, ``"kaiser_fast"``: ``sinc_interp_kaiser`` with the parameters of librosa's (resampy's)
  filters of those names (64 zero crossings, rolloff 0.9476, beta 14.77; 16, 0.85, 8.56), differentiable.
- ``"linear"``: the seed's linear interpolation between neighbouring samples (differentiable; aliases
  when downsampling, kept for compatibility).

Output length is ``ceil(frames * new_freq / orig_freq)``, as torchaudio and librosa.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from axon_autograd import Variable
from axon_core import ShapeError
from axon_nn import Module

from ._util import as_variable, constant_like, numpy_of

__all__ = ["RESAMPLING_METHODS", "Resample", "resample"]

_SOXR = {"soxr_vhq": "VHQ", "soxr_hq": "HQ", "soxr_mq": "MQ", "soxr_lq": "LQ"}
# resampy's filter presets (librosa's res_type names): (lowpass_filter_width, rolloff, beta).
_KAISER_PRESETS = {
    "kaiser_best": (64, 0.9475937167399596, 14.769656459379492),
    "kaiser_fast": (16, 0.85, 8.555504641634386),
}
RESAMPLING_METHODS = (*_SOXR, "sinc_interp_hann", "sinc_interp_kaiser", *_KAISER_PRESETS, "linear")
# torchaudio's default Kaiser beta for sinc_interp_kaiser.
_KAISER_BETA = 14.769656459379492


def _soxr(waveform: Any, orig_freq: int, new_freq: int, quality: str) -> np.ndarray:
    import soxr  # librosa's resampler; imported here so the differentiable methods do not need it

    if isinstance(waveform, Variable) and waveform.requires_grad:
        raise ValueError(
            "resample: soxr methods are not differentiable; use 'sinc_interp_hann' or 'sinc_interp_kaiser' "
            "for an input that requires grad"
        )
    data = numpy_of(waveform)
    flat = data.reshape(-1, data.shape[-1])
    out = np.stack([soxr.resample(row, orig_freq, new_freq, quality=quality) for row in flat])
    frames = math.ceil(data.shape[-1] * new_freq / orig_freq)
    if out.shape[-1] != frames:
        out = out[:, :frames] if out.shape[-1] > frames else np.pad(out, ((0, 0), (0, frames - out.shape[-1])))
    return out.reshape(data.shape[:-1] + (frames,)).astype(data.dtype, copy=False)


def _interpolation_taps(
    frames: int, orig_freq: int, new_freq: int, method: str, lowpass_filter_width: int, rolloff: float, beta: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Input sample indices ``[out, taps]`` (into the signal padded by ``pad`` on the left) and their weights."""
    out = math.ceil(frames * new_freq / orig_freq)
    j = np.arange(out, dtype=np.int64)
    base = (j * orig_freq) // new_freq  # exact: integer arithmetic
    frac = ((j * orig_freq) % new_freq) / new_freq
    if method == "linear":
        offsets = np.array([0, 1])
        weights = np.stack([1.0 - frac, frac], axis=1)
        pad = 0
        index = np.minimum(base[:, None] + offsets, frames - 1)
        return index, weights, pad
    cutoff = min(1.0, new_freq / orig_freq) * rolloff  # of the input's Nyquist
    half_width = lowpass_filter_width / cutoff  # in input samples
    pad = math.ceil(half_width)
    offsets = np.arange(-pad + 1, pad + 1)
    distance = frac[:, None] - offsets[None, :]  # t_j - n
    ratio = np.clip(distance / half_width, -1.0, 1.0)
    if method == "sinc_interp_hann":
        window = np.cos(ratio * math.pi / 2) ** 2
    else:
        window = np.i0(beta * np.sqrt(1.0 - ratio**2)) / np.i0(beta)
    weights = cutoff * np.sinc(cutoff * distance) * window * (np.abs(distance) <= half_width)
    index = base[:, None] + offsets[None, :] + pad
    return index, weights, pad


def resample(
    waveform: Any,
    orig_freq: int,
    new_freq: int,
    resampling_method: str = "soxr_hq",
    lowpass_filter_width: int = 6,
    rolloff: float = 0.99,
    beta: float | None = None,
) -> Any:
    """Resample ``waveform [..., frames]`` from ``orig_freq`` to ``new_freq`` Hz -> ``[..., ceil(frames*new/orig)]``.

    soxr methods return a NumPy array for NumPy input and a Tensor otherwise; the interpolating
    methods return a Variable (a Tensor when the input is a plain Tensor or array and needs no grad).
    """
    if resampling_method not in RESAMPLING_METHODS:
        raise ValueError(f"resample: resampling_method must be one of {RESAMPLING_METHODS}, got {resampling_method!r}")
    if orig_freq <= 0 or new_freq <= 0 or int(orig_freq) != orig_freq or int(new_freq) != new_freq:
        raise ValueError(f"resample: rates must be positive integers, got orig_freq={orig_freq}, new_freq={new_freq}")
    orig_freq, new_freq = int(orig_freq), int(new_freq)
    shape = tuple(waveform.shape)
    if len(shape) == 0 or shape[-1] == 0:
        raise ShapeError(f"resample: waveform must be [..., frames] with frames > 0, got {shape}")
    if orig_freq == new_freq:
        return waveform
    if resampling_method in _SOXR:
        out = _soxr(waveform, orig_freq, new_freq, _SOXR[resampling_method])
        return out if isinstance(waveform, np.ndarray) else constant_like(out, as_variable(waveform))
    if resampling_method in _KAISER_PRESETS:
        lowpass_filter_width, rolloff, beta = _KAISER_PRESETS[resampling_method]
        resampling_method = "sinc_interp_kaiser"
    gcd = math.gcd(orig_freq, new_freq)
    index, weights, pad = _interpolation_taps(
        shape[-1],
        orig_freq // gcd,
        new_freq // gcd,
        resampling_method,
        lowpass_filter_width,
        rolloff,
        _KAISER_BETA if beta is None else beta,
    )
    plain = not isinstance(waveform, Variable)
    signal = as_variable(waveform).reshape(-1, shape[-1])
    if pad:
        from axon_nn.functional import pad as pad_signal

        signal = pad_signal(signal, (pad, pad + 1))
    flat = constant_like(index.reshape(-1), signal).long()
    gathered = signal.index_select(-1, flat).reshape(signal.shape[0], index.shape[0], index.shape[1])
    out = (gathered * constant_like(weights, signal)).sum(-1).reshape(shape[:-1] + (index.shape[0],))
    return out.data if plain else out


class Resample(Module):
    """``torchaudio.transforms.Resample``: ``[..., frames] -> [..., ceil(frames * new_freq / orig_freq)]``."""

    def __init__(
        self,
        orig_freq: int = 16000,
        new_freq: int = 16000,
        resampling_method: str = "sinc_interp_hann",
        lowpass_filter_width: int = 6,
        rolloff: float = 0.99,
        beta: float | None = None,
    ) -> None:
        super().__init__()
        if resampling_method not in RESAMPLING_METHODS:
            raise ValueError(f"Resample: resampling_method must be one of {RESAMPLING_METHODS}")
        self.orig_freq, self.new_freq, self.resampling_method = orig_freq, new_freq, resampling_method
        self.lowpass_filter_width, self.rolloff, self.beta = lowpass_filter_width, rolloff, beta

    def forward(self, waveform: Any) -> Any:
        return resample(
            waveform,
            self.orig_freq,
            self.new_freq,
            self.resampling_method,
            self.lowpass_filter_width,
            self.rolloff,
            self.beta,
        )

    def extra_repr(self) -> str:
        return f"orig_freq={self.orig_freq}, new_freq={self.new_freq}, resampling_method={self.resampling_method!r}"
