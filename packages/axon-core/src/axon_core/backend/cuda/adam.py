"""CUDA overrides of the adam family: the kernels of ``kernels/adam.py`` (reference: ``reference/adam.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels import REGISTRY, kernel_suffix
from ..checks import check_adam

__all__ = ["AdamKernels"]


class AdamKernels:
    """Adam ops of :class:`~axon_core.backend.cuda.CudaBackend` (a mixin over :class:`.runtime.CudaRuntime`)."""

    def adam_step(
        self,
        param: Any,
        grad: Any,
        exp_avg: Any,
        exp_avg_sq: Any,
        max_exp_avg_sq: Any | None,
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
        check_adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, amsgrad)
        state = [param, exp_avg, exp_avg_sq] + ([max_exp_avg_sq] if amsgrad else [])
        in_place = all(a.flags.c_contiguous and a.dtype == param.dtype for a in state)
        if kernel_suffix(param.dtype) is None or not in_place or param.size == 0:
            return super().adam_step(
                param,
                grad,
                exp_avg,
                exp_avg_sq,
                max_exp_avg_sq,
                step=step,
                lr=lr,
                beta1=beta1,
                beta2=beta2,
                eps=eps,
                weight_decay=weight_decay,
                decoupled=decoupled,
                amsgrad=amsgrad,
                maximize=maximize,
            )
        grid, block = self._elementwise_grid(param.size)
        args = (
            param,
            self._contiguous(grad, param.dtype),
            exp_avg,
            exp_avg_sq,
            max_exp_avg_sq if amsgrad else exp_avg_sq,
            np.int64(param.size),
            np.float32(lr),
            np.float32(beta1),
            np.float32(beta2),
            np.float32(eps),
            np.float32(weight_decay),
            np.float32(lr / (1.0 - beta1**step)),
            np.float32((1.0 - beta2**step) ** 0.5),
            np.int32(decoupled),
            np.int32(amsgrad),
            np.int32(maximize),
        )
        self.launch(REGISTRY["adam"], f"adam_step_{kernel_suffix(param.dtype)}", grid, block, args)
        return None
