"""axon-audio: audio I/O and resampling (transforms and datasets follow; see README.md).

Waveforms are ``[..., time]`` (files load as ``[channels, frames]``).
"""

from __future__ import annotations

from .errors import AudioFileError
from .io import AudioInfo, info, load, save
from .resample import RESAMPLING_METHODS, Resample, resample

__version__ = "0.1.0"

__all__ = ["AudioFileError", "AudioInfo", "RESAMPLING_METHODS", "Resample", "info", "load", "resample", "save"]
