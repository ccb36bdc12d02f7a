"""The selective scan against a NumPy float64 reference, float64 finite differences, torch's
autograd through the same recurrence, and (under cuda-sim) the CUDA kernels against the CPU's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import axon_tensor
from axon_autograd import Variable, gradcheck
from axon_core import Device, DeviceError, DTypeError, ShapeError
from axon_llm.ops import selective_scan

NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias", "initial_state")


def draw(rng: np.random.Generator, batch: int, length: int, channels: int, states: int, dtype=np.float64) -> dict:
    """Inputs in Mamba's ranges: A = -exp(A_log) negative, delta around softplus's knee."""
    values = {
        "u": rng.standard_normal((batch, length, channels)),
        "delta": rng.standard_normal((batch, length, channels)) * 0.5,
        "A": -np.exp(rng.standard_normal((channels, states)) * 0.5),
        "B": rng.standard_normal((batch, length, states)),
        "C": rng.standard_normal((batch, length, states)),
        "D": rng.standard_normal(channels),
        "z": rng.standard_normal((batch, length, channels)),
        "delta_bias": rng.standard_normal(channels) * 0.5 - 1.0,
        "initial_state": rng.standard_normal((batch, channels, states)),
    }
    return {k: v.astype(dtype) for k, v in values.items()}


def reference(values: dict, softplus: bool, gated: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The recurrence in float64 NumPy, vectorised over batch, channels and states."""
    v = {k: np.asarray(a, np.float64) for k, a in values.items()}
    dt = v["delta"] + v["delta_bias"]
    if softplus:
        dt = np.where(dt > 20, dt, np.log1p(np.exp(np.minimum(dt, 20))))
    h = v["initial_state"].copy()
    ys = []
    for t in range(dt.shape[1]):
        step = dt[:, t, :, None]
        h = np.exp(step * v["A"][None]) * h + step * v["B"][:, t, None, :] * v["u"][:, t, :, None]
        ys.append(np.einsum("bdn,bn->bd", h, v["C"][:, t]))
    y = np.stack(ys, 1) + v["D"] * v["u"]
    if gated:
        y = y * v["z"] / (1 + np.exp(-v["z"]))
    return y, h


def as_variables(values: dict, device: str = "cpu", requires_grad: bool = False) -> dict:
    return {
        k: Variable(axon_tensor.from_numpy(np.ascontiguousarray(a)).to(device), requires_grad=requires_grad)
        for k, a in values.items()
    }


