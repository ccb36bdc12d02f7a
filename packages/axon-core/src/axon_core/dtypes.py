"""Data types and PyTorch's type-promotion rules.

A :class:`DType` wraps a NumPy dtype (``bfloat16`` comes from ml_dtypes). Promotion follows
PyTorch, not NumPy: ``int32 tensor + 2.5`` is ``float32`` (the default float), ``float16 +
int64`` stays ``float16``, ``uint8 + int8`` is ``int16``, and a 0-d tensor only lifts a
dimensioned one when it is of a higher category (bool < integer < floating < complex).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from .errors import DTypeError

__all__ = [
    "DType",
    "bool_",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex64",
    "complex128",
    "as_dtype",
    "promote_types",
    "result_type",
    "get_default_dtype",
    "set_default_dtype",
    "ALL_DTYPES",
]

_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3


class DType:
    """One element type. Compare with ``is`` or ``==``; ``str(dtype)`` is ``axon.float32`` style."""

    __slots__ = ("name", "np", "itemsize", "category", "is_signed")

    def __init__(self, name: str, np_dtype: np.dtype, category: int, is_signed: bool) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.category = category
        self.is_signed = is_signed

    @property
    def is_floating_point(self) -> bool:
        return self.category == _FLOAT

    @property
    def is_complex(self) -> bool:
        return self.category == _COMPLEX

    @property
    def is_integer(self) -> bool:
        return self.category == _INT

    @property
    def is_bool(self) -> bool:
        return self.category == _BOOL

    def __repr__(self) -> str:
        return f"axon.{self.name}"

    __str__ = __repr__

    def __reduce__(self):
        return (as_dtype, (self.name,))


bool_ = DType("bool", np.bool_, _BOOL, False)
uint8 = DType("uint8", np.uint8, _INT, False)
int8 = DType("int8", np.int8, _INT, True)
int16 = DType("int16", np.int16, _INT, True)
int32 = DType("int32", np.int32, _INT, True)
int64 = DType("int64", np.int64, _INT, True)
float16 = DType("float16", np.float16, _FLOAT, True)
bfloat16 = DType("bfloat16", ml_dtypes.bfloat16, _FLOAT, True)
float32 = DType("float32", np.float32, _FLOAT, True)
float64 = DType("float64", np.float64, _FLOAT, True)
complex64 = DType("complex64", np.complex64, _COMPLEX, True)
complex128 = DType("complex128", np.complex128, _COMPLEX, True)

ALL_DTYPES: tuple[DType, ...] = (
    bool_,
    uint8,
    int8,
    int16,
    int32,
    int64,
    float16,
    bfloat16,
    float32,
    float64,
    complex64,
    complex128,
)

_BY_NP: dict[np.dtype, DType] = {d.np: d for d in ALL_DTYPES}
_BY_NAME: dict[str, DType] = {d.name: d for d in ALL_DTYPES}
_BY_NAME.update(
    {
        "bool_": bool_,
        "half": float16,
        "float": float32,
        "double": float64,
        "long": int64,
        "int": int32,
        "short": int16,
        "cfloat": complex64,
        "cdouble": complex128,
    }
)

_default_float = float32


def as_dtype(value: object) -> DType:
    """Turn a DType, a name (``"float32"``), a NumPy dtype or a Python type into a :class:`DType`."""
    if value.__class__ is DType:
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        found = _BY_NAME.get(value.removeprefix("axon.").removeprefix("torch."))
        if found is None:
            raise DTypeError(f"unknown dtype name {value!r}; known: {sorted(_BY_NAME)}")
        return found
    if value is bool:
        return bool_
    if value is int:
        return int64
    if value is float:
        return _default_float
    if value is complex:
        return complex64 if _default_float is not float64 else complex128
    torch_name = getattr(value, "__module__", None) == "torch" and str(value)
    if torch_name:
        return as_dtype(torch_name)
    try:
        np_dtype = np.dtype(value)  # type: ignore[call-overload]
    except TypeError as exc:
        raise DTypeError(f"cannot interpret {value!r} as a dtype") from exc
    found = _BY_NP.get(np_dtype)
    if found is None:
        raise DTypeError(f"NumPy dtype {np_dtype} has no axon equivalent")
    return found


def get_default_dtype() -> DType:
    """The dtype of Python floats in new tensors (``float32`` unless changed)."""
    return _default_float


def set_default_dtype(dtype: object) -> None:
    """Set the default floating dtype (``float32`` or ``float64``, like PyTorch)."""
    global _default_float
    chosen = as_dtype(dtype)
    if chosen not in (float16, bfloat16, float32, float64):
        raise DTypeError(f"set_default_dtype: expected a floating dtype, got {chosen}")
    _default_float = chosen


def _promote_ints(a: DType, b: DType) -> DType:
    if a.is_signed == b.is_signed:
        return a if a.itemsize >= b.itemsize else b
    unsigned, signed = (a, b) if not a.is_signed else (b, a)
    if signed.itemsize > unsigned.itemsize:
        return signed
    # uint8 with int8 -> int16, as PyTorch (there are no wider unsigned types to mix with).
    return {1: int16, 2: int32, 4: int64, 8: int64}[unsigned.itemsize]


def _promote_floats(a: DType, b: DType) -> DType:
    if a is b:
        return a
    if {a, b} == {float16, bfloat16}:
        return float32
    return a if a.itemsize >= b.itemsize else b


def _complex_of(f: DType) -> DType:
    return complex128 if f is float64 else complex64


def promote_types(a: DType, b: DType) -> DType:
    """PyTorch's ``promote_types`` for two tensor dtypes."""
    if a is b:
        return a
    if a.category != b.category:
        high, low = (a, b) if a.category > b.category else (b, a)
        if high.category == _COMPLEX and low.category == _FLOAT and low is float64:
            return complex128
        return high
    if a.category == _INT:
        return _promote_ints(a, b)
    if a.category == _FLOAT:
        return _promote_floats(a, b)
    if a.category == _COMPLEX:
        return a if a.itemsize >= b.itemsize else b
    return a


