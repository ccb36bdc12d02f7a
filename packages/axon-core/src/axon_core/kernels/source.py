"""``KernelSource``: one kernel family's CUDA C source, and its compilation through the disk cache."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from string import Template

from .toolchain.cache import KernelCache, default_cache
from .toolchain.nvrtc import compile_source, nvrtc_version

__all__ = ["KernelSource", "instantiate", "FLOAT_TYPES"]

#: Storage types our float kernels are instantiated for, keyed by the suffix of the kernel name.
FLOAT_TYPES = {"f32": "float", "f16": "__half", "bf16": "__nv_bfloat16"}


@dataclass(frozen=True)
class KernelSource:
    """The CUDA C source of one kernel family.

    ``family`` names it (``"layer_norm"``), ``source`` is plain ``extern "C" __global__`` CUDA C,
    ``kernels`` lists the entry points it defines and ``options`` are extra NVRTC flags.
    """

    family: str
    source: str
    kernels: tuple[str, ...]
    options: tuple[str, ...] = ()
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def compile(self, arch: str, target: str = "cubin", cache: KernelCache | None = None) -> bytes:
        """The compiled image for ``arch`` (``"sm_90"``), from the disk cache or NVRTC."""
        store = cache if cache is not None else default_cache()
        key = store.key(self.source, self.options, arch, target, nvrtc_version())
        with self._lock:
            image = store.load(key)
            if image is None:
                image = compile_source(self.source, self.family, arch, self.options, target).image
                store.store(key, image)
        return image


def instantiate(template: str, types: dict[str, str] = FLOAT_TYPES) -> str:
    """Repeat ``template`` once per storage type, substituting ``$T`` (type) and ``$S`` (suffix)."""
    body = Template(template)
    return "\n".join(body.substitute(T=ctype, S=suffix) for suffix, ctype in types.items())
