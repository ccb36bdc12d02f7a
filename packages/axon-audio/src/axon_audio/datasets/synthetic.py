"""The seed's synthetic audio datasets: generated on the fly, deterministic in ``(seed, index)``, no files.

Each sample is ``(waveform, target)`` with ``waveform`` a float32 Tensor ``[1, samples]`` in [-1, 1]:

- ``SyntheticCommandDataset``: "spoken commands", class ``c`` a two-formant glide (formants
  ``formants(c)`` in Hz) with jittered pitch, onset and level; target the class.
- ``SyntheticMusicDataset``: "genres", each a tempo (notes per second), a pentatonic register and a
  timbre (harmonic roll-off); target the genre.
- ``SyntheticSpeakerDataset``: "speakers", each a fundamental ``f0(s)`` and vocal-tract formants, saying
  random vowel sequences; target the speaker.
- ``AudioSeq2SeqDataset``: a token sequence spoken as one tone per token (token ``t`` at
  ``token_frequency(t)`` Hz); target the int64 token Tensor ``[tokens]``.
"""

from __future__ import annotations

import numpy as np

from axon_data import Dataset
from axon_tensor import Tensor, tensor

__all__ = ["AudioSeq2SeqDataset", "SyntheticCommandDataset", "SyntheticMusicDataset", "SyntheticSpeakerDataset"]


def _rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, index])


def _check(name: str, length: int, index: int) -> int:
    if not -length <= index < length:
        raise IndexError(f"{name}: index {index} out of range for {length} samples")
    return index % length


def _finish(wave: np.ndarray, rng: np.random.Generator, noise_level: float) -> Tensor:
    wave = wave + noise_level * rng.standard_normal(wave.shape)
    wave = wave / max(1e-9, float(np.abs(wave).max())) * rng.uniform(0.5, 0.95)
    return tensor(wave.astype(np.float32)[None, :])


def _harmonics(f0: np.ndarray, sample_rate: int, formants: tuple[float, ...], bandwidth: float = 120.0) -> np.ndarray:
    """A glottal-like source at the instantaneous pitch ``f0 [samples]`` shaped by resonances at ``formants``."""
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    wave = np.zeros_like(f0)
    for k in range(1, int(sample_rate / 2 / f0.max())):
        gain = sum(1.0 / (1.0 + ((k * f0 - f) / bandwidth) ** 2) for f in formants)
        wave += gain * np.sin(k * phase) / k**0.5
    return wave


class SyntheticCommandDataset(Dataset):
    """``num_samples`` "commands" of ``duration`` s from ``num_classes`` classes (target ``index % num_classes``)."""

    def __init__(
        self,
        num_samples: int = 1000,
        num_classes: int = 10,
        sample_rate: int = 16000,
        duration: float = 1.0,
        noise_level: float = 0.02,
        seed: int = 0,
    ) -> None:
        if num_samples < 1 or num_classes < 1 or sample_rate < 1000 or duration <= 0:
            raise ValueError(
                "SyntheticCommandDataset: need num_samples, num_classes >= 1, sample_rate >= 1000, duration > 0"
            )
        self.num_samples, self.num_classes, self.sample_rate = num_samples, num_classes, sample_rate
        self.duration, self.noise_level, self.seed = duration, noise_level, seed

    def formants(self, label: int) -> tuple[float, float]:
        """The class's (start, end) formant in Hz: spread evenly over 400-3400 Hz, gliding by a class-set step."""
        f1 = 400.0 + 3000.0 * label / max(1, self.num_classes)
        return f1, f1 * (1.3 if label % 2 else 0.8)

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        index = _check(type(self).__name__, self.num_samples, index)
        label, rng = index % self.num_classes, _rng(self.seed, index)
        n = int(self.duration * self.sample_rate)
        spoken = int(n * rng.uniform(0.5, 0.7))
        start = int(rng.integers(0, n - spoken + 1))
        f0 = np.full(spoken, rng.uniform(100.0, 180.0))
        begin, end = self.formants(label)
        wave = np.zeros(n)
        glide = np.linspace(begin, end, spoken)
        phase = 2 * np.pi * np.cumsum(glide) / self.sample_rate
        voiced = _harmonics(f0, self.sample_rate, (begin, end)) * 0.3 + np.sin(phase)
        wave[start : start + spoken] = voiced * np.hanning(spoken)
        return _finish(wave, rng, self.noise_level), label


