"""Indexing: ``t[...]`` and ``t[...] = v`` with PyTorch/NumPy rules, and the index ops
(gather, scatter, scatter_add, index_select, index_add, index_put, masked_fill, masked_select,
take, nonzero).

Index expressions are translated once into a key of the backend's array module; basic keys
(ints, slices, None, Ellipsis) give views, keys with index arrays or masks give copies. Errors
from the array module are translated into ours in an ``except`` rather than pre-checked.
Ops that PyTorch range-checks strictly (gather, scatter, index_*) check min and max of the
index explicitly, because NumPy wraps negative indices and CuPy wraps every index.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from axon_core import DeviceError, DTypeError, ShapeError
from axon_core import int64 as _int64

from ..tensor import Tensor, check_same_device, normalize_dim, tensor_method, view_of, wrap
from .shape import restride

__all__ = [
    "gather",
    "scatter",
    "scatter_add",
    "scatter_reduce",
    "index_select",
    "index_add",
    "index_put",
    "masked_fill",
    "masked_select",
    "take",
    "nonzero",
    "argwhere",
]

_NUMBERS = (int, float, bool, complex, np.generic)
_EllipsisType = type(Ellipsis)


def _bad_step(index: slice) -> bool:
    step = index.step
    return step is not None and step <= 0


def _step_error(index: slice) -> ValueError:
    return ValueError(
        f"indexing: slice step must be greater than zero, got {index.step} (negative steps are not supported; use flip)"
    )


def _index_array(input: Tensor, item: Any) -> Any:
    """A backend index array for a Tensor, list or NumPy array used as an index."""
    if item.__class__ is Tensor:
        data = item._data
        if item._device is not input._device:
            data = input._device.backend.from_numpy(item.numpy())
    else:
        host = np.asarray(item)
        if host.size == 0 and host.dtype.kind not in "iub":
            host = host.astype(np.int64)
        data = input._device.backend.from_numpy(host)
    if data.dtype.kind not in "iub":
        raise IndexError(f"indexing: tensors used as indices must be integer or bool, got dtype {data.dtype}")
    return data


def _translate(input: Tensor, index: Any) -> tuple[Any, bool]:
    """The backend key for ``index`` and whether it is basic (so the result is a view)."""
    items = index if index.__class__ is tuple else (index,)
    key = []
    basic = True
    for item in items:
        cls = item.__class__
        if cls is int or cls is _EllipsisType or item is None:
            key.append(item)
        elif cls is slice:
            if _bad_step(item):
                raise _step_error(item)
            key.append(item)
        elif cls is Tensor and item._data.ndim == 0 and item._data.dtype.kind in "iu":
            key.append(int(item._data))
        elif cls is bool or cls is np.bool_:
            key.append(bool(item))
            basic = False
        elif isinstance(item, np.integer):
            key.append(int(item))
        elif cls is Tensor or isinstance(item, (list, tuple, np.ndarray)):
            key.append(_index_array(input, item))
            basic = False
        else:
            raise TypeError(f"indexing: unsupported index of type {type(item).__name__}: {item!r:.60}")
    return tuple(key), basic


def _ints_first(key: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """PyTorch's rule for integers among index arrays: ``(int_key, rest_key)`` or None.

    NumPy counts an integer as an advanced index, so ``x[1, :, idx]`` puts ``idx``'s dims first;
    PyTorch applies integers as basic indices (a view) and only then the index arrays, whose dims
    stay in place unless slices separate them. ``int_key`` selects the integers (a view),
    ``rest_key`` indexes that view with everything else.
    """
    if not any(k.__class__ is int for k in key):
        return None
    int_key: list[Any] = []
    rest_key: list[Any] = []
    for k in key:
        if k.__class__ is int:
            int_key.append(k)
        elif k is Ellipsis:
            int_key.append(k)
            rest_key.append(k)
        elif k is None or k.__class__ is bool:
            rest_key.append(k)
        else:
            consumed = k.ndim if getattr(k, "dtype", None) is not None and k.dtype.kind == "b" else 1
            int_key.extend([slice(None)] * consumed)
            rest_key.append(k)
    if Ellipsis not in int_key:
        int_key.append(Ellipsis)  # a view (0-d at least), never a NumPy scalar
    return tuple(int_key), tuple(rest_key)


def _with_unsqueeze_strides(input: Tensor, result: Any, key: tuple[Any, ...]) -> Any:
    """Give axes inserted by None PyTorch's unsqueeze strides (NumPy gives them stride 0)."""
    data = input._data
    shape, strides = data.shape, data.strides
    consumed = sum(1 for k in key if k is not None and k is not Ellipsis)
    out_strides = list(result.strides)
    d = p = 0
    for k in key:
        if k is None:
            out_strides[p] = shape[d] * strides[d] if d < len(shape) else data.itemsize
            p += 1
        elif k is Ellipsis:
            cover = len(shape) - consumed
            d += cover
            p += cover
        else:
            d += 1
            p += 0 if k.__class__ is int else 1
    return restride(input, result, result.shape, tuple(out_strides))


