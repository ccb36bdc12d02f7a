"""``CocoDetection``: images and their object annotations from a COCO-format annotations JSON.

Like torchvision's ``CocoDetection`` (without pycocotools): images are taken in increasing ``id``
order, and each sample is the image with the list of its annotation dicts as stored in the file
(``bbox`` is ``[x, y, width, height]`` in pixels, ``category_id``, ``area``, ``iscrowd``, ...).
``boxes_xyxy`` turns such a list into ``[K, 4]`` corner boxes and ``[K]`` labels for the box ops.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from axon_data import Dataset

from ..errors import DatasetFormatError
from ._files import find_file
from .folder import pil_loader

__all__ = ["CocoDetection", "boxes_xyxy"]


def boxes_xyxy(annotations: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """COCO annotations to ``(boxes float32 [K, 4] as (x1, y1, x2, y2), labels int64 [K])``."""
    boxes = np.array([a["bbox"] for a in annotations], dtype=np.float32).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]
    return boxes, np.array([a["category_id"] for a in annotations], dtype=np.int64)


class CocoDetection(Dataset):
    """Samples ``(image uint8 [3, H, W], annotations list)`` for every image in ``ann_file``, images read
    from ``root / file_name``. ``categories`` maps category id to name."""

    def __init__(
        self,
        root: str | Path,
        ann_file: str | Path,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        loader: Callable[[Path], Any] = pil_loader,
    ) -> None:
        self.root = Path(root)
        path = find_file([Path(ann_file)], "CocoDetection annotations")
        try:
            content = json.loads(path.read_text())
            images = {int(image["id"]): image for image in content["images"]}
            self.categories = {int(c["id"]): c["name"] for c in content.get("categories", [])}
            by_image: dict[int, list[dict[str, Any]]] = {i: [] for i in images}
            for annotation in content.get("annotations", []):
                image_id = int(annotation["image_id"])
                if image_id not in by_image:
                    raise DatasetFormatError(
                        f"{path}: annotation {annotation.get('id')} names unknown image {image_id}"
                    )
                if len(annotation["bbox"]) != 4:
                    raise DatasetFormatError(f"{path}: annotation {annotation.get('id')} bbox is not [x, y, w, h]")
                by_image[image_id].append(annotation)
            self.ids = sorted(images)
            self.files = [images[i]["file_name"] for i in self.ids]
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DatasetFormatError(f"{path}: not valid JSON ({error})") from error
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, DatasetFormatError):
                raise
            raise DatasetFormatError(f"{path}: not a COCO annotations file (missing or bad field {error})") from error
        self.annotations = [by_image[i] for i in self.ids]
        self.transform, self.target_transform, self.loader = transform, target_transform, loader

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image_path = find_file([self.root / self.files[index]], f"CocoDetection image {self.ids[index]}")
        image, target = self.loader(image_path), list(self.annotations[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target
