"""Values made from attributes or shapes, and type changes: Constant, ConstantOfShape, Range,
Cast, CastLike, EyeLike-free. Unsupported element types are refused at load time."""

from __future__ import annotations

import numpy as np
import onnx

from axon_core import bfloat16

from ..registry import register
from ._util import const, fail, ints

# Element types axon tensors hold (axon_core's dtypes), by ONNX TensorProto code.
_T = onnx.TensorProto
AXON_TYPES = {
    _T.FLOAT: np.float32,
    _T.DOUBLE: np.float64,
    _T.FLOAT16: np.float16,
    _T.BFLOAT16: bfloat16.np,
    _T.BOOL: np.bool_,
    _T.UINT8: np.uint8,
    _T.INT8: np.int8,
    _T.INT16: np.int16,
    _T.INT32: np.int32,
    _T.INT64: np.int64,
}


def _numpy_type(code: int) -> np.dtype:
    return np.dtype(AXON_TYPES[code])


def _cast_check(attrs):
    code = attrs.get("to")
    if code not in AXON_TYPES:
        name = _T.DataType.Name(code) if code in _T.DataType.values() else code
        return f"cast to element type {name} is not supported"
    if attrs.get("round_mode", "up") != "up":
        return "round_mode other than 'up' (float8 casts) is not supported"
    return None


@register("Cast", attrs=("to", "saturate", "round_mode"), check=_cast_check)
def cast(node, x):
    # `saturate` only changes casts to float8 types, which the check refuses.
    return x.to(_numpy_type(node.get("to")))


@register("CastLike", attrs=("saturate", "round_mode"))
def cast_like(node, x, like):
    return x.to(like.dtype)


_CONSTANT_ATTRS = ("value", "value_float", "value_floats", "value_int", "value_ints")


def _constant_check(attrs):
    given = [k for k in attrs if k in _CONSTANT_ATTRS]
    if len(given) != 1:
        return f"Constant needs exactly one of {', '.join(_CONSTANT_ATTRS)}, got {sorted(attrs)}"
    value = attrs.get("value")
    if value is not None and np.asarray(value).dtype not in {np.dtype(t) for t in AXON_TYPES.values()}:
        return f"Constant of element type {np.asarray(value).dtype} is not supported"
    return None


@register("Constant", attrs=_CONSTANT_ATTRS, check=_constant_check)
def constant(node):
    if "value" in node.attrs:
        return const(node, node.get("value"))
    if "value_float" in node.attrs:
        return const(node, np.float32(node.get("value_float")))
    if "value_floats" in node.attrs:
        return const(node, np.array(node.get("value_floats"), dtype=np.float32))
    if "value_int" in node.attrs:
        return const(node, np.int64(node.get("value_int")))
    return const(node, np.array(node.get("value_ints"), dtype=np.int64))


@register("ConstantOfShape", attrs=("value",))
def constant_of_shape(node, shape):
    value = node.get("value")
    fill = np.zeros(1, dtype=np.float32) if value is None else np.asarray(value).reshape(-1)
    if fill.size != 1:
        raise fail(node, f"value must hold one element, got {fill.size}")
    dims = ints(shape)
    if any(d < 0 for d in dims):
        raise fail(node, f"negative dimension in shape {dims}")
    return const(node, np.full(dims, fill[0], dtype=fill.dtype))


@register("Range")
def range_(node, start, limit, delta):
    first, stop, step = (v.detach().numpy().reshape(()) for v in (start, limit, delta))
    if step == 0:
        raise fail(node, "delta is 0")
    count = max(int(np.ceil((stop - first) / step)), 0)
    # The spec's loop: each element is start + i * delta in the input's type.
    values = first + np.arange(count).astype(first.dtype) * step
    return const(node, values.astype(first.dtype))
