"""Symmetric INT8 calibration: one float32 scale per channel (a weight's output row, an activation's
feature) or per tensor, chosen from the largest magnitude (``"minmax"``) or a percentile of the
magnitudes (``"percentile"``, which clips outliers), from a weight or from observed activations.

``q = clamp(rint(x * (1 / scale)), qmin, qmax)`` and ``x ~ q * scale``, in float32 with round half to
even, as torch.ao's quantizers compute it. Two ranges:

- ``"symmetric"`` (default): ``q`` in -127..127, ``scale = amax / 127`` (TensorRT's and ggml Q8's
  restricted range; 0 maps to 0 and the range is symmetric);
- ``"full"``: ``q`` in -128..127, ``scale = amax / 127.5`` (torch.ao's ``per_channel_symmetric``
  ``qint8`` observers).

A scale never drops below float32's epsilon (as in torch.ao), so an all-zero channel quantizes to 0.
Percentiles interpolate linearly between the two nearest order statistics (``np.percentile``'s
default).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .errors import QuantError

__all__ = ["Int8Calibration", "Int8Error", "Int8Observer", "Int8Result", "calibrate", "calibrate_model"]

_RANGES = {"symmetric": (-127, 127, np.float32(127.0)), "full": (-128, 127, np.float32(127.5))}
_EPS = np.float32(np.finfo(np.float32).eps)


class Int8Error(NamedTuple):
    """Error of decoded INT8 values against the float tensor (float64 math): RMS and largest
    absolute error (units of the tensor) and signal-to-noise ratio in dB (inf when exact)."""

    rms: float
    max_abs: float
    snr_db: float


def int8_error(x: np.ndarray, decoded: np.ndarray) -> Int8Error:
    """:class:`Int8Error` of ``decoded`` against ``x`` (same shape)."""
    source = np.asarray(x, dtype=np.float64)
    diff = np.asarray(decoded, dtype=np.float64) - source
    if diff.size == 0:
        return Int8Error(0.0, 0.0, math.inf)
    noise, signal = float(np.sum(diff * diff)), float(np.sum(source * source))
    snr = math.inf if noise == 0 else (-math.inf if signal == 0 else 10 * math.log10(signal / noise))
    return Int8Error(math.sqrt(noise / diff.size), float(np.max(np.abs(diff))), snr)


@dataclass(frozen=True)
class Int8Calibration:
    """Per-channel (``axis`` an int) or per-tensor (``axis`` None) symmetric INT8 scales.

    ``scales`` float32 ``[channels]`` (``[1]`` per tensor); ``axis``: the channel axis of the tensors
    it applies to (0 for a weight ``[out_features, in_features]``, -1 for activations ``[..., features]``);
    ``qmin``/``qmax`` the int8 range; ``method``/``percentile`` how the scales were chosen."""

    scales: np.ndarray
    axis: int | None
    qmin: int
    qmax: int
    method: str
    percentile: float | None = None

    def _broadcast(self, x: np.ndarray) -> np.ndarray:
        if self.axis is None:
            return self.scales.reshape((1,) * x.ndim)
        if x.ndim == 0 or not -x.ndim <= self.axis < x.ndim or x.shape[self.axis] != self.scales.size:
            raise QuantError(
                f"int8 calibration of {self.scales.size} channels on axis {self.axis} does not fit "
                f"a tensor of shape {list(x.shape)}"
            )
        shape = [1] * x.ndim
        shape[self.axis] = self.scales.size
        return self.scales.reshape(shape)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """float ``x`` (finite) -> int8 of the same shape: ``clamp(rint(x * (1/scale)), qmin, qmax)``."""
        x = _finite(x, "int8 quantize")
        inverse = np.float32(1) / self._broadcast(x)
        return np.clip(np.rint(x * inverse), self.qmin, self.qmax).astype(np.int8)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """int8 ``q`` -> float32 ``q * scale`` of the same shape."""
        q = np.asarray(q)
        if q.dtype != np.int8:
            raise QuantError(f"int8 dequantize takes int8 values, got {q.dtype} of shape {list(q.shape)}")
        return q.astype(np.float32) * self._broadcast(q)

    def error(self, x: np.ndarray) -> Int8Error:
        """How far ``dequantize(quantize(x))`` lands from ``x``."""
        return int8_error(x, self.dequantize(self.quantize(x)))


def _finite(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "fiu" and x.dtype.name != "bfloat16":
        raise QuantError(f"{what}: takes real numbers, got {x.dtype} of shape {list(x.shape)}")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        where = np.unravel_index(int(np.argmin(np.isfinite(x).reshape(-1))), x.shape)
        raise QuantError(
            f"{what}: tensor of shape {list(x.shape)} has a non-finite value at index {list(map(int, where))}"
        )
    return x


def _percentile_rows(magnitudes: np.ndarray, percentile: float) -> np.ndarray:
    """Linear-interpolated ``percentile`` of each row of ``magnitudes`` float64 ``[c, n]`` -> ``[c]``."""
    n = magnitudes.shape[1]
    position = (n - 1) * (percentile / 100.0)
    lower = int(math.floor(position))
    upper = min(lower + 1, n - 1)
    part = np.partition(magnitudes, [lower, upper], axis=1)
    low, high = part[:, lower], part[:, upper]
    return low + (high - low) * (position - lower)


def _scales(amax: np.ndarray, scheme: str) -> tuple[np.ndarray, int, int]:
    if scheme not in _RANGES:
        raise QuantError(f"unknown int8 range {scheme!r}; known: {', '.join(_RANGES)}")
    qmin, qmax, half_range = _RANGES[scheme]
    return np.maximum(amax.astype(np.float32) / half_range, _EPS), qmin, qmax


def _amax(channels: np.ndarray, method: str, percentile: float) -> np.ndarray:
    """Per row of ``channels`` ``[c, n]`` (float32): the magnitude the scale must reach."""
    if method == "minmax":
        return np.max(np.abs(channels), axis=1) if channels.shape[1] else np.zeros(channels.shape[0], np.float32)
    if method == "percentile":
        if not 0 <= percentile <= 100:
            raise QuantError(f"int8 percentile must be within [0, 100], got {percentile}")
        if channels.shape[1] == 0:
            return np.zeros(channels.shape[0], np.float32)
        return _percentile_rows(np.abs(channels.astype(np.float64)), percentile)
    raise QuantError(f"unknown int8 calibration method {method!r}; known: minmax, percentile")


def _rows(x: np.ndarray, axis: int | None) -> np.ndarray:
    if axis is None:
        return x.reshape(1, -1)
    if x.ndim == 0 or not -x.ndim <= axis < x.ndim:
        raise QuantError(f"int8 calibration: axis {axis} is out of range for a tensor of shape {list(x.shape)}")
    return np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)


def calibrate(
    x: np.ndarray, *, axis: int | None = 0, method: str = "minmax", percentile: float = 99.9, scheme: str = "symmetric"
) -> Int8Calibration:
    """INT8 scales for ``x``, one per index of ``axis`` (None: one for the whole tensor).

    ``x``: a weight ``[out_features, in_features]`` (``axis=0``, per output row) or a batch of
    activations (``axis=-1``, per feature). ``method``: ``"minmax"`` (largest magnitude) or
    ``"percentile"`` (the ``percentile``-th percentile of magnitudes). ``scheme``: ``"symmetric"``
    or ``"full"`` (see the module docstring). QuantError for non-finite values or bad arguments.
    """
    x = _finite(x, "int8 calibrate")
    amax = _amax(_rows(x, axis), method, percentile)
    scales, qmin, qmax = _scales(amax, scheme)
    return Int8Calibration(scales, axis, qmin, qmax, method, percentile if method == "percentile" else None)


@dataclass
class Int8Observer:
    """Calibrates from activations seen one batch at a time, as torch.ao's observers do: call
    :meth:`observe` on each batch (channels on ``axis``), then :meth:`calibration`.

    ``"minmax"`` keeps the running largest magnitude per channel; ``"percentile"`` keeps every
    magnitude seen (float32, ``channels x values`` of memory) so the percentile is exact."""

    axis: int | None = -1
    method: str = "minmax"
    percentile: float = 99.9
    scheme: str = "symmetric"
    _amax: np.ndarray | None = field(default=None, init=False, repr=False)
    _seen: list[np.ndarray] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        _amax(np.zeros((1, 0), np.float32), self.method, self.percentile)  # validates method and percentile
        _scales(np.zeros(1, np.float32), self.scheme)

    def observe(self, x: np.ndarray) -> None:
        """Record one batch ``x`` (finite; ``x.shape[axis]`` the same for every batch)."""
        rows = _rows(_finite(x, "int8 observe"), self.axis)
        known = self._amax.shape[0] if self._amax is not None else None
        if known is not None and rows.shape[0] != known:
            raise QuantError(
                f"int8 observe: batch of shape {list(np.shape(x))} has {rows.shape[0]} channels on "
                f"axis {self.axis}, earlier batches had {known}"
            )
        batch_amax = np.max(np.abs(rows), axis=1) if rows.shape[1] else np.zeros(rows.shape[0], np.float32)
        self._amax = batch_amax if self._amax is None else np.maximum(self._amax, batch_amax)
        if self.method == "percentile":
            self._seen.append(np.abs(rows))

    def calibration(self) -> Int8Calibration:
        """The scales for everything observed so far; QuantError before any batch."""
        if self._amax is None:
            raise QuantError("int8 observer: no batch observed yet")
        amax = (
            self._amax
            if self.method == "minmax"
            else _amax(np.concatenate(self._seen, axis=1), "percentile", self.percentile)
        )
        scales, qmin, qmax = _scales(amax, self.scheme)
        return Int8Calibration(
            scales, self.axis, qmin, qmax, self.method, self.percentile if self.method == "percentile" else None
        )


class Int8Result(NamedTuple):
    """One tensor of :func:`calibrate_model`: its calibration, int8 values and error."""

    calibration: Int8Calibration
    values: np.ndarray
    error: Int8Error


def calibrate_model(
    tensors: Mapping[str, np.ndarray], *, method: str = "minmax", percentile: float = 99.9, scheme: str = "symmetric"
) -> dict[str, Int8Result]:
    """Per-output-row INT8 for every tensor of 2 or more dimensions (weights ``[out, in, ...]``, in
    input order); 1-D tensors (norms, biases) are left out. QuantError names the tensor."""
    out: dict[str, Int8Result] = {}
    for name, x in tensors.items():
        if np.ndim(x) < 2:
            continue
        try:
            cal = calibrate(x, axis=0, method=method, percentile=percentile, scheme=scheme)
            values = cal.quantize(x)
        except QuantError as e:
            raise QuantError(f"tensor {name!r}: {e}") from None
        out[name] = Int8Result(cal, values, int8_error(x, cal.dequantize(values)))
    return out
