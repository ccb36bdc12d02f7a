"""Differentiable 1-d discrete Fourier transforms: ``fft``, ``ifft``, ``rfft``, ``irfft``.

Complex values are **real/imag pairs in a trailing dim of size 2** (``[..., 2]``, the layout of
``torch.view_as_real``), because axon's autograd carries real tensors only. ``dim`` counts the
complex dims (the pair dim excluded). ``complex_from_pairs`` / ``pairs_from_complex`` convert
to and from complex-dtype Tensors outside autograd. ``norm`` is NumPy's/PyTorch's:
``"backward"`` (None; the inverse divides by n), ``"ortho"``, ``"forward"``.

Each transform is one autograd Function whose backward is the adjoint transform: the adjoint
of ``fft`` with norm m is ``ifft`` with the opposite norm (backward <-> forward), and the adjoint
of zero-padding / truncating to ``n`` is truncating / zero-padding back. The transforms are linear,
so that backward is differentiable again (:func:`~._twice.linear_backward`: the gradient of the
adjoint is the transform itself); :func:`complex_abs` gets its double backward from its
composite (:func:`~._twice.graph_backward`). Both as PyTorch's.
"""

from __future__ import annotations

from typing import Any

from axon_autograd import Function, Variable, where
from axon_core import DTypeError, ShapeError
from axon_tensor import Tensor
from axon_tensor.tensor import normalize_dim, wrap

from ._twice import graph_backward, linear_backward
from ._util import out_like, tensor_of, xp_of

__all__ = ["fft", "ifft", "rfft", "irfft", "complex_abs", "complex_from_pairs", "pairs_from_complex"]

_NORMS = ("backward", "ortho", "forward")
_ADJOINT_NORM = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _resize(xp: Any, a: Any, axis: int, n: int) -> Any:
    """``a`` truncated or zero-padded along ``axis`` to length ``n``."""
    length = a.shape[axis]
    if length == n:
        return a
    if length > n:
        return a[(slice(None),) * axis + (slice(0, n),)]
    widths = [(0, 0)] * a.ndim
    widths[axis] = (0, n - length)
    return xp.pad(a, widths)


def _to_complex(xp: Any, pairs: Any) -> Any:
    return pairs[..., 0] + 1j * pairs[..., 1]


def _to_pairs(xp: Any, z: Any, dtype: Any) -> Any:
    return xp.stack([z.real, z.imag], axis=-1).astype(dtype, copy=False)


