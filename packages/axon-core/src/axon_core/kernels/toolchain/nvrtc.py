"""NVRTC through ctypes: CUDA C source → PTX or CUBIN, with no GPU and no CUDA toolkit install.

``libnvrtc`` comes from the ``nvidia-cuda-nvrtc-cu12`` wheel; ``cuda_fp16.h``/``cuda_bf16.h``
come from the ``nvidia-cuda-runtime-cu12`` wheel's include folder.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from dataclasses import dataclass

from ...errors import KernelCompileError

__all__ = ["CompileResult", "compile_source", "nvrtc_version", "runtime_include_dir"]


@dataclass(frozen=True)
class CompileResult:
    """What NVRTC produced: ``image`` (PTX text as bytes, or a CUBIN) and its ``log``."""

    image: bytes
    log: str


def _package_dir(module_name: str) -> str | None:
    try:
        module = __import__(module_name, fromlist=["__path__"])
    except ImportError:
        return None
    paths = list(getattr(module, "__path__", []))
    return paths[0] if paths else None


@functools.cache
def _library() -> ctypes.CDLL:
    candidates = []
    package = _package_dir("nvidia.cuda_nvrtc")
    if package is not None:
        lib_dir = os.path.join(package, "lib")
        if os.path.isdir(lib_dir):
            candidates += sorted(
                os.path.join(lib_dir, name)
                for name in os.listdir(lib_dir)
                if name.startswith("libnvrtc.so") or name.startswith("nvrtc64")
            )
    found = ctypes.util.find_library("nvrtc")
    if found:
        candidates.append(found)
    errors = []
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            errors.append(f"{path}: {exc}")
            continue
        _declare(lib)
        return lib
    raise KernelCompileError(
        "NVRTC is not available: install the nvidia-cuda-nvrtc-cu12 wheel "
        "(pip install 'axon-core[cuda]')" + (f"; tried {', '.join(errors)}" if errors else "")
    )


def _declare(lib: ctypes.CDLL) -> None:
    c_int_p = ctypes.POINTER(ctypes.c_int)
    c_size_p = ctypes.POINTER(ctypes.c_size_t)
    program_p = ctypes.POINTER(ctypes.c_void_p)
    signatures = {
        "nvrtcVersion": [c_int_p, c_int_p],
        "nvrtcCreateProgram": [
            program_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.POINTER(ctypes.c_char_p),
        ],
        "nvrtcCompileProgram": [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)],
        "nvrtcGetProgramLogSize": [ctypes.c_void_p, c_size_p],
        "nvrtcGetProgramLog": [ctypes.c_void_p, ctypes.c_char_p],
        "nvrtcGetPTXSize": [ctypes.c_void_p, c_size_p],
        "nvrtcGetPTX": [ctypes.c_void_p, ctypes.c_char_p],
        "nvrtcGetCUBINSize": [ctypes.c_void_p, c_size_p],
        "nvrtcGetCUBIN": [ctypes.c_void_p, ctypes.c_char_p],
        "nvrtcDestroyProgram": [program_p],
    }
    for name, argtypes in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes = argtypes
        fn.restype = ctypes.c_int
    lib.nvrtcGetErrorString.argtypes = [ctypes.c_int]
    lib.nvrtcGetErrorString.restype = ctypes.c_char_p


@functools.cache
def nvrtc_version() -> tuple[int, int]:
    """(major, minor) of the loaded NVRTC."""
    major, minor = ctypes.c_int(), ctypes.c_int()
    _check(_library().nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
    return major.value, minor.value


@functools.cache
def runtime_include_dir() -> str | None:
    """The include folder holding ``cuda_fp16.h`` (from ``nvidia-cuda-runtime-cu12``), if installed."""
    package = _package_dir("nvidia.cuda_runtime")
    if package is not None and os.path.isfile(os.path.join(package, "include", "cuda_fp16.h")):
        return os.path.join(package, "include")
    for root in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if root and os.path.isfile(os.path.join(root, "include", "cuda_fp16.h")):
            return os.path.join(root, "include")
    return None


def _check(status: int, what: str) -> None:
    if status != 0:
        message = _library().nvrtcGetErrorString(status).decode(errors="replace")
        raise KernelCompileError(f"{what} failed: {message}")


def compile_source(
    source: str, name: str, arch: str, options: tuple[str, ...] = (), target: str = "ptx"
) -> CompileResult:
    """Compile ``source`` for ``arch`` (``"sm_80"``); ``target="ptx"`` or ``"cubin"``.

    PTX is generated for the virtual ``compute_XX`` architecture (ptxas or the driver assemble
    it); a CUBIN for the real ``sm_XX``. Raises :class:`KernelCompileError` naming ``name`` and
    holding NVRTC's log when compilation fails.
    """
    if target not in ("ptx", "cubin"):
        raise ValueError(f"compile_source: target must be 'ptx' or 'cubin', got {target!r}")
    if not arch.startswith("sm_") or not arch[3:].isdigit():
        raise ValueError(f"compile_source: arch must look like 'sm_80', got {arch!r}")
    lib = _library()
    virtual = "compute_" + arch[3:]
    flags = [f"--gpu-architecture={virtual if target == 'ptx' else arch}", "--std=c++17", *options]
    include = runtime_include_dir()
    if include is not None:
        flags.append(f"--include-path={include}")
    program = ctypes.c_void_p()
    _check(
        lib.nvrtcCreateProgram(ctypes.byref(program), source.encode(), f"{name}.cu".encode(), 0, None, None),
        f"nvrtcCreateProgram({name})",
    )
    try:
        encoded = [flag.encode() for flag in flags]
        status = lib.nvrtcCompileProgram(program, len(encoded), (ctypes.c_char_p * len(encoded))(*encoded))
        log = _program_log(lib, program)
        if status != 0:
            reason = lib.nvrtcGetErrorString(status).decode(errors="replace")
            raise KernelCompileError(f"kernel {name!r} failed to compile for {arch} ({reason}):\n{log}")
        size = ctypes.c_size_t()
        if target == "ptx":
            _check(lib.nvrtcGetPTXSize(program, ctypes.byref(size)), "nvrtcGetPTXSize")
            buffer = ctypes.create_string_buffer(size.value)
            _check(lib.nvrtcGetPTX(program, buffer), "nvrtcGetPTX")
            image = buffer.raw.rstrip(b"\0")
        else:
            _check(lib.nvrtcGetCUBINSize(program, ctypes.byref(size)), "nvrtcGetCUBINSize")
            buffer = ctypes.create_string_buffer(size.value)
            _check(lib.nvrtcGetCUBIN(program, buffer), "nvrtcGetCUBIN")
            image = buffer.raw
        return CompileResult(image=image, log=log)
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(program))


def _program_log(lib: ctypes.CDLL, program: ctypes.c_void_p) -> str:
    size = ctypes.c_size_t()
    if lib.nvrtcGetProgramLogSize(program, ctypes.byref(size)) != 0 or size.value <= 1:
        return ""
    buffer = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(program, buffer)
    return buffer.value.decode(errors="replace").strip()
