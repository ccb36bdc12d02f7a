"""Input checks shared by every backend's fused ops (the reference and the CUDA kernels raise alike)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DTypeError, ShapeError

__all__ = [
    "same_shapes",
    "check_norm",
    "check_cross_entropy",
    "check_embedding",
    "padding_row",
    "check_adam",
    "check_max_pool_backward",
    "check_cell",
    "check_attention",
]

Array = Any


def same_shapes(op: str, **arrays: Array) -> None:
    shapes = {name: tuple(a.shape) for name, a in arrays.items()}
    if len(set(shapes.values())) > 1:
        raise ShapeError(f"{op}: shapes must match, got " + ", ".join(f"{n} {s}" for n, s in shapes.items()))


def check_norm(op: str, x: Array, weight: Array | None, bias: Array | None, grad: Array | None = None) -> None:
    if x.ndim < 1:
        raise ShapeError(f"{op}: x must have at least one dim, got a 0-d array")
    n = x.shape[-1]
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and tuple(param.shape) != (n,):
            raise ShapeError(
                f"{op}: {name} must have shape ({n},) for x of shape {tuple(x.shape)}, got {tuple(param.shape)}"
            )
    if grad is not None and grad.shape != x.shape:
        raise ShapeError(f"{op}: grad shape {tuple(grad.shape)} differs from x shape {tuple(x.shape)}")


def check_cross_entropy(
    xp: Any, op: str, logits: Array, target: Array, weight: Array | None, ignore_index: int, label_smoothing: float
) -> None:
    if logits.ndim != 2 or target.ndim != 1 or target.shape[0] != logits.shape[0]:
        raise ShapeError(
            f"{op}: expected logits [N, C] and target [N], got {tuple(logits.shape)} and {tuple(target.shape)}"
        )
    if target.dtype.kind not in "iu":
        raise DTypeError(f"{op}: target must hold integer class indices, got {target.dtype}")
    if weight is not None and tuple(weight.shape) != (logits.shape[1],):
        raise ShapeError(f"{op}: weight must have shape ({logits.shape[1]},), got {tuple(weight.shape)}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    bad = (target != ignore_index) & ((target < 0) | (target >= logits.shape[1]))
    if target.size and bool(bad.any()):
        raise IndexError(
            f"{op}: target holds class indices outside [0, {logits.shape[1]}) (ignore_index={ignore_index})"
        )


def check_embedding(
    xp: Any, op: str, num_embeddings: int, indices: Array, weight: Array | None = None, grad: Array | None = None
) -> None:
    if weight is not None and weight.ndim != 2:
        raise ShapeError(f"{op}: weight must be [num_embeddings, dim], got shape {tuple(weight.shape)}")
    if indices.dtype.kind not in "iu":
        raise DTypeError(f"{op}: indices must be integers, got {indices.dtype}")
    if grad is not None and tuple(grad.shape[:-1]) != tuple(indices.shape):
        raise ShapeError(f"{op}: grad {tuple(grad.shape)} must be indices {tuple(indices.shape)} + [dim]")
    if indices.size and bool(((indices < 0) | (indices >= num_embeddings)).any()):
        raise IndexError(f"{op}: indices outside [0, {num_embeddings})")


def padding_row(op: str, padding_idx: int, num_embeddings: int) -> int:
    row = padding_idx + num_embeddings if padding_idx < 0 else padding_idx
    if not 0 <= row < num_embeddings:
        raise IndexError(f"{op}: padding_idx {padding_idx} outside [-{num_embeddings}, {num_embeddings})")
    return row


def check_adam(
    param: Array, grad: Array, exp_avg: Array, exp_avg_sq: Array, max_exp_avg_sq: Array | None, step: int, amsgrad: bool
) -> None:
    arrays = {"param": param, "grad": grad, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
    if amsgrad:
        if max_exp_avg_sq is None:
            raise ValueError("adam_step: amsgrad=True needs max_exp_avg_sq")
        arrays["max_exp_avg_sq"] = max_exp_avg_sq
    same_shapes("adam_step", **arrays)
    if step < 1:
        raise ValueError(f"adam_step: step counts from 1, got {step}")


def check_max_pool_backward(grad: Array, indices: Array, input_shape: tuple[int, ...]) -> None:
    if grad.shape != indices.shape or len(input_shape) != 4 or tuple(grad.shape[:2]) != tuple(input_shape[:2]):
        raise ShapeError(
            f"max_pool2d_backward: grad {tuple(grad.shape)} and indices {tuple(indices.shape)} must match "
            f"and agree with input shape {tuple(input_shape)} on [N, C]"
        )


def check_cell(op: str, gates: Array, state: Array, count: int, other_gates: Array | None = None) -> None:
    if state.ndim != 2 or gates.ndim != 2 or tuple(gates.shape) != (state.shape[0], count * state.shape[1]):
        raise ShapeError(
            f"{op}: gates must be [B, {count}H] for state [B, H], got {tuple(gates.shape)} and {tuple(state.shape)}"
        )
    if other_gates is not None and other_gates.shape != gates.shape:
        raise ShapeError(
            f"{op}: input and hidden gates differ in shape: {tuple(gates.shape)} vs {tuple(other_gates.shape)}"
        )


def check_attention(op: str, q: Array, k: Array, v: Array, causal: bool, scale: float | None) -> float:
    if (
        q.ndim != 4
        or k.ndim != 4
        or v.ndim != 4
        or q.shape[:2] != k.shape[:2]
        or k.shape[:3] != v.shape[:3]
        or q.shape[3] != k.shape[3]
    ):
        raise ShapeError(
            f"{op}: expected q [B, H, Sq, D], k [B, H, Sk, D], v [B, H, Sk, Dv], got "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if k.shape[2] == 0 and q.shape[2] > 0:
        raise ShapeError(f"{op}: no keys to attend to (k has shape {tuple(k.shape)})")
    if causal and k.shape[2] < q.shape[2]:
        raise ShapeError(f"{op}: causal=True needs Sk >= Sq, got Sq={q.shape[2]}, Sk={k.shape[2]}")
    return float(scale) if scale is not None else 1.0 / float(np.sqrt(q.shape[3]))
