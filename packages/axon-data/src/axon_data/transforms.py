"""Sample transforms: composition, normalisation, one-hot encoding, dtype and device moves.

Each transform is a picklable callable object, so it runs unchanged inside worker processes.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from axon_core import DTypeError, ShapeError, as_dtype
from axon_tensor import Tensor, as_tensor, tensor
from axon_tensor.tensor import wrap

__all__ = ["Compose", "Lambda", "ToTensor", "Normalize", "OneHot", "ToDtype", "ToDevice"]


class Compose:
    """Apply ``transforms`` one after another."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for transform in self.transforms:
            x = transform(x)
        return x

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


class Lambda:
    """Wrap a plain function as a transform."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        if not callable(fn):
            raise TypeError(f"Lambda: expected a callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        return self.fn(x)


class ToTensor:
    """NumPy arrays, numbers and nested lists to a Tensor (optionally of ``dtype``)."""

    def __init__(self, dtype: Any = None) -> None:
        self.dtype = None if dtype is None else as_dtype(dtype)

    def __call__(self, x: Any) -> Tensor:
        return as_tensor(x, dtype=self.dtype)


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel ``c`` of a ``[C, *spatial]`` floating tensor.

    ``mean`` and ``std`` are one value per channel (or one value for all channels).
    """

    def __init__(self, mean: Sequence[float] | float, std: Sequence[float] | float) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if self.mean.ndim != 1 or self.std.ndim != 1:
            raise ShapeError(f"Normalize: mean and std must be 1-d, got shapes {self.mean.shape} and {self.std.shape}")
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std has a zero entry: {self.std.tolist()}")

    def __call__(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"Normalize: expected a Tensor, got {type(x).__name__}")
        if not x.dtype.is_floating_point:
            raise DTypeError(f"Normalize: needs a floating tensor, got {x.dtype}")
        if x.ndim == 0:
            raise ShapeError("Normalize: needs a [C, ...] tensor, got a 0-d tensor")
        channels = x.shape[0]
        for name, values in (("mean", self.mean), ("std", self.std)):
            if values.size not in (1, channels):
                raise ShapeError(
                    f"Normalize: {name} has {values.size} values for a tensor of shape {x.shape} ({channels} channels)"
                )
        stat_shape = (-1,) + (1,) * (x.ndim - 1)
        mean = tensor(self.mean.reshape(stat_shape), dtype=x.dtype, device=x.device)
        std = tensor(self.std.reshape(stat_shape), dtype=x.dtype, device=x.device)
        return (x - mean) / std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class OneHot:
    """Integer class ids ``[*]`` to one-hot rows ``[*, num_classes]`` (int64 unless ``dtype``).

    ``num_classes=-1`` takes ``max(ids) + 1``, like ``torch.nn.functional.one_hot``.
    """

    def __init__(self, num_classes: int = -1, dtype: Any = "int64") -> None:
        if num_classes == 0 or num_classes < -1:
            raise ValueError(f"OneHot: num_classes must be positive or -1, got {num_classes}")
        self.num_classes = num_classes
        self.dtype = as_dtype(dtype)

    def __call__(self, ids: Any) -> Tensor:
        ids = as_tensor(ids)
        if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype.name == "bool":
            raise DTypeError(f"OneHot: class ids must be an integer tensor, got {ids.dtype}")
        xp = ids.device.backend.xp
        data = ids.array
        if data.size and int(data.min()) < 0:
            raise ValueError(f"OneHot: class ids must be non-negative, got min {int(data.min())}")
        if self.num_classes == -1 and data.size == 0:
            raise ValueError("OneHot: cannot infer num_classes from an empty tensor; pass num_classes")
        top = int(data.max()) if data.size else -1
        num_classes = top + 1 if self.num_classes == -1 else self.num_classes
        if top >= num_classes:
            raise ValueError(f"OneHot: class id {top} is out of range for num_classes={num_classes}")
        out = (data[..., None] == xp.arange(num_classes)).astype(self.dtype.np)
        return wrap(out, ids.device)


class ToDtype:
    """Cast a tensor to ``dtype``."""

    def __init__(self, dtype: Any) -> None:
        self.dtype = as_dtype(dtype)

    def __call__(self, x: Tensor) -> Tensor:
        return x.to(dtype=self.dtype)


class ToDevice:
    """Move a tensor (or every tensor in a dict / list / tuple) to ``device``."""

    def __init__(self, device: Any) -> None:
        self.device = device

    def __call__(self, x: Any) -> Any:
        if isinstance(x, Tensor):
            return x.to(device=self.device)
        if isinstance(x, dict):
            return {k: self(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return type(x)(self(v) for v in x)
        return x
