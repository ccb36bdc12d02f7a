from collections import OrderedDict, namedtuple

import numpy as np
import pytest

import axon_tensor as at
from axon_core import ShapeError
from axon_data import default_collate, default_convert

Point = namedtuple("Point", "x y")


def test_tensors_stack_on_a_new_first_dim():
    samples = [np.arange(6, dtype=np.float32).reshape(2, 3) + k for k in range(4)]
    out = default_collate([at.tensor(s) for s in samples])
    assert out.dtype == at.float32
    np.testing.assert_array_equal(out.numpy(), np.stack(samples))


def test_zero_d_and_empty_tensors():
    out = default_collate([at.tensor(1.5), at.tensor(2.5)])
    np.testing.assert_array_equal(out.numpy(), np.array([1.5, 2.5], dtype=np.float32))
    empty = default_collate([at.zeros(0, 3), at.zeros(0, 3)])
    assert empty.shape == (2, 0, 3)


def test_non_contiguous_tensors():
    base = np.arange(24, dtype=np.int64).reshape(4, 6)
    views = [at.from_numpy(base[:, ::2]), at.from_numpy(base[:, 1::2])]
    np.testing.assert_array_equal(default_collate(views).numpy(), np.stack([base[:, ::2], base[:, 1::2]]))


def test_mixed_dtypes_promote_like_torch():
    out = default_collate([at.tensor([1, 2]), at.tensor([0.5, 1.5])])
    assert out.dtype == at.float32
    np.testing.assert_array_equal(out.numpy(), np.array([[1, 2], [0.5, 1.5]], dtype=np.float32))


def test_numbers():
    ints = default_collate([1, 2, 3])
    assert ints.dtype == at.int64 and ints.tolist() == [1, 2, 3]
    floats = default_collate([1.0, 2.5])
    assert floats.dtype == at.float64 and floats.tolist() == [1.0, 2.5]
    bools = default_collate([True, False])
    assert bools.dtype == at.bool_ and bools.tolist() == [True, False]
    nps = default_collate([np.float16(1.5), np.float16(2)])
    assert nps.dtype == at.float16 and nps.tolist() == [1.5, 2.0]
    nan = default_collate([float("nan"), float("inf")]).numpy()
    assert np.isnan(nan[0]) and np.isinf(nan[1])


def test_numpy_arrays():
    samples = [np.full((2,), k, dtype=np.int32) for k in range(3)]
    out = default_collate(samples)
    assert out.dtype == at.int32
    np.testing.assert_array_equal(out.numpy(), np.stack(samples))
    with pytest.raises(TypeError, match="found <U"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_nested_structures():
    batch = [{"x": at.tensor([float(k), 0.0]), "meta": (k, f"id{k}"), "p": Point(k, [k, k + 1])} for k in range(3)]
    out = default_collate(batch)
    np.testing.assert_array_equal(out["x"].numpy(), np.array([[0, 0], [1, 0], [2, 0]], dtype=np.float32))
    ids, names = out["meta"]  # a tuple comes back as a list
    assert isinstance(out["meta"], list) and ids.tolist() == [0, 1, 2] and names == ("id0", "id1", "id2")
    assert isinstance(out["p"], Point)
    assert out["p"].x.tolist() == [0, 1, 2]
    assert [t.tolist() for t in out["p"].y] == [[0, 1, 2], [1, 2, 3]]
    ordered = default_collate([OrderedDict(b=1, a=2), OrderedDict(b=3, a=4)])
    assert isinstance(ordered, OrderedDict) and list(ordered) == ["b", "a"]


def test_errors():
    with pytest.raises(ShapeError, match=r"\(2,\).*\(3,\)"):
        default_collate([at.zeros(2), at.zeros(3)])
    with pytest.raises(ShapeError, match="same length"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="found"):
        default_collate([object(), object()])
    with pytest.raises(ValueError, match="empty"):
        default_collate([])
    with pytest.raises(KeyError):
        default_collate([{"a": 1}, {"b": 2}])


def test_default_convert():
    array = np.arange(3.0)
    out = default_convert({"a": array, "b": (np.int64(4), "s"), "c": [1, 2]})
    assert isinstance(out["a"], at.Tensor)
    array[0] = 9.0  # shares memory, as torch.as_tensor does
    assert out["a"].tolist() == [9.0, 1.0, 2.0]
    assert out["b"][0].item() == 4 and out["b"][1] == "s" and isinstance(out["b"], list)
    assert out["c"] == [1, 2]
