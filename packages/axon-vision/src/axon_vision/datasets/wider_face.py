"""``WIDERFace``: face boxes from the WIDER FACE annotation text files, torchvision's directory layout.

``root/widerface/WIDER_<split>/images/<event>/<name>.jpg`` and, for train and val,
``root/widerface/wider_face_split/wider_face_<split>_bbx_gt.txt``: per image its relative path, the
face count, then one line per face ``x y w h blur expression illumination invalid occlusion pose``
(an image with no faces still has one all-zero line). The test split has only
``wider_face_test_filelist.txt`` and no targets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from axon_data import Dataset

from ..errors import DatasetFormatError
from ._files import find_file
from .folder import pil_loader

__all__ = ["WIDERFace"]

_ATTRIBUTES = ("blur", "expression", "illumination", "invalid", "occlusion", "pose")


def _parse_annotations(path: Path) -> list[tuple[str, dict[str, np.ndarray]]]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    samples, i = [], 0
    while i < len(lines):
        if not lines[i]:
            i += 1
            continue
        name = lines[i]
        try:
            count = int(lines[i + 1])
            rows = [[int(v) for v in lines[i + 2 + k].split()] for k in range(max(count, 1))]
        except (IndexError, ValueError) as error:
            raise DatasetFormatError(f"{path}: malformed entry for {name!r} at line {i + 1} ({error})") from error
        if any(len(r) != 10 for r in rows):
            raise DatasetFormatError(f"{path}: a face line of {name!r} (near line {i + 3}) does not have 10 values")
        table = np.array(rows[:count], dtype=np.int64).reshape(-1, 10)
        target = {"bbox": table[:, :4]} | {key: table[:, 4 + j] for j, key in enumerate(_ATTRIBUTES)}
        samples.append((name, target))
        i += 2 + max(count, 1)
    return samples


class WIDERFace(Dataset):
    """Samples ``(image uint8 [3, H, W], target)``; ``target`` is a dict of ``bbox [K, 4]`` (x, y, w, h
    pixels) and the per-face attributes ``blur``, ``expression``, ``illumination``, ``invalid``,
    ``occlusion``, ``pose`` (``[K]``); None for the test split."""

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        loader: Callable[[Path], Any] = pil_loader,
    ) -> None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"WIDERFace: split must be 'train', 'val' or 'test', got {split!r}")
        self.base = Path(root) / "widerface"
        self.split = split
        folder = self.base / "wider_face_split"
        if split == "test":
            listing = find_file([folder / "wider_face_test_filelist.txt"], "WIDERFace test list")
            self.samples = [(line.strip(), None) for line in listing.read_text().splitlines() if line.strip()]
        else:
            path = find_file([folder / f"wider_face_{split}_bbx_gt.txt"], f"WIDERFace {split} annotations")
            self.samples = _parse_annotations(path)
        self.transform, self.target_transform, self.loader = transform, target_transform, loader

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        name, target = self.samples[index]
        image_path = find_file([self.base / f"WIDER_{self.split}" / "images" / name], "WIDERFace image")
        image = self.loader(image_path)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target
