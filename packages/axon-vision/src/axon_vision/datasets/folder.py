"""``ImageFolder``: ``root/<class>/<image>`` trees, classes in sorted order (torchvision's layout)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image

from axon_data import Dataset

from ..errors import DatasetFormatError

__all__ = ["IMG_EXTENSIONS", "ImageFolder", "pil_loader"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def pil_loader(path: Path) -> np.ndarray:
    """An image file decoded by Pillow as RGB ``uint8 [3, H, W]``."""
    try:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as error:
        raise DatasetFormatError(f"{path}: not a readable image ({error})") from error
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))


class ImageFolder(Dataset):
    """Samples ``(loader(path), class index)``; ``classes`` are the sorted sub-folder names, files are
    found recursively and sorted, and only names ending in ``extensions`` (case-insensitive) count."""

    def __init__(
        self,
        root: str | Path,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        loader: Callable[[Path], Any] = pil_loader,
        extensions: Sequence[str] = IMG_EXTENSIONS,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetFormatError(f"ImageFolder: {self.root} is not a directory")
        self.classes = sorted(d.name for d in self.root.iterdir() if d.is_dir())
        if not self.classes:
            raise DatasetFormatError(f"ImageFolder: {self.root} has no class sub-folders")
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        suffixes = tuple(e.lower() for e in extensions)
        self.samples = [
            (path, self.class_to_idx[name])
            for name in self.classes
            for path in sorted((self.root / name).rglob("*"))
            if path.is_file() and path.name.lower().endswith(suffixes)
        ]
        if not self.samples:
            raise DatasetFormatError(f"ImageFolder: no files ending in {suffixes} under {self.root}")
        self.targets = [target for _, target in self.samples]
        self.transform, self.target_transform, self.loader = transform, target_transform, loader

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target