def _index_error(input: Tensor, index: Any, exc: Exception) -> IndexError:
    return IndexError(f"indexing: index {index!r:.80} is invalid for a tensor of shape {tuple(input.shape)}: {exc}")


@tensor_method("__getitem__")
def getitem(input: Tensor, index: Any) -> Tensor:
    """``input[index]``: a view for basic indices, a copy when index tensors or masks take part."""
    data = input._data
    cls = index.__class__
    try:
        if cls is int:
            return view_of(data[index, ...], input)
        if cls is slice:
            if _bad_step(index):
                raise _step_error(index)
            return view_of(data[index], input)
        key, basic = _translate(input, index)
        if not basic:
            split = _ints_first(key)
            if split is not None:
                return wrap(data[split[0]][split[1]], input._device)
            return wrap(data[key], input._device)
        if Ellipsis not in key:
            key = key + (Ellipsis,)
        result = data[key]
        if None in key:
            result = _with_unsqueeze_strides(input, result, key)
        return view_of(result, input)
    except IndexError as exc:
        raise _index_error(input, index, exc) from None


def _value_of(op: str, input: Tensor, value: Any) -> Any:
    if value.__class__ is Tensor:
        if value._device is not input._device:
            raise DeviceError(f"{op}: value is on {value._device} but the tensor is on {input._device}")
        return value._data
    if isinstance(value, _NUMBERS):
        return value
    raise TypeError(f"{op}: value must be a Tensor or a number, got {type(value).__name__}")


@tensor_method("__setitem__")
def setitem(input: Tensor, index: Any, value: Any) -> None:
    """``input[index] = value``: writes into ``input``'s storage (so into its base); ``value`` broadcasts."""
    data = input._data
    source = _value_of("setitem", input, value)
    key, basic = (index, True) if index.__class__ is int else _translate(input, index)
    split = None if basic else _ints_first(key)
    try:
        if split is not None:
            data[split[0]][split[1]] = source
        else:
            data[key] = source
    except IndexError as exc:
        raise _index_error(input, index, exc) from None
    except ValueError as exc:
        if "broadcast" in str(exc):
            raise ShapeError(
                f"setitem: value of shape {tuple(getattr(value, 'shape', ()))} cannot be broadcast to "
                f"input{_index_repr(index)} of tensor shape {tuple(input.shape)}"
            ) from None
        raise


def _index_repr(index: Any) -> str:
    return f"[{index!r:.60}]"


