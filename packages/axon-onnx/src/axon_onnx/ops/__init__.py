"""Operator families; importing this package registers every operator in ``axon_onnx.registry``."""

from __future__ import annotations

from . import activation, elementwise, generator, indexing, logical, loss, nn, reduce, shape

__all__ = ["activation", "elementwise", "generator", "indexing", "logical", "loss", "nn", "reduce", "shape"]
