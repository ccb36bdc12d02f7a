"""axon-onnx: ONNX graphs imported as axon-nn Modules that run on any axon device (see README.md)."""

from __future__ import annotations

from .errors import ExternalDataError, OnnxError, OnnxFormatError, OnnxRuntimeError, UnsupportedOperatorError
from .model import OnnxModel, load, unsupported_nodes
from .registry import supported_ops

__version__ = "0.1.0"

__all__ = [
    "ExternalDataError",
    "OnnxError",
    "OnnxFormatError",
    "OnnxModel",
    "OnnxRuntimeError",
    "UnsupportedOperatorError",
    "load",
    "supported_ops",
    "unsupported_nodes",
]
