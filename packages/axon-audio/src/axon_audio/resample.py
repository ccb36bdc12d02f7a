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

from axon_autograd import Variable, cat
from axon_core import ShapeError
from axon_nn import Module
from axon_nn.functional import pad as pad_signal

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


def _half_taps(orig_freq: int, new_freq: int, method: str, lowpass_filter_width: int, rolloff: float) -> int:
    """Taps on each side of an output instant (the zero padding the signal needs on the left)."""
    if method == "linear":
        return 0
    return math.ceil(lowpass_filter_width / (min(1.0, new_freq / orig_freq) * rolloff))


def _tap_index(j: np.ndarray, frames: int, orig_freq: int, new_freq: int, method: str, pad: int) -> np.ndarray:
    """Input indices ``[len(j), taps]`` read for output samples ``j`` (into the signal padded by ``pad``)."""
    base = (j * orig_freq) // new_freq  # exact: integer arithmetic
    if method == "linear":
        return np.minimum(base[:, None] + np.array([0, 1]), frames - 1)
    return base[:, None] + np.arange(-pad + 1, pad + 1)[None, :] + pad


def _interpolation_taps(
    j: np.ndarray,
    frames: int,
    orig_freq: int,
    new_freq: int,
    method: str,
    lowpass_filter_width: int,
    rolloff: float,
    beta: float,
) -> tuple[np.ndarray, np.ndarray]:
    """For output samples ``j``: input indices ``[len(j), taps]`` (into the signal zero-padded by
    :func:`_half_taps` on the left) and their weights."""
    frac = ((j * orig_freq) % new_freq) / new_freq  # exact: integer arithmetic
    if method == "linear":
        weights = np.stack([1.0 - frac, frac], axis=1)
        return _tap_index(j, frames, orig_freq, new_freq, method, 0), weights
    cutoff = min(1.0, new_freq / orig_freq) * rolloff  # of the input's Nyquist
    half_width = lowpass_filter_width / cutoff  # in input samples
    pad = _half_taps(orig_freq, new_freq, method, lowpass_filter_width, rolloff)
    offsets = np.arange(-pad + 1, pad + 1)
    distance = frac[:, None] - offsets[None, :]  # t_j - n
    ratio = np.clip(distance / half_width, -1.0, 1.0)
    if method == "sinc_interp_hann":
        window = np.cos(ratio * math.pi / 2) ** 2
    else:
        window = np.i0(beta * np.sqrt(1.0 - ratio**2)) / np.i0(beta)
    weights = cutoff * np.sinc(cutoff * distance) * window * (np.abs(distance) <= half_width)
    return _tap_index(j, frames, orig_freq, new_freq, method, pad), weights


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
    orig, new = orig_freq // gcd, new_freq // gcd
    beta = _KAISER_BETA if beta is None else beta
    pad = _half_taps(orig, new, resampling_method, lowpass_filter_width, rolloff)
    plain = not isinstance(waveform, Variable)
    signal = as_variable(waveform).reshape(-1, shape[-1])
    if pad:
        signal = pad_signal(signal, (pad, pad + 1))
    total = math.ceil(shape[-1] * new_freq / orig_freq)
    # Output blocks of about 2^22 gathered samples each bound the memory of the gather (60 s at kaiser_best
    # would otherwise gather ~10^8 samples at once).
    block = max(1, (1 << 22) // max(1, signal.shape[0] * (2 * pad or 2)))
    # The weights depend on the output instant only through its phase j mod new: one table when it is
    # shorter than the output (rational ratios with small terms), else computed per block.
    phase_table = None
    if new <= total:
        _, phase_table = _interpolation_taps(
            np.arange(new, dtype=np.int64),
            shape[-1],
            orig,
            new,
            resampling_method,
            lowpass_filter_width,
            rolloff,
            beta,
        )
    pieces = []
    for first in range(0, total, block):
        j = np.arange(first, min(total, first + block), dtype=np.int64)
        if phase_table is None:
            index, weights = _interpolation_taps(
                j, shape[-1], orig, new, resampling_method, lowpass_filter_width, rolloff, beta
            )
        else:
            index = _tap_index(j, shape[-1], orig, new, resampling_method, pad)
            weights = phase_table[j % new]
        flat = constant_like(index.reshape(-1), signal).long()
        gathered = signal.index_select(-1, flat).reshape(signal.shape[0], index.shape[0], index.shape[1])
        pieces.append((gathered * constant_like(weights, signal)).sum(-1))
    out = (pieces[0] if len(pieces) == 1 else cat(pieces, dim=-1)).reshape(shape[:-1] + (total,))
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
