"""Reading and writing audio files through soundfile (libsndfile): WAV, FLAC, OGG/Vorbis and the rest it knows.

Waveforms are channels-first, ``[channels, frames]``, float32 in [-1, 1] by default, as ``torchaudio.load``.
Every failure to read is an :class:`~axon_audio.errors.AudioFileError` naming the file; writes go through
``axon_core.atomic_writer``, so a failed save leaves the old file (or none) in place.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from axon_core import ShapeError, atomic_writer
from axon_tensor import Tensor, tensor

from ._util import numpy_of
from .errors import AudioFileError
from .resample import resample

__all__ = ["AudioInfo", "info", "load", "save"]

# soundfile's format names by file extension (what ``save`` writes when ``format`` is not given).
_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG", ".aiff": "AIFF", ".aif": "AIFF"}
_DTYPES = {"float32": "float32", "float64": "float64", "int16": "int16", "int32": "int32"}


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says: rate in Hz, frame count, channel count, soundfile's format and subtype."""

    sample_rate: int
    num_frames: int
    num_channels: int
    format: str
    subtype: str


def _read_error(path: Any, error: BaseException) -> AudioFileError:
    return AudioFileError(f"cannot read audio file {os.fspath(path)!r}: {error}")


def info(path: str | os.PathLike[str]) -> AudioInfo:
    """The header of the audio file at ``path`` (AudioFileError when missing or unreadable)."""
    _check_exists(path)
    try:
        meta = soundfile.info(os.fspath(path))
    except Exception as error:  # libsndfile reports corrupt headers with several exception types
        raise _read_error(path, error) from error
    return AudioInfo(int(meta.samplerate), int(meta.frames), int(meta.channels), meta.format, meta.subtype)


def _check_exists(path: Any) -> None:
    if not Path(path).is_file():
        raise AudioFileError(f"audio file {os.fspath(path)!r} does not exist (or is not a regular file)")


def load(
    path: str | os.PathLike[str],
    sample_rate: int | None = None,
    mono: bool = False,
    dtype: str = "float32",
    frame_offset: int = 0,
    num_frames: int = -1,
    resampling_method: str = "soxr_hq",
) -> tuple[Tensor, int]:
    """Read ``path`` -> ``(waveform [channels, frames], sample_rate)``.

    ``frame_offset`` / ``num_frames`` (-1: to the end) select frames before any conversion. ``mono``
    averages the channels to ``[1, frames]``. ``sample_rate``, when given and different from the
    file's, resamples with :func:`axon_audio.resample` (``resampling_method``). ``dtype`` is
    ``float32`` / ``float64`` (values in [-1, 1]) or ``int16`` / ``int32`` (raw PCM, no resampling).
    """
    if dtype not in _DTYPES:
        raise ValueError(f"load: dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    if frame_offset < 0:
        raise ValueError(f"load: frame_offset must be >= 0, got {frame_offset}")
    _check_exists(path)
    try:
        with soundfile.SoundFile(os.fspath(path)) as handle:
            rate = int(handle.samplerate)
            if frame_offset > handle.frames:
                raise AudioFileError(
                    f"load: frame_offset {frame_offset} is past the end of {os.fspath(path)!r} ({handle.frames} frames)"
                )
            handle.seek(frame_offset)
            data = handle.read(frames=num_frames, dtype=_DTYPES[dtype], always_2d=True)
    except AudioFileError:
        raise
    except Exception as error:  # RuntimeError (LibsndfileError), ValueError, TypeError, ... on corrupt data
        raise _read_error(path, error) from error
    waveform = np.ascontiguousarray(data.T)
    if dtype.startswith("int") and (mono or (sample_rate not in (None, rate))):
        raise ValueError(f"load: mono and resampling need a float dtype, got dtype={dtype!r}")
    if mono and waveform.shape[0] > 1:
        waveform = waveform.mean(axis=0, keepdims=True)
    if not np.all(np.isfinite(waveform)):
        raise AudioFileError(f"audio file {os.fspath(path)!r} holds non-finite samples")
    if sample_rate is not None and sample_rate != rate:
        waveform = numpy_of(resample(waveform, rate, sample_rate, resampling_method=resampling_method))
        rate = sample_rate
    return tensor(waveform), rate


def save(
    path: str | os.PathLike[str],
    waveform: Any,
    sample_rate: int,
    format: str | None = None,
    subtype: str | None = None,
) -> None:
    """Write ``waveform`` (``[channels, frames]`` or ``[frames]``; float in [-1, 1] or int PCM) to ``path``.

    ``format`` defaults from the extension (``.wav``, ``.flac``, ``.ogg``, ...); ``subtype`` to
    soundfile's default for it (PCM_16 for WAV and FLAC, VORBIS for OGG). Written atomically.
    """
    data = numpy_of(waveform)
    if data.ndim == 1:
        data = data[None, :]
    if data.ndim != 2:
        raise ShapeError(f"save: waveform must be [channels, frames] or [frames], got {data.shape}")
    if data.shape[0] > data.shape[1] and data.shape[0] > 64:
        raise ShapeError(f"save: waveform {data.shape} looks like [frames, channels]; pass [channels, frames]")
    if sample_rate <= 0:
        raise ValueError(f"save: sample_rate must be positive, got {sample_rate}")
    kind = format or _FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise ValueError(f"save: cannot tell the format of {os.fspath(path)!r}; pass format= (e.g. 'WAV')")
    if np.issubdtype(data.dtype, np.floating) and not np.all(np.isfinite(data)):
        raise ValueError(f"save: waveform for {os.fspath(path)!r} holds non-finite samples")
    buffer = io.BytesIO()
    try:
        soundfile.write(buffer, data.T, int(sample_rate), format=kind, subtype=subtype)
    except (soundfile.LibsndfileError, ValueError, TypeError) as error:
        raise ValueError(f"save: soundfile cannot write {os.fspath(path)!r} as {kind}/{subtype}: {error}") from error
    with atomic_writer(path) as handle:
        handle.write(buffer.getvalue())
