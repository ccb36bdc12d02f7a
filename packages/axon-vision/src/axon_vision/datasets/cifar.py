"""``CIFAR10`` and ``CIFAR100`` from the binary version of the files (the python pickles are refused:
unpickling a downloaded file can run arbitrary code)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from axon_data import Dataset

from ..errors import DatasetFormatError
from ._files import find_file, read_bytes

__all__ = ["CIFAR10", "CIFAR100"]

_PIXELS = 3 * 32 * 32


class CIFAR10(Dataset):
    """Samples ``(image uint8 [3, 32, 32], label int)``; 50000 train, 10000 test.

    Reads ``root/cifar-10-batches-bin/data_batch_{1..5}.bin`` or ``test_batch.bin``: records of one
    label byte then 3072 pixel bytes (red, green, blue planes, row-major).
    """

    folder, pickle_folder = "cifar-10-batches-bin", "cifar-10-batches-py"
    label_bytes = 1
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def __init__(
        self,
        root: str | Path,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        self.root, self.train = Path(root), train
        self.transform, self.target_transform = transform, target_transform
        records = [self._read(name) for name in self._files()]
        data = np.concatenate(records) if records else np.zeros((0, self.label_bytes + _PIXELS), np.uint8)
        self.data = data[:, self.label_bytes :].reshape(-1, 3, 32, 32)
        self.targets = data[:, self._label_column()].astype(np.int64)

    def _files(self) -> list[str]:
        return [f"data_batch_{i}.bin" for i in range(1, 6)] if self.train else ["test_batch.bin"]

    def _label_column(self) -> int:
        return 0

    def _read(self, name: str) -> np.ndarray:
        directory = self.root / self.folder
        if not directory.is_dir() and (self.root / self.pickle_folder).is_dir():
            raise DatasetFormatError(
                f"{self.root / self.pickle_folder}: the python (pickle) version is refused; use the binary "
                f"version in {directory}"
            )
        path = find_file([directory / name], f"{type(self).__name__} {name}")
        raw = np.frombuffer(read_bytes(path), np.uint8)
        width = self.label_bytes + _PIXELS
        if raw.size == 0 or raw.size % width:
            raise DatasetFormatError(f"{path}: {raw.size} bytes is not a whole number of {width}-byte records")
        return raw.reshape(-1, width)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, target = self.data[index].copy(), int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


class CIFAR100(CIFAR10):
    """100 fine classes in 20 coarse ones; ``root/cifar-100-binary/train.bin`` or ``test.bin``, records of
    a coarse label byte, a fine label byte and 3072 pixel bytes. ``label_type`` picks "fine" or "coarse";
    ``classes`` comes from the archive's ``<label_type>_label_names.txt``."""

    folder, pickle_folder = "cifar-100-binary", "cifar-100-python"
    label_bytes = 2

    def __init__(self, root: str | Path, train: bool = True, label_type: str = "fine", **kwargs: Any) -> None:
        if label_type not in ("fine", "coarse"):
            raise ValueError(f"CIFAR100: label_type must be 'fine' or 'coarse', got {label_type!r}")
        self.label_type = label_type
        super().__init__(root, train, **kwargs)
        # The binary archive ships the names beside the data; None when that file is absent.
        names = self.root / self.folder / f"{label_type}_label_names.txt"
        self.classes = (
            [line.strip() for line in names.read_text().splitlines() if line.strip()] if names.is_file() else None
        )

    def _files(self) -> list[str]:
        return ["train.bin" if self.train else "test.bin"]

    def _label_column(self) -> int:
        return 1 if self.label_type == "fine" else 0
