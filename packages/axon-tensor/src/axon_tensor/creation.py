"""Making tensors: from data, filled, ranges, identity and random."""

from __future__ import annotations

import math
import operator
from typing import Any, Sequence

import numpy as np

from axon_core import DType, DTypeError, ShapeError, as_dtype, default_device, get_default_dtype
from axon_core import bool_ as _bool
from axon_core import int64 as _int64
from axon_core.device import Device

from .random import Generator, default_generator
from .tensor import Tensor, wrap

__all__ = [
    "tensor",
    "as_tensor",
    "from_numpy",
    "zeros",
    "ones",
    "full",
    "empty",
    "zeros_like",
    "ones_like",
    "full_like",
    "empty_like",
    "arange",
    "linspace",
    "eye",
    "rand",
    "randn",
    "randint",
    "rand_like",
    "randn_like",
    "randperm",
]

Shape = Sequence[int] | int


def _shape(size: tuple[Any, ...], op: str = "size") -> tuple[int, ...]:
    """``size`` (ints, or one tuple/list of ints) as a shape; floats are a TypeError, negatives a ShapeError."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    try:
        shape = tuple(operator.index(s) for s in size)
    except TypeError:
        raise TypeError(f"{op}: size must be a tuple of ints, got {size!r}") from None
    if any(s < 0 for s in shape):
        raise ShapeError(f"{op}: negative dimension in size {shape}")
    return shape


def _check_fill(op: str, value: Any, dtype: DType) -> None:
    """PyTorch's check: a fill value must fit an integer dtype (nan, inf and overflow do not)."""
    if dtype.is_floating_point or dtype.is_complex or dtype.is_bool or isinstance(value, (Tensor, np.ndarray)):
        return
    number = complex(value).real if isinstance(value, complex) else float(value)
    info = np.iinfo(dtype.np)
    # Negative values wrap for unsigned dtypes, as PyTorch's full does (-1 -> 255 for uint8).
    low = -(info.max + 1) if info.min == 0 else info.min
    if not math.isfinite(number) or not low <= number <= info.max:
        raise DTypeError(f"{op}: fill value {value!r} cannot be converted to {dtype} without overflow")


def _infer_dtype(array: np.ndarray, data: Any) -> DType:
    if isinstance(data, np.ndarray) or isinstance(data, np.generic):
        return as_dtype(array.dtype)
    kind = array.dtype.kind
    if kind == "b":
        return _bool
    if kind in "iu":
        return _int64
    if kind == "f":
        return get_default_dtype()
    if kind == "c":
        return as_dtype("complex128" if get_default_dtype().name == "float64" else "complex64")
    raise DTypeError(f"tensor(): cannot make a tensor from {type(data).__name__} of dtype {array.dtype}")


def _place(array: np.ndarray, device: Device) -> Tensor:
    return wrap(device.backend.from_numpy(array), device)


def tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, NumPy arrays or tensors).

    Python floats become the default dtype (float32), ints int64, bools bool; NumPy arrays keep
    their dtype.
    """
    target = default_device(device)
    if isinstance(data, Tensor):
        array = data.numpy()
        chosen = data.dtype if dtype is None else as_dtype(dtype)
        return _place(np.array(array, dtype=chosen.np, copy=True), target)
    if hasattr(data, "__dlpack__") and not isinstance(data, np.ndarray):
        data = np.from_dlpack(data) if _on_host(data) else np.asarray(data)
    try:
        array = np.asarray(data)
    except ValueError as exc:
        raise ShapeError(f"tensor(): nested sequences of unequal lengths cannot form a tensor ({exc})") from exc
    if array.dtype == object:
        raise DTypeError(f"tensor(): data of mixed or unsupported types: {data!r:.80}")
    chosen = _infer_dtype(array, data) if dtype is None else as_dtype(dtype)
    return _place(np.array(array, dtype=chosen.np, copy=True), target)


def _on_host(data: Any) -> bool:
    try:
        device_type, _ = data.__dlpack_device__()
    except (AttributeError, TypeError):
        return False
    return int(device_type) == 1


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like :func:`tensor`, but returns ``data`` itself when it already matches."""
    if isinstance(data, Tensor):
        if (dtype is None or data.dtype is as_dtype(dtype)) and (
            device is None or data.device is default_device(device)
        ):
            return data
        return data.to(device=device, dtype=dtype)
    if isinstance(data, np.ndarray) and dtype is None and default_device(device).type == "cpu":
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with ``array`` (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    as_dtype(array.dtype)
    if any(s < 0 for s in array.strides):
        raise ValueError("from_numpy: arrays with negative strides are not supported; copy the array first")
    return wrap(array, Device("cpu"))


def _filled(shape: tuple[int, ...], value: Any, dtype: Any, device: Any) -> Tensor:
    target = default_device(device)
    if dtype is None:
        chosen = _bool if isinstance(value, bool) else _int64 if isinstance(value, int) else get_default_dtype()
    else:
        chosen = as_dtype(dtype)
    _check_fill("full", value, chosen)
    xp = target.backend.xp
    if not chosen.is_floating_point and not chosen.is_complex and not chosen.is_bool and isinstance(value, float):
        value = int(value)  # truncates toward zero, as PyTorch's cast does
    if chosen.np.kind == "u" and isinstance(value, (int, np.integer)) and value < 0:
        value = int(value) % (np.iinfo(chosen.np).max + 1)
    return wrap(xp.full(shape, value, dtype=chosen.np), target)


def zeros(*size: Any, dtype: Any = None, device: Any = None) -> Tensor:
    return _filled(_shape(size, "zeros"), 0.0 if dtype is None else 0, dtype, device)


def ones(*size: Any, dtype: Any = None, device: Any = None) -> Tensor:
    return _filled(_shape(size, "ones"), 1.0 if dtype is None else 1, dtype, device)


def empty(*size: Any, dtype: Any = None, device: Any = None) -> Tensor:
    target = default_device(device)
    chosen = get_default_dtype() if dtype is None else as_dtype(dtype)
    return wrap(target.backend.xp.empty(_shape(size, "empty"), dtype=chosen.np), target)


def full(size: Shape, fill_value: Any, dtype: Any = None, device: Any = None) -> Tensor:
    return _filled(_shape((size,), "full"), fill_value, dtype, device)


def _like(t: Tensor, dtype: Any, device: Any) -> tuple[DType, Device]:
    return (t.dtype if dtype is None else as_dtype(dtype)), (t.device if device is None else default_device(device))


def zeros_like(t: Tensor, dtype: Any = None, device: Any = None) -> Tensor:
    chosen, target = _like(t, dtype, device)
    return zeros(t.shape, dtype=chosen, device=target)


def ones_like(t: Tensor, dtype: Any = None, device: Any = None) -> Tensor:
    chosen, target = _like(t, dtype, device)
    return ones(t.shape, dtype=chosen, device=target)


def empty_like(t: Tensor, dtype: Any = None, device: Any = None) -> Tensor:
    chosen, target = _like(t, dtype, device)
    return empty(t.shape, dtype=chosen, device=target)


def full_like(t: Tensor, fill_value: Any, dtype: Any = None, device: Any = None) -> Tensor:
    chosen, target = _like(t, dtype, device)
    return full(t.shape, fill_value, dtype=chosen, device=target)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None, device: Any = None) -> Tensor:
    """Values from ``start`` up to (not including) ``end`` by ``step``; int64 unless a float is given."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"arange: end {end} and start {start} are inconsistent with the sign of step {step}")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, end, step))
        chosen = _int64 if is_int else get_default_dtype()
    else:
        chosen = as_dtype(dtype)
    count = max(0, int(np.ceil((end - start) / step)))
    # Computed as start + i*step in float64, as PyTorch does, then cast.
    values = (
        (start + np.arange(count, dtype=np.float64) * step)
        if chosen.category >= 2 or not isinstance(step, int)
        else np.arange(start, end, step, dtype=np.int64)
    )
    return _place(np.asarray(values).astype(chosen.np), default_device(device))


def linspace(start: float, end: float, steps: int, dtype: Any = None, device: Any = None) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise ValueError("linspace: number of steps must be non-negative")
    chosen = get_default_dtype() if dtype is None else as_dtype(dtype)
    return _place(np.linspace(start, end, steps, dtype=np.float64).astype(chosen.np), default_device(device))


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None) -> Tensor:
    """The ``n × m`` identity matrix."""
    chosen = get_default_dtype() if dtype is None else as_dtype(dtype)
    target = default_device(device)
    return wrap(target.backend.xp.eye(n, m, dtype=chosen.np), target)


def _gen(generator: Generator | None) -> np.random.Generator:
    return (default_generator if generator is None else generator).numpy_generator


def _float_dtype(dtype: Any) -> DType:
    chosen = get_default_dtype() if dtype is None else as_dtype(dtype)
    if not chosen.is_floating_point:
        raise DTypeError(f"random floats need a floating dtype, got {chosen}")
    return chosen


def rand(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None) -> Tensor:
    """Uniform samples in [0, 1)."""
    chosen = _float_dtype(dtype)
    values = _gen(generator).random(_shape(size, "rand"), dtype=np.float64).astype(chosen.np)
    return _place(values, default_device(device))


def randn(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None) -> Tensor:
    """Standard normal samples."""
    chosen = _float_dtype(dtype)
    values = _gen(generator).standard_normal(_shape(size, "randn"), dtype=np.float64).astype(chosen.np)
    return _place(values, default_device(device))


def randint(
    low: int,
    high: int | None = None,
    size: Shape = (),
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
) -> Tensor:
    """Integers uniform in [low, high) (``randint(high, size=...)`` starts at 0)."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: empty range [{low}, {high})")
    chosen = _int64 if dtype is None else as_dtype(dtype)
    values = _gen(generator).integers(low, high, size=_shape((size,), "randint"), dtype=np.int64).astype(chosen.np)
    return _place(values, default_device(device))


def randperm(n: int, generator: Generator | None = None, dtype: Any = None, device: Any = None) -> Tensor:
    """A random permutation of 0..n-1."""
    if operator.index(n) < 0:
        raise ShapeError(f"randperm: n must be non-negative, got {n}")
    chosen = _int64 if dtype is None else as_dtype(dtype)
    return _place(_gen(generator).permutation(n).astype(chosen.np), default_device(device))


def rand_like(t: Tensor, generator: Generator | None = None, dtype: Any = None, device: Any = None) -> Tensor:
    chosen, target = _like(t, dtype, device)
    return rand(t.shape, generator=generator, dtype=chosen, device=target)


def randn_like(t: Tensor, generator: Generator | None = None, dtype: Any = None, device: Any = None) -> Tensor:
    chosen, target = _like(t, dtype, device)
    return randn(t.shape, generator=generator, dtype=chosen, device=target)
