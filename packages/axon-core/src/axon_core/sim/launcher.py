"""Compile a CUDA C source for the CPU and launch its kernels like ``cuLaunchKernel``.

``SimModule(source)`` compiles (or loads from the disk cache) the source with the prelude;
``module.get_function(name)`` is a :class:`SimKernel`, called as
``kernel(grid, block, args, shared_mem=0)``: the same shape as CuPy's ``RawKernel``. Arrays are
NumPy arrays passed as pointers; scalars are NumPy scalars whose type must match the kernel's
parameter (a ``float`` parameter takes ``np.float32``), which the GPU never checks but we do.
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any, Sequence

import numpy as np

from .compiler import SIM_DIR, compile_library
from .errors import SimDeadlockError, SimError, SimLaunchError, SimMemoryError, SimTimeoutError, SimTrapError
from .guard import GuardedArguments
from .rewrite import to_translation_unit

__all__ = ["SimModule", "SimKernel", "launch_options", "DEFAULT_MAX_DYNAMIC_SHARED"]

#: Dynamic shared memory a kernel may take without opting in (as on every NVIDIA GPU since sm_70).
DEFAULT_MAX_DYNAMIC_SHARED = 48 * 1024
_MAX_GRID = (2**31 - 1, 65535, 65535)
_MAX_BLOCK = (1024, 1024, 64)


class _LaunchParams(ctypes.Structure):
    _fields_ = [
        ("grid", ctypes.c_uint32 * 3),
        ("block", ctypes.c_uint32 * 3),
        ("shared_mem", ctypes.c_uint64),
        ("workers", ctypes.c_int32),
        ("reverse_order", ctypes.c_int32),
        ("poison_shared", ctypes.c_int32),
        ("timeout_signal", ctypes.c_int32),
        ("timeout_s", ctypes.c_double),
        ("stack_size", ctypes.c_uint64),
        ("set_signal_state", ctypes.c_void_p),
    ]


class _LaunchResult(ctypes.Structure):
    _fields_ = [
        ("status", ctypes.c_int32),
        ("block", ctypes.c_uint32 * 3),
        ("thread", ctypes.c_uint32 * 3),
        ("signal", ctypes.c_int32),
        ("fault_write", ctypes.c_int32),
        ("fault_addr", ctypes.c_uint64),
        ("message", ctypes.c_char * 1024),
    ]


_signals_lock = threading.Lock()
_signals: tuple[Any, int] | None = None


def _signal_host() -> tuple[Any, int]:
    """The process's one signal host library and the address of its set-state function."""
    global _signals
    with _signals_lock:
        if _signals is None:
            library = compile_library((SIM_DIR / "signals.cpp").read_text(), label="signals", prelude=False)
            library.axon_sim_install_handlers.restype = ctypes.c_int
            address = ctypes.cast(library.axon_sim_set_signal_state, ctypes.c_void_p).value
            _signals = (library, address)
        return _signals


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def launch_options() -> dict[str, Any]:
    """Launch defaults from the environment.

    ``AXON_SIM_DEBUG=1``: guarded argument copies, shared memory (static and dynamic) poisoned per
    block. ``AXON_SIM_REVERSE=1``: resume the threads of a block from the last one down (a race
    shows as a changed result). ``AXON_SIM_WORKERS``: worker threads (default: CPU count).
    ``AXON_SIM_TIMEOUT``: seconds per launch (default 120). ``AXON_SIM_STACK_KB``: stack per CUDA
    thread (default 64). ``AXON_SIM_CXX``: the compiler (g++).
    """
    return {
        "compiler": os.environ.get("AXON_SIM_CXX", "g++"),
        "debug": _env_flag("AXON_SIM_DEBUG"),
        "reverse_order": _env_flag("AXON_SIM_REVERSE"),
        "workers": int(os.environ.get("AXON_SIM_WORKERS", 0)) or (os.cpu_count() or 1),
        "timeout": float(os.environ.get("AXON_SIM_TIMEOUT", 120.0)),
        "stack_kb": int(os.environ.get("AXON_SIM_STACK_KB", 64)),
    }


def _dims(value: int | Sequence[int], what: str, kernel: str) -> tuple[int, int, int]:
    dims = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if not 1 <= len(dims) <= 3 or not all(isinstance(d, (int, np.integer)) for d in dims):
        raise SimLaunchError(f"{kernel}: {what} must be 1 to 3 integers, got {value!r}", kernel=kernel)
    return tuple(int(d) for d in dims) + (1,) * (3 - len(dims))  # type: ignore[return-value]


