"""SpecAugment masking: ``FrequencyMasking``, ``TimeMasking`` and ``SpecAugment``, as torchaudio.

A mask of width ``floor(u * mask_param)`` starts at ``floor(v * (size - u * mask_param))`` (``u, v``
uniform in [0, 1) from the module's ``numpy.random.Generator``); masked cells take ``mask_value``
(``SpecAugment``: the spectrogram's mean unless ``zero_masking``). Applied as ``x * keep + value * (1 - keep)``,
so gradients flow to the kept cells.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from axon_core import ShapeError
from axon_nn import Module

from ._util import as_variable, constant_like

__all__ = ["FrequencyMasking", "SpecAugment", "TimeMasking", "mask_along_axis"]


def _band(rng: np.random.Generator, size: int, mask_param: float) -> tuple[int, int]:
    value = rng.random() * mask_param
    min_value = rng.random() * (size - value)
    start = int(min_value)
    return start, start + int(value)


def mask_along_axis(
    specgram: Any,
    mask_param: int,
    mask_value: Any,
    axis: int,
    rng: np.random.Generator,
    iid_masks: bool = False,
    p: float = 1.0,
) -> Any:
    """Mask one band along ``axis`` (``-2`` frequency, ``-1`` time) of ``specgram [..., freq, time]``.

    ``iid_masks`` draws one band per leading index (for ``[batch, channel, freq, time]``: per batch and
    channel) instead of one for all. ``p`` caps the width at ``p * size`` (torchaudio's time-mask rule).
    """
    x = as_variable(specgram)
    if x.ndim < 2 or axis not in (-1, -2):
        raise ShapeError(f"mask_along_axis: need [..., freq, time] and axis -1 or -2, got {tuple(x.shape)}, {axis}")
    size = x.shape[axis]
    param = min(mask_param, p * size) if p < 1.0 else mask_param
    lead = tuple(x.shape[:-2]) if iid_masks else ()
    keep = np.ones(lead + (size,))
    for at in np.ndindex(*lead):
        start, end = _band(rng, size, param)
        keep[at + (slice(start, end),)] = 0.0
    if axis == -2:
        keep = keep[..., :, None]
    else:
        keep = keep[..., None, :]
    keep = constant_like(keep, x)
    return x * keep + mask_value * (1.0 - keep)


class _AxisMasking(Module):
    axis = -1

    def __init__(self, mask_param: int, iid_masks: bool = False, p: float = 1.0, generator: Any = None) -> None:
        super().__init__()
        if mask_param < 0 or not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: need mask_param >= 0 and 0 <= p <= 1, got {mask_param}, {p}")
        self.mask_param, self.iid_masks, self.p = mask_param, iid_masks, p
        self.generator = generator if generator is not None else np.random.default_rng(0)

    def forward(self, specgram: Any, mask_value: float = 0.0) -> Any:
        iid = self.iid_masks and as_variable(specgram).ndim == 4
        return mask_along_axis(specgram, self.mask_param, mask_value, self.axis, self.generator, iid, self.p)

    def extra_repr(self) -> str:
        return f"mask_param={self.mask_param}, iid_masks={self.iid_masks}"


class FrequencyMasking(_AxisMasking):
    """``torchaudio.transforms.FrequencyMasking``: one band of at most ``freq_mask_param`` bins of
    ``[..., freq, time]``; ``generator`` a ``numpy.random.Generator`` (seed 0 by default)."""

    axis = -2

    def __init__(self, freq_mask_param: int, iid_masks: bool = False, generator: Any = None) -> None:
        super().__init__(freq_mask_param, iid_masks, 1.0, generator)


class TimeMasking(_AxisMasking):
    """``torchaudio.transforms.TimeMasking``: one band of at most ``min(time_mask_param, p * time)``
    frames of ``[..., freq, time]``."""

    axis = -1

    def __init__(self, time_mask_param: int, iid_masks: bool = False, p: float = 1.0, generator: Any = None) -> None:
        super().__init__(time_mask_param, iid_masks, p, generator)


class SpecAugment(Module):
    """``torchaudio.transforms.SpecAugment``: ``n_time_masks`` time bands then ``n_freq_masks`` frequency bands
    on ``[..., freq, time]``, filled with the spectrogram's mean (0 when ``zero_masking``)."""

    def __init__(
        self,
        n_time_masks: int = 1,
        time_mask_param: int = 20,
        n_freq_masks: int = 1,
        freq_mask_param: int = 20,
        iid_masks: bool = True,
        p: float = 1.0,
        zero_masking: bool = False,
        generator: Any = None,
    ) -> None:
        super().__init__()
        self.n_time_masks, self.time_mask_param = n_time_masks, time_mask_param
        self.n_freq_masks, self.freq_mask_param = n_freq_masks, freq_mask_param
        self.iid_masks, self.p, self.zero_masking = iid_masks, p, zero_masking
        self.generator = generator if generator is not None else np.random.default_rng(0)

    def forward(self, specgram: Any) -> Any:
        x = as_variable(specgram)
        value = 0.0 if self.zero_masking else x.mean()
        iid = self.iid_masks and x.ndim == 4
        for _ in range(self.n_time_masks):
            x = mask_along_axis(x, self.time_mask_param, value, -1, self.generator, iid, self.p)
        for _ in range(self.n_freq_masks):
            x = mask_along_axis(x, self.freq_mask_param, value, -2, self.generator, iid)
        return x