class FFTFunction(Function):
    """``kind`` in fft/ifft (pairs -> pairs), rfft (real -> pairs), irfft (pairs -> real) along ``axis``."""

    @staticmethod
    def forward(ctx, x, kind, n, axis, norm):
        xp, data = xp_of(x), x.array
        ctx.kind, ctx.n, ctx.axis, ctx.norm, ctx.dtype = kind, n, axis, norm, data.dtype
        if kind == "rfft":
            ctx.length = data.shape[axis]
            return out_like(_to_pairs(xp, xp.fft.rfft(_resize(xp, data, axis, n), axis=axis, norm=norm), data.dtype), x)
        z = _to_complex(xp, data)
        ctx.length = z.shape[axis]
        if kind == "irfft":
            y = xp.fft.irfft(_resize(xp, z, axis, n // 2 + 1), n=n, axis=axis, norm=norm)
            return out_like(y.astype(data.dtype, copy=False), x)
        transform = xp.fft.fft if kind == "fft" else xp.fft.ifft
        return out_like(_to_pairs(xp, transform(_resize(xp, z, axis, n), axis=axis, norm=norm), data.dtype), x)

    @staticmethod
    @linear_backward(lambda ctx: lambda u: FFTFunction.apply(u, ctx.kind, ctx.n, ctx.axis, ctx.norm))
    def backward(ctx, grad):
        xp, g = xp_of(grad), grad.array
        kind, n, axis, adjoint = ctx.kind, ctx.n, ctx.axis, _ADJOINT_NORM[ctx.norm]
        if kind == "rfft":
            full = xp.fft.ifft(_resize(xp, _to_complex(xp, g), axis, n), axis=axis, norm=adjoint).real
            result = _resize(xp, full, axis, ctx.length).astype(ctx.dtype, copy=False)
        elif kind == "irfft":
            half = xp.fft.rfft(g, axis=axis, norm=adjoint)
            # Bins 1..n/2-1 stand for themselves and their mirror images, so they count twice.
            weights = xp.full(half.shape[axis], 2.0)
            weights[0] = 1.0
            if n % 2 == 0:
                weights[-1] = 1.0
            half = half * weights.reshape((-1,) + (1,) * (half.ndim - axis - 1))
            result = _to_pairs(xp, _resize(xp, half, axis, ctx.length), ctx.dtype)
        else:
            inverse = xp.fft.ifft if kind == "fft" else xp.fft.fft
            result = _to_pairs(
                xp, _resize(xp, inverse(_to_complex(xp, g), axis=axis, norm=adjoint), axis, ctx.length), ctx.dtype
            )
        return out_like(result, grad), None, None, None, None


def _transform(op: str, x: Any, n: int | None, dim: int, norm: str | None, complex_input: bool) -> Any:
    data = tensor_of(x)
    if not data.dtype.is_floating_point:
        hint = " (complex tensors enter as real/imag pairs: see pairs_from_complex)" if data.dtype.is_complex else ""
        raise DTypeError(f"{op}: expected a floating tensor, got {data.dtype}{hint}")
    norm = "backward" if norm is None else norm
    if norm not in _NORMS:
        raise ValueError(f"{op}: norm must be one of {_NORMS} or None, got {norm!r}")
    shape = tuple(data.shape)
    if complex_input and (len(shape) < 2 or shape[-1] != 2):
        raise ShapeError(
            f"{op}: input must be complex as real/imag pairs [..., 2] with at least one complex dim, got {shape}"
        )
    dims = len(shape) - 1 if complex_input else len(shape)
    if dims == 0:
        raise ShapeError(f"{op}: a 0-d input has no dim to transform, got shape {shape}")
    axis = normalize_dim(dim, dims, op)
    length = shape[axis]
    if n is None:
        n = 2 * (length - 1) if op == "irfft" else length
    if n < 1:
        raise ShapeError(f"{op}: transform length must be at least 1, got n={n} for input {shape} along dim {dim}")
    return FFTFunction.apply(x, op, int(n), axis, norm)


def fft(input: Any, n: int | None = None, dim: int = -1, norm: str | None = None) -> Any:
    """Discrete Fourier transform of complex pairs ``[..., L, ..., 2]`` -> ``[..., n, ..., 2]``."""
    return _transform("fft", input, n, dim, norm, True)


def ifft(input: Any, n: int | None = None, dim: int = -1, norm: str | None = None) -> Any:
    """Inverse of :func:`fft`: complex pairs ``[..., L, ..., 2]`` -> ``[..., n, ..., 2]``."""
    return _transform("ifft", input, n, dim, norm, True)


def rfft(input: Any, n: int | None = None, dim: int = -1, norm: str | None = None) -> Any:
    """DFT of a real signal ``[..., L, ...]``, non-negative frequencies only -> pairs ``[..., n//2+1, ..., 2]``."""
    return _transform("rfft", input, n, dim, norm, False)


def irfft(input: Any, n: int | None = None, dim: int = -1, norm: str | None = None) -> Any:
    """Inverse of :func:`rfft`: half spectrum pairs ``[..., m, ..., 2]`` -> real ``[..., n, ...]``
    (``n`` defaults to ``2(m-1)``; the imaginary parts of the DC and Nyquist bins are ignored)."""
    return _transform("irfft", input, n, dim, norm, True)


def _complex_abs_composite(ctx: Any, z: Any) -> Any:
    """``|z|`` as Variable ops, 0 (with gradient 0) where ``z = 0``."""
    squared = z[..., 0] * z[..., 0] + z[..., 1] * z[..., 1]
    nonzero = tensor_of(squared) > 0
    return where(nonzero, where(nonzero, squared, 1.0).sqrt(), 0.0)


class ComplexAbsFunction(Function):
    """``|z|`` of pairs ``[..., 2]`` -> ``[...]``; the gradient at ``z = 0`` is 0 (as PyTorch's)."""

    @staticmethod
    def forward(ctx, z):
        xp, data = xp_of(z), z.array
        magnitude = xp.hypot(data[..., 0], data[..., 1])
        ctx.save_for_backward(z)
        ctx.magnitude = magnitude
        return out_like(magnitude, z)

    @staticmethod
    @graph_backward(_complex_abs_composite)
    def backward(ctx, grad):
        (z,) = (v.data for v in ctx.saved_tensors)
        xp, m = xp_of(z), ctx.magnitude
        scale = xp.where(m > 0, grad.array / xp.where(m > 0, m, 1), 0)
        return out_like(z.array * scale[..., None], grad)


def complex_abs(input: Any) -> Any:
    """Magnitude of complex pairs ``[..., 2]`` -> ``[...]``."""
    if len(input.shape) == 0 or input.shape[-1] != 2:
        raise ShapeError(f"complex_abs: input must be real/imag pairs [..., 2], got {tuple(input.shape)}")
    return ComplexAbsFunction.apply(input)


def complex_from_pairs(input: Any) -> Tensor:
    """A complex-dtype Tensor ``[...]`` from pairs ``[..., 2]`` (data only: axon has no complex gradients)."""
    if isinstance(input, Variable) and input.requires_grad:
        raise ValueError(
            "complex_from_pairs: the input requires grad, but complex Tensors carry no gradients here; keep the pairs"
        )
    data = tensor_of(input)
    if len(data.shape) == 0 or data.shape[-1] != 2:
        raise ShapeError(f"complex_from_pairs: input must be real/imag pairs [..., 2], got {tuple(data.shape)}")
    return wrap(_to_complex(xp_of(data), data.array), data.device)


def pairs_from_complex(input: Tensor) -> Tensor:
    """Real/imag pairs ``[..., 2]`` of a complex-dtype Tensor ``[...]`` (float32 for complex64)."""
    data = tensor_of(input)
    if not data.dtype.is_complex:
        raise DTypeError(f"pairs_from_complex: expected a complex tensor, got {data.dtype}")
    xp = xp_of(data)
    return wrap(_to_pairs(xp, data.array, data.array.real.dtype), data.device)
