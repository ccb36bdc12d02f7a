"""Short-time Fourier transform and its inverse, differentiable, with PyTorch's conventions.

``stft``: real ``[L]`` or ``[batch, L]`` -> ``[batch?, freq, frames, 2]`` (real/imag pairs), a
complex Tensor or the magnitude ``[batch?, freq, frames]``. Frames are gathered with
``index_select`` (its backward is the overlap-add), windowed and transformed with
:func:`axon_nn.functional.rfft` / ``fft``; ``istft`` inverts with ``irfft`` / ``ifft``, overlap-add
(``index_add``) and division by the overlap-added squared window (the window envelope).
"""

from __future__ import annotations

from typing import Any

import axon_tensor
from axon_autograd import Variable, stack
from axon_core import DTypeError, ShapeError
from axon_tensor import Tensor

from ._util import tensor_of, xp_of
from .fft import complex_abs, complex_from_pairs, fft, irfft, pairs_from_complex, rfft
from .padding import pad

__all__ = ["stft", "istft"]

_OUTPUTS = ("pairs", "complex", "magnitude")


def _geometry(op: str, n_fft: int, hop_length: int | None, win_length: int | None) -> tuple[int, int]:
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    if n_fft < 1 or hop < 1 or not 1 <= win <= n_fft:
        raise ValueError(
            f"{op}: need n_fft >= 1, hop_length >= 1 and 1 <= win_length <= n_fft, "
            f"got n_fft={n_fft}, hop_length={hop}, win_length={win}"
        )
    return hop, win


def _full_window(op: str, window: Any, win: int, n_fft: int, like: Tensor) -> Any:
    """The window (ones when None) zero-padded on both sides to ``n_fft``, centred as in PyTorch."""
    if window is None:
        window = axon_tensor.ones((win,), dtype=like.dtype, device=like.device)
    if tuple(window.shape) != (win,):
        raise ShapeError(f"{op}: window {tuple(window.shape)} must be [win_length] = ({win},)")
    left = (n_fft - win) // 2
    if left == 0 and win == n_fft:
        return window
    return pad(window if isinstance(window, Variable) else Variable(window), (left, n_fft - win - left))


def _frame_index(xp: Any, frames: int, n_fft: int, hop: int, device: Any) -> Tensor:
    index = (xp.arange(frames)[:, None] * hop + xp.arange(n_fft)[None, :]).reshape(-1)
    return axon_tensor.tensor(index.astype(xp.int64), device=device)


def stft(
    input: Any,
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: Any = None,
    center: bool = True,
    pad_mode: str = "reflect",
    normalized: bool = False,
    onesided: bool | None = None,
    output: str = "pairs",
) -> Any:
    """``torch.stft`` for real signals ``[L]`` or ``[batch, L]``.

    ``hop_length`` defaults to ``n_fft // 4``, ``win_length`` to ``n_fft``, ``window`` to ones
    (``[win_length]``, zero-padded to ``n_fft`` in the middle). ``center`` pads ``n_fft // 2`` on
    both sides with ``pad_mode`` (``"reflect"`` or ``"constant"``, and ``"replicate"``/``"circular"``).
    ``normalized`` multiplies by ``n_fft^-1/2``. ``onesided`` (default True) keeps
    ``n_fft // 2 + 1`` frequencies. ``output``: ``"pairs"`` -> ``[batch?, freq, frames, 2]``,
    ``"complex"`` -> a complex Tensor ``[batch?, freq, frames]`` (no gradient), ``"magnitude"``
    -> ``[batch?, freq, frames]``.
    """
    op = "stft"
    hop, win = _geometry(op, n_fft, hop_length, win_length)
    if output not in _OUTPUTS:
        raise ValueError(f"{op}: output must be one of {_OUTPUTS}, got {output!r}")
    data = tensor_of(input)
    if not data.dtype.is_floating_point:
        raise DTypeError(f"{op}: expected a real floating signal, got {data.dtype}")
    if len(data.shape) not in (1, 2):
        raise ShapeError(f"{op}: input must be [L] or [batch, L], got {tuple(data.shape)}")
    batched = len(data.shape) == 2
    # Tensors and Variables meet below (the window may be either), so work on Variables.
    signal = input if isinstance(input, Variable) else Variable(input)
    signal = signal if batched else signal.reshape(1, -1)
    if center:
        half = n_fft // 2
        if pad_mode == "reflect" and half >= signal.shape[-1]:
            raise ShapeError(
                f"{op}: reflect padding of {half} needs a signal longer than that, got length {signal.shape[-1]}"
            )
        signal = pad(signal, (half, half), mode=pad_mode)
    length = signal.shape[-1]
    if length < n_fft:
        raise ShapeError(f"{op}: signal of length {length} (after padding) is shorter than n_fft={n_fft}")
    count = 1 + (length - n_fft) // hop
    index = _frame_index(xp_of(data), count, n_fft, hop, data.device)
    frames = signal.index_select(-1, index).reshape(signal.shape[0], count, n_fft) * _full_window(
        op, window, win, n_fft, data
    )
    norm = "ortho" if normalized else "backward"
    if onesided is None or onesided:
        spectrum = rfft(frames, dim=-1, norm=norm)
    else:
        zeros = Variable(axon_tensor.zeros(tuple(frames.shape), dtype=data.dtype, device=data.device))
        spectrum = fft(stack([frames, zeros], dim=-1), dim=-1, norm=norm)
    spectrum = spectrum.permute(0, 2, 1, 3)
    if not batched:
        spectrum = spectrum.reshape(tuple(spectrum.shape[1:]))
    if output == "magnitude":
        return complex_abs(spectrum)
    if output == "complex":
        return complex_from_pairs(spectrum.detach() if isinstance(spectrum, Variable) else spectrum)
    return spectrum


