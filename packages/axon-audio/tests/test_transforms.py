"""Transforms: gradients by finite differences (float64, axon_autograd.gradcheck), NumPy references for
the formulas librosa does not cover (SNR, peak, masks, DCT), and typed errors. librosa's oracle table is
tests-integration/test_audio_librosa.py."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft

import axon_audio
from axon_audio import (
    MFCC,
    AddNoise,
    AmplitudeToDB,
    FrequencyMasking,
    InverseSpectrogram,
    MelSpectrogram,
    NormalizeAudio,
    PitchShift,
    SpecAugment,
    Spectrogram,
    TimeMasking,
    TimeStretch,
    TrimSilence,
)
from axon_autograd import Variable, gradcheck
from axon_core import ShapeError
from axon_tensor import tensor

RNG = np.random.default_rng(0)


def _leaf(*shape):
    return Variable(tensor(RNG.standard_normal(shape)), requires_grad=True)


GRAD_CASES = [
    ("Spectrogram power 2", lambda x: Spectrogram(16, hop_length=4)(x), (2, 40)),
    ("Spectrogram power 1", lambda x: Spectrogram(16, hop_length=4, power=1.0)(x), (40,)),
    (
        "Spectrogram complex, window norm",
        lambda x: Spectrogram(16, hop_length=4, power=None, normalized=True)(x),
        (40,),
    ),
    (
        "MelSpectrogram slaney",
        lambda x: MelSpectrogram(8000, 32, hop_length=8, n_mels=6, mel_scale="slaney", norm="slaney")(x),
        (48,),
    ),
    ("MFCC", lambda x: MFCC(8000, n_mfcc=4, melkwargs=dict(n_fft=32, hop_length=8, n_mels=8))(x), (48,)),
    ("AmplitudeToDB magnitude", lambda x: AmplitudeToDB("magnitude", top_db=30.0)(x * x + 0.1), (3, 5)),
    ("InverseSpectrogram", lambda s: InverseSpectrogram(16, hop_length=4)(s, length=30), (9, 9, 2)),
    ("TimeStretch", lambda s: TimeStretch(4, 9, fixed_rate=1.4)(s + 3.0), (9, 7, 2)),
    ("PitchShift", lambda x: PitchShift(8000, 2, n_fft=32, hop_length=8)(x), (64,)),
    ("resample kaiser_fast", lambda x: axon_audio.resample(x, 5, 4, "kaiser_fast"), (30,)),
    ("AddNoise", lambda x: axon_audio.add_noise(x, tensor(np.linspace(-1, 1, 20)), 5.0), (20,)),
    ("NormalizeAudio", lambda x: NormalizeAudio(0.9)(x), (2, 10)),
    ("SpecAugment", lambda s: SpecAugment(1, 3, 1, 2, generator=np.random.default_rng(3))(s), (6, 8)),
]


@pytest.mark.parametrize(("name", "fn", "shape"), GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradients_match_finite_differences(name, fn, shape):
    x = _leaf(*shape)
    assert gradcheck(fn, (x,), eps=1e-6, atol=1e-5, rtol=1e-3)


def test_add_noise_reaches_the_snr():
    x = RNG.standard_normal((3, 500))
    noise = RNG.standard_normal((3, 500))
    snr = np.array([0.0, 10.0, 25.0])
    y = axon_audio.add_noise(tensor(x), tensor(noise), tensor(snr)).numpy()
    achieved = 10 * np.log10((x**2).sum(-1) / ((y - x) ** 2).sum(-1))
    np.testing.assert_allclose(achieved, snr, atol=1e-9)
    gaussian = AddNoise(np.random.default_rng(1))(tensor(x), None, 12.0).numpy()
    np.testing.assert_allclose(10 * np.log10((x**2).sum(-1) / ((gaussian - x) ** 2).sum(-1)), 12.0, atol=1e-9)
    with pytest.raises(ShapeError):
        axon_audio.add_noise(tensor(x), tensor(noise[:, :10]), 3.0)


def test_normalize_peak_and_silence():
    x = RNG.standard_normal((2, 50))
    y = NormalizeAudio(0.5)(tensor(x)).numpy()
    np.testing.assert_allclose(np.abs(y).max(-1), 0.5)
    np.testing.assert_allclose(y, x * 0.5 / np.abs(x).max(-1, keepdims=True))
    np.testing.assert_array_equal(NormalizeAudio()(tensor(np.zeros((1, 5)))).numpy(), 0.0)


def test_mfcc_dct_is_scipys_dct_ii():
    for norm in ("ortho", None):
        mels = RNG.standard_normal((7, 12))
        np.testing.assert_allclose(
            mels @ axon_audio.create_dct(5, 12, norm), scipy.fft.dct(mels, type=2, norm=norm, axis=-1)[:, :5]
        )


def test_masks_are_contiguous_bands_of_the_drawn_width():
    spec = RNG.uniform(1.0, 2.0, (2, 3, 20, 30))
    out = FrequencyMasking(8, iid_masks=True, generator=np.random.default_rng(5))(tensor(spec)).numpy()
    rng = np.random.default_rng(5)
    for b in range(2):
        for c in range(3):
            value = rng.random() * 8
            start = int(rng.random() * (20 - value))
            expected = spec[b, c].copy()
            expected[start : start + int(value)] = 0.0
            np.testing.assert_array_equal(out[b, c], expected)
    timed = TimeMasking(50, p=0.2, generator=np.random.default_rng(2))(tensor(spec[0, 0])).numpy()
    masked = np.flatnonzero((timed == 0).all(axis=0))
    assert masked.size <= 6 and (masked.size == 0 or np.all(np.diff(masked) == 1))
    np.testing.assert_array_equal(np.delete(timed, masked, axis=1), np.delete(spec[0, 0], masked, axis=1))


def test_trim_silence_cuts_at_frame_edges():
    y = np.concatenate([np.zeros(3000), RNG.standard_normal(4000), np.zeros(3000)])
    trim = TrimSilence(top_db=40, frame_length=256, hop_length=64)
    out = trim(tensor(y)).numpy()
    start, end = trim.last_index
    assert 3000 - 256 <= start <= 3000 and 7000 <= end <= 7000 + 256
    np.testing.assert_array_equal(out, y[start:end])
    # As librosa: all-zero audio is not silent relative to its own (zero) peak, so nothing is cut.
    assert axon_audio.trim_indices(np.zeros(100)) == (0, 100)


def test_mel_scales_round_trip_and_fbanks_shape():
    freqs = np.array([0.0, 440.0, 999.0, 1000.0, 4000.0])
    for scale in ("htk", "slaney"):
        np.testing.assert_allclose(axon_audio.mel_to_hz(axon_audio.hz_to_mel(freqs, scale), scale), freqs, atol=1e-9)
    fb = axon_audio.melscale_fbanks(201, 0.0, 8000.0, 40, 16000, norm="slaney", mel_scale="slaney")
    assert fb.shape == (201, 40) and (fb >= 0).all()


def test_bad_inputs_raise_typed_errors():
    with pytest.raises(ShapeError, match="n_stft"):
        axon_audio.MelScale(n_mels=8, n_stft=201)(tensor(np.ones((100, 4))))
    with pytest.raises(ValueError, match="mel_scale"):
        axon_audio.hz_to_mel(100.0, "bark")
    with pytest.raises(ValueError, match="normalized"):
        Spectrogram(normalized="energy")
    with pytest.raises(ValueError, match="dct_type"):
        MFCC(dct_type=3)
    with pytest.raises(ValueError, match="rate"):
        TimeStretch(n_freq=9)(tensor(np.ones((9, 4, 2))))
    with pytest.raises(ShapeError, match="pairs"):
        InverseSpectrogram(16)(tensor(np.ones((9, 4))))
    with pytest.raises(ValueError, match="stype"):
        AmplitudeToDB("energy")
