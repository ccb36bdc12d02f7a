"""A real task: a keyword classifier on words spoken by espeak-ng, trained on some voices and tested on
held-out voices (other accents, other voice variants).

Eight words, spoken by 9 training voices and 3 held-out voices at 3 speeds and 2 pitches (432 training
words, 144 held out); features are axon-audio's pipeline (load at 22.05 kHz -> soxr to 16 kHz ->
TrimSilence -> 1 s -> MFCC, cepstral mean removed per word); the model a small 1-d CNN over MFCC frames,
trained with axon_optim.Adam for 15 epochs, three initialisations softmax-averaged. The ensemble's
held-out accuracy must reach 90% (chance 12.5%); without the per-word mean removal a single model
reached 0.72-0.82.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess

import numpy as np
import pytest

import axon_audio
import axon_nn as nn
import axon_nn.functional as F
import axon_tensor
from axon_audio import MFCC, TrimSilence
from axon_autograd import Variable, no_grad
from axon_optim import Adam
from axon_tensor import tensor

WORDS = ("yes", "no", "up", "down", "left", "right", "stop", "go")
TRAIN_VOICES = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-029+f3",
    "en-us+m3",
    "en-gb+m3",
    "en-us+f4",
    "en-gb-scotland+f2",
)
HELD_OUT_VOICES = ("en-gb-x-gbclan", "en-us-nyc+f2", "en-gb-x-gbcwmd")
SPEEDS = (120, 160, 200)
PITCHES = (35, 65)
RATE = 16000
ACCURACY = 0.9
EPOCHS = 15


def _features(paths) -> np.ndarray:
    mfcc = MFCC(RATE, n_mfcc=20, melkwargs=dict(n_fft=400, hop_length=160, n_mels=40))
    trim = TrimSilence(top_db=40, frame_length=400, hop_length=160)
    waves = []
    for path in paths:
        wave, _ = axon_audio.load(path, sample_rate=RATE, mono=True)
        word = trim(wave).numpy()[0][:RATE]
        waves.append(np.pad(word, (0, RATE - word.shape[0])))
    with no_grad():
        feats = mfcc(tensor(np.stack(waves).astype(np.float32))).numpy()  # [n, 20, frames]
    return feats


def _speak(folder, voices):
    paths, labels = [], []
    for voice, speed, pitch, (label, word) in itertools.product(voices, SPEEDS, PITCHES, enumerate(WORDS)):
        path = folder / f"{voice}_{speed}_{pitch}_{word}.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), word],
            check=True,
            capture_output=True,
        )
        paths.append(path)
        labels.append(label)
    return paths, np.array(labels)


class KeywordNet(nn.Module):
    """MFCC ``[batch, 20, frames]`` -> logits ``[batch, words]``: two convolutions, max over time, a linear layer."""

    def __init__(self, n_mfcc: int, classes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(n_mfcc, 48, 5, padding=2)
        self.conv2 = nn.Conv1d(48, 48, 5, padding=2)
        self.out = nn.Linear(48, classes)

    def forward(self, x):
        h = F.relu(self.conv2(F.relu(self.conv1(x))))
        return self.out(h.amax(dim=-1))


def test_keyword_classifier_generalises_to_held_out_voices(tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (make setup installs Debian's espeak-ng)")
    train_paths, train_y = _speak(tmp_path, TRAIN_VOICES)
    test_paths, test_y = _speak(tmp_path, HELD_OUT_VOICES)
    train_x, test_x = _features(train_paths), _features(test_paths)
    # Per-word cepstral mean removal: the voice's spectral tilt is a constant offset in every frame.
    train_x, test_x = (x - x.mean(axis=2, keepdims=True) for x in (train_x, test_x))
    mean = train_x.mean(axis=(0, 2), keepdims=True)
    std = train_x.std(axis=(0, 2), keepdims=True)
    train_x, test_x = (((x - mean) / std).astype(np.float32) for x in (train_x, test_x))
    # Three models from different initialisations, softmax-averaged: one model's held-out accuracy varies
    # with its initialisation (0.84 to 1.00 over seeds 0-2 at 40 epochs); the ensemble's much less.
    probabilities = []
    for seed in range(3):
        axon_tensor.manual_seed(seed)
        rng = np.random.default_rng(seed)
        model = KeywordNet(train_x.shape[1], len(WORDS))
        optimizer = Adam(model.parameters(), lr=3e-3)
        for _ in range(EPOCHS):
            order = rng.permutation(len(train_y))
            for batch in np.array_split(order, len(order) // 32):
                optimizer.zero_grad()
                loss = F.cross_entropy(model(Variable(tensor(train_x[batch]))), tensor(train_y[batch]))
                loss.backward()
                optimizer.step()
        with no_grad():
            probabilities.append(F.softmax(model(Variable(tensor(test_x))), dim=-1).numpy())
        print(f"model {seed}: held-out accuracy {(probabilities[-1].argmax(-1) == test_y).mean():.3f}")
    predicted = np.mean(probabilities, axis=0).argmax(-1)
    accuracy = float((predicted == test_y).mean())
    print(f"held-out voices accuracy: {accuracy:.3f} on {len(test_y)} words")
    assert accuracy >= ACCURACY, accuracy
