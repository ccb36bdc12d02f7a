"""Mamba's selective scan (S6) as an autograd op: forward and backward, on the CPU and on CUDA.

Per channel ``(b, d)`` and state ``n``, with ``dt_t = softplus(delta_t + delta_bias_d)`` (or
``delta_t + delta_bias_d`` when ``delta_softplus`` is False) and ``h_{-1} = initial_state``:

    h_t[n] = exp(dt_t A[d, n]) h_{t-1}[n] + dt_t B_t[n] u_t
    y_t    = sum_n C_t[n] h_t[n] + D_d u_t,      out_t = y_t silu(z_t)   (y_t when z is None)

The CPU kernels are Numba (float32 and float64); on ``cuda`` and ``cuda-sim`` the op launches
axon-core's ``selective_scan`` CUDA kernel family (float32). The backward is the adjoint
recurrence run from the last step to the first over recomputed states (nothing per step is kept
from the forward but, on CUDA, a checkpoint of the state every ``CHUNK`` steps). It is once
differentiable: a gradient of its gradient raises.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from axon_autograd import Function, once_differentiable
from axon_core import DeviceError, DTypeError, ShapeError
from axon_tensor.tensor import wrap

__all__ = ["selective_scan"]


@njit(cache=True)
def _softplus(x: float) -> float:
    # torch's softplus (beta 1, threshold 20).
    return x if x > 20.0 else np.log1p(np.exp(x))


@njit(cache=True)
def _scan_forward_cpu(u, delta, A, B, C, D, z, bias, h0, softplus, gated, out, last):
    """out [b, t, d] and last [b, d, n] (the state after the last step); loops b, t, d, n so
    every array is read in memory order."""
    batch, length, channels = u.shape
    states = A.shape[1]
    for b in range(batch):
        h = last[b]
        h[:, :] = h0[b]
        for t in range(length):
            for d in range(channels):
                x = delta[b, t, d] + bias[d]
                dt = _softplus(x) if softplus else x
                ut = u[b, t, d]
                y = 0.0
                for n in range(states):
                    h[d, n] = np.exp(dt * A[d, n]) * h[d, n] + dt * B[b, t, n] * ut
                    y += C[b, t, n] * h[d, n]
                y += D[d] * ut
                if gated:
                    g = z[b, t, d]
                    y *= g / (1.0 + np.exp(-g))
                out[b, t, d] = y


@njit(cache=True)
def _scan_backward_cpu(
    u, delta, A, B, C, D, z, bias, h0, grad_out, grad_last, softplus, gated, du, ddelta, dz, dA, dB, dC, dD, dbias, dh0
):
    """The gradients of every input; ``dA, dB, dC, dD, dbias`` (float64, zeroed) are sums."""
    batch, length, channels = u.shape
    states = A.shape[1]
    # h[t + 1] is the state after step t, h[0] the initial one: recomputed per batch row.
    h = np.empty((length + 1, channels, states), dtype=np.float64)
    lam = np.empty((channels, states), dtype=np.float64)
    for b in range(batch):
        h[0] = h0[b]
        for t in range(length):
            for d in range(channels):
                x = delta[b, t, d] + bias[d]
                dt = _softplus(x) if softplus else x
                for n in range(states):
                    h[t + 1, d, n] = np.exp(dt * A[d, n]) * h[t, d, n] + dt * B[b, t, n] * u[b, t, d]
        lam[:, :] = grad_last[b]
        for t in range(length - 1, -1, -1):
            for d in range(channels):
                x = delta[b, t, d] + bias[d]
                dt = _softplus(x) if softplus else x
                ut = u[b, t, d]
                g = grad_out[b, t, d]
                dy = g
                if gated:
                    gate = z[b, t, d]
                    s = 1.0 / (1.0 + np.exp(-gate))
                    y = D[d] * ut
                    for n in range(states):
                        y += C[b, t, n] * h[t + 1, d, n]
                    dz[b, t, d] = g * y * s * (1.0 + gate * (1.0 - s))
                    dy = g * gate * s
                du_t = D[d] * dy
                dD[d] += dy * ut
                ddt = 0.0
                for n in range(states):
                    e = np.exp(dt * A[d, n])
                    lam[d, n] += C[b, t, n] * dy
                    dC[b, t, n] += dy * h[t + 1, d, n]
                    dB[b, t, n] += lam[d, n] * dt * ut
                    du_t += lam[d, n] * dt * B[b, t, n]
                    d_decay = lam[d, n] * h[t, d, n]
                    ddt += lam[d, n] * B[b, t, n] * ut + d_decay * A[d, n] * e
                    dA[d, n] += d_decay * e * dt
                    lam[d, n] *= e
                if softplus:
                    ddt *= 1.0 if x > 20.0 else 1.0 / (1.0 + np.exp(-x))
                du[b, t, d] = du_t
                ddelta[b, t, d] = ddt
                dbias[d] += ddt
        dh0[b] = lam


def _cuda_entry(kind: str, states: int) -> str:
    from axon_core.kernels.selective_scan import STATE_BOUNDS

    return f"selective_scan_{kind}_n{next(bound for bound in STATE_BOUNDS if bound >= states)}"


def _launch(backend: Any, name: str, grid: tuple, args: tuple) -> None:
    from axon_core.kernels import REGISTRY
    from axon_core.kernels.selective_scan import THREADS

    backend.launch(REGISTRY["selective_scan"], name, grid, (THREADS, 1, 1), args)


def _cuda_grid(batch: int, channels: int) -> tuple[int, int]:
    from axon_core.kernels.selective_scan import THREADS

    return (channels + THREADS - 1) // THREADS, batch


def _cuda_flags(softplus: bool, gated: bool, save: bool) -> np.int32:
    from axon_core.kernels.selective_scan import GATE, SAVE, SOFTPLUS

    return np.int32((SOFTPLUS if softplus else 0) | (GATE if gated else 0) | (SAVE if save else 0))


class SelectiveScanFunction(Function):
    """``(out [B, L, D], last_state [B, D, N])`` of the selective scan; see :func:`selective_scan`."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, initial_state, softplus):
        backend, xp = u.backend, u.backend.xp
        batch, length, channels = u.shape
        states = A.shape[1]

        def raw(t: Any, shape: tuple) -> Any:
            return xp.zeros(shape, dtype=u.array.dtype) if t is None else xp.ascontiguousarray(t.array)

        arrays = (
            raw(u, ()),
            raw(delta, ()),
            raw(A, ()),
            raw(B, ()),
            raw(C, ()),
            raw(D, (channels,)),
            raw(z, (1, 1, 1)),
            raw(delta_bias, (channels,)),
            raw(initial_state, (batch, channels, states)),
        )
        out = xp.empty((batch, length, channels), dtype=u.array.dtype)
        last = xp.empty((batch, channels, states), dtype=u.array.dtype)
        save = any(ctx.needs_input_grad)
        checkpoints = None
        if u.device.type == "cpu":
            _scan_forward_cpu(*arrays, bool(softplus), z is not None, out, last)
        elif batch and channels:
            from axon_core.kernels.selective_scan import CHUNK

            chunks = max(1, (length + CHUNK - 1) // CHUNK)
            checkpoints = xp.empty((chunks, states, batch * channels) if save else (1,), dtype=np.float32)
            sizes = tuple(np.int32(v) for v in (batch, length, channels, states))
            flags = _cuda_flags(softplus, z is not None, save)
            args = (*arrays, out, last, checkpoints, *sizes, flags)
            _launch(backend, _cuda_entry("fwd", states), _cuda_grid(batch, channels), args)
        if save:
            ctx.arrays = arrays
            ctx.checkpoints = checkpoints
            ctx.softplus = bool(softplus)
            ctx.gated = z is not None
            ctx.set_materialize_grads(False)
            ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias, initial_state)
        return wrap(out, u.device), wrap(last, u.device)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out, grad_last):
        # Unpacking checks the saved inputs' versions: one changed in place since the forward raises.
        device = ctx.saved_tensors[0].device
        u = ctx.arrays[0]
        backend = device.backend
        xp = backend.xp
        batch, length, channels = u.shape
        states = ctx.arrays[2].shape[1]
        dtype = u.dtype
        g_out = xp.zeros(u.shape, dtype) if grad_out is None else xp.ascontiguousarray(grad_out.array, dtype=dtype)
        g_last = (
            xp.zeros((batch, channels, states), dtype)
            if grad_last is None
            else xp.ascontiguousarray(grad_last.array, dtype=dtype)
        )
        du, ddelta, dz = xp.empty(u.shape, dtype), xp.empty(u.shape, dtype), xp.zeros(u.shape, dtype)
        dh0 = xp.empty((batch, channels, states), dtype)
        if device.type == "cpu":
            sums = np.float64
            dA, dD, dbias = np.zeros((channels, states), sums), np.zeros(channels, sums), np.zeros(channels, sums)
            dB, dC = np.zeros((batch, length, states), sums), np.zeros((batch, length, states), sums)
            _scan_backward_cpu(
                *ctx.arrays, g_out, g_last, ctx.softplus, ctx.gated, du, ddelta, dz, dA, dB, dC, dD, dbias, dh0
            )
        else:
            from axon_core.kernels.selective_scan import CHUNK

            sums = np.float32
            dA, dD, dbias = xp.zeros((channels, states), sums), xp.zeros(channels, sums), xp.zeros(channels, sums)
            dB, dC = xp.zeros((batch, length, states), sums), xp.zeros((batch, length, states), sums)
            if batch and channels:
                workspace = xp.empty((CHUNK, states, batch * channels), dtype=np.float32)
                sizes = tuple(np.int32(v) for v in (batch, length, channels, states))
                flags = _cuda_flags(ctx.softplus, ctx.gated, False)
                (u_, delta_, A_, B_, C_, D_, z_, bias_, _) = ctx.arrays
                args = (u_, delta_, A_, B_, C_, D_, z_, bias_, ctx.checkpoints, g_out, g_last, workspace)
                args += (du, ddelta, dz if ctx.gated else xp.zeros((1, 1, 1), dtype), dA, dB, dC, dD, dbias, dh0)
                _launch(backend, _cuda_entry("bwd", states), _cuda_grid(batch, channels), args + (*sizes, flags))
        needs = ctx.needs_input_grad

        def out(grad: Any, i: int) -> Any:
            return wrap(grad.astype(dtype, copy=False), device) if needs[i] else None

        return (
            out(du, 0),
            out(ddelta, 1),
            out(dA, 2),
            out(dB, 3),
            out(dC, 4),
            out(dD, 5),
            out(dz, 6),
            out(dbias, 7),
            out(dh0, 8),
            None,
        )


