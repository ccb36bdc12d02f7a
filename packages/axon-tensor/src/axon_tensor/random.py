"""Seeded random number generators.

Numbers are drawn on the host with NumPy's PCG64 and then moved to the device, so the same
seed gives the same values on every device (cpu, cuda, cuda-sim) and runs reproduce exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Generator", "manual_seed", "default_generator", "seed", "initial_seed"]


class Generator:
    """A random stream. ``Generator(seed)``; its state can be saved and restored bit for bit."""

    __slots__ = ("_rng", "_seed")

    def __init__(self, seed: int | None = None) -> None:
        self._seed = int(np.random.SeedSequence().entropy % (2**63)) if seed is None else int(seed)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> "Generator":
        """Restart the stream from ``seed``."""
        self._seed = int(seed)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot of the stream."""
        return {"seed": self._seed, "bit_generator": self._rng.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue exactly where :meth:`get_state` was taken."""
        self._seed = int(state["seed"])
        bit_generator = np.random.PCG64()
        bit_generator.state = state["bit_generator"]
        self._rng = np.random.Generator(bit_generator)

    @property
    def numpy_generator(self) -> np.random.Generator:
        """The underlying NumPy generator (host side)."""
        return self._rng


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (like ``torch.manual_seed``)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from OS entropy and return the seed."""
    fresh = Generator()
    default_generator.manual_seed(fresh.initial_seed())
    return fresh.initial_seed()


def initial_seed() -> int:
    return default_generator.initial_seed()
