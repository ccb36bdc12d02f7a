"""``AudioFolder``: one sub-folder per class of audio files, as torchvision's ImageFolder for images.

``root/<class>/<any depth>/<file>.<wav|flac|ogg|...>``; classes are the sorted sub-folder names and a
sample is ``(waveform [channels, frames], class_index)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from axon_data import Dataset
from axon_tensor import Tensor

from ..errors import AudioFileError
from ..io import load

__all__ = ["AUDIO_EXTENSIONS", "AudioFolder"]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif")


class AudioFolder(Dataset):
    """Audio files under ``root/<class>/``; ``sample_rate`` resamples on load, ``mono`` mixes down,
    ``transform(waveform)`` runs after loading. ``classes``, ``class_to_idx`` and ``samples``
    (``(path, class_index)``) as ImageFolder's."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        transform: Callable[[Tensor], Any] | None = None,
        sample_rate: int | None = None,
        mono: bool = False,
        extensions: tuple[str, ...] = AUDIO_EXTENSIONS,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise AudioFileError(f"AudioFolder: root {os.fspath(root)!r} is not a folder")
        self.classes = sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not self.classes:
            raise AudioFileError(f"AudioFolder: {os.fspath(root)!r} has no class sub-folders")
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        suffixes = tuple(e.lower() for e in extensions)
        self.samples = [
            (path, self.class_to_idx[name])
            for name in self.classes
            for path in sorted((self.root / name).rglob("*"))
            if path.is_file() and path.suffix.lower() in suffixes
        ]
        if not self.samples:
            raise AudioFileError(f"AudioFolder: no files with extensions {suffixes} under {os.fspath(root)!r}")
        self.targets = [label for _, label in self.samples]
        self.transform, self.sample_rate, self.mono = transform, sample_rate, mono

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path, label = self.samples[index]
        waveform, _ = load(path, sample_rate=self.sample_rate, mono=self.mono)
        return (self.transform(waveform) if self.transform is not None else waveform), label
