"""Dynamic loss scaling for float16 training, with the update rule of ``torch.amp.GradScaler``.

``scaler.scale(loss).backward()``; ``scaler.step(optimizer)`` unscales the gradients and skips
the step when any is inf/NaN; ``scaler.update()`` halves the scale after such a step and
doubles it after ``growth_interval`` clean steps in a row.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .grad_mode import no_grad
from .variable import Variable

__all__ = ["GradScaler"]


def _f32(x: float) -> float:
    # The scale is kept in float32, as PyTorch keeps it in a float32 tensor.
    return float(np.float32(x))


class GradScaler:
    """``GradScaler(init_scale=2**16, growth_factor=2, backoff_factor=0.5, growth_interval=2000)``.

    Optimizers are anything with ``param_groups`` (a list of dicts with ``"params"``) and ``step()``.
    """

    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        if growth_factor <= 1.0:
            raise ValueError(f"GradScaler: growth_factor must be > 1, got {growth_factor}")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"GradScaler: backoff_factor must be in (0, 1), got {backoff_factor}")
        if growth_interval <= 0:
            raise ValueError(f"GradScaler: growth_interval must be positive, got {growth_interval}")
        self._scale = _f32(init_scale)
        self._growth_factor = growth_factor
        self._backoff_factor = backoff_factor
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0
        self._enabled = bool(enabled)
        self._per_optimizer: dict[int, dict[str, bool]] = {}

    def is_enabled(self) -> bool:
        return self._enabled

    def get_scale(self) -> float:
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def scale(self, outputs: Any) -> Any:
        """``outputs * scale`` (a Variable, or a list/tuple of them)."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Variable):
            return outputs * self._scale
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise TypeError(f"GradScaler.scale: expected Variables, got {type(outputs).__name__}")

    def _state(self, optimizer: Any) -> dict[str, bool]:
        return self._per_optimizer.setdefault(id(optimizer), {"unscaled": False, "found_inf": False, "stepped": False})

    def unscale_(self, optimizer: Any) -> None:
        """Divide the gradients of ``optimizer``'s parameters by the scale, in place, and note
        whether any is inf or NaN (call before gradient clipping)."""
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["unscaled"]:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update()")
        if state["stepped"]:
            raise RuntimeError("unscale_() is being called after step()")
        inverse = 1.0 / self._scale
        found_inf = False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    g = p._grad if isinstance(p, Variable) else getattr(p, "grad", None)
                    if g is None:
                        continue
                    array = g.data.array
                    array *= array.dtype.type(inverse)
                    xp = g.data.backend.xp
                    if not bool(xp.isfinite(array).all()):
                        found_inf = True
        state["unscaled"] = True
        state["found_inf"] = found_inf

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """Unscale (unless done), then ``optimizer.step()`` unless a gradient was inf/NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        state = self._state(optimizer)
        if state["stepped"]:
            raise RuntimeError("step() has already been called since the last update()")
        if not state["unscaled"]:
            self.unscale_(optimizer)
        state["stepped"] = True
        if state["found_inf"]:
            return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale: float | None = None) -> None:
        """Adjust the scale after the step(s) of this iteration (or set it to ``new_scale``)."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = _f32(float(new_scale))
        else:
            found_inf = any(s["found_inf"] for s in self._per_optimizer.values())
            if found_inf:
                self._scale = _f32(self._scale * self._backoff_factor)
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    self._scale = _f32(self._scale * self._growth_factor)
                    self._growth_tracker = 0
        self._per_optimizer = {}

    def state_dict(self) -> dict[str, Any]:
        if not self._enabled:
            return {}
        return {
            "scale": self._scale,
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not self._enabled:
            return
        if not state:
            raise RuntimeError("GradScaler.load_state_dict: the state dict is empty (saved from a disabled scaler)")
        self._scale = _f32(state["scale"])
        self._growth_factor = state["growth_factor"]
        self._backoff_factor = state["backoff_factor"]
        self._growth_interval = state["growth_interval"]
        self._growth_tracker = state["_growth_tracker"]