def result_type(*operands: object) -> DType:
    """PyTorch's result type of an op over tensors and Python scalars.

    Three tiers: tensors with dimensions, then 0-d tensors, then Python scalars. A lower tier
    only changes the result when it brings a higher category (bool < int < float < complex);
    Python scalars then count as the default dtype of their category.
    """
    dimensioned: DType | None = None
    zero_dim: DType | None = None
    scalar_category = -1
    for op in operands:
        dtype = getattr(op, "dtype", None)
        if dtype is not None and hasattr(op, "shape") and not isinstance(op, (np.generic,)):
            dt = as_dtype(dtype)
            if len(op.shape) > 0:
                dimensioned = dt if dimensioned is None else promote_types(dimensioned, dt)
            else:
                zero_dim = dt if zero_dim is None else promote_types(zero_dim, dt)
        else:
            scalar_category = max(scalar_category, _scalar_category(op))
    scalar = _scalar_default(scalar_category) if scalar_category >= 0 else None
    result = _combine(dimensioned, _combine(zero_dim, scalar))
    if result is None:
        raise DTypeError("result_type: no operands")
    return result


def _combine(stronger: DType | None, weaker: DType | None) -> DType | None:
    """PyTorch's ``combine_categories``: a weaker tier only matters when it brings a higher category.

    Complex from a weaker tier keeps the precision of a floating stronger operand (float32 tensor
    * 1j -> complex64; float16 has no complex32 here, so complex64).
    """
    if stronger is None:
        return weaker
    if weaker is None or stronger.category == _COMPLEX:
        return stronger
    if weaker.category == _COMPLEX:
        return _complex_of(stronger) if stronger.category == _FLOAT else weaker
    if stronger.category == _FLOAT:
        return stronger
    if stronger.category == _BOOL or weaker.category == _FLOAT:
        return promote_types(stronger, weaker)
    return stronger


def _scalar_category(value: object) -> int:
    if isinstance(value, (bool, np.bool_)):
        return _BOOL
    if isinstance(value, (int, np.integer)):
        return _INT
    if isinstance(value, (float, np.floating)):
        return _FLOAT
    if isinstance(value, (complex, np.complexfloating)):
        return _COMPLEX
    raise DTypeError(f"cannot use {type(value).__name__} {value!r} as a scalar operand")


def _scalar_default(category: int) -> DType:
    return (bool_, int64, _default_float, _complex_of(_default_float))[category]
