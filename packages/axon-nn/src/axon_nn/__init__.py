"""axon-nn: Module, Parameter, containers, layers, functional ops with their backward, losses, init.

``import axon_nn as nn``; ``nn.Linear(4, 2)``, ``nn.functional.cross_entropy(...)``.
"""

from __future__ import annotations

from . import functional, init
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .deferred import deferred_init, is_deferred, materialize
from .layers import *  # noqa: F403
from .layers import __all__ as _layers_all
from .module import IncompatibleKeys, Module, RemovableHandle, StateDictError
from .parameter import Parameter

__version__ = "0.1.0"

__all__ = [
    "IncompatibleKeys",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "ParameterDict",
    "ParameterList",
    "RemovableHandle",
    "Sequential",
    "StateDictError",
    "functional",
    "deferred_init",
    "init",
    "is_deferred",
    "materialize",
    *_layers_all,
]
