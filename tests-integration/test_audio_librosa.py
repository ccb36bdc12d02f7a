"""axon-audio's transforms against librosa on real recordings: speech spoken by espeak-ng in the test and
musical signals (a plucked chord, a scale with vibrato). One row per case; each row names librosa's call,
axon's, and the tolerance (max |axon - librosa| over max |librosa|, or in dB / samples where stated)."""

from __future__ import annotations

import shutil
import subprocess

import librosa
import numpy as np
import pytest

import axon_audio
from axon_audio import (
    MFCC,
    AmplitudeToDB,
    InverseSpectrogram,
    MelSpectrogram,
    PitchShift,
    Spectrogram,
    TimeStretch,
    TrimSilence,
)
from axon_tensor import tensor

RATE = 22050


def _speech(tmp_path_factory) -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (make setup installs Debian's espeak-ng)")
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), "Turn the lights on in the kitchen, please."],
        check=True,
        capture_output=True,
    )
    wave, rate = axon_audio.load(path, mono=True)
    assert rate == RATE
    return wave.numpy()[0]


def _chord() -> np.ndarray:
    t = np.arange(int(1.5 * RATE)) / RATE
    notes = (220.0, 277.18, 329.63)
    wave = sum(np.sin(2 * np.pi * k * f * t) / k**1.5 for f in notes for k in range(1, 8))
    return (0.2 * wave * np.exp(-2.0 * t)).astype(np.float32)


def _scale() -> np.ndarray:
    note = np.arange(int(0.25 * RATE)) / RATE
    pieces = []
    for step in (0, 2, 4, 5, 7, 9, 11, 12):
        f = 261.63 * 2 ** (step / 12) * (1 + 0.01 * np.sin(2 * np.pi * 5 * note))
        phase = 2 * np.pi * np.cumsum(f) / RATE
        pieces.append((np.sin(phase) + 0.3 * np.sin(2 * phase)) * np.hanning(note.size))
    return (0.5 * np.concatenate(pieces)).astype(np.float32)


@pytest.fixture(scope="module")
def signals(tmp_path_factory) -> dict[str, np.ndarray]:
    return {"speech": _speech(tmp_path_factory), "chord": _chord(), "scale": _scale()}


def _rel(ours: np.ndarray, reference: np.ndarray) -> float:
    assert ours.shape == reference.shape, (ours.shape, reference.shape)
    return float(np.abs(ours - reference).max() / np.abs(reference).max())


def _pairs_to_complex(pairs: np.ndarray) -> np.ndarray:
    return pairs[..., 0] + 1j * pairs[..., 1]


def _stft(y):
    ours = _pairs_to_complex(Spectrogram(1024, hop_length=256, power=None, pad_mode="constant")(tensor(y)).numpy())
    return ours, librosa.stft(y, n_fft=1024, hop_length=256)


def _power(y):
    ours = Spectrogram(512, hop_length=128, power=2.0, pad_mode="reflect")(tensor(y)).numpy()
    return ours, np.abs(librosa.stft(y, n_fft=512, hop_length=128, pad_mode="reflect")) ** 2


def _mel(mel_scale, norm):
    def case(y):
        ours = MelSpectrogram(
            RATE,
            n_fft=2048,
            hop_length=512,
            n_mels=80,
            f_min=30.0,
            f_max=8000.0,
            pad_mode="constant",
            mel_scale=mel_scale,
            norm=norm,
        )(tensor(y)).numpy()
        reference = librosa.feature.melspectrogram(
            y=y,
            sr=RATE,
            n_fft=2048,
            hop_length=512,
            n_mels=80,
            fmin=30.0,
            fmax=8000.0,
            htk=mel_scale == "htk",
            norm=norm,
        )
        return ours, reference

    return case


def _db(y):
    power = np.abs(librosa.stft(y, n_fft=1024, hop_length=256)) ** 2
    return AmplitudeToDB("power", top_db=80.0)(tensor(power)).numpy(), librosa.power_to_db(power, top_db=80.0)


def _mfcc(y):
    ours = MFCC(
        RATE,
        n_mfcc=20,
        melkwargs=dict(n_fft=2048, hop_length=512, n_mels=128, pad_mode="constant", mel_scale="slaney", norm="slaney"),
    )(tensor(y)).numpy()
    return ours, librosa.feature.mfcc(y=y, sr=RATE, n_mfcc=20)


def _istft(y):
    spec = Spectrogram(1024, hop_length=256, power=None, pad_mode="constant")(tensor(y))
    ours = InverseSpectrogram(1024, hop_length=256)(spec, length=y.shape[0]).numpy()
    return ours, librosa.istft(librosa.stft(y, n_fft=1024, hop_length=256), hop_length=256, length=y.shape[0])


def _phase_vocoder(y):
    spec = Spectrogram(2048, hop_length=512, power=None, pad_mode="constant")(tensor(y.astype(np.float64)))
    ours = _pairs_to_complex(TimeStretch(512, 1025, fixed_rate=1.25)(spec).numpy())
    return ours, librosa.phase_vocoder(librosa.stft(y.astype(np.float64)), rate=1.25, hop_length=512)


