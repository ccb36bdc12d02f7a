"""The backend protocol.

A backend owns how arrays of one device are made, moved and computed on. Plain array math
(add, mul, sum, matmul, indexing) goes through ``backend.xp``, which is NumPy on the CPU and
CuPy on CUDA; their APIs agree, so axon-tensor writes each op once. The fused ops below are the
ones where a hand-written CUDA kernel pays; the CPU backend implements them in NumPy and the
CUDA backend launches our kernels. Shapes are documented per op; unless stated, ops take and
return arrays of the backend's ``xp`` and work over the last dimension.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DTypeError, ShapeError
from . import special

if TYPE_CHECKING:
    from ..device import Device

__all__ = ["Backend", "avg_pool_divisor", "causal_mask", "col2im_geometry", "conv_geometry", "pool_geometry", "unbatch_columns"]

Array = Any
Pair = Any  # an int or an (h, w) pair of ints


class Backend(ABC):
    """Base class of every backend. Subclasses set ``xp`` and implement the fused ops."""

    name: str = "abstract"
    xp: Any = np
    #: True when arrays of this backend are NumPy arrays living in host memory.
    host_memory: bool = True
    #: Attention without mask or dropout takes the flash path once its score tensor
    #: (batch·heads·Sq·Sk·itemsize) would reach this many bytes; below, the plain path.
    flash_attention_min_score_bytes: int = 0

    def __init__(self, device: "Device") -> None:
        self.device = device

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.device})"

    def matmul(self, a: Array, b: Array) -> Array:
        """``xp.matmul(a, b)``; the CPU backend splits stacks of small products across threads."""
        return self.xp.matmul(a, b)

    # -- moving data -------------------------------------------------------------------------
    @abstractmethod
    def from_numpy(self, array: np.ndarray) -> Array:
        """Copy (or, on the CPU, share) a host array onto this device."""

    @abstractmethod
    def to_numpy(self, array: Array) -> np.ndarray:
        """A host NumPy array with the values of ``array`` (shares memory when on the host)."""

    def synchronize(self) -> None:
        """Wait until every queued op of this device has finished."""

    def memory_stats(self) -> dict[str, int]:
        """Bytes ``in_use``, ``cached`` and ``peak`` of this device's pool (zeros on the CPU)."""
        return {"in_use": 0, "cached": 0, "peak": 0, "limit": 0}

    def reset_peak_memory_stats(self) -> None:
        """Start measuring ``peak`` again from the current ``in_use``."""

    def set_memory_limit(self, limit_bytes: int | None) -> None:
        """Cap the pool at ``limit_bytes`` (None lifts the cap)."""

    # -- fused ops --------------------------------------------------------------------------
    # Reference implementations written against ``self.xp`` (so they serve NumPy and CuPy
    # alike). The CUDA backend overrides them with our kernels; the CPU backend may override one
    # where a faster host path pays. Arrays in, arrays out; floats are computed in the input's
    # precision except float16/bfloat16, which accumulate in float32 and return the input dtype.

    def softmax(self, x: Array, dim: int, causal: bool = False) -> Array:
        """``exp(x - max) / sum(exp(x - max))`` along ``dim``.

        ``causal=True`` takes ``x`` as scores ``[..., q, k]`` (``dim`` must be the last) and
        masks key ``j > i + (k - q)`` of query ``i`` (bottom-right aligned, so a query block at
        the end of a KV cache sees every earlier key); masked entries come out 0. Needs ``k >= q``.
        """
        xp = self.xp
        work = _upcast(xp, x)
        if causal:
            work = xp.where(causal_mask(xp, x.shape, dim, "softmax"), work, -xp.inf)
        exps = work - work.max(axis=dim, keepdims=True)
        exps = xp.exp(exps, out=exps)
        exps /= exps.sum(axis=dim, keepdims=True)
        return exps.astype(x.dtype, copy=False)

    def log_softmax(self, x: Array, dim: int, causal: bool = False) -> Array:
        """``x - logsumexp(x)`` along ``dim``; ``causal`` as in :meth:`softmax` (masked: ``-inf``)."""
        xp = self.xp
        work = _upcast(xp, x)
        if causal:
            work = xp.where(causal_mask(xp, x.shape, dim, "log_softmax"), work, -xp.inf)
        shifted = work - work.max(axis=dim, keepdims=True)
        return (shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))).astype(x.dtype, copy=False)

    def softmax_backward(self, grad: Array, y: Array, dim: int, causal: bool = False) -> Array:
        """Gradient of softmax given its output ``y``: ``y * (grad - sum(grad * y))``.

        Masked entries have ``y == 0``, so ``causal`` changes nothing here; it is accepted so
        both backward ops take the forward's arguments.
        """
        work_g, work_y = _upcast(self.xp, grad), _upcast(self.xp, y)
        dx = work_g - (work_g * work_y).sum(axis=dim, keepdims=True)
        dx *= work_y
        return dx.astype(y.dtype, copy=False)

    def log_softmax_backward(self, grad: Array, y: Array, dim: int, causal: bool = False) -> Array:
        """Gradient of log_softmax given its output ``y``: ``grad - exp(y) * sum(grad)``.

        With ``causal`` the sum runs over unmasked entries only and masked entries get 0.
        """
        xp = self.xp
        work_g, work_y = _upcast(xp, grad), _upcast(xp, y)
        if causal:
            work_g = xp.where(causal_mask(xp, y.shape, dim, "log_softmax_backward"), work_g, 0)
        return (work_g - xp.exp(work_y) * work_g.sum(axis=dim, keepdims=True)).astype(y.dtype, copy=False)

    def relu(self, x: Array) -> Array:
        """``max(x, 0)``; NaN and -0.0 pass through (as PyTorch's ``relu``); integers stay integers."""
        return self.xp.where(x < 0, x.dtype.type(0), x)

    def relu_backward(self, grad: Array, y: Array) -> Array:
        """``grad`` where ``y = relu(x) > 0``, else 0 (PyTorch's ``threshold_backward(grad, y, 0)``:
        exactly 0 where ``y <= 0`` even for an inf/NaN ``grad``; a NaN ``y`` passes ``grad``)."""
        return self.xp.where(y <= 0, grad.dtype.type(0), grad)

    def gelu(self, x: Array, approximate: str = "none") -> Array:
        """GELU, exact (``x * Φ(x)`` via erf) or ``approximate="tanh"``."""
        xp = self.xp
        work = _upcast(xp, x)
        if approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (work + 0.044715 * work**3)
            # 0.5 * (1 + tanh(u)) == sigmoid(2u), without the cancellation for negative u.
            out = work * _sigmoid(xp, 2.0 * inner)
        elif approximate == "none":
            # Φ(x) as erfc(-x/√2)/2: no cancellation in 1 + erf(x/√2) for negative x.
            out = 0.5 * work * special.erfc(xp, -work * _INV_SQRT_2)
        else:
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        return out.astype(x.dtype, copy=False)

    def gelu_backward(self, grad: Array, x: Array, approximate: str = "none") -> Array:
        """d gelu(x)/dx times ``grad``."""
        xp = self.xp
        work, work_g = _upcast(xp, x), _upcast(xp, grad)
        if approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (work + 0.044715 * work**3)
            d_inner = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * work**2)
            # With s = sigmoid(2u): 0.5 * (1 + tanh u) = s and 1 - tanh(u)**2 = 4 s (1 - s).
            s, s_neg = _sigmoid(xp, 2.0 * inner), _sigmoid(xp, -2.0 * inner)
            deriv = s + 2.0 * work * s * s_neg * d_inner
        elif approximate == "none":
            cdf = 0.5 * special.erfc(xp, -work * _INV_SQRT_2)
            pdf = xp.exp(-0.5 * work * work) * _INV_SQRT_2PI
            deriv = cdf + work * pdf
        else:
            raise ValueError(f"gelu_backward: approximate must be 'none' or 'tanh', got {approximate!r}")
        return (work_g * deriv).astype(x.dtype, copy=False)

    def silu(self, x: Array) -> Array:
        """``x * sigmoid(x)``."""
        work = _upcast(self.xp, x)
        return (work * _sigmoid(self.xp, work)).astype(x.dtype, copy=False)

    def silu_backward(self, grad: Array, x: Array) -> Array:
        """``grad * s * (1 + x * (1 - s))`` with ``s = sigmoid(x)``."""
        xp = self.xp
        work, work_g = _upcast(xp, x), _upcast(xp, grad)
        s = _sigmoid(xp, work)
        return (work_g * s * (1.0 + work * (1.0 - s))).astype(x.dtype, copy=False)


    def swiglu(self, gate: Array, up: Array) -> Array:
        """``silu(gate) * up``; ``gate`` and ``up`` have one shape ``[..., hidden]``."""
        _same_shapes("swiglu", gate=gate, up=up)
        work_gate, work_up = _upcast(self.xp, gate), _upcast(self.xp, up)
        return (work_gate * _sigmoid(self.xp, work_gate) * work_up).astype(gate.dtype, copy=False)

    def swiglu_backward(self, grad: Array, gate: Array, up: Array) -> tuple[Array, Array]:
        """(d gate, d up) of :meth:`swiglu` given the output gradient ``grad`` (all one shape)."""
        _same_shapes("swiglu_backward", grad=grad, gate=gate, up=up)
        xp = self.xp
        work_g, work_gate, work_up = _upcast(xp, grad), _upcast(xp, gate), _upcast(xp, up)
        s = _sigmoid(xp, work_gate)
        d_gate = work_g * work_up * s * (1.0 + work_gate * (1.0 - s))
        d_up = work_g * work_gate * s
        return d_gate.astype(gate.dtype, copy=False), d_up.astype(up.dtype, copy=False)

    # -- normalization ----------------------------------------------------------------------
    def layer_norm(self, x: Array, weight: Array | None, bias: Array | None, eps: float) -> tuple[Array, Array, Array]:
        """LayerNorm over the last dimension.

        ``x [..., n]``, ``weight [n]`` and ``bias [n]`` (either may be None); callers that
        normalize over several trailing dims flatten them into ``n``. Returns ``(y [..., n],
        mean [...], rstd [...])``; ``mean``/``rstd`` are in the compute dtype (float32 for
        float16/bfloat16 inputs) and feed :meth:`layer_norm_backward`.
        """
        _check_norm("layer_norm", x, weight, bias)
        xp = self.xp
        work = _upcast(xp, x)
        mean = work.mean(axis=-1)
        centered = work - mean[..., None]
        rstd = 1.0 / xp.sqrt((centered * centered).mean(axis=-1) + eps)
        y = centered * rstd[..., None]
        if weight is not None:
            y = y * weight
        if bias is not None:
            y = y + bias
        return y.astype(x.dtype, copy=False), mean, rstd

    def layer_norm_backward(
        self, grad: Array, x: Array, weight: Array | None, mean: Array, rstd: Array, has_bias: bool = True
    ) -> tuple[Array, Array | None, Array | None]:
        """``(dx [..., n], dweight [n] or None, dbias [n] or None)`` of :meth:`layer_norm`.

        ``dweight`` is None when ``weight`` is None, ``dbias`` when ``has_bias`` is False.
        """
        _check_norm("layer_norm_backward", x, weight, None, grad=grad)
        xp = self.xp
        work_g = _upcast(xp, grad)
        xhat = (_upcast(xp, x) - mean[..., None]) * rstd[..., None]
        gw = work_g * weight if weight is not None else work_g
        dx = rstd[..., None] * (gw - gw.mean(axis=-1, keepdims=True) - xhat * (gw * xhat).mean(axis=-1, keepdims=True))
        rows = tuple(range(x.ndim - 1))
        dweight = (work_g * xhat).sum(axis=rows).astype(weight.dtype, copy=False) if weight is not None else None
        dbias = work_g.sum(axis=rows).astype(x.dtype, copy=False) if has_bias else None
        return dx.astype(x.dtype, copy=False), dweight, dbias

    def rms_norm(self, x: Array, weight: Array | None, eps: float) -> tuple[Array, Array]:
        """RMSNorm over the last dimension: ``x * rsqrt(mean(x^2) + eps) * weight``.

        ``x [..., n]``, ``weight [n]`` or None. Returns ``(y [..., n], rstd [...])``.
        """
        _check_norm("rms_norm", x, weight, None)
        xp = self.xp
        work = _upcast(xp, x)
        rstd = 1.0 / xp.sqrt((work * work).mean(axis=-1) + eps)
        y = work * rstd[..., None]
        if weight is not None:
            y = y * weight
        return y.astype(x.dtype, copy=False), rstd

    def rms_norm_backward(self, grad: Array, x: Array, weight: Array | None, rstd: Array) -> tuple[Array, Array | None]:
        """``(dx [..., n], dweight [n] or None)`` of :meth:`rms_norm`."""
        _check_norm("rms_norm_backward", x, weight, None, grad=grad)
        xp = self.xp
        work_g = _upcast(xp, grad)
        xhat = _upcast(xp, x) * rstd[..., None]
        gw = work_g * weight if weight is not None else work_g
        dx = rstd[..., None] * (gw - xhat * (gw * xhat).mean(axis=-1, keepdims=True))
        rows = tuple(range(x.ndim - 1))
        dweight = (work_g * xhat).sum(axis=rows).astype(weight.dtype, copy=False) if weight is not None else None
        return dx.astype(x.dtype, copy=False), dweight

    # -- losses and lookups -----------------------------------------------------------------
    def cross_entropy(
        self,
        logits: Array,
        target: Array,
        weight: Array | None = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
    ) -> tuple[Array, Array]:
        """Per-sample cross-entropy of ``logits [N, C]`` against class indices ``target [N]``.

        Returns ``(loss [N], lse [N])`` in the compute dtype, with ``lse`` the logsumexp of each
        row (for the backward). ``loss_i = (1-ε) w[t_i] (lse_i - x_i[t_i]) + ε/C Σ_c w_c (lse_i - x_ic)``
        (``w`` = 1 without ``weight [C]``; ε = ``label_smoothing``), 0 where ``t_i == ignore_index``.
        PyTorch's ``mean`` divides the sum by ``Σ w[t_i]`` over kept rows: see
        :func:`cross_entropy_weight_total`.
        """
        _check_cross_entropy(self.xp, "cross_entropy", logits, target, weight, ignore_index, label_smoothing)
        xp = self.xp
        work = _upcast(xp, logits)
        row_max = work.max(axis=1, keepdims=True)
        lse = (xp.log(xp.exp(work - row_max).sum(axis=1, keepdims=True)) + row_max)[:, 0]
        kept = target != ignore_index
        safe_target = xp.where(kept, target, 0)
        picked = xp.take_along_axis(work, safe_target[:, None], axis=1)[:, 0]
        classes = logits.shape[1]
        if weight is None:
            target_weight = xp.ones_like(lse)
            smooth = classes * lse - work.sum(axis=1)
        else:
            work_w = weight.astype(work.dtype, copy=False)
            target_weight = work_w[safe_target]
            smooth = work_w.sum() * lse - work @ work_w
        loss = (1.0 - label_smoothing) * target_weight * (lse - picked) + (label_smoothing / classes) * smooth
        return xp.where(kept, loss, 0).astype(work.dtype, copy=False), lse

    def cross_entropy_backward(
        self,
        grad: Array,
        logits: Array,
        target: Array,
        lse: Array,
        weight: Array | None = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
    ) -> Array:
        """``d logits [N, C]`` of :meth:`cross_entropy` given ``grad [N]``, the gradient of each row's loss.

        ``d x_ic = g_i [(1-ε) w[t_i] (p_ic - [c == t_i]) + ε/C (p_ic Σw - w_c)]``, 0 on ignored rows.
        """
        _check_cross_entropy(self.xp, "cross_entropy_backward", logits, target, weight, ignore_index, label_smoothing)
        xp = self.xp
        work = _upcast(xp, logits)
        probs = xp.exp(work - lse[:, None])
        kept = target != ignore_index
        safe_target = xp.where(kept, target, 0)
        classes = logits.shape[1]
        one_hot = xp.arange(classes)[None, :] == safe_target[:, None]
        if weight is None:
            target_weight = 1.0
            smooth = probs * classes - 1.0
        else:
            work_w = weight.astype(work.dtype, copy=False)
            target_weight = work_w[safe_target][:, None]
            smooth = probs * work_w.sum() - work_w[None, :]
        d = (1.0 - label_smoothing) * target_weight * (probs - one_hot) + (label_smoothing / classes) * smooth
        d = d * xp.where(kept, _upcast(xp, grad), 0)[:, None]
        return d.astype(logits.dtype, copy=False)

    def embedding(self, weight: Array, indices: Array) -> Array:
        """Rows of ``weight [V, D]`` picked by integer ``indices [...]``: ``[..., D]``."""
        _check_embedding(self.xp, "embedding", weight.shape[0] if weight.ndim == 2 else -1, indices, weight=weight)
        return self.xp.take(weight, indices, axis=0)

    def embedding_backward(self, grad: Array, indices: Array, num_embeddings: int, padding_idx: int | None = None) -> Array:
        """``d weight [V, D]``: rows of ``grad [..., D]`` summed into the rows ``indices [...]`` name.

        The row ``padding_idx`` (negative counts from the end) gets no gradient. The result has
        ``grad``'s dtype (float16/bfloat16 accumulate in float32).
        """
        _check_embedding(self.xp, "embedding_backward", num_embeddings, indices, grad=grad)
        xp = self.xp
        dim = grad.shape[-1]
        flat_grad = _upcast(xp, grad).reshape(-1, dim)
        flat_index = indices.reshape(-1)
        out = xp.zeros((num_embeddings, dim), dtype=flat_grad.dtype)
        xp.add.at(out, flat_index, flat_grad)
        if padding_idx is not None:
            out[_padding_row("embedding_backward", padding_idx, num_embeddings)] = 0
        return out.astype(grad.dtype, copy=False)

    # -- optimizer --------------------------------------------------------------------------
    def sgd_step(
        self,
        param: Array,
        grad: Array,
        momentum_buffer: Array | None,
        *,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
        init_buffer: bool = False,
    ) -> None:
        """One ``torch.optim.SGD`` step, in place on ``param`` and ``momentum_buffer`` (one shape).

        ``g = ±grad + weight_decay * param``; with momentum ``buf = momentum * buf + (1 -
        dampening) * g`` (``buf = g`` when ``init_buffer``, the first step) and ``g = g +
        momentum * buf`` (Nesterov) or ``g = buf``; then ``param += -lr * g``. Scalars are cast
        to the parameter's dtype, as PyTorch computes float32 tensors with float32 scalars.
        """
        t = param.dtype.type
        g = -grad if maximize else grad
        if weight_decay != 0:
            g = g + t(weight_decay) * param
        if momentum != 0:
            if init_buffer:
                momentum_buffer[...] = g
            else:
                momentum_buffer *= t(momentum)
                momentum_buffer += t(1 - dampening) * g
            g = g + t(momentum) * momentum_buffer if nesterov else momentum_buffer
        param += t(-lr) * g

    def adam_step(
        self,
        param: Array,
        grad: Array,
        exp_avg: Array,
        exp_avg_sq: Array,
        max_exp_avg_sq: Array | None,
        *,
        step: int,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
        weight_decay: float = 0.0,
        decoupled: bool = False,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        """One Adam (``decoupled=False``) or AdamW step, in place on ``param``, ``exp_avg``,
        ``exp_avg_sq`` and (``amsgrad``) ``max_exp_avg_sq``; all arrays share one shape.

        Follows ``torch.optim.Adam``/``AdamW``: ``step`` counts from 1 and already includes this
        step; Adam adds ``weight_decay * param`` to the gradient, AdamW scales ``param`` by
        ``1 - lr * weight_decay``; the arrays must be contiguous so updates land in storage.
        """
        _check_adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, amsgrad)
        xp = self.xp
        work_g = _upcast(xp, grad)
        work_p = _upcast(xp, param)
        if maximize:
            work_g = -work_g
        if weight_decay != 0.0:
            if decoupled:
                work_p = work_p * (1.0 - lr * weight_decay)
            else:
                work_g = work_g + weight_decay * work_p
        m = _upcast(xp, exp_avg) * beta1 + (1.0 - beta1) * work_g
        v = _upcast(xp, exp_avg_sq) * beta2 + (1.0 - beta2) * work_g * work_g
        exp_avg[...] = m
        exp_avg_sq[...] = v
        if amsgrad:
            v = xp.maximum(_upcast(xp, max_exp_avg_sq), v)
            max_exp_avg_sq[...] = v
        bias_correction1 = 1.0 - beta1**step
        bias_correction2_sqrt = (1.0 - beta2**step) ** 0.5
        denom = xp.sqrt(v) / bias_correction2_sqrt + eps
        param[...] = work_p - (lr / bias_correction1) * m / denom

    # -- layout -----------------------------------------------------------------------------
    def strided_copy(self, x: Array) -> Array:
        """A C-contiguous copy of ``x`` (any strides, any dtype)."""
        return self.xp.array(x, copy=True, order="C")

    # -- convolution and pooling ------------------------------------------------------------
    def im2col(
        self,
        x: Array,
        kernel_size: Pair,
        stride: Pair = 1,
        padding: Pair = 0,
        dilation: Pair = 1,
        *,
        batched_columns: bool = False,
    ) -> Array:
        """Sliding blocks of ``x [N, C, H, W]`` as columns ``[N, C*kh*kw, L]`` (``torch.nn.functional.unfold``).

        ``L = oh * ow`` with ``oh = (H + 2 ph - dh (kh - 1) - 1) // sh + 1``; rows run over
        ``(c, ki, kj)`` with ``kj`` fastest, columns over ``(oi, oj)`` with ``oj`` fastest.
        ``batched_columns=True`` gives one matrix ``[C*kh*kw, N*L]`` instead, columns over
        ``(n, oi, oj)``: a convolution of the whole batch is then a single GEMM.
        """
        if batched_columns:
            cols = self.im2col(x, kernel_size, stride, padding, dilation)
            return self.xp.ascontiguousarray(cols.transpose(1, 0, 2)).reshape(cols.shape[1], cols.shape[0] * cols.shape[2])
        geometry = conv_geometry("im2col", x.shape, kernel_size, stride, padding, dilation)
        xp = self.xp
        n, c, (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = geometry
        padded = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        s0, s1, s2, s3 = padded.strides
        windows = xp.lib.stride_tricks.as_strided(
            padded, shape=(n, c, kh, kw, oh, ow), strides=(s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw)
        )
        return windows.reshape(n, c * kh * kw, oh * ow)

    def col2im(
        self,
        cols: Array,
        output_size: Pair,
        kernel_size: Pair,
        stride: Pair = 1,
        padding: Pair = 0,
        dilation: Pair = 1,
        *,
        batched_columns: bool = False,
    ) -> Array:
        """Sum columns ``[N, C*kh*kw, L]`` back into images ``[N, C, H, W]`` (``torch.nn.functional.fold``);
        ``output_size`` is ``(H, W)``. The adjoint of :meth:`im2col`; ``batched_columns`` as there
        (``cols [C*kh*kw, N*L]``).
        """
        if batched_columns:
            n, rows, blocks = unbatch_columns("col2im", cols.shape, output_size, kernel_size, stride, padding, dilation)
            per_image = self.xp.ascontiguousarray(cols.reshape(rows, n, blocks).transpose(1, 0, 2))
            return self.col2im(per_image, output_size, kernel_size, stride, padding, dilation)
        geometry = col2im_geometry("col2im", cols.shape, output_size, kernel_size, stride, padding, dilation)
        n, c, (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = geometry
        height, width = _pair("col2im", "output_size", output_size)
        xp = self.xp
        blocks = _upcast(xp, cols).reshape(n, c, kh, kw, oh, ow)
        padded = xp.zeros((n, c, height + 2 * ph, width + 2 * pw), dtype=blocks.dtype)
        for ki in range(kh):
            for kj in range(kw):
                padded[:, :, ki * dh : ki * dh + sh * (oh - 1) + 1 : sh, kj * dw : kj * dw + sw * (ow - 1) + 1 : sw] += blocks[:, :, ki, kj]
        return padded[:, :, ph : ph + height, pw : pw + width].astype(cols.dtype)

    def max_pool2d(
        self,
        x: Array,
        kernel_size: Pair,
        stride: Pair | None = None,
        padding: Pair = 0,
        dilation: Pair = 1,
        ceil_mode: bool = False,
    ) -> tuple[Array, Array]:
        """Max pooling of ``x [N, C, H, W]``: ``(out [N, C, oh, ow], indices [N, C, oh, ow])``.

        ``indices`` are int64 positions ``h * W + w`` in each input plane (as PyTorch's
        ``return_indices``); padding never wins (a window of ``-inf`` points at its first position
        inside the image, or at -1 if it has none); NaN wins, the last NaN in the window (as
        PyTorch's kernels: a NaN replaces anything, even an earlier NaN).
        ``stride`` defaults to ``kernel_size``; ``padding`` must be at most half the kernel.
        """
        pool = pool_geometry("max_pool2d", x.shape, x.dtype, kernel_size, stride, padding, dilation, ceil_mode)
        xp = self.xp
        n, c, (height, width), (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = pool
        windows, _ = _pool_windows(xp, x, pool, -xp.inf)
        # One vectorised pass per window offset (kh*kw of them) over output-sized arrays: far
        # cheaper than an argmax along a strided 6-d view. Strict ">" keeps the first maximum;
        # every NaN replaces what came before, so the last NaN wins.
        out = windows[..., 0, 0].copy()
        position = xp.zeros(out.shape, dtype=xp.int64)
        for offset in range(1, kh * kw):
            candidate = windows[..., offset // kw, offset % kw]
            better = (candidate > out) | (candidate != candidate)
            xp.copyto(out, candidate, where=better)
            xp.copyto(position, offset, where=better)
        ki, kj = position // kw, position % kw
        top, left = xp.arange(oh).reshape(oh, 1) * sh - ph, xp.arange(ow).reshape(1, ow) * sw - pw
        indices = ((top + ki * dh) * width + left + kj * dw).astype(xp.int64)
        # Nothing beat offset (0, 0) of a -inf window, and it may lie in the padding, where
        # h * W + w names another pixel: point at the window's first position inside instead.
        first_row, first_col = _first_inside(xp, top, height, kh, dh), _first_inside(xp, left, width, kw, dw)
        first = xp.where((first_row >= 0) & (first_col >= 0), first_row * width + first_col, -1)
        return out.astype(x.dtype, copy=False), xp.where(out == -xp.inf, first, indices).astype(xp.int64)

    def max_pool2d_backward(self, grad: Array, indices: Array, input_shape: tuple[int, ...]) -> Array:
        """``dx [N, C, H, W]``: ``grad [N, C, oh, ow]`` summed into the positions ``indices`` name."""
        check_max_pool_backward(grad, indices, input_shape)
        xp = self.xp
        n, c, height, width = input_shape
        plane = height * width
        offsets = (xp.arange(n * c, dtype=xp.int64) * plane).reshape(n, c, 1, 1)
        # -1 (a window with nothing inside) has no pixel to take its gradient.
        inside = (indices >= 0) & (indices < plane)
        total = xp.bincount(
            xp.where(inside, indices + offsets, 0).ravel(), weights=xp.where(inside, grad.astype(xp.float64), 0).ravel(), minlength=n * c * plane
        )
        return total.reshape(input_shape).astype(grad.dtype)

    def avg_pool2d(
        self,
        x: Array,
        kernel_size: Pair,
        stride: Pair | None = None,
        padding: Pair = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> Array:
        """Average pooling of ``x [N, C, H, W]`` into ``[N, C, oh, ow]`` (``torch.nn.functional.avg_pool2d``)."""
        pool = pool_geometry("avg_pool2d", x.shape, x.dtype, kernel_size, stride, padding, 1, ceil_mode)
        xp = self.xp
        n, c, _, (kh, kw), _, _, _, (oh, ow) = pool
        windows, _ = _pool_windows(xp, _upcast(xp, x), pool, 0)
        divisor = xp.asarray(avg_pool_divisor(pool, count_include_pad, divisor_override), dtype=windows.dtype)
        return (windows.sum(axis=(4, 5)) / divisor).astype(x.dtype, copy=False)

    def avg_pool2d_backward(
        self,
        grad: Array,
        input_shape: tuple[int, ...],
        kernel_size: Pair,
        stride: Pair | None = None,
        padding: Pair = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> Array:
        """``dx [N, C, H, W]`` of :meth:`avg_pool2d` given ``grad [N, C, oh, ow]``."""
        xp = self.xp
        pool = pool_geometry("avg_pool2d_backward", tuple(input_shape), grad.dtype, kernel_size, stride, padding, 1, ceil_mode)
        n, c, (height, width), (kh, kw), (sh, sw), (ph, pw), _, (oh, ow) = pool
        if tuple(grad.shape) != (n, c, oh, ow):
            raise ShapeError(f"avg_pool2d_backward: grad has shape {tuple(grad.shape)}, expected {(n, c, oh, ow)}")
        divisor = xp.asarray(avg_pool_divisor(pool, count_include_pad, divisor_override))
        share = _upcast(xp, grad) / divisor.astype(_upcast(xp, grad).dtype)
        padded_h, padded_w = max(height + 2 * ph, (oh - 1) * sh + kh), max(width + 2 * pw, (ow - 1) * sw + kw)
        padded = xp.zeros((n, c, padded_h, padded_w), dtype=share.dtype)
        for ki in range(kh):
            for kj in range(kw):
                padded[:, :, ki : ki + sh * (oh - 1) + 1 : sh, kj : kj + sw * (ow - 1) + 1 : sw] += share
        return padded[:, :, ph : ph + height, pw : pw + width].astype(grad.dtype)

    # -- recurrent cells --------------------------------------------------------------------
    def lstm_cell(self, gates: Array, c_prev: Array) -> tuple[Array, Array]:
        """LSTM cell from pre-activation ``gates [B, 4H]`` (``x W_ih^T + b_ih + h W_hh^T + b_hh``,
        PyTorch's order i, f, g, o) and ``c_prev [B, H]``: returns ``(h [B, H], c [B, H])``.
        """
        _check_cell("lstm_cell", gates, c_prev, 4)
        xp = self.xp
        i, f, g, o = _split_gates(xp, _upcast(xp, gates), 4)
        c = f * _upcast(xp, c_prev) + i * g
        return (o * xp.tanh(c)).astype(gates.dtype, copy=False), c.astype(gates.dtype, copy=False)

    def lstm_cell_backward(
        self, grad_h: Array, grad_c: Array | None, gates: Array, c_prev: Array, c: Array
    ) -> tuple[Array, Array]:
        """``(d gates [B, 4H], d c_prev [B, H])`` of :meth:`lstm_cell`; ``grad_c`` may be None."""
        _check_cell("lstm_cell_backward", gates, c_prev, 4)
        xp = self.xp
        i, f, g, o = _split_gates(xp, _upcast(xp, gates), 4)
        work_gh = _upcast(xp, grad_h)
        tanh_c = xp.tanh(_upcast(xp, c))
        dc = work_gh * o * (1.0 - tanh_c * tanh_c)
        if grad_c is not None:
            dc = dc + _upcast(xp, grad_c)
        d_gates = xp.concatenate(
            [dc * g * i * (1.0 - i), dc * _upcast(xp, c_prev) * f * (1.0 - f), dc * i * (1.0 - g * g), work_gh * tanh_c * o * (1.0 - o)],
            axis=1,
        )
        return d_gates.astype(gates.dtype, copy=False), (dc * f).astype(c_prev.dtype, copy=False)

    def gru_cell(self, input_gates: Array, hidden_gates: Array, h_prev: Array) -> Array:
        """GRU cell (PyTorch's order r, z, n) from ``input_gates = x W_ih^T + b_ih [B, 3H]``,
        ``hidden_gates = h W_hh^T + b_hh [B, 3H]`` and ``h_prev [B, H]``: returns ``h [B, H]``.
        """
        _check_cell("gru_cell", input_gates, h_prev, 3, hidden_gates)
        xp = self.xp
        r, z, n = _gru_gates(xp, _upcast(xp, input_gates), _upcast(xp, hidden_gates))
        return ((1.0 - z) * n + z * _upcast(xp, h_prev)).astype(h_prev.dtype, copy=False)

    def gru_cell_backward(
        self, grad_h: Array, input_gates: Array, hidden_gates: Array, h_prev: Array
    ) -> tuple[Array, Array, Array]:
        """``(d input_gates [B, 3H], d hidden_gates [B, 3H], d h_prev [B, H])`` of :meth:`gru_cell`."""
        _check_cell("gru_cell_backward", input_gates, h_prev, 3, hidden_gates)
        xp = self.xp
        work_hg = _upcast(xp, hidden_gates)
        r, z, n = _gru_gates(xp, _upcast(xp, input_gates), work_hg)
        hidden = h_prev.shape[1]
        g = _upcast(xp, grad_h)
        dn = g * (1.0 - z) * (1.0 - n * n)
        dr = dn * work_hg[:, 2 * hidden :] * r * (1.0 - r)
        dz = g * (_upcast(xp, h_prev) - n) * z * (1.0 - z)
        d_input = xp.concatenate([dr, dz, dn], axis=1)
        d_hidden = xp.concatenate([dr, dz, dn * r], axis=1)
        return (
            d_input.astype(input_gates.dtype, copy=False),
            d_hidden.astype(hidden_gates.dtype, copy=False),
            (g * z).astype(h_prev.dtype, copy=False),
        )

    # -- attention --------------------------------------------------------------------------
    def flash_attention(
        self, q: Array, k: Array, v: Array, causal: bool = False, scale: float | None = None
    ) -> tuple[Array, Array]:
        """``softmax(scale q k^T [+ causal mask]) v`` without materializing the scores.

        ``q [B, H, Sq, D]``, ``k [B, H, Sk, D]``, ``v [B, H, Sk, Dv]``; ``scale`` defaults to
        ``1/sqrt(D)``; ``causal`` masks key ``j > i + (Sk - Sq)`` (bottom-right, needs
        ``Sk >= Sq``). Returns ``(out [B, H, Sq, Dv], lse [B, H, Sq])`` with ``lse`` the
        logsumexp of each row of scaled scores in the compute dtype. Runs over key blocks
        (:func:`_key_blocks`), so memory grows linearly with the sequence.
        """
        scale = _check_attention("flash_attention", q, k, v, causal, scale)
        xp = self.xp
        work_q = _upcast(xp, q) * scale
        work_k, work_v = _upcast(xp, k), _upcast(xp, v)
        acc = xp.zeros(q.shape[:3] + (v.shape[3],), dtype=work_q.dtype)
        row_max = xp.full(q.shape[:3], -xp.inf, dtype=work_q.dtype)
        row_sum = xp.zeros(q.shape[:3], dtype=work_q.dtype)
        for start, stop, rows, keep in _key_blocks(xp, q.shape, k.shape[2], causal):
            scores = self.matmul(work_q[:, :, rows:], xp.swapaxes(work_k[:, :, start:stop], -1, -2))
            if keep is not None:
                xp.copyto(scores, -xp.inf, where=~keep)
            new_max = xp.maximum(row_max[:, :, rows:], scores.max(axis=-1))
            safe_max = xp.where(xp.isneginf(new_max), 0, new_max)
            correction = xp.exp(row_max[:, :, rows:] - safe_max)
            scores -= safe_max[..., None]
            probs = xp.exp(scores, out=scores)
            row_sum[:, :, rows:] *= correction
            row_sum[:, :, rows:] += probs.sum(axis=-1)
            acc[:, :, rows:] *= correction[..., None]
            acc[:, :, rows:] += self.matmul(probs, work_v[:, :, start:stop])
            row_max[:, :, rows:] = new_max
        acc /= row_sum[..., None]
        row_sum = xp.log(row_sum, out=row_sum)
        row_sum += row_max
        return acc.astype(q.dtype, copy=False), row_sum

    def flash_attention_backward(
        self,
        grad: Array,
        q: Array,
        k: Array,
        v: Array,
        out: Array,
        lse: Array,
        causal: bool = False,
        scale: float | None = None,
    ) -> tuple[Array, Array, Array]:
        """``(dq, dk, dv)`` of :meth:`flash_attention` given ``grad [B, H, Sq, Dv]`` and the
        forward's ``out`` and ``lse``; recomputes each block's probabilities from ``lse`` with
        one product, ``P = exp(scale q k^T - lse)``.
        """
        scale = _check_attention("flash_attention_backward", q, k, v, causal, scale)
        xp = self.xp
        work_q = _upcast(xp, q) * scale
        work_k, work_v = _upcast(xp, k), _upcast(xp, v)
        work_g = _upcast(xp, grad)
        work_lse = lse.astype(work_q.dtype, copy=False)[..., None]
        delta = (work_g * _upcast(xp, out)).sum(axis=-1)[..., None]
        dq = xp.zeros_like(work_q)
        dk = xp.zeros_like(work_k)
        dv = xp.zeros_like(work_v)
        for start, stop, rows, keep in _key_blocks(xp, q.shape, k.shape[2], causal):
            key_block, g_rows, q_rows = work_k[:, :, start:stop], work_g[:, :, rows:], work_q[:, :, rows:]
            probs = self.matmul(q_rows, xp.swapaxes(key_block, -1, -2))
            probs -= work_lse[:, :, rows:]
            if keep is not None:
                xp.copyto(probs, -xp.inf, where=~keep)
            probs = xp.exp(probs, out=probs)
            dv[:, :, start:stop] = self.matmul(xp.swapaxes(probs, -1, -2), g_rows)
            # d(scaled scores) = P * (dP - delta); q was scaled, so dk needs no further factor
            d_scores = self.matmul(g_rows, xp.swapaxes(work_v[:, :, start:stop], -1, -2))
            d_scores -= delta[:, :, rows:]
            d_scores *= probs
            dq[:, :, rows:] += self.matmul(d_scores, key_block)
            dk[:, :, start:stop] = self.matmul(xp.swapaxes(d_scores, -1, -2), q_rows)
        dq *= scale
        return dq.astype(q.dtype, copy=False), dk.astype(k.dtype, copy=False), dv.astype(v.dtype, copy=False)


_SQRT_2_OVER_PI = 0.7978845608028654
_INV_SQRT_2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


def _upcast(xp: Any, x: Array) -> Array:
    """float16/bfloat16 are computed in float32; other dtypes as they are."""
    return x.astype(xp.float32) if x.dtype.itemsize == 2 and x.dtype.kind in "fV" else x


def _sigmoid(xp: Any, x: Array) -> Array:
    # Split by sign so neither branch overflows exp.
    positive = x >= 0
    z = xp.exp(xp.where(positive, -x, x))
    return xp.where(positive, 1.0 / (1.0 + z), z / (1.0 + z))


# Flash attention holds one ``[B, H, rows, keys]`` score tile at a time: as many keys per block as
# fit this many elements, but never fewer than _ATTENTION_MIN_BLOCK (so memory stays linear in Sq).
_ATTENTION_TILE_ELEMENTS = 1 << 21
_ATTENTION_MIN_BLOCK = 256


def causal_mask(xp: Any, shape: tuple[int, ...], dim: int, op: str) -> Array:
    """Boolean ``[q, k]`` mask, True where key ``j <= i + (k - q)``; checks the causal layout."""
    if len(shape) < 2 or dim not in (-1, len(shape) - 1):
        raise ShapeError(f"{op}: causal=True needs scores [..., q, k] reduced over the last dim, got shape {tuple(shape)} and dim={dim}")
    q, k = shape[-2], shape[-1]
    if k < q:
        raise ShapeError(f"{op}: causal=True needs at least as many keys as queries, got q={q}, k={k}")
    return xp.arange(k)[None, :] <= xp.arange(q)[:, None] + (k - q)


def _key_blocks(xp: Any, q_shape: tuple[int, ...], sk: int, causal: bool) -> Any:
    """Yield ``(start, stop, rows, keep)`` for each key block ``[start, stop)`` of flash attention.

    Query rows before ``rows`` see no key of the block (causal, bottom-right aligned), so they
    are skipped; ``keep [Sq - rows, stop - start]`` is True where a row sees a key, or None when
    every row of ``rows:`` sees the whole block.
    """
    batch, heads, sq = q_shape[:3]
    block = max(_ATTENTION_MIN_BLOCK, _ATTENTION_TILE_ELEMENTS // max(1, batch * heads * sq))
    shift = sk - sq
    for start in range(0, sk, block):
        stop = min(sk, start + block)
        rows = max(0, start - shift) if causal else 0
        if rows >= sq:
            break
        keep = None
        if causal and stop - 1 > rows + shift:
            keep = xp.arange(start, stop)[None, :] <= xp.arange(rows, sq)[:, None] + shift
        yield start, stop, rows, keep


def _same_shapes(op: str, **arrays: Array) -> None:
    shapes = {name: tuple(a.shape) for name, a in arrays.items()}
    if len(set(shapes.values())) > 1:
        raise ShapeError(f"{op}: shapes must match, got " + ", ".join(f"{n} {s}" for n, s in shapes.items()))


def _check_norm(op: str, x: Array, weight: Array | None, bias: Array | None, grad: Array | None = None) -> None:
    if x.ndim < 1:
        raise ShapeError(f"{op}: x must have at least one dim, got a 0-d array")
    n = x.shape[-1]
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and tuple(param.shape) != (n,):
            raise ShapeError(f"{op}: {name} must have shape ({n},) for x of shape {tuple(x.shape)}, got {tuple(param.shape)}")
    if grad is not None and grad.shape != x.shape:
        raise ShapeError(f"{op}: grad shape {tuple(grad.shape)} differs from x shape {tuple(x.shape)}")


def _check_cross_entropy(
    xp: Any, op: str, logits: Array, target: Array, weight: Array | None, ignore_index: int, label_smoothing: float
) -> None:
    if logits.ndim != 2 or target.ndim != 1 or target.shape[0] != logits.shape[0]:
        raise ShapeError(f"{op}: expected logits [N, C] and target [N], got {tuple(logits.shape)} and {tuple(target.shape)}")
    if target.dtype.kind not in "iu":
        raise DTypeError(f"{op}: target must hold integer class indices, got {target.dtype}")
    if weight is not None and tuple(weight.shape) != (logits.shape[1],):
        raise ShapeError(f"{op}: weight must have shape ({logits.shape[1]},), got {tuple(weight.shape)}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    bad = (target != ignore_index) & ((target < 0) | (target >= logits.shape[1]))
    if target.size and bool(bad.any()):
        raise IndexError(f"{op}: target holds class indices outside [0, {logits.shape[1]}) (ignore_index={ignore_index})")


def _check_embedding(xp: Any, op: str, num_embeddings: int, indices: Array, weight: Array | None = None, grad: Array | None = None) -> None:
    if weight is not None and weight.ndim != 2:
        raise ShapeError(f"{op}: weight must be [num_embeddings, dim], got shape {tuple(weight.shape)}")
    if indices.dtype.kind not in "iu":
        raise DTypeError(f"{op}: indices must be integers, got {indices.dtype}")
    if grad is not None and tuple(grad.shape[:-1]) != tuple(indices.shape):
        raise ShapeError(f"{op}: grad {tuple(grad.shape)} must be indices {tuple(indices.shape)} + [dim]")
    if indices.size and bool(((indices < 0) | (indices >= num_embeddings)).any()):
        raise IndexError(f"{op}: indices outside [0, {num_embeddings})")


def _padding_row(op: str, padding_idx: int, num_embeddings: int) -> int:
    row = padding_idx + num_embeddings if padding_idx < 0 else padding_idx
    if not 0 <= row < num_embeddings:
        raise IndexError(f"{op}: padding_idx {padding_idx} outside [-{num_embeddings}, {num_embeddings})")
    return row


def _check_adam(param: Array, grad: Array, exp_avg: Array, exp_avg_sq: Array, max_exp_avg_sq: Array | None, step: int, amsgrad: bool) -> None:
    arrays = {"param": param, "grad": grad, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
    if amsgrad:
        if max_exp_avg_sq is None:
            raise ValueError("adam_step: amsgrad=True needs max_exp_avg_sq")
        arrays["max_exp_avg_sq"] = max_exp_avg_sq
    _same_shapes("adam_step", **arrays)
    if step < 1:
        raise ValueError(f"adam_step: step counts from 1, got {step}")


def _pair(op: str, name: str, value: "int | tuple[int, int]") -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def conv_geometry(op: str, shape: tuple[int, ...], kernel_size, stride, padding, dilation) -> tuple:
    """``(n, c, kernel, stride, padding, dilation, out)`` of a 2-D sliding window; pairs are (h, w)."""
    if len(shape) != 4:
        raise ShapeError(f"{op}: input must be [N, C, H, W], got shape {tuple(shape)}")
    kernel, step, pad, dil = (_pair(op, name, v) for name, v in (("kernel_size", kernel_size), ("stride", stride), ("padding", padding), ("dilation", dilation)))
    if min(kernel + step + dil) < 1 or min(pad) < 0:
        raise ValueError(f"{op}: kernel_size, stride, dilation must be positive and padding non-negative")
    out = tuple((size + 2 * p - d * (k - 1) - 1) // s + 1 for size, k, s, p, d in zip(shape[2:], kernel, step, pad, dil))
    if min(out) < 1:
        raise ShapeError(f"{op}: input {tuple(shape)} is too small for kernel {kernel} with padding {pad}, dilation {dil}")
    return shape[0], shape[1], kernel, step, pad, dil, out


def col2im_geometry(op: str, cols_shape: tuple[int, ...], output_size, kernel_size, stride, padding, dilation) -> tuple:
    """:func:`conv_geometry` of the image that columns ``[N, C*kh*kw, L]`` fold back into; checks ``L``."""
    height, width = _pair(op, "output_size", output_size)
    if len(cols_shape) != 3:
        raise ShapeError(f"{op}: cols must be [N, C*kh*kw, L], got shape {tuple(cols_shape)}")
    kh, kw = _pair(op, "kernel_size", kernel_size)
    if kh < 1 or kw < 1 or cols_shape[1] % (kh * kw):
        raise ShapeError(f"{op}: cols dim 1 ({cols_shape[1]}) is not a multiple of kh*kw = {kh * kw}")
    geometry = conv_geometry(op, (cols_shape[0], cols_shape[1] // (kh * kw), height, width), kernel_size, stride, padding, dilation)
    oh, ow = geometry[-1]
    if cols_shape[2] != oh * ow:
        raise ShapeError(f"{op}: cols has L = {cols_shape[2]} blocks but output_size {(height, width)} gives {oh}*{ow}")
    return geometry


def unbatch_columns(op: str, cols_shape: tuple[int, ...], output_size, kernel_size, stride, padding, dilation) -> tuple[int, int, int]:
    """``(N, C*kh*kw, L)``: the per-image shape of batched columns ``[C*kh*kw, N*L]``."""
    if len(cols_shape) != 2:
        raise ShapeError(f"{op}: batched columns must be [C*kh*kw, N*L], got shape {tuple(cols_shape)}")
    oh, ow = conv_geometry(op, (1, 1, *_pair(op, "output_size", output_size)), kernel_size, stride, padding, dilation)[-1]
    if oh * ow == 0 or cols_shape[1] % (oh * ow):
        raise ShapeError(f"{op}: batched columns have {cols_shape[1]} columns, not a multiple of L = {oh}*{ow}")
    return cols_shape[1] // (oh * ow), cols_shape[0], oh * ow


def pool_geometry(op: str, shape: tuple[int, ...], dtype: Any, kernel_size, stride, padding, dilation, ceil_mode: bool) -> tuple:
    """``(n, c, (H, W), kernel, stride, padding, dilation, out)`` of 2-D pooling, PyTorch's sizes."""
    if len(shape) != 4:
        raise ShapeError(f"{op}: input must be [N, C, H, W], got shape {tuple(shape)}")
    if np.dtype(dtype).kind != "f" and np.dtype(dtype).name != "bfloat16":
        raise DTypeError(f"{op}: needs a floating dtype, got {dtype}")
    kernel = _pair(op, "kernel_size", kernel_size)
    step = _pair(op, "stride", stride if stride is not None and stride != () else kernel_size)
    pad, dil = _pair(op, "padding", padding), _pair(op, "dilation", dilation)
    if min(kernel + step + dil) < 1 or min(pad) < 0:
        raise ValueError(f"{op}: kernel_size, stride, dilation must be positive and padding non-negative")
    if any(2 * p > (k - 1) * d + 1 for k, p, d in zip(kernel, pad, dil)):
        raise ValueError(f"{op}: padding {pad} must be at most half the kernel {kernel}")
    out = []
    for size, k, s, p, d in zip(shape[2:], kernel, step, pad, dil):
        span = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
        length = span // s + 1
        if ceil_mode and (length - 1) * s >= size + p:
            length -= 1
        out.append(length)
    if min(out) < 1:
        raise ShapeError(f"{op}: input {tuple(shape)} is too small for kernel {kernel} with padding {pad}")
    return shape[0], shape[1], tuple(shape[2:]), kernel, step, pad, dil, tuple(out)


def check_max_pool_backward(grad: Array, indices: Array, input_shape: tuple[int, ...]) -> None:
    if grad.shape != indices.shape or len(input_shape) != 4 or tuple(grad.shape[:2]) != tuple(input_shape[:2]):
        raise ShapeError(
            f"max_pool2d_backward: grad {tuple(grad.shape)} and indices {tuple(indices.shape)} must match "
            f"and agree with input shape {tuple(input_shape)} on [N, C]"
        )


def _first_inside(xp: Any, start: Array, size: int, k: int, d: int) -> Array:
    """Per window start, the first of ``start + i*d`` (``i < k``) in ``[0, size)``, or -1."""
    first = xp.where(start < 0, start + (-start + d - 1) // d * d, start)
    return xp.where((first < size) & (first <= start + (k - 1) * d), first, -1)


def _pool_windows(xp: Any, x: Array, pool: tuple, fill: float) -> tuple[Array, Array]:
    n, c, (height, width), (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = pool
    extra_h = max(ph, (oh - 1) * sh + dh * (kh - 1) + 1 - height - ph)
    extra_w = max(pw, (ow - 1) * sw + dw * (kw - 1) + 1 - width - pw)
    padded = xp.pad(x, ((0, 0), (0, 0), (ph, extra_h), (pw, extra_w)), constant_values=fill)
    s0, s1, s2, s3 = padded.strides
    windows = xp.lib.stride_tricks.as_strided(
        padded, shape=(n, c, oh, ow, kh, kw), strides=(s0, s1, s2 * sh, s3 * sw, s2 * dh, s3 * dw)
    )
    return windows, padded


def avg_pool_divisor(pool: tuple, count_include_pad: bool, divisor_override: int | None) -> np.ndarray:
    """The host ``[oh, ow]`` array of what each average-pooling window divides by (PyTorch's rule)."""
    _, _, (height, width), (kh, kw), (sh, sw), (ph, pw), _, (oh, ow) = pool
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError("avg_pool2d: divisor_override must be non-zero")
        return np.full((oh, ow), float(divisor_override))
    sizes = []
    for size, k, s, p, length in ((height, kh, sh, ph, oh), (width, kw, sw, pw, ow)):
        start = np.arange(length) * s - p
        stop = np.minimum(start + k, size + p)
        if count_include_pad:
            sizes.append(stop - start)
        else:
            sizes.append(np.minimum(stop, size) - np.maximum(start, 0))
    return (sizes[0][:, None] * sizes[1][None, :]).astype(np.float64)


def _check_cell(op: str, gates: Array, state: Array, count: int, other_gates: Array | None = None) -> None:
    if state.ndim != 2 or gates.ndim != 2 or tuple(gates.shape) != (state.shape[0], count * state.shape[1]):
        raise ShapeError(f"{op}: gates must be [B, {count}H] for state [B, H], got {tuple(gates.shape)} and {tuple(state.shape)}")
    if other_gates is not None and other_gates.shape != gates.shape:
        raise ShapeError(f"{op}: input and hidden gates differ in shape: {tuple(gates.shape)} vs {tuple(other_gates.shape)}")


def _split_gates(xp: Any, gates: Array, count: int) -> tuple[Array, ...]:
    hidden = gates.shape[1] // count
    i, f, g, o = (gates[:, j * hidden : (j + 1) * hidden] for j in range(4))
    return _sigmoid(xp, i), _sigmoid(xp, f), xp.tanh(g), _sigmoid(xp, o)


def _gru_gates(xp: Any, input_gates: Array, hidden_gates: Array) -> tuple[Array, Array, Array]:
    hidden = input_gates.shape[1] // 3
    r = _sigmoid(xp, input_gates[:, :hidden] + hidden_gates[:, :hidden])
    z = _sigmoid(xp, input_gates[:, hidden : 2 * hidden] + hidden_gates[:, hidden : 2 * hidden])
    n = xp.tanh(input_gates[:, 2 * hidden :] + r * hidden_gates[:, 2 * hidden :])
    return r, z, n


def _check_attention(op: str, q: Array, k: Array, v: Array, causal: bool, scale: float | None) -> float:
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4 or q.shape[:2] != k.shape[:2] or k.shape[:3] != v.shape[:3] or q.shape[3] != k.shape[3]:
        raise ShapeError(
            f"{op}: expected q [B, H, Sq, D], k [B, H, Sk, D], v [B, H, Sk, Dv], got "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if k.shape[2] == 0 and q.shape[2] > 0:
        raise ShapeError(f"{op}: no keys to attend to (k has shape {tuple(k.shape)})")
    if causal and k.shape[2] < q.shape[2]:
        raise ShapeError(f"{op}: causal=True needs Sk >= Sq, got Sq={q.shape[2]}, Sk={k.shape[2]}")
    return float(scale) if scale is not None else 1.0 / float(np.sqrt(q.shape[3]))
