"""Datasets read from local files in their standard formats (no download at run time)."""

from .cifar import CIFAR10, CIFAR100
from .coco import CocoDetection, boxes_xyxy
from .folder import IMG_EXTENSIONS, ImageFolder, pil_loader
from .idx import read_idx
from .mnist import MNIST, FashionMNIST
from .wider_face import WIDERFace

__all__ = [
    "CIFAR10",
    "CIFAR100",
    "CocoDetection",
    "boxes_xyxy",
    "IMG_EXTENSIONS",
    "FashionMNIST",
    "ImageFolder",
    "MNIST",
    "pil_loader",
    "read_idx",
    "WIDERFace",
]
