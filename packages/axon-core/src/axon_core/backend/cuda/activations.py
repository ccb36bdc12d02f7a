"""CUDA overrides of the activations family: the kernels of ``kernels/activations.py``.

The reference implementation is ``reference/activations.py``.
"""

from __future__ import annotations

from typing import Any

from ...kernels import kernel_suffix
from ..checks import same_shapes

__all__ = ["ActivationsKernels"]


class ActivationsKernels:
    """Activations ops of :class:`~axon_core.backend.cuda.CudaBackend` (a mixin over :class:`.runtime.CudaRuntime`)."""

    def gelu(self, x: Any, approximate: str = "none") -> Any:
        if kernel_suffix(x.dtype) is None or approximate not in ("none", "tanh"):
            return super().gelu(x, approximate)
        name = "gelu_tanh_fwd" if approximate == "tanh" else "gelu_erf_fwd"
        return self._elementwise("activations", name, (x,), 1)[0]

    def gelu_backward(self, grad: Any, x: Any, approximate: str = "none") -> Any:
        if kernel_suffix(x.dtype) is None or approximate not in ("none", "tanh") or grad.shape != x.shape:
            return super().gelu_backward(grad, x, approximate)
        name = "gelu_tanh_bwd" if approximate == "tanh" else "gelu_erf_bwd"
        return self._elementwise_grad(name, grad, x)

    def _elementwise_grad(self, name: str, grad: Any, x: Any) -> Any:
        # Backward kernels take (grad, x, dx, n): grad is cast to x's dtype first.
        return self._elementwise("activations", name, (grad.astype(x.dtype, copy=False), x), 1)[0]

    def silu(self, x: Any) -> Any:
        if kernel_suffix(x.dtype) is None:
            return super().silu(x)
        return self._elementwise("activations", "silu_fwd", (x,), 1)[0]

    def silu_backward(self, grad: Any, x: Any) -> Any:
        if kernel_suffix(x.dtype) is None or grad.shape != x.shape:
            return super().silu_backward(grad, x)
        return self._elementwise_grad("silu_bwd", grad, x)

    def swiglu(self, gate: Any, up: Any) -> Any:
        same_shapes("swiglu", gate=gate, up=up)
        if kernel_suffix(gate.dtype) is None:
            return super().swiglu(gate, up)
        return self._elementwise("activations", "swiglu_fwd", (gate, up), 1)[0]

    def swiglu_backward(self, grad: Any, gate: Any, up: Any) -> tuple[Any, Any]:
        same_shapes("swiglu_backward", grad=grad, gate=gate, up=up)
        if kernel_suffix(gate.dtype) is None:
            return super().swiglu_backward(grad, gate, up)
        d_gate, d_up = self._elementwise("activations", "swiglu_bwd", (grad, gate, up), 2)
        return d_gate, d_up.astype(up.dtype, copy=False)