@tensor_method()
def index_put_(input: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    """``input[indices] = values`` in place; with ``accumulate`` repeated indices add up (``+=`` each)."""
    source = _value_of("index_put_", input, values)
    key = _translate(input, tuple(indices) if isinstance(indices, list) else indices)[0]
    split = _ints_first(key)
    target = input._data
    if split is not None:
        target, key = target[split[0]], split[1]
    try:
        if accumulate:
            input._device.backend.xp.add.at(target, key, source)
        else:
            target[key] = source
    except IndexError as exc:
        raise _index_error(input, indices, exc) from None
    except ValueError as exc:
        raise ShapeError(
            f"index_put_: values of shape {_shape_of(values)} do not fit input{_index_repr(indices)} of shape "
            f"{tuple(input.shape)}: {exc}"
        ) from None
    return input


@tensor_method()
def index_put(input: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    """Out-of-place :func:`index_put_`."""
    return index_put_(wrap(input._data.copy(), input._device), indices, values, accumulate)


def _shape_of(x: Any) -> Any:
    return tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__


def _int_index(op: str, input: Tensor, index: Any) -> Any:
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}: index must be an integer Tensor, got {type(index).__name__}")
    check_same_device(op, input, index)
    if index._data.dtype.kind not in "iu":
        raise DTypeError(f"{op}: index must be an integer tensor, got {index.dtype}")
    return index._data


def _check_range(op: str, index: Any, size: int, dim: int, allow_negative: bool = False) -> None:
    """IndexError unless every entry of ``index`` is in ``[0, size)`` (``[-size, size)`` if allowed)."""
    if index.size == 0:
        return
    low, high = int(index.min()), int(index.max())
    floor = -size if allow_negative else 0
    if low < floor or high >= size:
        bad = low if low < floor else high
        raise IndexError(f"{op}: index {bad} is out of bounds for dimension {dim} with size {size}")


def _check_dtype(op: str, input: Tensor, source: Tensor) -> None:
    check_same_device(op, input, source)
    if source._data.dtype != input._data.dtype:
        raise DTypeError(f"{op}: self ({input.dtype}) and source ({source.dtype}) must have the same dtype")


def _along_dim_key(xp: Any, index: Any, dim: int) -> tuple[Any, ...]:
    """Advanced key that reads/writes entry ``index[i_0..i_n]`` at dim ``dim`` and ``i_k`` elsewhere."""
    ndim = index.ndim
    key = []
    for k, n in enumerate(index.shape):
        if k == dim:
            key.append(index)
        else:
            shape = [1] * ndim
            shape[k] = n
            key.append(xp.arange(n).reshape(shape))
    return tuple(key)


def _check_along_dim(op: str, shape: tuple[int, ...], index: Any, dim: int, src_shape: tuple[int, ...] | None) -> None:
    if index.ndim != len(shape) or (src_shape is not None and len(src_shape) != len(shape)):
        src_text = f" and src {src_shape}" if src_shape is not None else ""
        raise ShapeError(f"{op}: index {index.shape}{src_text} must have as many dims as input {shape}")
    for k, n in enumerate(index.shape):
        if (k != dim and n > shape[k]) or (src_shape is not None and n > src_shape[k]):
            src_text = f" and src {src_shape}" if src_shape is not None else ""
            raise ShapeError(f"{op}: index {index.shape} is larger than input {shape}{src_text} at dim {k}")


def _at_least_1d(array: Any) -> Any:
    return array.reshape(1) if array.ndim == 0 else array


@tensor_method()
def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """``out[i][j][k] = input[index[i][j][k]][j][k]`` (for ``dim=0``); ``out`` has ``index``'s shape."""
    idx = _int_index("gather", input, index)
    data = input._data
    if data.ndim == 0:
        data, idx = data.reshape(1), _at_least_1d(idx)
    d = normalize_dim(dim, data.ndim, "gather")
    _check_along_dim("gather", data.shape, idx, d, None)
    _check_range("gather", idx, data.shape[d], dim)
    window = data[tuple(slice(None) if k == d else slice(0, n) for k, n in enumerate(idx.shape))]
    out = input._device.backend.xp.take_along_axis(window, idx, axis=d)
    return wrap(out.reshape(index._data.shape), input._device)


def _scatter_into(op: str, input: Tensor, dim: int, index: Tensor, src: Any, add: bool) -> Tensor:
    idx = _int_index(op, input, index)
    data = input._data
    if data.ndim == 0:
        data, idx = data.reshape(1), _at_least_1d(idx)
    d = normalize_dim(dim, data.ndim, op)
    if isinstance(src, Tensor):
        _check_dtype(op, input, src)
        values = src._data if data.ndim == input._data.ndim else _at_least_1d(src._data)
        _check_along_dim(op, data.shape, idx, d, values.shape)
        values = values[tuple(slice(0, n) for n in idx.shape)]
    elif isinstance(src, _NUMBERS):
        _check_along_dim(op, data.shape, idx, d, None)
        values = src
    else:
        raise TypeError(f"{op}: src must be a Tensor or a number, got {type(src).__name__}")
    _check_range(op, idx, data.shape[d], dim)
    xp = input._device.backend.xp
    key = _along_dim_key(xp, idx, d)
    if add:
        xp.add.at(data, key, values)
    else:
        data[key] = values
    return input


@tensor_method()
def scatter_(input: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None) -> Tensor:
    """In place ``input[index[i][j]][j] = src[i][j]`` (``dim=0``); ``src`` a tensor or a number."""
    return _scatter_into("scatter_", input, dim, index, value if src is None else src, add=False)


@tensor_method()
def scatter(
    input: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None, reduce: str | None = None
) -> Tensor:
    """Out-of-place :func:`scatter_`; ``reduce="add"`` / ``"multiply"`` combine instead of overwrite."""
    source = value if src is None else src
    if reduce is not None:
        kinds = {"add": "sum", "multiply": "prod"}
        if reduce not in kinds:
            raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        if not isinstance(source, Tensor):
            source = wrap(input.backend.xp.full(index.shape, source, dtype=input._data.dtype), input._device)
        return scatter_reduce(input, dim, index, source, kinds[reduce])
    return _scatter_into("scatter", _copy(input), dim, index, source, add=False)


_SCATTER_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


@tensor_method()
def scatter_reduce(
    input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    """``input`` with ``src[i][j]`` combined into ``input[index[i][j]][j]`` (``dim=0``) by ``reduce``
    ("sum", "prod", "mean", "amax", "amin"); without ``include_self`` the scattered-to positions start
    from the reduction's identity instead of ``input``'s value (positions nothing lands on keep it)."""
    op = "scatter_reduce"
    if reduce not in _SCATTER_REDUCTIONS:
        raise ValueError(f"{op}: reduce must be one of {_SCATTER_REDUCTIONS}, got {reduce!r}")
    if not isinstance(src, Tensor):
        raise TypeError(f"{op}: src must be a Tensor, got {type(src).__name__}")
    _check_dtype(op, input, src)
    idx = _int_index(op, input, index)
    data = _copy(input)._data
    values = src._data
    if data.ndim == 0:
        data, idx, values = data.reshape(1), _at_least_1d(idx), _at_least_1d(values)
    d = normalize_dim(dim, data.ndim, op)
    _check_along_dim(op, data.shape, idx, d, values.shape)
    _check_range(op, idx, data.shape[d], dim)
    xp = input._device.backend.xp
    key = _along_dim_key(xp, idx, d)
    values = values[tuple(slice(0, n) for n in idx.shape)]
    if not include_self:
        identity = {"sum": 0, "mean": 0, "prod": 1}
        if reduce in identity:
            data[key] = identity[reduce]
        elif data.dtype.kind in "fc":
            data[key] = -xp.inf if reduce == "amax" else xp.inf
        else:
            limits = xp.iinfo(data.dtype)
            data[key] = limits.min if reduce == "amax" else limits.max
    ufunc = {"sum": xp.add, "mean": xp.add, "prod": xp.multiply, "amax": xp.maximum, "amin": xp.minimum}[reduce]
    ufunc.at(data, key, values)
    if reduce == "mean":
        counts = xp.zeros(data.shape, dtype=xp.int64)
        xp.add.at(counts, key, 1)
        counts = counts + (1 if include_self else 0)
        counts[counts == 0] = 1
        data = data / counts if data.dtype.kind in "fc" else data // counts
        data = data.astype(input._data.dtype, copy=False)
    return wrap(data.reshape(input._data.shape), input._device)


@tensor_method()
def scatter_add_(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """In place ``input[index[i][j]][j] += src[i][j]`` (``dim=0``); repeated indices all add."""
    return _scatter_into("scatter_add_", input, dim, index, src, add=True)


@tensor_method()
def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """Out-of-place :func:`scatter_add_`."""
    return _scatter_into("scatter_add", _copy(input), dim, index, src, add=True)


def _copy(input: Tensor) -> Tensor:
    return wrap(input._data.copy(), input._device)


def _vector_index(op: str, input: Tensor, index: Tensor) -> Any:
    idx = _int_index(op, input, index)
    if idx.ndim > 1:
        raise ShapeError(f"{op}: index must be 0-d or 1-d, got shape {idx.shape}")
    return idx.reshape(-1)


@tensor_method()
def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """Entries ``index`` (1-d) of dim ``dim``: ``out.shape[dim] == len(index)``."""
    data = input._data
    idx = _vector_index("index_select", input, index)
    if data.ndim == 0:
        _check_range("index_select", idx, 1, dim)
        return wrap(data.reshape(1)[idx].reshape(index._data.shape), input._device)
    d = normalize_dim(dim, data.ndim, "index_select")
    _check_range("index_select", idx, data.shape[d], dim)
    return wrap(input._device.backend.xp.take(data, idx, axis=d), input._device)


@tensor_method()
def index_add_(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """In place ``input.select(dim, index[i]) += alpha * source.select(dim, i)``; repeats all add."""
    idx = _vector_index("index_add_", input, index)
    _check_dtype("index_add_", input, source)
    data, src = input._data, source._data
    if data.ndim == 0:
        data, src = data.reshape(1), _at_least_1d(src)
    d = normalize_dim(dim, data.ndim, "index_add_")
    expected = data.shape[:d] + (idx.shape[0],) + data.shape[d + 1 :]
    if src.shape != expected:
        raise ShapeError(
            f"index_add_: source of shape {source._data.shape} must have shape {expected} "
            f"(input {input._data.shape}, index of length {idx.shape[0]}, dim {dim})"
        )
    _check_range("index_add_", idx, data.shape[d], dim)
    if alpha != 1:
        src = src * alpha
    input._device.backend.xp.add.at(data, (slice(None),) * d + (idx,), src)
    return input


@tensor_method()
def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """Out-of-place :func:`index_add_`."""
    return index_add_(_copy(input), dim, index, source, alpha=alpha)


def _bool_mask(op: str, input: Tensor, mask: Any) -> Any:
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}: mask must be a bool Tensor, got {type(mask).__name__}")
    check_same_device(op, input, mask)
    if mask._data.dtype.kind != "b":
        raise DTypeError(f"{op}: mask must be a bool tensor, got {mask.dtype}")
    return mask._data


def _fill_value(op: str, input: Tensor, value: Any) -> Any:
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise ShapeError(f"{op}: value must be a 0-d tensor or a number, got shape {tuple(value.shape)}")
        return value._data
    if not isinstance(value, _NUMBERS):
        raise TypeError(f"{op}: value must be a number or a 0-d tensor, got {type(value).__name__}")
    return value


@tensor_method()
def masked_fill_(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    """In place: ``value`` wherever ``mask`` (broadcast to ``input``'s shape) is True."""
    data = input._data
    m = _bool_mask("masked_fill_", input, mask)
    fill = _fill_value("masked_fill_", input, value)
    xp = input._device.backend.xp
    try:
        xp.copyto(data, xp.asarray(fill).astype(data.dtype), where=m)
    except ValueError:
        raise ShapeError(
            f"masked_fill_: mask of shape {m.shape} cannot be broadcast to input shape {data.shape}"
        ) from None
    return input


@tensor_method()
def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    """A copy of ``input`` (broadcast with ``mask``) with ``value`` wherever ``mask`` is True."""
    m = _bool_mask("masked_fill", input, mask)
    fill = _fill_value("masked_fill", input, value)
    data = input._data
    xp = input._device.backend.xp
    try:
        out = xp.where(m, xp.asarray(fill).astype(data.dtype), data)
    except ValueError:
        raise ShapeError(
            f"masked_fill: mask of shape {m.shape} and input of shape {data.shape} cannot be broadcast together"
        ) from None
    return wrap(out, input._device)


@tensor_method()
def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """1-d copy of the entries of ``input`` where ``mask`` is True (both broadcast together)."""
    m = _bool_mask("masked_select", input, mask)
    xp = input._device.backend.xp
    try:
        data, m = xp.broadcast_arrays(input._data, m)
    except ValueError:
        raise ShapeError(
            f"masked_select: mask of shape {m.shape} and input of shape {input._data.shape} cannot be broadcast "
            "together"
        ) from None
    return wrap(data[m], input._device)


@tensor_method()
def take(input: Tensor, index: Tensor) -> Tensor:
    """Entries of the flattened ``input`` at ``index`` (negative counts from the end); ``index``'s shape."""
    idx = _int_index("take", input, index)
    flat = input._data.reshape(-1)
    _check_range("take", idx, flat.shape[0], 0, allow_negative=True)
    return wrap(flat[idx], input._device)


@tensor_method()
def nonzero(input: Tensor, *, as_tuple: bool = False) -> "Tensor | tuple[Tensor, ...]":
    """Indices of nonzero entries: ``[count, ndim]`` int64, or a tuple of ``ndim`` 1-d tensors."""
    data = input._data
    xp = input._device.backend.xp
    device = input._device
    if data.ndim == 0:
        (found,) = xp.nonzero(data.reshape(1))
        if as_tuple:
            return (wrap(found.astype(_int64.np, copy=False), device),)
        return wrap(xp.zeros((found.shape[0], 0), dtype=_int64.np), device)
    coords = xp.nonzero(data)
    if as_tuple:
        return tuple(wrap(c.astype(_int64.np, copy=False), device) for c in coords)
    return wrap(xp.stack(coords, axis=1).astype(_int64.np, copy=False), device)


@tensor_method()
def argwhere(input: Tensor) -> Tensor:
    """``nonzero(input)``: ``[count, ndim]`` int64 indices of the nonzero entries."""
    return nonzero(input)
