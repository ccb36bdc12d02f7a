"""The kernel toolchain: NVRTC (CUDA C to PTX/cubin), ptxas (assembling and resource use), the
on-disk kernel cache and the no-GPU check of every family. ``kernels/`` itself holds the families."""

from __future__ import annotations

from .cache import KernelCache, cache_dir, default_cache
from .check import CheckReport, check_kernels
from .nvrtc import compile_source, nvrtc_version
from .ptxas import KernelResources, assemble

__all__ = [
    "CheckReport",
    "KernelCache",
    "KernelResources",
    "assemble",
    "cache_dir",
    "check_kernels",
    "compile_source",
    "default_cache",
    "nvrtc_version",
]