def _check(u: Any, delta: Any, A: Any, B: Any, C: Any, D: Any, z: Any, delta_bias: Any, initial_state: Any) -> None:
    if len(u.shape) != 3 or len(A.shape) != 2:
        raise ShapeError(
            f"selective_scan: u must be [batch, length, channels] and A [channels, states], "
            f"got u {tuple(u.shape)}, A {tuple(A.shape)}"
        )
    batch, length, channels = u.shape
    states = A.shape[1]
    expected = {
        "delta": (delta, (batch, length, channels)),
        "A": (A, (channels, states)),
        "B": (B, (batch, length, states)),
        "C": (C, (batch, length, states)),
        "D": (D, (channels,)),
        "z": (z, (batch, length, channels)),
        "delta_bias": (delta_bias, (channels,)),
        "initial_state": (initial_state, (batch, channels, states)),
    }
    for name, (value, shape) in expected.items():
        if value is not None and tuple(value.shape) != shape:
            raise ShapeError(
                f"selective_scan: {name} must be {list(shape)} for u {tuple(u.shape)} and A {tuple(A.shape)}, "
                f"got {list(value.shape)}"
            )
    for name, (value, _) in expected.items():
        if value is None:
            continue
        if value.device != u.device:
            raise DeviceError(f"selective_scan: {name} is on {value.device} but u is on {u.device}")
        if value.dtype != u.dtype:
            raise DTypeError(f"selective_scan: {name} is {value.dtype} but u is {u.dtype}; all inputs share a dtype")
    if u.dtype.name not in ("float32", "float64"):
        raise DTypeError(f"selective_scan: inputs must be float32 or float64, got {u.dtype}")
    if u.device.type != "cpu":
        from axon_core.kernels.selective_scan import MAX_STATES

        if u.dtype.name != "float32":
            raise DTypeError(f"selective_scan: the CUDA kernels take float32, got {u.dtype} on {u.device}")
        if states > MAX_STATES:
            raise ShapeError(f"selective_scan: the CUDA kernels take at most {MAX_STATES} states, got A {A.shape}")
        if batch > 65535 or max(batch * length * channels, length * channels * states) >= 2**31:
            raise ShapeError(f"selective_scan: u {tuple(u.shape)} is too large for one CUDA launch")


