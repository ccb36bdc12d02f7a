"""``MNIST`` and ``FashionMNIST`` from their idx files, in torchvision's layout or flat in ``root``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from axon_data import Dataset

from ..errors import DatasetFormatError
from ._files import find_file
from .idx import read_idx

__all__ = ["FashionMNIST", "MNIST"]


class MNIST(Dataset):
    """Handwritten digits: samples ``(image uint8 [1, 28, 28], label int)``; 60000 train, 10000 test.

    Files (each may also be ``.gz``): ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, looked for in ``root/<Name>/raw/``
    (torchvision's layout), then ``root/<Name>/``, then ``root/``.
    """

    classes = [str(i) for i in range(10)]

    def __init__(
        self,
        root: str | Path,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        self.root, self.train = Path(root), train
        self.transform, self.target_transform = transform, target_transform
        split = "train" if train else "t10k"
        images_path = self._find(f"{split}-images-idx3-ubyte")
        labels_path = self._find(f"{split}-labels-idx1-ubyte")
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DatasetFormatError(
                f"{images_path}: expected uint8 images [N, H, W], got {images.dtype} {images.shape}"
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise DatasetFormatError(f"{labels_path}: {labels.shape} labels for {len(images)} images in {images_path}")
        self.data, self.targets = images, labels.astype(np.int64)

    def _find(self, name: str) -> Path:
        folder = type(self).__name__
        dirs = [self.root / folder / "raw", self.root / folder, self.root]
        return find_file([d / f for d in dirs for f in (name, name + ".gz")], f"{folder} {name}")

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, target = self.data[index][None].copy(), int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


class FashionMNIST(MNIST):
    """Zalando's clothing images in MNIST's file names and format (folder ``FashionMNIST``)."""

    classes = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
