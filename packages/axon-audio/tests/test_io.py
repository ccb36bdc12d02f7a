"""Loading and saving: round trips checked against soundfile's own reads, typed errors, atomic saves."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import soxr

import axon_audio
from axon_audio import AudioFileError
from axon_core import ShapeError

RATE = 16000


def _stereo(frames: int = 4000) -> np.ndarray:
    t = np.arange(frames) / RATE
    return np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)]).astype(np.float32)


@pytest.mark.parametrize(
    ("suffix", "subtype", "atol"),
    [(".wav", "FLOAT", 0.0), (".wav", "PCM_16", 1 / 32768), (".flac", None, 1 / 32768), (".ogg", None, None)],
)
def test_round_trip_matches_soundfile(tmp_path, suffix, subtype, atol):
    path = tmp_path / f"tone{suffix}"
    wave = _stereo()
    axon_audio.save(path, wave, RATE, subtype=subtype)
    loaded, rate = axon_audio.load(path)
    reference, ref_rate = soundfile.read(path, dtype="float32", always_2d=True)
    assert rate == ref_rate == RATE
    assert loaded.shape == (2, wave.shape[1])
    np.testing.assert_array_equal(loaded.numpy(), reference.T)
    if atol is not None:
        np.testing.assert_allclose(loaded.numpy(), wave, atol=atol, rtol=0)
    else:  # Vorbis is lossy: the tones survive to within a few percent of their energy
        error = np.linalg.norm(loaded.numpy() - wave) / np.linalg.norm(wave)
        assert error < 0.1, error


def test_info_mono_offset_and_int16(tmp_path):
    path = tmp_path / "s.wav"
    wave = _stereo()
    axon_audio.save(path, wave, RATE, subtype="PCM_16")
    meta = axon_audio.info(path)
    assert (meta.sample_rate, meta.num_frames, meta.num_channels, meta.format) == (RATE, 4000, 2, "WAV")
    mono, _ = axon_audio.load(path, mono=True)
    full, _ = axon_audio.load(path)
    np.testing.assert_allclose(mono.numpy(), full.numpy().mean(axis=0, keepdims=True), rtol=0, atol=1e-7)
    part, _ = axon_audio.load(path, frame_offset=100, num_frames=50)
    np.testing.assert_array_equal(part.numpy(), full.numpy()[:, 100:150])
    raw, _ = axon_audio.load(path, dtype="int16")
    np.testing.assert_array_equal(raw.numpy(), soundfile.read(path, dtype="int16", always_2d=True)[0].T)


def test_load_resamples_with_soxr(tmp_path):
    path = tmp_path / "s.wav"
    wave = _stereo()
    axon_audio.save(path, wave, RATE, subtype="FLOAT")
    out, rate = axon_audio.load(path, sample_rate=22050)
    assert rate == 22050 and out.shape == (2, int(np.ceil(4000 * 22050 / RATE)))
    reference = soxr.resample(wave[0].astype(np.float32), RATE, 22050, quality="HQ")
    np.testing.assert_allclose(out.numpy()[0, : reference.shape[0]], reference, rtol=0, atol=1e-6)


def test_missing_and_garbage_files_raise_typed_errors(tmp_path):
    missing = tmp_path / "none.wav"
    with pytest.raises(AudioFileError, match="none.wav"):
        axon_audio.load(missing)
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(range(40)))
    with pytest.raises(AudioFileError, match="garbage.wav"):
        axon_audio.load(garbage)
    with pytest.raises(AudioFileError, match="garbage.wav"):
        axon_audio.info(garbage)


def test_failed_save_keeps_the_old_file(tmp_path):
    path = tmp_path / "keep.wav"
    axon_audio.save(path, _stereo(), RATE)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="keep.wav"):
        axon_audio.save(path, _stereo(), RATE, subtype="NOT_A_SUBTYPE")
    with pytest.raises(ValueError, match="non-finite"):
        axon_audio.save(path, np.full((1, 10), np.nan, dtype=np.float32), RATE)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.wav"]


def test_save_rejects_bad_shapes_and_formats(tmp_path):
    with pytest.raises(ShapeError, match=r"\(2, 2, 2\)"):
        axon_audio.save(tmp_path / "x.wav", np.zeros((2, 2, 2), dtype=np.float32), RATE)
    with pytest.raises(ValueError, match="format"):
        axon_audio.save(tmp_path / "x.unknown", np.zeros((1, 10), dtype=np.float32), RATE)