def istft(
    input: Any,
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: Any = None,
    center: bool = True,
    normalized: bool = False,
    onesided: bool | None = None,
    length: int | None = None,
) -> Any:
    """``torch.istft``: pairs ``[batch?, freq, frames, 2]`` (or a complex Tensor ``[batch?, freq,
    frames]``) -> real ``[batch?, samples]``.

    Each frame is inverse-transformed with ``irfft`` (a full spectrum, ``onesided=False``,
    the default when ``freq == n_fft``, is taken as a real signal's Hermitian spectrum and its
    first ``n_fft // 2 + 1`` bins are used, as in ``torch.istft``), windowed and overlap-added; the sum is
    divided by the overlap-added squared window, which must be nonzero over the kept samples
    (the NOLA condition) else ValueError. ``center`` trims ``n_fft // 2`` from both ends;
    ``length`` trims or zero-pads the result to that many samples.
    """
    op = "istft"
    hop, win = _geometry(op, n_fft, hop_length, win_length)
    data = tensor_of(input)
    if data.dtype.is_complex:
        input = data = pairs_from_complex(data)
    if len(data.shape) not in (3, 4) or data.shape[-1] != 2:
        raise ShapeError(
            f"{op}: input must be pairs [batch?, freq, frames, 2] (or a complex [batch?, freq, frames]), got "
            f"{tuple(data.shape)}"
        )
    batched = len(data.shape) == 4
    spectrum = input if isinstance(input, Variable) else Variable(input)
    spectrum = spectrum if batched else spectrum.reshape((1,) + tuple(data.shape))
    batch, freq, count = spectrum.shape[0], spectrum.shape[1], spectrum.shape[2]
    onesided = freq != n_fft if onesided is None else onesided
    expected_freq = n_fft // 2 + 1 if onesided else n_fft
    if freq != expected_freq:
        raise ShapeError(
            f"{op}: {'onesided' if onesided else 'full'} spectrum of n_fft={n_fft} needs {expected_freq} "
            f"frequencies, got {freq} (input {tuple(data.shape)})"
        )
    if count == 0:
        raise ShapeError(f"{op}: input has no frames: {tuple(data.shape)}")
    norm = "ortho" if normalized else "backward"
    per_frame = spectrum.permute(0, 2, 1, 3)
    if not onesided:
        # A full spectrum of a real signal is Hermitian; like torch.istft, use its first half.
        per_frame = per_frame[:, :, : n_fft // 2 + 1]
    frames = irfft(per_frame, n=n_fft, dim=-1, norm=norm)
    full_window = _full_window(op, window, win, n_fft, data)
    frames = frames * full_window
    total = n_fft + hop * (count - 1)
    index = _frame_index(xp_of(data), count, n_fft, hop, data.device)
    signal = Variable(axon_tensor.zeros((batch, total), dtype=data.dtype, device=data.device))
    signal = signal.index_add(1, index, frames.reshape(batch, count * n_fft))
    squared = (full_window * full_window).reshape(1, n_fft).expand(count, n_fft).reshape(-1)
    envelope = Variable(axon_tensor.zeros((total,), dtype=data.dtype, device=data.device)).index_add(0, index, squared)
    start = n_fft // 2 if center else 0
    if length is not None:
        end = start + length
    else:
        end = total - n_fft // 2 if center else total
    end = min(end, total)
    kept = tensor_of(envelope).array[start:end]
    if kept.size and float(xp_of(data).abs(kept).min()) < 1e-11:
        raise ValueError(
            f"{op}: the window envelope (overlap-added squared window) is zero inside the signal; "
            f"window/hop_length={hop}/n_fft={n_fft} violate the NOLA condition"
        )
    result = signal[:, start:end] / envelope[start:end]
    if length is not None and result.shape[-1] < length:
        result = pad(result, (0, length - result.shape[-1]))
    return result if batched else result.reshape(-1)
