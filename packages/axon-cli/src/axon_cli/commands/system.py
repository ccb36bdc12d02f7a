"""``axon gpu``: the CUDA devices, or, on a machine with none, that fact and the cuda-sim device."""

from __future__ import annotations

import json
from typing import Any

import typer

from .._errors import require


def _cuda_devices() -> tuple[list[dict[str, Any]], str | None]:
    """Each GPU's properties (through CuPy, the CUDA backend's library), or ``([], why there are none)``."""
    from axon_core import Device, DeviceError

    try:
        _ = Device("cuda:0").backend  # raises DeviceError when no GPU or CUDA library is here
    except DeviceError as exc:
        return [], str(exc)
    import cupy

    runtime = cupy.cuda.runtime
    driver = runtime.driverGetVersion()
    nvrtc = ".".join(map(str, cupy.cuda.nvrtc.getVersion()))
    devices = []
    for index in range(runtime.getDeviceCount()):
        props = runtime.getDeviceProperties(index)
        with cupy.cuda.Device(index):
            free, total = runtime.memGetInfo()
        name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        devices.append(
            {
                "device": f"cuda:{index}",
                "name": name,
                "compute_capability": f"{props['major']}.{props['minor']}",
                "memory_total_bytes": int(total),
                "memory_free_bytes": int(free),
                "driver_version": f"{driver // 1000}.{driver % 1000 // 10}",
                "nvrtc_version": nvrtc,
            }
        )
    return devices, None


def gpu(as_json: bool = typer.Option(False, "--json", help="print one JSON object")) -> None:
    """The CUDA devices (memory, compute capability, driver and NVRTC versions); with none, says so; cuda-sim."""
    require("axon_core", "cli")
    from axon_core import Device, DeviceError

    devices, why_none = _cuda_devices()
    try:
        _ = Device("cuda-sim").backend
        sim: dict[str, Any] = {"device": "cuda-sim", "available": True}
    except DeviceError as exc:
        sim = {"device": "cuda-sim", "available": False, "error": str(exc)}
    sim["description"] = "axon's CUDA simulator: the CUDA kernels run on the CPU"
    if as_json:
        typer.echo(json.dumps({"cuda": devices, "no_cuda_reason": why_none, "simulators": [sim]}))
        return
    if not devices:
        typer.echo(f"no CUDA GPU on this machine: {why_none}")
    for info in devices:
        typer.echo(
            f"{info['device']}: {info['name']}, compute capability {info['compute_capability']}, "
            f"{info['memory_free_bytes'] / 2**30:.1f} of {info['memory_total_bytes'] / 2**30:.1f} GiB free, "
            f"driver {info['driver_version']}, NVRTC {info['nvrtc_version']}"
        )
    state = "available" if sim["available"] else f"unavailable ({sim['error']})"
    typer.echo(f"cuda-sim: {state} - {sim['description']}")
