"""LSTM and GRU cells from pre-activation gates, forward and backward.

The reference implementation, written against ``self.xp`` (NumPy or CuPy); the CUDA backend
overrides it in ``backend/cuda/rnn.py`` with the kernels of ``kernels/rnn.py``.
"""

from __future__ import annotations

from typing import Any

from ..checks import check_cell
from ..numerics import sigmoid, upcast

__all__ = ["RnnReference"]

Array = Any
Pair = Any  # an int or an (h, w) pair of ints


class RnnReference:
    """Reference rnn ops of :class:`~axon_core.backend.Backend` (a mixin; needs ``self.xp``)."""

    def lstm_cell(self, gates: Array, c_prev: Array) -> tuple[Array, Array]:
        """LSTM cell from pre-activation ``gates [B, 4H]`` (``x W_ih^T + b_ih + h W_hh^T + b_hh``,
        PyTorch's order i, f, g, o) and ``c_prev [B, H]``: returns ``(h [B, H], c [B, H])``.
        """
        check_cell("lstm_cell", gates, c_prev, 4)
        xp = self.xp
        i, f, g, o = _split_gates(xp, upcast(xp, gates), 4)
        c = f * upcast(xp, c_prev) + i * g
        return (o * xp.tanh(c)).astype(gates.dtype, copy=False), c.astype(gates.dtype, copy=False)

    def lstm_cell_backward(
        self, grad_h: Array, grad_c: Array | None, gates: Array, c_prev: Array, c: Array
    ) -> tuple[Array, Array]:
        """``(d gates [B, 4H], d c_prev [B, H])`` of :meth:`lstm_cell`; ``grad_c`` may be None."""
        check_cell("lstm_cell_backward", gates, c_prev, 4)
        xp = self.xp
        i, f, g, o = _split_gates(xp, upcast(xp, gates), 4)
        work_gh = upcast(xp, grad_h)
        tanh_c = xp.tanh(upcast(xp, c))
        dc = work_gh * o * (1.0 - tanh_c * tanh_c)
        if grad_c is not None:
            dc = dc + upcast(xp, grad_c)
        d_gates = xp.concatenate(
            [
                dc * g * i * (1.0 - i),
                dc * upcast(xp, c_prev) * f * (1.0 - f),
                dc * i * (1.0 - g * g),
                work_gh * tanh_c * o * (1.0 - o),
            ],
            axis=1,
        )
        return d_gates.astype(gates.dtype, copy=False), (dc * f).astype(c_prev.dtype, copy=False)

    def gru_cell(self, input_gates: Array, hidden_gates: Array, h_prev: Array) -> Array:
        """GRU cell (PyTorch's order r, z, n) from ``input_gates = x W_ih^T + b_ih [B, 3H]``,
        ``hidden_gates = h W_hh^T + b_hh [B, 3H]`` and ``h_prev [B, H]``: returns ``h [B, H]``.
        """
        check_cell("gru_cell", input_gates, h_prev, 3, hidden_gates)
        xp = self.xp
        r, z, n = _gru_gates(xp, upcast(xp, input_gates), upcast(xp, hidden_gates))
        return ((1.0 - z) * n + z * upcast(xp, h_prev)).astype(h_prev.dtype, copy=False)

    def gru_cell_backward(
        self, grad_h: Array, input_gates: Array, hidden_gates: Array, h_prev: Array
    ) -> tuple[Array, Array, Array]:
        """``(d input_gates [B, 3H], d hidden_gates [B, 3H], d h_prev [B, H])`` of :meth:`gru_cell`."""
        check_cell("gru_cell_backward", input_gates, h_prev, 3, hidden_gates)
        xp = self.xp
        work_hg = upcast(xp, hidden_gates)
        r, z, n = _gru_gates(xp, upcast(xp, input_gates), work_hg)
        hidden = h_prev.shape[1]
        g = upcast(xp, grad_h)
        dn = g * (1.0 - z) * (1.0 - n * n)
        dr = dn * work_hg[:, 2 * hidden :] * r * (1.0 - r)
        dz = g * (upcast(xp, h_prev) - n) * z * (1.0 - z)
        d_input = xp.concatenate([dr, dz, dn], axis=1)
        d_hidden = xp.concatenate([dr, dz, dn * r], axis=1)
        return (
            d_input.astype(input_gates.dtype, copy=False),
            d_hidden.astype(hidden_gates.dtype, copy=False),
            (g * z).astype(h_prev.dtype, copy=False),
        )


def _split_gates(xp: Any, gates: Array, count: int) -> tuple[Array, ...]:
    hidden = gates.shape[1] // count
    i, f, g, o = (gates[:, j * hidden : (j + 1) * hidden] for j in range(4))
    return sigmoid(xp, i), sigmoid(xp, f), xp.tanh(g), sigmoid(xp, o)


def _gru_gates(xp: Any, input_gates: Array, hidden_gates: Array) -> tuple[Array, Array, Array]:
    hidden = input_gates.shape[1] // 3
    r = sigmoid(xp, input_gates[:, :hidden] + hidden_gates[:, :hidden])
    z = sigmoid(xp, input_gates[:, hidden : 2 * hidden] + hidden_gates[:, hidden : 2 * hidden])
    n = xp.tanh(input_gates[:, 2 * hidden :] + r * hidden_gates[:, 2 * hidden :])
    return r, z, n
