"""Shape ops: views that share storage (view, reshape, transpose, expand, ...) and the few
shape ops that must copy (flip, roll, repeat, tile, repeat_interleave, tril, triu).

Views keep PyTorch's strides, including the strides of size-1 dims (``unsqueeze``, ``view``),
so ``stride()`` and ``storage_offset()`` agree with PyTorch after the same op sequence.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Sequence

from axon_core import DType, ShapeError

from ..tensor import Tensor, normalize_dim, tensor_method, view_of, wrap

__all__ = [
    "view",
    "reshape",
    "view_as",
    "reshape_as",
    "transpose",
    "swapaxes",
    "permute",
    "t",
    "movedim",
    "expand",
    "expand_as",
    "squeeze",
    "unsqueeze",
    "flatten",
    "unflatten",
    "narrow",
    "select",
    "chunk",
    "split",
    "unbind",
    "flip",
    "roll",
    "repeat",
    "tile",
    "repeat_interleave",
    "tril",
    "triu",
    "unfold",
]


def _sizes(args: tuple[Any, ...]) -> tuple[int, ...]:
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all mean the shape (2, 3)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    try:
        return tuple(operator.index(s) for s in args)
    except TypeError:
        raise TypeError(f"sizes and dims must be ints, got {args!r}") from None


def _infer_shape(op: str, shape: tuple[int, ...], numel: int, source: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with its one ``-1`` filled in; ShapeError when it cannot hold ``numel`` elements."""
    unknown = [i for i, s in enumerate(shape) if s == -1]
    known = math.prod(s for s in shape if s != -1)
    if len(unknown) > 1 or any(s < -1 for s in shape):
        raise ShapeError(f"{op}: shape {list(shape)} is invalid (at most one -1, no other negative size)")
    if unknown:
        if known == 0 or numel % known:
            raise ShapeError(f"{op}: shape {list(shape)} is invalid for input of shape {source} ({numel} elements)")
        i = unknown[0]
        return shape[:i] + (numel // known,) + shape[i + 1 :]
    if known != numel:
        raise ShapeError(f"{op}: shape {list(shape)} is invalid for input of shape {source} ({numel} elements)")
    return shape


def _view_strides(
    shape: tuple[int, ...], strides: tuple[int, ...], new_shape: tuple[int, ...], itemsize: int
) -> list[int] | None:
    """Strides (bytes) that let ``new_shape`` view a tensor of ``shape``/``strides``, or None.

    PyTorch's ``computeStride``: dims of the old shape are grouped into chunks that are
    contiguous among themselves; each chunk must be covered exactly by consecutive new dims.
    """
    numel = math.prod(shape)
    if numel == 0:
        return list(strides) if shape == new_shape else _contiguous_strides(new_shape, itemsize)
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    chunk_base_stride = strides[-1] if strides else 1
    tensor_numel = 1
    view_numel = 1
    for tensor_d in range(len(shape) - 1, -1, -1):
        tensor_numel *= shape[tensor_d]
        if tensor_d == 0 or (shape[tensor_d - 1] != 1 and strides[tensor_d - 1] != tensor_numel * chunk_base_stride):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new_strides[view_d] = view_numel * chunk_base_stride
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                chunk_base_stride = strides[tensor_d - 1]
                tensor_numel = 1
                view_numel = 1
    return new_strides if view_d == -1 else None


def _contiguous_strides(shape: tuple[int, ...], unit: int) -> list[int]:
    strides = [0] * len(shape)
    step = unit
    for i in range(len(shape) - 1, -1, -1):
        strides[i] = step
        step *= max(shape[i], 1)
    return strides


def strided_view(source: Tensor, shape: Sequence[int], byte_strides: Sequence[int]) -> Tensor:
    """A view starting at ``source``'s first element with explicit ``shape`` and byte strides."""
    return view_of(restride(source, source._data, tuple(shape), tuple(byte_strides)), source)


def restride(source: Tensor, data: Any, shape: tuple[int, ...], byte_strides: tuple[int, ...]) -> Any:
    """``data`` (an array viewing ``source``'s storage) re-viewed with ``shape`` and ``byte_strides``.

    Host backends hold NumPy arrays: a view built directly over the contiguous owner array costs
    a few us where the generic ``as_strided`` costs ~15 us, and views are on hot paths.
    """
    backend = source._device.backend
    owner = source._data if source._base is None else source._base._data
    # An empty view may sit past the end of an empty owner's buffer (a nonzero offset into zero
    # bytes), which the buffer constructor rejects: as_strided takes it.
    if backend.host_memory and data.size and owner.flags.c_contiguous and owner.__class__ is data.__class__:
        offset = data.ctypes.data - owner.ctypes.data
        return owner.__class__(shape, data.dtype, owner, offset, byte_strides)
    return backend.xp.lib.stride_tricks.as_strided(data, shape, byte_strides)


def _reshape(op: str, input: Tensor, shape: tuple[int, ...], copy_ok: bool) -> Tensor:
    data = input._data
    # NumPy's view of a contiguous array gets canonical strides; PyTorch's only differ when the
    # last dim has size 1 and an odd stride (it scales every new stride), so those go the slow way.
    if data.flags.c_contiguous and (not data.ndim or data.strides[-1] == data.itemsize):
        if shape and min(shape) < -1:
            _infer_shape(op, shape, data.size, data.shape)  # NumPy reads any negative size as -1
        try:
            return view_of(data.reshape(shape), input)
        except ValueError:
            _infer_shape(op, shape, data.size, data.shape)
            raise
    new_shape = _infer_shape(op, shape, data.size, data.shape)
    strides = _view_strides(data.shape, data.strides, new_shape, data.itemsize)
    if strides is not None:
        return strided_view(input, new_shape, strides)
    if copy_ok:
        return wrap(input._device.backend.xp.ascontiguousarray(data).reshape(new_shape), input._device)
    raise ShapeError(
        f"view: shape {list(new_shape)} is not compatible with input of shape {data.shape} and strides "
        f"{input.stride()} (a dimension spans two non-contiguous subspaces); use .reshape(...) instead"
    )


@tensor_method()
def view(input: Tensor, *shape: Any) -> Tensor:
    """A view with ``shape`` (one size may be -1); ShapeError when the strides forbid it.

    ``view(dtype)`` reinterprets the bytes as ``dtype`` (a bitcast, sharing storage): a different
    element size rescales the last dim, which must then be contiguous, as PyTorch requires.
    """
    if len(shape) == 1 and isinstance(shape[0], DType):
        return _view_dtype(input, shape[0])
    return _reshape("view", input, _sizes(shape), copy_ok=False)


def _view_dtype(input: Tensor, dtype: DType) -> Tensor:
    data = input._data
    if dtype.np.itemsize != data.itemsize:
        if data.ndim == 0 or data.strides[-1] != data.itemsize or (data.shape[-1] * data.itemsize) % dtype.np.itemsize:
            raise ShapeError(
                f"view: cannot view a {input.dtype} tensor of shape {tuple(data.shape)} and strides "
                f"{input.stride()} as {dtype}: the last dim must be contiguous and its bytes divisible by "
                f"{dtype.np.itemsize}"
            )
    try:
        return view_of(data.view(dtype.np), input)
    except ValueError as exc:
        raise ShapeError(f"view: cannot view {tuple(data.shape)} {input.dtype} as {dtype}: {exc}") from None


@tensor_method()
def reshape(input: Tensor, *shape: Any) -> Tensor:
    """``shape`` as a view when the strides allow one, otherwise as a copy."""
    return _reshape("reshape", input, _sizes(shape), copy_ok=True)


@tensor_method()
def view_as(input: Tensor, other: Tensor) -> Tensor:
    return _reshape("view_as", input, other._data.shape, copy_ok=False)


@tensor_method()
def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    return _reshape("reshape_as", input, other._data.shape, copy_ok=True)


@tensor_method("transpose", "swapaxes", "swapdims")
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """View with ``dim0`` and ``dim1`` swapped."""
    ndim = input._data.ndim
    d0, d1 = normalize_dim(dim0, ndim, "transpose"), normalize_dim(dim1, ndim, "transpose")
    if ndim == 0:
        return view_of(input._data[...], input)
    return view_of(input._data.swapaxes(d0, d1), input)


swapaxes = transpose


@tensor_method()
def permute(input: Tensor, *dims: Any) -> Tensor:
    """View with the dims reordered: output dim ``i`` is input dim ``dims[i]``."""
    order = _sizes(dims)
    ndim = input._data.ndim
    if len(order) != ndim:
        raise ShapeError(f"permute: got {len(order)} dims {list(order)} for a tensor of shape {input.shape}")
    normalized = tuple(normalize_dim(d, ndim, "permute") for d in order)
    if len(set(normalized)) != ndim:
        raise ShapeError(f"permute: repeated dim in {list(order)}")
    return view_of(input._data.transpose(normalized), input)


@tensor_method()
def t(input: Tensor) -> Tensor:
    """Transpose of a 2-d tensor; 0-d and 1-d tensors come back as views of themselves."""
    ndim = input._data.ndim
    if ndim > 2:
        raise ShapeError(f"t: expects a tensor with <= 2 dims, got shape {input.shape}; use transpose() or mT")
    return view_of(input._data.T if ndim == 2 else input._data[...], input)


def _reversed_dims(input: Tensor) -> Tensor:
    return view_of(input._data.T, input)


def _matrix_transpose(input: Tensor) -> Tensor:
    if input._data.ndim < 2:
        raise ShapeError(f"mT: expects a tensor with >= 2 dims, got shape {input.shape}")
    return view_of(input._data.swapaxes(-1, -2), input)


Tensor.T = property(_reversed_dims, doc="View with all dims reversed.")  # type: ignore[attr-defined]
Tensor.mT = property(_matrix_transpose, doc="View with the last two dims swapped.")  # type: ignore[attr-defined]


@tensor_method("movedim", "moveaxis")
def movedim(input: Tensor, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
    """View with dims ``source`` moved to positions ``destination``."""
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    ndim = input._data.ndim
    if len(src) != len(dst):
        raise ShapeError(f"movedim: source {list(src)} and destination {list(dst)} differ in length")
    src = tuple(normalize_dim(d, ndim, "movedim") for d in src)
    dst = tuple(normalize_dim(d, ndim, "movedim") for d in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ShapeError(f"movedim: repeated dim in source {list(src)} or destination {list(dst)}")
    if ndim == 0:
        return view_of(input._data[...], input)
    return view_of(input._device.backend.xp.moveaxis(input._data, src, dst), input)


@tensor_method()
def expand(input: Tensor, *sizes: Any) -> Tensor:
    """View broadcast to ``sizes`` (-1 keeps a size); expanded dims have stride 0, no copy."""
    target = _sizes(sizes)
    data = input._data
    shape, strides = data.shape, data.strides
    lead = len(target) - len(shape)
    if lead < 0:
        raise ShapeError(f"expand: the number of sizes {list(target)} must be >= the dims of shape {shape}")
    out_shape = list(target)
    out_strides = [0] * len(target)
    for i, size in enumerate(target):
        if i < lead:
            if size < 0:
                raise ShapeError(f"expand: size -1 is not allowed for the new leading dim {i} in {list(target)}")
            continue
        have = shape[i - lead]
        if size == -1 or size == have:
            out_shape[i] = have
            out_strides[i] = strides[i - lead]
        elif have == 1 and size >= 0:
            out_shape[i] = size
        else:
            raise ShapeError(
                f"expand: size {size} does not match the existing non-singleton size {have} at dim {i} "
                f"(shape {shape} to {list(target)})"
            )
    return strided_view(input, out_shape, out_strides)


@tensor_method()
def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other._data.shape)


@tensor_method()
def squeeze(input: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """View without size-1 dims (all, or those among ``dim`` that have size 1)."""
    data = input._data
    if dim is None:
        return view_of(data.squeeze(), input)
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    ndim = data.ndim
    axes = tuple(d for d in (normalize_dim(d, ndim, "squeeze") for d in dims) if ndim and data.shape[d] == 1)
    return view_of(data.squeeze(axes) if axes else data[...], input)


@tensor_method()
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """View with a size-1 dim inserted at ``dim`` (-1 appends)."""
    data = input._data
    ndim = data.ndim
    if not -ndim - 1 <= dim <= ndim:
        raise IndexError(
            f"unsqueeze: dimension {dim} is out of range for a {ndim}-d tensor (expected [{-ndim - 1}, {ndim}])"
        )
    if dim < 0:
        dim += ndim + 1
    shape, strides = data.shape, data.strides
    if data.flags.c_contiguous and data.size and 1 not in shape:
        # Canonical strides (a contiguous array's size-1 dims may have any stride, hence the
        # test): NumPy's reshape then gives the new dim PyTorch's stride.
        return view_of(data.reshape(shape[:dim] + (1,) + shape[dim:]), input)
    new_stride = shape[dim] * strides[dim] if dim < ndim else data.itemsize
    return strided_view(input, shape[:dim] + (1,) + shape[dim:], strides[:dim] + (new_stride,) + strides[dim:])


@tensor_method()
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Dims ``start_dim..end_dim`` merged into one (a view when the strides allow)."""
    shape = input._data.shape
    if not shape:
        return _reshape("flatten", input, (1,), copy_ok=True)
    start = normalize_dim(start_dim, len(shape), "flatten")
    end = normalize_dim(end_dim, len(shape), "flatten")
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {shape}")
    if start == end:
        return input
    merged = math.prod(shape[start : end + 1])
    return _reshape("flatten", input, shape[:start] + (merged,) + shape[end + 1 :], copy_ok=True)


@tensor_method()
def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Dim ``dim`` split into ``sizes`` (one may be -1)."""
    shape = input._data.shape
    d = normalize_dim(dim, len(shape), "unflatten")
    if not shape:
        raise ShapeError("unflatten: cannot unflatten a 0-d tensor")
    inner = _infer_shape("unflatten", tuple(int(s) for s in sizes), shape[d], (shape[d],))
    return _reshape("unflatten", input, shape[:d] + inner + shape[d + 1 :], copy_ok=True)


@tensor_method()
def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """View of ``length`` entries of ``dim`` from ``start`` (negative ``start`` counts from the end)."""
    shape = input._data.shape
    if not shape:
        raise ShapeError("narrow: cannot narrow a 0-d tensor")
    d = normalize_dim(dim, len(shape), "narrow")
    size = shape[d]
    start = int(start)
    if start < 0:
        start += size
    if not 0 <= start <= size or length < 0 or start + length > size:
        raise IndexError(f"narrow: start {start} and length {length} exceed dim {dim} of size {size} (shape {shape})")
    return view_of(input._data[(slice(None),) * d + (slice(start, start + length),)], input)


@tensor_method()
def select(input: Tensor, dim: int, index: int) -> Tensor:
    """View of entry ``index`` of ``dim``, with that dim removed."""
    shape = input._data.shape
    if not shape:
        raise IndexError("select: cannot select from a 0-d tensor")
    d = normalize_dim(dim, len(shape), "select")
    if not -shape[d] <= index < shape[d]:
        raise IndexError(f"select: index {index} is out of range for dim {dim} of size {shape[d]} (shape {shape})")
    return view_of(input._data[(slice(None),) * d + (index, Ellipsis)], input)


@tensor_method()
def split(input: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """Views of consecutive pieces along ``dim``: of size ``split_size`` (last may be smaller) or of the given sizes."""
    shape = input._data.shape
    d = normalize_dim(dim, len(shape), "split")
    if not shape:
        raise ShapeError("split: cannot split a 0-d tensor")
    size = shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step < 0 or (step == 0 and size):
            raise ShapeError(f"split: split_size must be positive, got {step} for dim {dim} of size {size}")
        sections = [step] * (size // step) + ([size % step] if size % step else []) if size else [0]
    else:
        sections = [int(s) for s in split_size_or_sections]
        if sum(sections) != size or any(s < 0 for s in sections):
            raise ShapeError(f"split: sections {sections} do not sum to {size}, the size of dim {dim} of shape {shape}")
    pieces = []
    start = 0
    lead = (slice(None),) * d
    for length in sections:
        pieces.append(view_of(input._data[lead + (slice(start, start + length),)], input))
        start += length
    return tuple(pieces)


@tensor_method()
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """At most ``chunks`` views along ``dim``, each of size ``ceil(size / chunks)`` but the last."""
    if chunks <= 0:
        raise ShapeError(f"chunk: chunks must be positive, got {chunks}")
    shape = input._data.shape
    if not shape:
        raise ShapeError("chunk: cannot chunk a 0-d tensor")
    size = shape[normalize_dim(dim, len(shape), "chunk")]
    step = -(-size // chunks)
    if step == 0:
        return tuple(narrow(input, dim, 0, 0) for _ in range(chunks))
    return split(input, step, dim)


@tensor_method()
def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """Views of every entry along ``dim``, with that dim removed."""
    shape = input._data.shape
    if not shape:
        raise ShapeError("unbind: cannot unbind a 0-d tensor")
    d = normalize_dim(dim, len(shape), "unbind")
    lead = (slice(None),) * d
    return tuple(view_of(input._data[lead + (i, Ellipsis)], input) for i in range(shape[d]))


def _dims(op: str, dims: int | Sequence[int], ndim: int) -> tuple[int, ...]:
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    normalized = tuple(normalize_dim(d, ndim, op) for d in dims)
    if len(set(normalized)) != len(normalized):
        raise ShapeError(f"{op}: repeated dim in {list(dims)}")
    return normalized


@tensor_method()
def flip(input: Tensor, dims: int | Sequence[int]) -> Tensor:
    """A copy with the order of entries along ``dims`` reversed."""
    data = input._data
    axes = _dims("flip", dims, data.ndim)
    xp = input._device.backend.xp
    if data.ndim == 0:
        return wrap(data.copy(), input._device)
    return wrap(xp.ascontiguousarray(xp.flip(data, axis=axes)), input._device)


@tensor_method()
def roll(input: Tensor, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
    """A copy with entries shifted cyclically along ``dims`` (over the flattened tensor when None)."""
    data = input._data
    xp = input._device.backend.xp
    if dims is None:
        if not isinstance(shifts, int) and len(shifts) != 1:
            raise ShapeError(f"roll: with dims=None, shifts must be one int, got {shifts}")
        shift = shifts if isinstance(shifts, int) else shifts[0]
        return wrap(xp.roll(data.reshape(-1), shift).reshape(data.shape), input._device)
    axes = (dims,) if isinstance(dims, int) else tuple(dims)
    amounts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if len(axes) != len(amounts):
        raise ShapeError(f"roll: shifts {amounts} and dims {axes} differ in length")
    axes = tuple(normalize_dim(d, data.ndim, "roll") for d in axes)
    if data.ndim == 0:
        return wrap(data.copy(), input._device)
    return wrap(xp.roll(data, amounts, axis=axes), input._device)


@tensor_method()
def repeat(input: Tensor, *sizes: Any) -> Tensor:
    """A copy tiled ``sizes[i]`` times along dim ``i`` (``len(sizes) >= ndim``; extra sizes add leading dims)."""
    reps = _sizes(sizes)
    if len(reps) < input._data.ndim:
        raise ShapeError(f"repeat: {len(reps)} repeats {list(reps)} are fewer than the dims of shape {input.shape}")
    return tile(input, reps)


@tensor_method()
def tile(input: Tensor, *dims: Any) -> Tensor:
    """A copy tiled ``dims[i]`` times along dim ``i`` (missing leading repeats count as 1)."""
    reps = _sizes(dims)
    if any(r < 0 for r in reps):
        raise ShapeError(f"tile: repeats must be non-negative, got {list(reps)}")
    xp = input._device.backend.xp
    data = input._data
    out = xp.tile(data, reps) if reps else data.copy()
    return wrap(xp.ascontiguousarray(out), input._device)


@tensor_method()
def repeat_interleave(input: Tensor, repeats: "int | Tensor", dim: int | None = None) -> Tensor:
    """A copy with each entry along ``dim`` repeated ``repeats`` times (per entry when a tensor).

    ``dim=None`` works on the flattened tensor.
    """
    data = input._data
    xp = input._device.backend.xp
    counts = repeats._data if isinstance(repeats, Tensor) else int(repeats)
    if dim is None:
        data = data.reshape(-1)
        axis = 0
    else:
        axis = normalize_dim(dim, data.ndim, "repeat_interleave")
        if data.ndim == 0:
            data = data.reshape(1)
    if isinstance(repeats, Tensor):
        if counts.ndim > 1 or (counts.size != 1 and counts.size != data.shape[axis]):
            raise ShapeError(
                f"repeat_interleave: repeats of shape {repeats.shape} must be one value or one per entry "
                f"({data.shape[axis]}) of dim {axis}"
            )
        if counts.size and int(counts.min()) < 0:
            raise ShapeError("repeat_interleave: repeats must be non-negative")
        counts = counts.reshape(-1)
    elif counts < 0:
        raise ShapeError(f"repeat_interleave: repeats must be non-negative, got {counts}")
    return wrap(xp.repeat(data, counts, axis=axis), input._device)


def _triangle(op: str, input: Tensor, diagonal: int) -> Tensor:
    data = input._data
    if data.ndim < 2:
        raise ShapeError(f"{op}: expects a tensor with >= 2 dims, got shape {input.shape}")
    xp = input._device.backend.xp
    return wrap(getattr(xp, op)(data, int(diagonal)), input._device)


@tensor_method()
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """A copy with the entries above ``diagonal`` of the last two dims zeroed."""
    return _triangle("tril", input, diagonal)


@tensor_method()
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """A copy with the entries below ``diagonal`` of the last two dims zeroed."""
    return _triangle("triu", input, diagonal)


@tensor_method()
def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """A view of every window of ``size`` elements along ``dimension``, ``step`` apart: that dim becomes
    the number of windows and a last dim of ``size`` is appended (PyTorch's ``Tensor.unfold``)."""
    data = input._data
    ndim = max(data.ndim, 1)
    d = normalize_dim(dimension, ndim, "unfold")
    length = data.shape[d] if data.ndim else 1
    if step <= 0:
        raise ValueError(f"unfold: step must be positive, got {step}")
    if size < 0 or size > length:
        raise ShapeError(f"unfold: size {size} does not fit dimension {dimension} of size {length}")
    count = (length - size) // step + 1
    if data.ndim == 0:
        return view_of(data.reshape(size), input) if size == 1 else view_of(data.reshape(1)[:0], input)
    shape = data.shape[:d] + (count,) + data.shape[d + 1 :] + (size,)
    strides = data.strides[:d] + (data.strides[d] * step,) + data.strides[d + 1 :] + (data.strides[d],)
    return view_of(restride(input, data, shape, strides), input)
