"""``SpeechCommands``: a reader of the Speech Commands dataset's directory layout (local files, no download).

``root/<word>/<speaker>_nohash_<utterance>.wav`` with ``validation_list.txt`` and ``testing_list.txt``
(paths relative to ``root``) choosing the subsets; ``_background_noise_`` is not a word. A sample is
``(waveform [1, frames], sample_rate, label, speaker_id, utterance_number)``, as torchaudio's SPEECHCOMMANDS.
"""

from __future__ import annotations

import os
from pathlib import Path

from axon_data import Dataset
from axon_tensor import Tensor

from ..errors import AudioFileError
from ..io import load

__all__ = ["SpeechCommands"]

_SUBSETS = (None, "training", "validation", "testing")


def _read_list(root: Path, name: str) -> set[str]:
    path = root / name
    if not path.is_file():
        raise AudioFileError(f"SpeechCommands: {os.fspath(path)!r} is missing (needed for the subset split)")
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


class SpeechCommands(Dataset):
    """``subset``: None (every file), ``"training"`` (in neither list), ``"validation"`` or ``"testing"``."""

    def __init__(self, root: str | os.PathLike[str], subset: str | None = None) -> None:
        if subset not in _SUBSETS:
            raise ValueError(f"SpeechCommands: subset must be one of {_SUBSETS}, got {subset!r}")
        self.root = Path(root)
        if not self.root.is_dir():
            raise AudioFileError(f"SpeechCommands: root {os.fspath(root)!r} is not a folder")
        files = sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.glob("*/*.wav")
            if p.parent.name != "_background_noise_"
        )
        if not files:
            raise AudioFileError(f"SpeechCommands: no <word>/<speaker>_nohash_<n>.wav files under {os.fspath(root)!r}")
        if subset == "validation":
            files = sorted(_read_list(self.root, "validation_list.txt") & set(files))
        elif subset == "testing":
            files = sorted(_read_list(self.root, "testing_list.txt") & set(files))
        elif subset == "training":
            held = _read_list(self.root, "validation_list.txt") | _read_list(self.root, "testing_list.txt")
            files = [f for f in files if f not in held]
        for name in files:
            if "_nohash_" not in Path(name).stem:
                raise AudioFileError(f"SpeechCommands: {name!r} is not named <speaker>_nohash_<utterance>.wav")
        self.files = files
        self.labels = sorted({Path(f).parent.name for f in files})

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Tensor, int, str, str, int]:
        relative = self.files[index]
        waveform, rate = load(self.root / relative)
        speaker, _, utterance = Path(relative).stem.partition("_nohash_")
        return waveform, rate, Path(relative).parent.name, speaker, int(utterance) if utterance.isdigit() else 0
