"""Synthetic animal calls, espeak-ng speech as a distractor, and background noise at several SNRs.

No recordings of animal calls install from PyPI or Debian here, so each "species" is a documented
parametric call, drawn afresh for every clip (onset, note count and lengths, frequencies, rates):

- ``upsweep``: 3-6 rising chirps of 60-120 ms, from 1.8-2.5 kHz to 3.5-4.5 kHz;
- ``downsweep``: 2-4 falling chirps of 150-250 ms, from 4.5-5.5 kHz to 2.2-3.0 kHz;
- ``trill``: 0.4-0.8 s of a 3-4 kHz carrier pulsed at 12-25 Hz (below half the 62.5 Hz frame rate of the features);
- ``hooter``: 2-3 harmonic notes of 250-400 ms, fundamental 300-550 Hz, five harmonics at 1/k, 4-6 Hz vibrato;
- ``cricket``: groups of 3-5 pulses of 10 ms at 5.0-6.5 kHz, 3-5 groups a second;
- ``whistle``: one 0.3-0.7 s note at 2.4-3.4 kHz with a 6-9 Hz vibrato of 80-250 Hz;
- ``speech``: a word spoken by espeak-ng (Debian's), voice, speed and pitch drawn per clip.

Every clip is ``CLIP_SECONDS`` at ``RATE`` with the call at a random onset, mixed with background
noise (pink and brown noise plus rain-like clicks, drawn per clip) at an SNR drawn from the
split's list, through ``axon_audio.add_noise``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import axon_audio
from axon_autograd import no_grad
from axon_tensor import tensor

RATE = 16000
CLIP_SECONDS = 1.0
CLIP = int(RATE * CLIP_SECONDS)
SPECIES = ("upsweep", "downsweep", "trill", "hooter", "cricket", "whistle")
CLASSES = SPECIES + ("speech",)
SPEECH_WORDS = ("hello", "seven", "river", "morning", "yellow", "window", "basket", "over", "tiger", "garden")
SPEECH_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-us+f3", "en-gb+m3", "en-029", "en-us+m4", "en-gb-x-rp")


def _chirp(f_start: float, f_end: float, seconds: float) -> np.ndarray:
    """A Hann-windowed linear chirp ``[round(seconds * RATE)]``."""
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * (f_start * t + (f_end - f_start) * t**2 / (2 * seconds))
    return np.sin(phase) * np.hanning(t.size)


def _tone(frequency: np.ndarray) -> np.ndarray:
    """A tone following the instantaneous ``frequency [samples]`` in Hz."""
    return np.sin(2 * np.pi * np.cumsum(frequency) / RATE)


def _notes(rng: np.random.Generator, notes: list[np.ndarray], gap: tuple[float, float]) -> np.ndarray:
    pieces = []
    for note in notes:
        pieces += [note, np.zeros(int(rng.uniform(*gap) * RATE))]
    return np.concatenate(pieces[:-1])


def _upsweep(rng: np.random.Generator) -> np.ndarray:
    count = int(rng.integers(3, 7))
    notes = [_chirp(rng.uniform(1800, 2500), rng.uniform(3500, 4500), rng.uniform(0.06, 0.12)) for _ in range(count)]
    return _notes(rng, notes, (0.04, 0.1))


def _downsweep(rng: np.random.Generator) -> np.ndarray:
    count = int(rng.integers(2, 5))
    notes = [_chirp(rng.uniform(4500, 5500), rng.uniform(2200, 3000), rng.uniform(0.15, 0.25)) for _ in range(count)]
    return _notes(rng, notes, (0.03, 0.08))


def _trill(rng: np.random.Generator) -> np.ndarray:
    n = int(rng.uniform(0.4, 0.8) * RATE)
    t = np.arange(n) / RATE
    pulses = (0.5 * (1 + np.sin(2 * np.pi * rng.uniform(12, 25) * t))) ** 4
    return np.sin(2 * np.pi * rng.uniform(3000, 4000) * t) * pulses * np.hanning(n)


def _hooter(rng: np.random.Generator) -> np.ndarray:
    notes = []
    for _ in range(int(rng.integers(2, 4))):
        n = int(rng.uniform(0.25, 0.4) * RATE)
        t = np.arange(n) / RATE
        f0 = rng.uniform(300, 550) * (1 + 0.02 * np.sin(2 * np.pi * rng.uniform(4, 6) * t))
        notes.append(sum(_tone(k * f0) / k for k in range(1, 6)) * np.hanning(n))
    return _notes(rng, notes, (0.05, 0.12))


def _cricket(rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(CLIP)
    pulse = _chirp(f := rng.uniform(5000, 6500), f, 0.01)
    period = 1.0 / rng.uniform(3, 5)
    start = rng.uniform(0, period)
    while start + 0.1 < CLIP_SECONDS:
        for k in range(int(rng.integers(3, 6))):
            at = int((start + k * 0.02) * RATE)
            out[at : at + pulse.size] += pulse[: CLIP - at]
        start += period
    return out


def _whistle(rng: np.random.Generator) -> np.ndarray:
    n = int(rng.uniform(0.3, 0.7) * RATE)
    t = np.arange(n) / RATE
    frequency = rng.uniform(2400, 3400) + rng.uniform(80, 250) * np.sin(2 * np.pi * rng.uniform(6, 9) * t)
    return _tone(frequency) * np.hanning(n)


def _speech(rng: np.random.Generator, folder: Path) -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("the speech class needs espeak-ng (Debian's espeak-ng package; make setup installs it)")
    path = folder / "word.wav"
    word, voice = rng.choice(SPEECH_WORDS), rng.choice(SPEECH_VOICES)
    speed, pitch = int(rng.integers(120, 200)), int(rng.integers(30, 70))
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), word],
        check=True,
        capture_output=True,
    )
    wave, _ = axon_audio.load(path, sample_rate=RATE, mono=True)
    return wave.numpy()[0][:CLIP].astype(np.float64)


GENERATORS = {
    "upsweep": _upsweep,
    "downsweep": _downsweep,
    "trill": _trill,
    "hooter": _hooter,
    "cricket": _cricket,
    "whistle": _whistle,
}


def background(rng: np.random.Generator) -> np.ndarray:
    """Pink and brown noise in a drawn mix, plus sparse rain-like clicks ``[CLIP]``."""
    spectrum = np.fft.rfft(rng.standard_normal(CLIP))
    f = np.maximum(np.fft.rfftfreq(CLIP, 1 / RATE), 20.0)
    pink = np.fft.irfft(spectrum / np.sqrt(f), CLIP)
    brown = np.fft.irfft(spectrum / f, CLIP)
    clicks = np.zeros(CLIP)
    clicks[rng.integers(0, CLIP, int(rng.integers(5, 40)))] = rng.standard_normal() * 3
    mix = pink / pink.std() + rng.uniform(0, 1) * brown / brown.std() + clicks
    return mix / mix.std()


def place(call: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``call`` at a random onset in a silent clip ``[CLIP]`` (cut at the clip's end), peak 1."""
    call = call[:CLIP]
    clip = np.zeros(CLIP)
    onset = int(rng.integers(0, CLIP - call.size + 1))
    clip[onset : onset + call.size] = call
    return clip / max(np.abs(clip).max(), 1e-12)


