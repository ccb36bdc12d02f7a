"""INT8 calibration against float64 NumPy math written here (and ``np.percentile``), and against
torch.ao's observers and quantizer (PerChannelMinMaxObserver / MinMaxObserver with symmetric qint8,
``torch.quantize_per_channel``), whose definitions the ``"full"`` range and, with quant_min -127, the
``"symmetric"`` range share.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from axon_quant import Int8Observer, calibrate, calibrate_model
from axon_quant.errors import QuantError

HALF_RANGE = {"symmetric": 127.0, "full": 127.5}
QRANGE = {"symmetric": (-127, 127), "full": (-128, 127)}


def f32(x) -> np.ndarray:
    """Round float64 results to float32 once (exact for one +, -, *, / of float32 operands)."""
    return np.asarray(x, dtype=np.float64).astype(np.float32)


def expected_scales(amax64: np.ndarray, scheme: str) -> np.ndarray:
    return np.maximum(f32(f32(amax64).astype(np.float64) / HALF_RANGE[scheme]), np.finfo(np.float32).eps)


def expected_q(x: np.ndarray, scales: np.ndarray, scheme: str, axis: int) -> np.ndarray:
    shape = [1] * x.ndim
    shape[axis] = -1
    inverse = f32(1.0 / scales.astype(np.float64)).astype(np.float64).reshape(shape)
    product = f32(x.astype(np.float64) * inverse).astype(np.float64)
    return np.clip(np.rint(product), *QRANGE[scheme]).astype(np.int8)


def weights(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((48, 300)) * rng.uniform(0.01, 3, (48, 1))
    w[5] = 0.0  # an all-zero row: the scale floors at float32 eps
    w[7, 11] = 40.0  # an outlier the percentile clips
    return w.astype(np.float32)


@pytest.mark.parametrize("scheme", ["symmetric", "full"])
def test_minmax_per_row_equals_float64_math(scheme):
    w = weights()
    cal = calibrate(w, scheme=scheme)
    scales = expected_scales(np.max(np.abs(w.astype(np.float64)), axis=1), scheme)
    np.testing.assert_array_equal(cal.scales, scales)
    q = cal.quantize(w)
    np.testing.assert_array_equal(q, expected_q(w, scales, scheme, 0))
    assert q.dtype == np.int8 and q.min() >= QRANGE[scheme][0] and not q[5].any()
    np.testing.assert_array_equal(cal.dequantize(q), f32(q.astype(np.float64) * scales[:, None]))


@pytest.mark.parametrize("p", [99.9, 99.0, 50.0, 100.0, 0.0])
def test_percentile_equals_np_percentile(p):
    w = weights(1)
    cal = calibrate(w, method="percentile", percentile=p)
    amax = np.percentile(np.abs(w.astype(np.float64)), p, axis=1)
    np.testing.assert_array_equal(cal.scales, expected_scales(amax, "symmetric"))
    q = cal.quantize(w)
    np.testing.assert_array_equal(q, expected_q(w, cal.scales, "symmetric", 0))
    if p < 100:
        assert q[7, 11] == 127  # the outlier saturates


def test_error_report_equals_float64_math():
    w = weights(2)
    cal = calibrate(w, method="percentile", percentile=99.0)
    err = cal.error(w)
    diff = cal.dequantize(cal.quantize(w)).astype(np.float64) - w.astype(np.float64)
    assert err.rms == pytest.approx(math.sqrt(np.mean(diff**2)), rel=1e-12)
    assert err.max_abs == np.max(np.abs(diff))
    assert err.snr_db == pytest.approx(10 * math.log10(np.sum(w.astype(np.float64) ** 2) / np.sum(diff**2)), rel=1e-12)
    assert calibrate(np.zeros((2, 4), np.float32)).error(np.zeros((2, 4), np.float32)).snr_db == math.inf


def test_observer_over_batches_equals_calibrating_all_at_once():
    rng = np.random.default_rng(3)
    batches = [rng.standard_normal((4, 7, 16)).astype(np.float32) * (i + 1) for i in range(3)]
    everything = np.concatenate([b.reshape(-1, 16) for b in batches])
    for method in ("minmax", "percentile"):
        obs = Int8Observer(axis=-1, method=method, percentile=99.5)
        for b in batches:
            obs.observe(b)
        cal = obs.calibration()
        amax = (
            np.max(np.abs(everything), axis=0)
            if method == "minmax"
            else np.percentile(np.abs(everything.astype(np.float64)), 99.5, axis=0)
        )
        np.testing.assert_array_equal(cal.scales, expected_scales(amax, "symmetric"))
        np.testing.assert_array_equal(cal.quantize(batches[0]), expected_q(batches[0], cal.scales, "symmetric", -1))


def test_per_tensor_calibration():
    w = weights(4)
    cal = calibrate(w, axis=None, scheme="full")
    np.testing.assert_array_equal(cal.scales, expected_scales(np.array([np.max(np.abs(w))]), "full"))
    np.testing.assert_array_equal(cal.quantize(w), expected_q(w, np.repeat(cal.scales, w.shape[0]), "full", 0))


def test_calibrate_model_skips_1d_and_names_tensors():
    w = weights(5)
    out = calibrate_model({"a.weight": w, "a_norm.weight": np.ones(300, np.float32)}, method="percentile")
    assert list(out) == ["a.weight"]
    result = out["a.weight"]
    np.testing.assert_array_equal(result.values, result.calibration.quantize(w))
    assert result.error == result.calibration.error(w)
    bad = w.copy()
    bad[3, 4] = np.inf
    with pytest.raises(QuantError, match=r"tensor 'b': int8 calibrate: tensor of shape \[48, 300\] .* \[3, 4\]"):
        calibrate_model({"b": bad})


def test_bad_arguments():
    w = weights(6)
    with pytest.raises(QuantError, match="unknown int8 calibration method 'mse'"):
        calibrate(w, method="mse")
    with pytest.raises(QuantError, match="unknown int8 range 'asym'"):
        calibrate(w, scheme="asym")
    with pytest.raises(QuantError, match=r"percentile must be within \[0, 100\], got 120"):
        calibrate(w, method="percentile", percentile=120)
    with pytest.raises(QuantError, match=r"axis 2 is out of range for a tensor of shape \[48, 300\]"):
        calibrate(w, axis=2)
    cal = calibrate(w)
    with pytest.raises(QuantError, match=r"48 channels on axis 0 does not fit a tensor of shape \[300, 48\]"):
        cal.quantize(w.T)
    with pytest.raises(QuantError, match="int8 dequantize takes int8 values, got int16"):
        cal.dequantize(np.zeros((48, 300), np.int16))
    obs = Int8Observer()
    with pytest.raises(QuantError, match="no batch observed yet"):
        obs.calibration()
    obs.observe(np.ones((2, 8), np.float32))
    with pytest.raises(QuantError, match=r"batch of shape \[2, 9\] has 9 channels on axis -1, earlier batches had 8"):
        obs.observe(np.ones((2, 9), np.float32))


# ---- torch.ao as the oracle ----


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    return torch


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:torch.quantize_per:UserWarning")
@pytest.mark.parametrize("scheme", ["symmetric", "full"])
def test_per_channel_equals_torch_ao(torch, scheme):
    from torch.ao.quantization import PerChannelMinMaxObserver

    w = weights(7)
    qmin, qmax = QRANGE[scheme]
    observer = PerChannelMinMaxObserver(
        ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric, quant_min=qmin, quant_max=qmax
    )
    observer(torch.from_numpy(w))
    scales, zero_points = observer.calculate_qparams()
    cal = calibrate(w, scheme=scheme)
    np.testing.assert_array_equal(cal.scales, scales.numpy())
    assert not zero_points.any()
    qt = torch.quantize_per_channel(torch.from_numpy(w), scales, zero_points, 0, torch.qint8)
    np.testing.assert_array_equal(cal.quantize(w), qt.int_repr().numpy())
    np.testing.assert_array_equal(cal.dequantize(cal.quantize(w)), qt.dequantize().numpy())


@pytest.mark.torch
def test_activation_observer_equals_torch_ao(torch):
    from torch.ao.quantization import MinMaxObserver, PerChannelMinMaxObserver

    rng = np.random.default_rng(8)
    batches = [(rng.standard_normal((5, 3, 24)) * rng.uniform(0.1, 4, 24)).astype(np.float32) for _ in range(4)]
    per_channel = PerChannelMinMaxObserver(ch_axis=-1, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    per_tensor = MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
    ours, ours_tensor = Int8Observer(axis=-1, scheme="full"), Int8Observer(axis=None, scheme="full")
    for b in batches:
        per_channel(torch.from_numpy(b))
        per_tensor(torch.from_numpy(b))
        ours.observe(b)
        ours_tensor.observe(b)
    np.testing.assert_array_equal(ours.calibration().scales, per_channel.calculate_qparams()[0].numpy())
    tensor_scale = per_tensor.calculate_qparams()[0].numpy().reshape(1)
    np.testing.assert_array_equal(ours_tensor.calibration().scales, tensor_scale)


@pytest.mark.torch
def test_percentile_equals_torch_quantile(torch):
    w = weights(9).astype(np.float64)
    cal = calibrate(w, method="percentile", percentile=99.9)
    amax = torch.quantile(torch.from_numpy(np.abs(w)), 0.999, dim=1).numpy()
    np.testing.assert_allclose(f32(amax), f32(np.percentile(np.abs(w), 99.9, axis=1)), rtol=0, atol=0)
    np.testing.assert_array_equal(cal.scales, expected_scales(amax, "symmetric"))
