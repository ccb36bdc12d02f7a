"""Datasets: the synthetic ones carry their targets in the signal (checked with NumPy's FFT and
autocorrelation), AudioFolder and SpeechCommands read real files laid out in the tests."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

import axon_audio
from axon_audio import (
    AudioFileError,
    AudioFolder,
    AudioSeq2SeqDataset,
    SpeechCommands,
    SyntheticCommandDataset,
    SyntheticMusicDataset,
    SyntheticSpeakerDataset,
)


def _peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[np.argmax(spectrum)])


def test_synthetic_sets_are_deterministic_and_shaped():
    for data in (
        SyntheticCommandDataset(20),
        SyntheticMusicDataset(8, duration=0.5),
        SyntheticSpeakerDataset(3, 2),
        AudioSeq2SeqDataset(5),
    ):
        wave, target = data[3]
        again, _ = data[3]
        assert wave.shape[0] == 1 and str(wave.dtype).endswith("float32")
        np.testing.assert_array_equal(wave.numpy(), again.numpy())
        assert np.abs(wave.numpy()).max() <= 1.0
        with pytest.raises(IndexError):
            data[len(data)]
    other, _ = SyntheticCommandDataset(20, seed=1)[3]
    assert not np.array_equal(other.numpy(), SyntheticCommandDataset(20)[3][0].numpy())


def test_command_classes_sit_at_their_formant_glides():
    data = SyntheticCommandDataset(20, num_classes=10, noise_level=0.0)
    for index in range(10):
        wave, label = data[index]
        assert label == index % 10
        low, high = sorted(data.formants(label))
        assert 0.9 * low <= _peak_hz(wave.numpy()[0], data.sample_rate) <= 1.1 * high


def test_music_genres_have_their_register_and_speakers_their_pitch():
    music = SyntheticMusicDataset(8, num_genres=4, duration=1.0, noise_level=0.0)
    for index in range(4):
        wave, genre = music[index]
        peak = _peak_hz(wave.numpy()[0], music.sample_rate)
        assert music.root(genre) * 0.97 <= peak <= music.root(genre) * 2 * 1.03, (genre, peak)
    speakers = SyntheticSpeakerDataset(4, 2, noise_level=0.0)
    for index in range(0, 8, 2):
        wave, speaker = speakers[index]
        x = wave.numpy()[0][:4000]
        ac = np.correlate(x, x, "full")[x.size - 1 :]
        lo = int(speakers.sample_rate / 400)
        lag = lo + int(np.argmax(ac[lo : int(speakers.sample_rate / 60)]))
        assert abs(speakers.sample_rate / lag - speakers.f0(speaker)) / speakers.f0(speaker) < 0.1


def test_seq2seq_tokens_are_spoken_one_tone_each():
    data = AudioSeq2SeqDataset(6, vocab_size=8, noise_level=0.0)
    for index in range(6):
        wave, tokens = data[index]
        size = int(data.token_duration * data.sample_rate)
        assert wave.shape[1] == size * tokens.shape[0]
        for k, token in enumerate(tokens.numpy()):
            piece = wave.numpy()[0, k * size : (k + 1) * size]
            assert abs(_peak_hz(piece, data.sample_rate) - data.token_frequency(int(token))) <= 15.0


def _write(path, seed, rate=8000, channels=1):
    data = np.random.default_rng(seed).uniform(-0.5, 0.5, (400, channels)).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, data, rate, subtype="FLOAT")
    return data.T


def test_audio_folder_reads_classes_and_files(tmp_path):
    expected = {
        "cat/a.wav": _write(tmp_path / "cat/a.wav", 0),
        "cat/deep/b.flac": None,
        "dog/c.wav": _write(tmp_path / "dog/c.wav", 2, channels=2),
    }
    (tmp_path / "cat/deep").mkdir()
    soundfile.write(tmp_path / "cat/deep/b.flac", np.zeros(100, dtype=np.int16), 8000)
    (tmp_path / "dog/notes.txt").write_text("not audio")
    data = AudioFolder(tmp_path)
    assert data.classes == ["cat", "dog"] and len(data) == 3
    assert [label for _, label in data.samples] == [0, 0, 1]
    wave, label = data[2]
    assert label == 1
    np.testing.assert_array_equal(wave.numpy(), expected["dog/c.wav"])
    resampled = AudioFolder(tmp_path, sample_rate=16000, mono=True)[2][0]
    assert resampled.shape == (1, 800)
    with pytest.raises(AudioFileError, match="missing"):
        AudioFolder(tmp_path / "missing")


def test_speech_commands_layout_and_subsets(tmp_path):
    files = ["yes/aa11_nohash_0.wav", "yes/bb22_nohash_1.wav", "no/aa11_nohash_0.wav", "no/cc33_nohash_2.wav"]
    for i, name in enumerate(files):
        _write(tmp_path / name, i, rate=16000)
    _write(tmp_path / "_background_noise_/white.wav", 9, rate=16000)
    (tmp_path / "validation_list.txt").write_text("yes/bb22_nohash_1.wav\n")
    (tmp_path / "testing_list.txt").write_text("no/cc33_nohash_2.wav\n")
    every = SpeechCommands(tmp_path)
    assert len(every) == 4 and every.labels == ["no", "yes"]
    assert SpeechCommands(tmp_path, "validation").files == ["yes/bb22_nohash_1.wav"]
    assert SpeechCommands(tmp_path, "testing").files == ["no/cc33_nohash_2.wav"]
    training = SpeechCommands(tmp_path, "training")
    assert sorted(training.files) == ["no/aa11_nohash_0.wav", "yes/aa11_nohash_0.wav"]
    wave, rate, label, speaker, utterance = SpeechCommands(tmp_path, "testing")[0]
    assert (rate, label, speaker, utterance) == (16000, "no", "cc33", 2) and wave.shape == (1, 400)
    (tmp_path / "testing_list.txt").unlink()
    with pytest.raises(AudioFileError, match="testing_list.txt"):
        SpeechCommands(tmp_path, "testing")
    with pytest.raises(AudioFileError, match="nohash"):
        _write(tmp_path / "yes/badname.wav", 1)
        SpeechCommands(tmp_path)
    assert axon_audio.AUDIO_EXTENSIONS[0] == ".wav"
