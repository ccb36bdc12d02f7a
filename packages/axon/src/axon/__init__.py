"""axon: a deep-learning framework. This umbrella package re-exports the axon distributions.

The names of :mod:`axon_tensor` (``axon.tensor``, ``axon.randn``, ``axon.Tensor``...) and the
autograd entry points (``axon.Variable``, ``axon.no_grad``...) are available at the top level.
The distributions are reachable as submodules: ``import axon.nn as nn``,
``import axon.nn.functional as F``, ``axon.optim.Adam``, ``axon.data.DataLoader``,
``axon.text``, ``axon.serialize``, ``axon.autograd``, ``axon.core``.
"""

from __future__ import annotations

import importlib
import sys

import axon_autograd as autograd
import axon_core as core
import axon_data as data
import axon_nn as nn
import axon_optim as optim
import axon_serialize as serialize
import axon_text as text
from axon_autograd import Variable, enable_grad, no_grad, set_grad_enabled
from axon_core import Device, DType, get_default_dtype, memory_stats, set_default_device, set_default_dtype
from axon_tensor import *
from axon_tensor import __all__ as _tensor_all

from ._dispatch import dispatching
from .monitor import TrainingMonitor

__version__ = "0.1.0"

# PyTorch's dtype aliases (``axon.float`` is float32, ``axon.long`` int64, ...).
float = float32  # noqa: A001
double = float64
half = float16
int = int32  # noqa: A001
long = int64
short = int16
bool = bool_  # noqa: A001
cfloat = complex64
cdouble = complex128
_DTYPE_ALIASES = ["bool", "cdouble", "cfloat", "double", "float", "half", "int", "long", "short"]

# `import axon.nn.functional as F` resolves to the distribution's own modules: one object per
# module, whichever name it is imported by.
_SUBMODULES = {
    "core": "axon_core",
    "autograd": "axon_autograd",
    "nn": "axon_nn",
    "nn.functional": "axon_nn.functional",
    "nn.init": "axon_nn.init",
    "optim": "axon_optim",
    "optim.lr_scheduler": "axon_optim.lr_scheduler",
    "data": "axon_data",
    "text": "axon_text",
    "serialize": "axon_serialize",
}
for _alias, _target in _SUBMODULES.items():
    sys.modules[f"{__name__}.{_alias}"] = importlib.import_module(_target)

for _name in _tensor_all:
    globals()[_name] = dispatching(_name, globals()[_name])

# torch.<op>(x, ...) for Tensor methods torch also has as functions: the method, Variable or Tensor.
_METHOD_FUNCTIONS = """abs_ acos_ acosh_ arccos_ arccosh_ arcsin_ arcsinh_ arctan2 arctan_ arctanh_ asin_ asinh_ atan_
atanh_ broadcast_to ceil_ celu_ clamp_ clamp_max clamp_max_ clamp_min clamp_min_ clip_ cos_ cosh_ cross deg2rad
deg2rad_ detach detach_ diff dist erf_ erfc_ exp2_ exp_ expm1_ fill_ fix_ fliplr flipud floor_ frac_ index_put_
inner is_complex is_floating_point log10_ log1p_ log2_ log_ logit_ moveaxis msort nan_to_num_ neg_ negative_ numel
positive rad2deg rad2deg_ ravel reciprocal_ relu_ round_ rsqrt_ selu_ sgn sigmoid_ sin_ sinh_ sqrt_ square_ swapdims
take_along_dim tan_ tanh_ trunc_ zero_""".split()


def _method_function(name: str):
    def call(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``input.{name}(*args, **kwargs)`` (torch.{name})."
    return call


for _name in _METHOD_FUNCTIONS:
    globals()[_name] = _method_function(_name)
# Functional ops torch also has at the top level with the same signature.
conv1d, conv2d, conv3d = nn.functional.conv1d, nn.functional.conv2d, nn.functional.conv3d
conv_transpose1d, conv_transpose2d = nn.functional.conv_transpose1d, nn.functional.conv_transpose2d
conv_transpose3d = nn.functional.conv_transpose3d
max_pool1d, max_pool2d, avg_pool1d = nn.functional.max_pool1d, nn.functional.max_pool2d, nn.functional.avg_pool1d
max_pool3d = nn.functional.max_pool3d
_FUNCTIONAL_AT_TOP = [
    "avg_pool1d",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "max_pool1d",
    "max_pool2d",
]

__all__ = [
    "Device",
    "DType",
    "TrainingMonitor",
    "Variable",
    "autograd",
    "core",
    "data",
    "enable_grad",
    "get_default_dtype",
    "memory_stats",
    "nn",
    "no_grad",
    "optim",
    "serialize",
    "set_default_device",
    "set_default_dtype",
    "set_grad_enabled",
    "text",
    *_tensor_all,
    *_DTYPE_ALIASES,
    *_METHOD_FUNCTIONS,
    *_FUNCTIONAL_AT_TOP,
]
