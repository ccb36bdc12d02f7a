"""A first look at axon: tensors on the CPU, on cuda-sim (the CUDA backend run on the CPU, with a
softmax computed by our CUDA kernel), and on CUDA when a GPU is present."""

from __future__ import annotations

import axon
from axon_core import DeviceUnavailableError


def show(device: str) -> None:
    axon.manual_seed(0)
    a = axon.randn(3, 4, device=device)
    b = axon.ones(4, device=device)
    print(f"--- on {device}")
    print("a =", a)
    print("a + b (broadcast) =", a + b)
    print("a * 2 - 1 =", a * 2 - 1)
    print("softmax(a, dim=1) =", a.softmax(1))
    print("memory:", axon.memory_stats(device))


def main() -> None:
    show("cpu")
    show("cuda-sim")
    try:
        axon.Device("cuda")
    except DeviceUnavailableError as exc:
        print(f"--- no CUDA here: {exc}")
    else:
        show("cuda")


if __name__ == "__main__":
    main()
