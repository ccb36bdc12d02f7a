"""axon: a deep-learning framework. This umbrella package re-exports the axon distributions.

``axon.tensor(...)`` and the other names of :mod:`axon_tensor` are available at the top level;
subpackages are reachable as ``axon.core`` and (as they are installed) ``axon.nn``, ``axon.optim``...
"""

from __future__ import annotations

import axon_core as core
import axon_tensor as tensor_ops
from axon_core import Device, DType, get_default_dtype, memory_stats, set_default_device, set_default_dtype
from axon_tensor import *  # noqa: F403
from axon_tensor import __all__ as _tensor_all

from .monitor import TrainingMonitor

__version__ = "0.1.0"

__all__ = [
    "core", "tensor_ops", "Device", "DType", "get_default_dtype", "memory_stats",
    "set_default_device", "set_default_dtype", "TrainingMonitor", *_tensor_all,
]
