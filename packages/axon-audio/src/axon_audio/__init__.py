"""axon-audio: audio I/O and resampling, differentiable transforms with torchaudio's names, audio datasets.

Waveforms are ``[..., time]`` (files load as ``[channels, frames]``); complex spectrograms are real/imag
pairs ``[..., freq, frames, 2]``. See README.md for the oracle and the tolerances.
"""

from __future__ import annotations

from .amplitude import AmplitudeToDB, amplitude_to_DB
from .datasets import (
    AUDIO_EXTENSIONS,
    AudioFolder,
    AudioSeq2SeqDataset,
    SpeechCommands,
    SyntheticCommandDataset,
    SyntheticMusicDataset,
    SyntheticSpeakerDataset,
)
from .errors import AudioFileError
from .io import AudioInfo, info, load, save
from .masking import FrequencyMasking, SpecAugment, TimeMasking, mask_along_axis
from .mel import MelScale, MelSpectrogram, hz_to_mel, mel_to_hz, melscale_fbanks
from .mfcc import MFCC, create_dct
from .noise import AddNoise, add_noise
from .normalize import NormalizeAudio
from .pitch_shift import PitchShift, pitch_shift
from .resample import RESAMPLING_METHODS, Resample, resample
from .spectrogram import InverseSpectrogram, Spectrogram, spectrogram
from .time_stretch import TimeStretch, phase_vocoder
from .trim import TrimSilence, trim_indices
from .window import hann_window

__version__ = "0.1.0"

__all__ = [
    "AUDIO_EXTENSIONS",
    "AddNoise",
    "AmplitudeToDB",
    "AudioFileError",
    "AudioFolder",
    "AudioInfo",
    "AudioSeq2SeqDataset",
    "FrequencyMasking",
    "InverseSpectrogram",
    "MFCC",
    "MelScale",
    "MelSpectrogram",
    "NormalizeAudio",
    "PitchShift",
    "RESAMPLING_METHODS",
    "Resample",
    "SpecAugment",
    "SpeechCommands",
    "Spectrogram",
    "SyntheticCommandDataset",
    "SyntheticMusicDataset",
    "SyntheticSpeakerDataset",
    "TimeMasking",
    "TimeStretch",
    "TrimSilence",
    "add_noise",
    "amplitude_to_DB",
    "create_dct",
    "hann_window",
    "hz_to_mel",
    "info",
    "load",
    "mask_along_axis",
    "mel_to_hz",
    "melscale_fbanks",
    "phase_vocoder",
    "pitch_shift",
    "resample",
    "save",
    "spectrogram",
    "trim_indices",
]
