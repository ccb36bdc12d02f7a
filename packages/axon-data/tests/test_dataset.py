import numpy as np
import pytest

import axon_tensor as at
from axon_core import ShapeError
from axon_data import ConcatDataset, Dataset, Subset, TensorDataset, random_split


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i


def test_tensor_dataset_rows_match_numpy():
    x = np.arange(24, dtype=np.float32).reshape(6, 2, 2)
    y = np.arange(6) * 10
    ds = TensorDataset(at.tensor(x), at.tensor(y))
    assert len(ds) == 6
    for i in range(-6, 6):
        xi, yi = ds[i]
        np.testing.assert_array_equal(xi.numpy(), x[i])
        assert yi.shape == () and yi.item() == y[i]


def test_tensor_dataset_row_of_non_contiguous_tensor():
    base = np.arange(12, dtype=np.float64).reshape(3, 4)
    strided = base[:, ::2]
    ds = TensorDataset(at.tensor(base), at.from_numpy(strided))
    assert len(ds) == 3
    assert not at.from_numpy(strided).is_contiguous()
    for i in range(3):
        np.testing.assert_array_equal(ds[i][1].numpy(), base[i, ::2])


def test_tensor_dataset_errors():
    with pytest.raises(ShapeError, match=r"\(3,\).*\(4,\)"):
        TensorDataset(at.zeros(3), at.zeros(4))
    with pytest.raises(ShapeError, match="0-d"):
        TensorDataset(at.tensor(1.0))
    with pytest.raises(TypeError):
        TensorDataset(np.zeros(3))
    with pytest.raises(ValueError):
        TensorDataset()
    with pytest.raises(IndexError, match="out of range"):
        TensorDataset(at.zeros(3))[3]


def test_tensor_dataset_empty():
    ds = TensorDataset(at.zeros(0, 5))
    assert len(ds) == 0
    with pytest.raises(IndexError):
        ds[0]


def test_concat_dataset_matches_list_concatenation():
    parts = [Squares(3), Squares(0), Squares(5), Squares(1)]
    expected = [i * i for i in range(3)] + [i * i for i in range(5)] + [0]
    ds = ConcatDataset(parts)
    assert len(ds) == len(expected)
    assert [ds[i] for i in range(len(ds))] == expected
    assert [ds[i] for i in range(-len(ds), 0)] == expected
    with pytest.raises(IndexError):
        ds[len(expected)]
    assert [(Squares(2) + Squares(2))[i] for i in range(4)] == [0, 1, 0, 1]


def test_subset_maps_indices():
    sub = Subset(Squares(10), [7, 2, 2, 9])
    assert len(sub) == 4
    assert [sub[i] for i in range(4)] == [49, 4, 4, 81]
    assert sub.__getitems__([3, 0]) == [81, 49]


@pytest.mark.parametrize("lengths", [[3, 7], [0, 10], [5, 2, 3], [0.3, 0.7], [0.34, 0.33, 0.33], [1.0]])
def test_random_split_sizes_disjoint_and_covering(lengths):
    ds = Squares(10)
    parts = random_split(ds, lengths, generator=at.Generator(5))
    if all(isinstance(v, int) for v in lengths):
        expected = list(lengths)
    else:
        # PyTorch's rule, recomputed: floor of each fraction, the remainder dealt round-robin.
        expected = [int(np.floor(10 * f)) for f in lengths]
        for k in range(10 - sum(expected)):
            expected[k % len(expected)] += 1
    assert [len(p) for p in parts] == expected
    indices = [i for p in parts for i in p.indices]
    assert sorted(indices) == list(range(10))
    order = np.random.Generator(np.random.PCG64(5)).permutation(10).tolist()
    assert indices == order
    assert [p[0] for p in parts if len(p)] == [p.indices[0] ** 2 for p in parts if len(p)]


def test_random_split_errors():
    with pytest.raises(ValueError, match="sum to 9"):
        random_split(Squares(10), [4, 5])
    with pytest.raises(ValueError, match="fractions"):
        random_split(Squares(10), [0.5, 0.6])
    with pytest.raises(ValueError, match="negative"):
        random_split(Squares(10), [-1, 11])