class SyntheticMusicDataset(Dataset):
    """``num_samples`` clips of ``duration`` seconds from ``num_genres`` genres (target ``index % num_genres``)."""

    def __init__(
        self,
        num_samples: int = 500,
        num_genres: int = 4,
        sample_rate: int = 22050,
        duration: float = 2.0,
        noise_level: float = 0.01,
        seed: int = 0,
    ) -> None:
        if num_samples < 1 or num_genres < 1 or duration <= 0:
            raise ValueError("SyntheticMusicDataset: need num_samples, num_genres >= 1 and duration > 0")
        self.num_samples, self.num_genres, self.sample_rate = num_samples, num_genres, sample_rate
        self.duration, self.noise_level, self.seed = duration, noise_level, seed

    def tempo(self, genre: int) -> float:
        """Notes per second of a genre (2 to 8)."""
        return 2.0 + 6.0 * genre / max(1, self.num_genres - 1)

    def root(self, genre: int) -> float:
        """The genre's lowest note in Hz (one octave apart per genre, from 110 Hz)."""
        return 110.0 * 2.0 ** (genre % 4)

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        index = _check(type(self).__name__, self.num_samples, index)
        genre, rng = index % self.num_genres, _rng(self.seed, index)
        n = int(self.duration * self.sample_rate)
        note_len = int(self.sample_rate / self.tempo(genre))
        rolloff = 0.5 + genre / max(1, self.num_genres)
        pentatonic = np.array([0, 2, 4, 7, 9, 12])
        t = np.arange(note_len) / self.sample_rate
        notes = []
        for _ in range(-(-n // note_len)):
            freq = self.root(genre) * 2.0 ** (rng.choice(pentatonic) / 12.0)
            tone = sum(np.sin(2 * np.pi * k * freq * t) / k ** (1.0 + rolloff) for k in range(1, 6))
            notes.append(tone * np.exp(-t * 4.0 * self.tempo(genre)))
        return _finish(np.concatenate(notes)[:n], rng, self.noise_level), genre


class SyntheticSpeakerDataset(Dataset):
    """``num_speakers * utterances_per_speaker`` utterances; sample ``i`` is speaker ``i // utterances_per_speaker``."""

    _VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410))

    def __init__(
        self,
        num_speakers: int = 10,
        utterances_per_speaker: int = 20,
        sample_rate: int = 16000,
        duration: float = 1.0,
        noise_level: float = 0.02,
        seed: int = 0,
    ) -> None:
        if num_speakers < 1 or utterances_per_speaker < 1 or duration <= 0:
            raise ValueError("SyntheticSpeakerDataset: need num_speakers, utterances_per_speaker >= 1, duration > 0")
        self.num_speakers, self.utterances_per_speaker = num_speakers, utterances_per_speaker
        self.sample_rate, self.duration, self.noise_level, self.seed = sample_rate, duration, noise_level, seed
        voice = np.random.default_rng([seed, 1 << 30])
        self.f0s = np.linspace(90.0, 260.0, num_speakers)
        self.tract = voice.uniform(0.85, 1.2, num_speakers)  # formant scale (vocal-tract length)

    def f0(self, speaker: int) -> float:
        """The speaker's mean fundamental frequency in Hz."""
        return float(self.f0s[speaker])

    def __len__(self) -> int:
        return self.num_speakers * self.utterances_per_speaker

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        index = _check(type(self).__name__, len(self), index)
        speaker, rng = index // self.utterances_per_speaker, _rng(self.seed, index)
        n = int(self.duration * self.sample_rate)
        pieces, count = [], int(rng.integers(2, 5))
        for size in np.diff(np.linspace(0, n, count + 1).astype(int)):
            vowel = self._VOWELS[int(rng.integers(len(self._VOWELS)))]
            f0 = self.f0(speaker) * (1.0 + 0.05 * np.sin(np.linspace(0, rng.uniform(1, 3), size)))
            formants = tuple(f * self.tract[speaker] for f in vowel)
            pieces.append(_harmonics(f0, self.sample_rate, formants) * np.hanning(size))
        return _finish(np.concatenate(pieces), rng, self.noise_level), speaker


class AudioSeq2SeqDataset(Dataset):
    """``num_samples`` pairs (waveform of ``k`` tones, tokens ``[k]``), ``k`` in ``[min_tokens, max_tokens]``."""

    def __init__(
        self,
        num_samples: int = 500,
        vocab_size: int = 10,
        min_tokens: int = 2,
        max_tokens: int = 6,
        token_duration: float = 0.1,
        sample_rate: int = 16000,
        noise_level: float = 0.01,
        seed: int = 0,
    ) -> None:
        if num_samples < 1 or vocab_size < 1 or not 1 <= min_tokens <= max_tokens or token_duration <= 0:
            raise ValueError("AudioSeq2SeqDataset: need num_samples, vocab_size >= 1, 1 <= min_tokens <= max_tokens")
        self.num_samples, self.vocab_size = num_samples, vocab_size
        self.min_tokens, self.max_tokens, self.token_duration = min_tokens, max_tokens, token_duration
        self.sample_rate, self.noise_level, self.seed = sample_rate, noise_level, seed

    def token_frequency(self, token: int) -> float:
        """The tone of a token in Hz: semitone steps from 220 Hz."""
        return 220.0 * 2.0 ** (2 * token / 12.0)

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        index = _check(type(self).__name__, self.num_samples, index)
        rng = _rng(self.seed, index)
        tokens = rng.integers(0, self.vocab_size, int(rng.integers(self.min_tokens, self.max_tokens + 1)))
        size = int(self.token_duration * self.sample_rate)
        t = np.arange(size) / self.sample_rate
        wave = np.concatenate([np.sin(2 * np.pi * self.token_frequency(int(k)) * t) * np.hanning(size) for k in tokens])
        return _finish(wave, rng, self.noise_level), tensor(tokens.astype(np.int64))
