"""axon-audio's datasets: the seed's synthetic ones, AudioFolder and a Speech Commands reader."""

from __future__ import annotations

from .folder import AUDIO_EXTENSIONS, AudioFolder
from .speech_commands import SpeechCommands
from .synthetic import AudioSeq2SeqDataset, SyntheticCommandDataset, SyntheticMusicDataset, SyntheticSpeakerDataset

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioFolder",
    "AudioSeq2SeqDataset",
    "SpeechCommands",
    "SyntheticCommandDataset",
    "SyntheticMusicDataset",
    "SyntheticSpeakerDataset",
]