def _time_stretch(rate):
    def case(y):
        y = y.astype(np.float64)
        spec = Spectrogram(2048, hop_length=512, power=None, pad_mode="constant")(tensor(y))
        stretched = TimeStretch(512, 1025, fixed_rate=rate)(spec)
        ours = InverseSpectrogram(2048, hop_length=512)(stretched, length=round(y.shape[0] / rate)).numpy()
        return ours, librosa.effects.time_stretch(y, rate=rate)

    return case


def _passband(case, rate_of_lowest_nyquist, fraction=0.85):
    """Both outputs low-passed (FFT bins zeroed) at ``fraction`` of the lower Nyquist: two good resamplers agree in
    their passband and differ in how they roll off towards Nyquist (soxr's band edge is its own)."""

    def banded(y):
        ours, reference = case(y)
        rate = rate_of_lowest_nyquist(ours.shape[-1], y.shape[-1])
        cut = int(fraction * 0.5 * rate / (RATE * ours.shape[-1] / y.shape[-1]) * ours.shape[-1])

        def low(x):
            spectrum = np.fft.rfft(x)
            spectrum[cut:] = 0
            return np.fft.irfft(spectrum, n=x.shape[-1])

        return low(ours), low(reference)

    return banded


def _pitch_shift(n_steps, method):
    def case(y):
        y = y.astype(np.float64)
        shift = PitchShift(RATE, n_steps, n_fft=2048, hop_length=512, resampling_method=method)
        ours = axon_audio.pitch_shift(
            tensor(y), RATE, n_steps, n_fft=2048, hop_length=512, resampling_method=method, pad_mode="constant"
        ).numpy()
        assert shift.n_fft == 2048
        return ours, librosa.effects.pitch_shift(y, sr=RATE, n_steps=n_steps)

    return case


def _resample(target, method, res_type):
    def case(y):
        ours = axon_audio.resample(tensor(y.astype(np.float64)), RATE, target, method).numpy()
        return ours, librosa.resample(y.astype(np.float64), orig_sr=RATE, target_sr=target, res_type=res_type)

    return case


# (name, case, tolerance on max|axon - librosa| / max|librosa|)
CASES = [
    ("stft", _stft, 1e-5),
    ("power spectrogram, reflect padding", _power, 1e-5),
    ("melspectrogram htk, no norm", _mel("htk", None), 1e-5),
    ("melspectrogram slaney, slaney norm", _mel("slaney", "slaney"), 1e-5),
    ("melspectrogram htk, slaney norm", _mel("htk", "slaney"), 1e-5),
    ("power_to_db top_db=80", _db, 1e-5),
    ("mfcc (librosa defaults)", _mfcc, 1e-4),
    ("istft", _istft, 1e-5),
    ("phase_vocoder rate 1.25", _phase_vocoder, 1e-9),
    ("time_stretch 1.25", _time_stretch(1.25), 1e-9),
    ("time_stretch 0.8", _time_stretch(0.8), 1e-9),
    ("pitch_shift +3, soxr", _pitch_shift(3, "soxr_hq"), 1e-4),
    (
        "pitch_shift -4, kaiser_best",
        _passband(_pitch_shift(-4, "kaiser_best"), lambda o, i: RATE / 2 ** (4 / 12)),
        2e-3,
    ),
    ("pitch_shift +2, sinc hann", _passband(_pitch_shift(2, "sinc_interp_hann"), lambda o, i: RATE), 2e-2),
    ("resample 16k soxr_hq", _resample(16000, "soxr_hq", "soxr_hq"), 1e-9),
    (
        "resample 16k kaiser_best vs soxr_vhq",
        _passband(_resample(16000, "kaiser_best", "soxr_vhq"), lambda o, i: 16000),
        5e-3,
    ),
    (
        "resample 16k kaiser_fast vs soxr_vhq",
        _passband(_resample(16000, "kaiser_fast", "soxr_vhq"), lambda o, i: 16000, 0.7),
        5e-3,
    ),
    (
        "resample 44.1k sinc hann vs soxr_vhq",
        _passband(_resample(44100, "sinc_interp_hann", "soxr_vhq"), lambda o, i: RATE),
        5e-3,
    ),
]


@pytest.mark.parametrize("source", ["speech", "chord", "scale"])
@pytest.mark.parametrize(("name", "case", "tolerance"), CASES, ids=[c[0] for c in CASES])
def test_against_librosa(signals, source, name, case, tolerance):
    ours, reference = case(signals[source])
    error = _rel(ours, reference)
    print(f"{name} on {source}: {error:.3g}")
    assert error < tolerance, f"{name} on {source}: relative error {error:.3g} >= {tolerance}"


@pytest.mark.parametrize("source", ["speech", "chord", "scale"])
@pytest.mark.parametrize("top_db", [20.0, 40.0, 60.0])
def test_trim_matches_librosa(signals, source, top_db):
    silence = np.zeros(5000, dtype=np.float32)
    y = np.concatenate([silence, signals[source], silence])
    _, (start, end) = librosa.effects.trim(y, top_db=top_db)
    trim = TrimSilence(top_db=top_db)
    out = trim(tensor(y)).numpy()
    assert trim.last_index == (start, end)
    np.testing.assert_array_equal(out, y[start:end])
