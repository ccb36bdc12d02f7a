"""Analysis windows (``torch.hann_window``'s definition), as NumPy arrays the transforms turn into Tensors."""

from __future__ import annotations

import numpy as np

__all__ = ["hann_window"]


def hann_window(window_length: int, periodic: bool = True) -> np.ndarray:
    """``[window_length]`` float64 Hann window; ``periodic`` (the STFT default) drops the last point of a
    ``window_length + 1`` symmetric window, as ``torch.hann_window`` and ``scipy.signal.get_window('hann')``."""
    if window_length < 0:
        raise ValueError(f"hann_window: window_length must be >= 0, got {window_length}")
    if window_length <= 1:
        return np.ones(window_length)
    n = window_length + 1 if periodic else window_length
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / (n - 1)))[:window_length]