def selective_scan(
    u: Any,
    delta: Any,
    A: Any,
    B: Any,
    C: Any,
    D: Any = None,
    z: Any = None,
    delta_bias: Any = None,
    delta_softplus: bool = False,
    initial_state: Any = None,
) -> tuple[Any, Any]:
    """Mamba's selective scan; returns ``(out [batch, length, channels], last_state [batch, channels, states])``.

    Sequence-major layouts (mamba_ssm's ``selective_scan_fn`` takes the same arguments channel-major):
    ``u, delta [batch, length, channels]``, ``A [channels, states]`` (the continuous-time
    matrix, negative for a stable scan: ``-exp(A_log)``), ``B, C [batch, length, states]``,
    ``D, delta_bias [channels]``, ``z [batch, length, channels]`` (the gate), ``initial_state
    [batch, channels, states]`` (zeros when None). Tensors or Variables, one float dtype and one
    device (float32 or float64 on the CPU, float32 on ``cuda``/``cuda-sim``); differentiable in
    all of them, ``last_state`` too (chunked generation, truncated backpropagation).
    """
    _check(u, delta, A, B, C, D, z, delta_bias, initial_state)
    return SelectiveScanFunction.apply(u, delta, A, B, C, D, z, delta_bias, initial_state, bool(delta_softplus))