@dataclass(frozen=True)
class SplitSpec:
    """How many clips of each class (``counts``, in :data:`CLASSES` order), the SNRs in dB drawn
    from per clip, and the seed of the split's generator."""

    counts: tuple[int, ...]
    snrs_db: tuple[float, ...]
    seed: int


def make_clips(spec: SplitSpec) -> tuple[np.ndarray, np.ndarray]:
    """Waveforms ``[n, CLIP]`` float32 and labels ``[n]`` int64, the same for the same ``spec``."""
    if len(spec.counts) != len(CLASSES):
        raise ValueError(f"make_clips: {len(spec.counts)} counts for {len(CLASSES)} classes {CLASSES}")
    rng = np.random.default_rng(spec.seed)
    calls, noises, labels = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for label, (name, count) in enumerate(zip(CLASSES, spec.counts)):
            for _ in range(count):
                call = _speech(rng, Path(folder)) if name == "speech" else GENERATORS[name](rng)
                calls.append(place(call, rng))
                noises.append(background(rng))
                labels.append(label)
    snr = rng.choice(np.asarray(spec.snrs_db, dtype=np.float64), len(calls))
    with no_grad():
        mixed = axon_audio.add_noise(tensor(np.stack(calls)), tensor(np.stack(noises)), tensor(snr)).numpy()
    return mixed.astype(np.float32), np.asarray(labels, dtype=np.int64)
