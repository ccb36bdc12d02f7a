import pickle

import numpy as np
import pytest

import axon_tensor as at
from axon_core import DTypeError, ShapeError
from axon_data.transforms import Compose, Lambda, Normalize, OneHot, ToDevice, ToDtype, ToTensor


def test_normalize_per_channel_matches_numpy():
    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    mean, std = [0.5, -1.0, 2.0], [0.25, 2.0, 1.5]
    out = Normalize(mean, std)(at.tensor(x))
    expected = (x - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    assert out.dtype == at.float32


def test_normalize_scalar_stats_float64_and_nan():
    x = np.array([[1.0, np.nan, np.inf]])
    out = Normalize(1.0, 2.0)(at.tensor(x)).numpy()
    np.testing.assert_array_equal(out, (x - 1.0) / 2.0)


def test_normalize_errors():
    with pytest.raises(DTypeError, match="int64"):
        Normalize([0.0], [1.0])(at.tensor([[1, 2]]))
    with pytest.raises(ShapeError, match="2 values"):
        Normalize([0.0, 1.0], [1.0, 1.0])(at.zeros(3, 2))
    with pytest.raises(ShapeError, match="0-d"):
        Normalize(0.0, 1.0)(at.tensor(1.0))
    with pytest.raises(ValueError, match="zero"):
        Normalize([0.0], [0.0])


def test_one_hot_matches_numpy_eye():
    ids = np.array([[0, 3], [2, 1]])
    out = OneHot(5)(at.tensor(ids))
    assert out.dtype == at.int64 and out.shape == (2, 2, 5)
    np.testing.assert_array_equal(out.numpy(), np.eye(5, dtype=np.int64)[ids])
    inferred = OneHot()(at.tensor([1, 0, 2]))
    np.testing.assert_array_equal(inferred.numpy(), np.eye(3, dtype=np.int64)[[1, 0, 2]])
    scalar = OneHot(4, dtype="float32")(3)
    np.testing.assert_array_equal(scalar.numpy(), np.eye(4, dtype=np.float32)[3])
    assert OneHot(3)(at.zeros(0, dtype="int64")).shape == (0, 3)


def test_one_hot_errors():
    with pytest.raises(ValueError, match="out of range"):
        OneHot(3)(at.tensor([3]))
    with pytest.raises(ValueError, match="non-negative"):
        OneHot(3)(at.tensor([-1]))
    with pytest.raises(DTypeError):
        OneHot(3)(at.tensor([1.0]))
    with pytest.raises(ValueError, match="empty"):
        OneHot()(at.zeros(0, dtype="int64"))
    with pytest.raises(ValueError):
        OneHot(0)


def test_compose_dtype_device_and_pickling():
    pipeline = Compose([ToTensor(), ToDtype("float64"), Normalize([2.0], [4.0]), ToDevice("cpu")])
    out = pipeline(np.array([[2.0, 6.0]], dtype=np.float32))
    assert out.dtype == at.float64 and str(out.device) == "cpu"
    np.testing.assert_array_equal(out.numpy(), [[0.0, 1.0]])
    again = pickle.loads(pickle.dumps(pipeline))
    np.testing.assert_array_equal(again(np.array([[10.0]])).numpy(), [[2.0]])
    moved = ToDevice("cpu")({"a": at.zeros(1), "b": [at.ones(1)], "c": 3})
    assert moved["c"] == 3 and moved["b"][0].tolist() == [1.0]
    assert Lambda(lambda v: v * 2)(3) == 6
    with pytest.raises(TypeError):
        Lambda(3)
