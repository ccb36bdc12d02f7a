"""CUDA overrides of the rnn family: the kernels of ``kernels/rnn.py`` (reference: ``reference/rnn.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels import REGISTRY, kernel_suffix
from ..checks import check_cell

__all__ = ["RnnKernels"]


class RnnKernels:
    """Rnn ops of :class:`~axon_core.backend.cuda.CudaBackend` (a mixin over :class:`.runtime.CudaRuntime`)."""

    def _cell_launch(
        self, name: str, inputs: tuple, outputs: tuple, batch: int, hidden: int, extra: tuple = ()
    ) -> None:
        grid, block = self._elementwise_grid(batch * hidden)
        dtype = outputs[0].dtype
        args = tuple(self._contiguous(a, dtype) for a in inputs) + outputs + (np.int32(batch), np.int32(hidden)) + extra
        self.launch(REGISTRY["rnn"], f"{name}_{kernel_suffix(dtype)}", grid, block, args)

    def lstm_cell(self, gates: Any, c_prev: Any) -> tuple[Any, Any]:
        check_cell("lstm_cell", gates, c_prev, 4)
        if kernel_suffix(gates.dtype) is None or c_prev.size == 0:
            return super().lstm_cell(gates, c_prev)
        h, c = self.xp.empty(c_prev.shape, dtype=gates.dtype), self.xp.empty(c_prev.shape, dtype=gates.dtype)
        self._cell_launch("lstm_cell_fwd", (gates, c_prev), (h, c), *c_prev.shape)
        return h, c

    def lstm_cell_backward(self, grad_h: Any, grad_c: Any | None, gates: Any, c_prev: Any, c: Any) -> tuple[Any, Any]:
        check_cell("lstm_cell_backward", gates, c_prev, 4)
        if kernel_suffix(gates.dtype) is None or c_prev.size == 0:
            return super().lstm_cell_backward(grad_h, grad_c, gates, c_prev, c)
        xp = self.xp
        d_gates = xp.empty(gates.shape, dtype=gates.dtype)
        d_c_prev = xp.empty(c_prev.shape, dtype=gates.dtype)
        inputs = (grad_h, grad_c if grad_c is not None else grad_h, gates, c_prev, c)
        self._cell_launch(
            "lstm_cell_bwd", inputs, (d_gates, d_c_prev), *c_prev.shape, extra=(np.int32(grad_c is not None),)
        )
        return d_gates, d_c_prev.astype(c_prev.dtype, copy=False)

    def gru_cell(self, input_gates: Any, hidden_gates: Any, h_prev: Any) -> Any:
        check_cell("gru_cell", input_gates, h_prev, 3, hidden_gates)
        if kernel_suffix(h_prev.dtype) is None or h_prev.size == 0:
            return super().gru_cell(input_gates, hidden_gates, h_prev)
        h = self.xp.empty(h_prev.shape, dtype=h_prev.dtype)
        self._cell_launch("gru_cell_fwd", (input_gates, hidden_gates, h_prev), (h,), *h_prev.shape)
        return h

    def gru_cell_backward(self, grad_h: Any, input_gates: Any, hidden_gates: Any, h_prev: Any) -> tuple[Any, Any, Any]:
        check_cell("gru_cell_backward", input_gates, h_prev, 3, hidden_gates)
        if kernel_suffix(h_prev.dtype) is None or h_prev.size == 0:
            return super().gru_cell_backward(grad_h, input_gates, hidden_gates, h_prev)
        xp = self.xp
        outputs = (
            xp.empty(input_gates.shape, dtype=h_prev.dtype),
            xp.empty(hidden_gates.shape, dtype=h_prev.dtype),
            xp.empty(h_prev.shape, dtype=h_prev.dtype),
        )
        self._cell_launch("gru_cell_bwd", (grad_h, input_gates, hidden_gates, h_prev), outputs, *h_prev.shape)
        return (
            outputs[0].astype(input_gates.dtype, copy=False),
            outputs[1].astype(hidden_gates.dtype, copy=False),
            outputs[2],
        )
