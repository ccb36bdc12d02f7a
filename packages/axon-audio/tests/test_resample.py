"""Resampling: soxr against soxr itself through librosa's length rule, the interpolating methods against a
band-limited analytic signal, gradients by finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import axon_audio
from axon_autograd import Variable, gradcheck
from axon_tensor import tensor


def _tones(rate: int, seconds: float = 0.25) -> tuple[np.ndarray, callable]:
    def signal(t):
        return np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 1700 * t + 0.3)

    return signal(np.arange(int(rate * seconds)) / rate), signal


@pytest.mark.parametrize("method", ["sinc_interp_hann", "sinc_interp_kaiser", "soxr_hq", "soxr_vhq"])
@pytest.mark.parametrize(("orig", "new"), [(16000, 8000), (16000, 44100), (22050, 16000)])
def test_band_limited_signal_resamples_to_its_samples(method, orig, new):
    x, signal = _tones(orig)
    y = axon_audio.resample(tensor(x), orig, new, method).numpy()
    assert y.shape == (int(np.ceil(x.shape[0] * new / orig)),)
    expected = signal(np.arange(y.shape[0]) / new)
    edge = new // 100  # filters ring at the ends of a finite signal
    error = np.abs(y - expected)[edge:-edge].max()
    assert error < 2e-3, error


def test_linear_is_the_seeds_interpolation():
    x = np.array([0.0, 1.0, 4.0, 9.0])
    y = axon_audio.resample(tensor(x), 2, 4, "linear").numpy()
    np.testing.assert_allclose(y, np.interp(np.arange(8) / 2, np.arange(4), x))


@pytest.mark.parametrize("method", ["sinc_interp_hann", "sinc_interp_kaiser", "linear"])
def test_interpolating_methods_have_finite_difference_gradients(method):
    x = Variable(tensor(np.random.default_rng(0).standard_normal((2, 23))), requires_grad=True)
    assert gradcheck(lambda v: axon_audio.resample(v, 3, 2, method, lowpass_filter_width=3), (x,))


def test_soxr_refuses_a_gradient_and_bad_arguments_raise():
    x = Variable(tensor(np.zeros(100)), requires_grad=True)
    with pytest.raises(ValueError, match="not differentiable"):
        axon_audio.resample(x, 16000, 8000, "soxr_hq")
    with pytest.raises(ValueError, match="resampling_method"):
        axon_audio.resample(tensor(np.zeros(10)), 2, 1, "cubic")
    with pytest.raises(ValueError, match="positive integers"):
        axon_audio.resample(tensor(np.zeros(10)), 0, 1)
    module = axon_audio.Resample(4, 2, "linear")
    np.testing.assert_allclose(module(tensor(np.arange(8.0))).numpy(), np.arange(0, 8, 2.0))


def test_long_signals_resample_in_blocks_without_seams():
    # 8 s at 16 kHz -> 8 kHz with kaiser_fast gathers in more than one block of outputs.
    x, signal = _tones(16000, seconds=8.0)
    y = axon_audio.resample(tensor(x), 16000, 8000, "kaiser_fast").numpy()
    expected = signal(np.arange(y.shape[0]) / 8000)
    assert y.shape == (64000,)
    assert np.abs(y - expected)[100:-100].max() < 2e-3