@pytest.mark.parametrize("softplus", [True, False])
@pytest.mark.parametrize("gated", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_matches_numpy_float64(softplus, gated, dtype):
    values = draw(np.random.default_rng(1), 2, 37, 5, 6, dtype)
    if not softplus:
        values["delta_bias"] = values["delta_bias"] + 3.0  # keep dt positive without the softplus
    inputs = as_variables(values)
    if not gated:
        inputs["z"] = None
    out, last = selective_scan(**inputs, delta_softplus=softplus)
    want_out, want_last = reference(values, softplus, gated)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(out.numpy(), want_out, rtol=tol, atol=tol * np.abs(want_out).max())
    np.testing.assert_allclose(last.numpy(), want_last, rtol=tol, atol=tol * np.abs(want_last).max())
    assert out.dtype.name == np.dtype(dtype).name


def test_optional_inputs_default_to_zero():
    """No D, no bias, no initial state: the same as passing zeros."""
    values = draw(np.random.default_rng(2), 1, 9, 3, 4)
    for name in ("D", "delta_bias", "initial_state"):
        values[name] = np.zeros_like(values[name])
    inputs = as_variables(values)
    out, last = selective_scan(
        inputs["u"], inputs["delta"], inputs["A"], inputs["B"], inputs["C"], z=inputs["z"], delta_softplus=True
    )
    want_out, want_last = reference(values, True)
    np.testing.assert_allclose(out.numpy(), want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(last.numpy(), want_last, rtol=1e-12, atol=1e-12)


def test_chunked_scan_equals_one_scan():
    """Running the sequence in two pieces, the second from the first's last state, is the
    recurrent form generation uses (a piece of one step is one decode step)."""
    values = draw(np.random.default_rng(3), 2, 12, 4, 3)
    inputs = as_variables(values)
    whole, whole_last = selective_scan(**inputs, delta_softplus=True)
    state = inputs["initial_state"]
    pieces = []
    for lo, hi in ((0, 7), (7, 8), (8, 12)):
        part = {k: inputs[k][:, lo:hi] for k in ("u", "delta", "B", "C", "z")}
        out, state = selective_scan(
            part["u"],
            part["delta"],
            inputs["A"],
            part["B"],
            part["C"],
            inputs["D"],
            part["z"],
            inputs["delta_bias"],
            delta_softplus=True,
            initial_state=state,
        )
        pieces.append(out.numpy())
    np.testing.assert_allclose(np.concatenate(pieces, 1), whole.numpy(), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(state.numpy(), whole_last.numpy(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("softplus", [True, False])
@pytest.mark.parametrize("gated", [True, False])
def test_gradcheck_float64_every_input(softplus, gated):
    """Finite differences in float64 through both outputs, for all nine inputs at once."""
    values = draw(np.random.default_rng(4), 2, 5, 3, 4)
    if not softplus:
        values["delta_bias"] = values["delta_bias"] + 3.0
    inputs = as_variables(values, requires_grad=True)
    if not gated:
        inputs["z"] = None
    names = [k for k in NAMES if inputs[k] is not None]

    def fn(*args):
        return selective_scan(**dict(zip(names, args)), delta_softplus=softplus)

    assert gradcheck(fn, [inputs[k] for k in names], eps=1e-6, atol=1e-7, rtol=1e-6)


def torch_scan(t: dict, softplus: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The recurrence as torch ops (an independent autograd for larger sizes than gradcheck takes)."""
    dt = t["delta"] + t["delta_bias"]
    if softplus:
        dt = torch.nn.functional.softplus(dt)
    h = t["initial_state"]
    ys = []
    for i in range(dt.shape[1]):
        step = dt[:, i, :, None]
        h = torch.exp(step * t["A"][None]) * h + step * t["B"][:, i, None, :] * t["u"][:, i, :, None]
        ys.append(torch.einsum("bdn,bn->bd", h, t["C"][:, i]))
    y = (torch.stack(ys, 1) + t["D"] * t["u"]) * torch.nn.functional.silu(t["z"])
    return y, h


def scan_gradients(values: dict, device: str, softplus: bool, weights: tuple[np.ndarray, np.ndarray]) -> dict:
    """Every input's gradient of ``sum(out * w_out) + sum(last * w_last)`` through axon on ``device``."""
    inputs = as_variables(values, device, requires_grad=True)
    out, last = selective_scan(**inputs, delta_softplus=softplus)
    w_out, w_last = (Variable(axon_tensor.from_numpy(w).to(device)) for w in weights)
    ((out * w_out).sum() + (last * w_last).sum()).backward()
    grads = {k: inputs[k].grad.numpy() for k in NAMES}
    grads["out"], grads["last"] = out.detach().numpy(), last.detach().numpy()
    return grads


@pytest.mark.parametrize("softplus", [True, False])
def test_backward_matches_torch_autograd(softplus):
    rng = np.random.default_rng(5)
    values = draw(rng, 3, 70, 6, 16)
    if not softplus:
        values["delta_bias"] = values["delta_bias"] + 3.0
    weights = (rng.standard_normal((3, 70, 6)), rng.standard_normal((3, 6, 16)))
    ours = scan_gradients(values, "cpu", softplus, weights)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in values.items()}
    out, last = torch_scan(t, softplus)
    ((out * torch.tensor(weights[0])).sum() + (last * torch.tensor(weights[1])).sum()).backward()
    for k in NAMES:
        want = t[k].grad.numpy()
        np.testing.assert_allclose(ours[k], want, rtol=1e-10, atol=1e-10 * np.abs(want).max(), err_msg=k)


@pytest.fixture
def launches(monkeypatch):
    """Kernel names launched on cuda-sim during a test (debug mode: guard pages around every array)."""
    monkeypatch.setenv("AXON_SIM_DEBUG", "1")
    backend = Device("cuda-sim").backend
    names: list[str] = []
    launch = backend.launch

    def counting(kernel, name, *args, **kwargs):
        names.append(name)
        return launch(kernel, name, *args, **kwargs)

    monkeypatch.setattr(backend, "launch", counting)
    return names


@pytest.mark.parametrize("states", [4, 16, 17, 64])
def test_cuda_sim_kernels_match_the_cpu(states, launches):
    """The CUDA kernels (fwd and bwd, under cuda-sim) against the Numba ones, float32 inputs:
    channels across a block boundary, length across checkpoint chunks, each state bound."""
    rng = np.random.default_rng(6)
    batch, length, channels = 2, 70, 130 if states <= 16 else 33
    values = draw(rng, batch, length, channels, states, np.float32)
    weights = tuple(
        rng.standard_normal(shape).astype(np.float32)
        for shape in ((batch, length, channels), (batch, channels, states))
    )
    cpu = scan_gradients(values, "cpu", True, weights)
    sim = scan_gradients(values, "cuda-sim", True, weights)
    want_out, want_last = reference(values, True)
    np.testing.assert_allclose(sim["out"], want_out, rtol=1e-4, atol=1e-4 * np.abs(want_out).max())
    np.testing.assert_allclose(sim["last"], want_last, rtol=1e-4, atol=1e-4 * np.abs(want_last).max())
    bound = next(b for b in (16, 32, 64) if b >= states)
    assert launches == [f"selective_scan_fwd_n{bound}", f"selective_scan_bwd_n{bound}"]
    for k in NAMES:
        scale = np.abs(cpu[k]).max()
        np.testing.assert_allclose(sim[k], cpu[k], rtol=1e-3, atol=2e-5 * scale, err_msg=k)


def test_cuda_sim_without_gate_or_softplus(launches):
    rng = np.random.default_rng(7)
    values = draw(rng, 1, 40, 7, 5, np.float32)
    values["delta_bias"] += 3.0
    for device in ("cpu", "cuda-sim"):
        inputs = as_variables(values, device)
        inputs["z"] = None
        out, last = selective_scan(**inputs)
        want_out, want_last = reference(values, False, gated=False)
        np.testing.assert_allclose(out.numpy(), want_out, rtol=1e-4, atol=1e-4 * np.abs(want_out).max())
        np.testing.assert_allclose(last.numpy(), want_last, rtol=1e-4, atol=1e-4 * np.abs(want_last).max())
    assert launches == ["selective_scan_fwd_n16"]


def test_bad_inputs_get_typed_errors():
    values = draw(np.random.default_rng(8), 1, 4, 3, 2)
    inputs = as_variables(values)
    with pytest.raises(ShapeError, match="B must be"):
        selective_scan(inputs["u"], inputs["delta"], inputs["A"], inputs["C"][:, :, :1], inputs["C"])
    with pytest.raises(DTypeError, match="share a dtype"):
        selective_scan(inputs["u"], inputs["delta"].to("float32"), inputs["A"], inputs["B"], inputs["C"])
    with pytest.raises(DeviceError, match="cuda-sim"):
        selective_scan(inputs["u"], inputs["delta"], inputs["A"].to("cuda-sim"), inputs["B"], inputs["C"])
    sim = as_variables(values, "cuda-sim")
    with pytest.raises(DTypeError, match="float32"):
        selective_scan(sim["u"], sim["delta"], sim["A"], sim["B"], sim["C"])