class SimModule:
    """A CUDA C source compiled by g++ with the cuda-sim prelude (cached on disk and in process).

    ``options`` are NVRTC-style options; ``-D``/``-U``/``-I`` ones are passed on to g++, the others
    (``-arch``, ``--use_fast_math``, ``-std``) mean nothing on the CPU and are left out of the build.
    """

    def __init__(self, source: str, options: Sequence[str] = (), *, name: str = "kernel") -> None:
        self.source = source
        self.name = name
        code, self.kernel_names = to_translation_unit(source, name)
        flags = tuple(o for o in options if o.startswith(("-D", "-U", "-I")))
        label = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)
        self._library = compile_library(code, flags, label=label)
        self._kernels: dict[str, SimKernel] = {}

    def get_function(self, name: str) -> "SimKernel":
        """The kernel ``name`` (an ``extern "C" __global__`` function of the source)."""
        kernel = self._kernels.get(name)
        if kernel is None:
            if name not in self.kernel_names:
                raise SimLaunchError(
                    f"{self.name}: no __global__ function {name!r}; the source defines {self.kernel_names}", kernel=name
                )
            kernel = SimKernel(self._library, name)
            self._kernels[name] = kernel
        return kernel


class SimKernel:
    """One kernel of a :class:`SimModule`; call it like CuPy's ``RawKernel``."""

    def __init__(self, library: ctypes.CDLL, name: str) -> None:
        self.name = name
        #: Dynamic shared memory the kernel may take (CuPy's attribute of the same name).
        self.max_dynamic_shared_size_bytes = DEFAULT_MAX_DYNAMIC_SHARED
        self._launch = getattr(library, f"axon_sim_launch_{name}")
        self._launch.restype = ctypes.c_int
        self._launch.argtypes = [ctypes.POINTER(_LaunchParams), ctypes.c_void_p, ctypes.POINTER(_LaunchResult)]
        describe = getattr(library, f"axon_sim_describe_{name}")
        kinds = ctypes.create_string_buffer(256)
        sizes = (ctypes.c_uint32 * 256)()
        count = describe(kinds, sizes, 256)
        #: Per parameter: ('p' pointer | 'f' float | 'i' signed | 'u' unsigned/bool | 'o' struct, size in bytes).
        self.params: list[tuple[str, int]] = [(kinds.raw[i : i + 1].decode(), sizes[i]) for i in range(count)]

    def __call__(
        self,
        grid: int | Sequence[int],
        block: int | Sequence[int],
        args: Sequence[Any],
        shared_mem: int = 0,
        *,
        debug: bool | None = None,
        reverse_order: bool | None = None,
        timeout: float | None = None,
        workers: int | None = None,
    ) -> None:
        """Run the grid to completion; raises a :class:`SimError` subclass when the kernel fails."""
        defaults = launch_options()
        debug = defaults["debug"] if debug is None else debug
        reverse_order = defaults["reverse_order"] if reverse_order is None else reverse_order
        grid3 = _dims(grid, "grid", self.name)
        block3 = _dims(block, "block", self.name)
        self._check_config(grid3, block3, int(shared_mem))
        arrays = {i: a for i, a in enumerate(args) if isinstance(a, np.ndarray)}
        self._check_args(args)
        guarded = GuardedArguments(arrays) if debug and arrays else None
        holders: list[Any] = []
        pointers = (ctypes.c_void_p * max(1, len(args)))()
        for i, arg in enumerate(args):
            if isinstance(arg, np.ndarray):
                holder = ctypes.c_void_p(guarded.pointer(i) if guarded else arg.ctypes.data)
                pointers[i] = ctypes.addressof(holder)
            else:
                holder = np.array(arg)
                pointers[i] = holder.ctypes.data
            holders.append(holder)
        library, set_state = _signal_host()
        params = _LaunchParams(
            (ctypes.c_uint32 * 3)(*grid3),
            (ctypes.c_uint32 * 3)(*block3),
            int(shared_mem),
            int(workers or defaults["workers"]),
            int(reverse_order),
            int(debug),
            library.axon_sim_install_handlers(),
            float(defaults["timeout"] if timeout is None else timeout),
            defaults["stack_kb"] * 1024,
            set_state,
        )
        result = _LaunchResult()
        if guarded is None:
            if self._launch(ctypes.byref(params), ctypes.cast(pointers, ctypes.c_void_p), ctypes.byref(result)):
                raise self._error(result, None)
            return
        error: SimError | None = None
        try:
            if self._launch(ctypes.byref(params), ctypes.cast(pointers, ctypes.c_void_p), ctypes.byref(result)):
                error = self._error(result, guarded)
            else:
                problems = guarded.check()
                if problems:
                    error = SimMemoryError(f"{self.name}: " + "; ".join(problems), kernel=self.name)
        finally:
            # A failed launch leaves the arguments as they were: no partial results are copied back.
            problems = guarded.finish(copy_back=error is None)
        if error is None and problems:
            error = SimMemoryError(f"{self.name}: " + "; ".join(problems), kernel=self.name)
        if error is not None:
            raise error

    def _check_config(self, grid: tuple[int, int, int], block: tuple[int, int, int], shared_mem: int) -> None:
        name = self.name
        if any(g < 1 or g > m for g, m in zip(grid, _MAX_GRID)):
            raise SimLaunchError(f"{name}: grid {grid} outside 1..{_MAX_GRID} per dimension", kernel=name)
        if any(b < 1 or b > m for b, m in zip(block, _MAX_BLOCK)) or block[0] * block[1] * block[2] > 1024:
            raise SimLaunchError(
                f"{name}: block {block} is not a valid CUDA block (each dim 1..{_MAX_BLOCK}, at most 1024 threads)",
                kernel=name,
            )
        if shared_mem < 0 or shared_mem > self.max_dynamic_shared_size_bytes:
            raise SimLaunchError(
                f"{name}: {shared_mem} bytes of dynamic shared memory exceed the kernel's limit of "
                f"{self.max_dynamic_shared_size_bytes} (set max_dynamic_shared_size_bytes to opt in, as on the GPU)",
                kernel=name,
            )

    def _check_args(self, args: Sequence[Any]) -> None:
        name = self.name
        if len(args) != len(self.params):
            raise SimLaunchError(f"{name}: takes {len(self.params)} argument(s), got {len(args)}", kernel=name)
        for i, (arg, (kind, size)) in enumerate(zip(args, self.params)):
            if kind == "p":
                if not isinstance(arg, np.ndarray):
                    raise SimLaunchError(
                        f"{name}: argument {i} is a pointer parameter; "
                        f"expected a device array, got {type(arg).__name__}",
                        kernel=name,
                    )
                continue
            if isinstance(arg, np.ndarray):
                raise SimLaunchError(
                    f"{name}: argument {i} is a {size}-byte value parameter, got an array", kernel=name
                )
            if not isinstance(arg, np.generic):
                raise SimLaunchError(
                    f"{name}: argument {i} must be a NumPy scalar of {size} bytes (e.g. np.int32, np.float32), "
                    f"got {type(arg).__name__} {arg!r}",
                    kernel=name,
                )
            got = np.dtype(type(arg))
            ok_kind = kind == "o" or (kind == "f" and got.kind == "f") or (kind in "iu" and got.kind in "iub")
            if not ok_kind or got.itemsize != size:
                expected = {"f": "floating", "i": "integer", "u": "unsigned/bool", "o": "struct"}[kind]
                raise SimLaunchError(
                    f"{name}: argument {i} is a {size}-byte {expected} parameter, "
                    f"got {got.name} ({got.itemsize} bytes)",
                    kernel=name,
                )

    def _error(self, result: _LaunchResult, guarded: GuardedArguments | None) -> SimError:
        message = f"{self.name}: {result.message.decode(errors='replace')}"
        block = tuple(result.block)
        thread = tuple(result.thread)
        if result.status == 1:
            return SimDeadlockError(message, kernel=self.name, block=block, thread=thread)
        if result.status == 2:
            where = guarded.describe(result.fault_addr) if guarded else None
            access = "write" if result.fault_write else "read"
            detail = f" (thread {thread}, {access}"
            detail += f", {where})" if where else ")"
            if where:
                message = f"{self.name}: out-of-bounds {access} {where} in block {block}, thread {thread}"
            else:
                message += detail
            return SimMemoryError(message, kernel=self.name, block=block, thread=thread)
        if result.status == 3:
            return SimTimeoutError(message, kernel=self.name, block=block, thread=thread)
        if result.status == 5:
            return SimTrapError(message, kernel=self.name, block=block, thread=thread)
        return SimLaunchError(message, kernel=self.name, block=block, thread=thread)
