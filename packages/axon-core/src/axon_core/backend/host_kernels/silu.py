"""SiLU and SwiGLU (``silu(gate) * up``), forward and backward, as CPU kernels of two steps.

The references (``reference/activations.py``) take 6-10 NumPy passes per call (the sign split of
the sigmoid, ``exp``, the quotient, the products), each with a temporary; on a LLaMA training step
they were ~10% of the time. A scalar loop alone does not beat them: Numba's ``exp`` is not
vectorised here (no SVML) and costs ~20 ns an element, NumPy's ~2. So ``e = exp(-|x|)`` is three
in-place NumPy passes over one buffer, and one threaded Numba pass does the rest of the formula
from it (in float64, rounded once at the end for float32): 2-4x faster than the references.

The references' limits are kept: the input is clamped below at ``-SATURATION`` (above too for the
factor ``x`` of a derivative) so ``±inf`` give the limits, and NaN propagates; ``exp(-|x|)`` is
already exactly 0 beyond the clamp, so the clamped and raw inputs give the same ``e``. SwiGLU's
backward writes both gradients in the same pass.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..numerics import SATURATION
from . import activations
from .activations import CHUNK, _kernel, _low

__all__ = ["KERNELS", "run", "swiglu_backward"]


@njit(cache=True, nogil=True, inline="always")
def _sigmoid_from(w, e):  # pragma: no cover - compiled
    # sigmoid(w) from e = exp(-|w|): 1/(1+e) or e/(1+e), a select (see activations._sigmoid)
    r = 1.0 / (1.0 + e)
    return r if w >= 0.0 else e * r


@njit(cache=True, nogil=True, inline="always")
def _silu(x, b, e):  # pragma: no cover - compiled
    w = _low(float(x))
    return w * _sigmoid_from(w, float(e))


@njit(cache=True, nogil=True, inline="always")
def _d_silu(x, e):  # pragma: no cover - compiled
    # silu'(x) = s (1 + x (1 - s)); s is exactly 1 above SATURATION, so only the factor x is clamped there
    low = _low(float(x))
    s = _sigmoid_from(low, float(e))
    high = SATURATION if low > SATURATION else low
    return s * (1.0 + high * (1.0 - s)), low * s


@njit(cache=True, nogil=True, inline="always")
def _silu_backward(g, x, e):  # pragma: no cover - compiled
    return float(g) * _d_silu(x, e)[0]


@njit(cache=True, nogil=True, inline="always")
def _swiglu(gate, up, e):  # pragma: no cover - compiled
    return _silu(gate, gate, e) * float(up)


#: name -> (serial, threaded) kernels of ``(a, b, e, out)`` with ``e = exp(-|x|)`` of the input x.
KERNELS = {
    "silu": _kernel(_silu),
    "silu_backward": _kernel(_silu_backward),
    "swiglu": _kernel(_swiglu),
}


@njit(cache=True, nogil=True, inline="always")
def _swiglu_grads(g, gate, up, e, d_gate, d_up, i):  # pragma: no cover - compiled
    deriv, silu = _d_silu(gate[i], e[i])
    work_g = float(g[i])
    d_gate[i] = work_g * float(up[i]) * deriv
    d_up[i] = work_g * silu


@njit(cache=True, nogil=True, parallel=True)
def _swiglu_backward_threaded(g, gate, up, e, d_gate, d_up):  # pragma: no cover - compiled
    chunks = (g.size + CHUNK - 1) // CHUNK
    for chunk in prange(chunks):
        for i in range(chunk * CHUNK, min(g.size, (chunk + 1) * CHUNK)):
            _swiglu_grads(g, gate, up, e, d_gate, d_up, i)


@njit(cache=True, nogil=True)
def _swiglu_backward_serial(g, gate, up, e, d_gate, d_up):  # pragma: no cover - compiled
    for i in range(g.size):
        _swiglu_grads(g, gate, up, e, d_gate, d_up, i)


def _exp_neg_abs(x: np.ndarray) -> np.ndarray:
    """``exp(-|x|)`` in ``x``'s dtype: NumPy's vectorised ``exp``, in place in one buffer."""
    e = np.abs(x)
    np.negative(e, out=e)
    return np.exp(e, out=e)


def run(name: str, *operands: np.ndarray) -> np.ndarray:
    """``KERNELS[name]`` over same-shape C-contiguous float32/float64 ``operands`` of one dtype:
    ``(x,)`` for silu, ``(grad, x)`` for silu_backward, ``(gate, up)`` for swiglu; a new array."""
    x = operands[0] if name == "silu" or name == "swiglu" else operands[1]
    padded = operands if len(operands) == 2 else (operands[0], operands[0])
    return activations.run(name, *padded, _exp_neg_abs(x), kernels=KERNELS)


def swiglu_backward(grad: np.ndarray, gate: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(d gate, d up) of ``silu(gate) * up`` for same-shape C-contiguous float32/float64 arrays."""
    d_gate, d_up = np.empty_like(gate), np.empty_like(up)
    kernel = _swiglu_backward_threaded if grad.size > CHUNK else _swiglu_backward_serial
    flat = [a.reshape(-1) for a in (grad, gate, up, _exp_neg_abs(gate), d_gate, d_up)]
    kernel(*flat)
    return d_gate, d_up
