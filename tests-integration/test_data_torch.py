"""axon-data against PyTorch's data utilities: collation, batch order, split sizes."""

from collections import namedtuple

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader as TorchLoader  # noqa: E402
from torch.utils.data import default_collate as torch_collate  # noqa: E402
from torch.utils.data import random_split as torch_random_split  # noqa: E402

import axon_tensor as at  # noqa: E402
from axon_data import DataLoader, Dataset, default_collate, random_split  # noqa: E402

pytestmark = pytest.mark.torch

Pair = namedtuple("Pair", "left right")


def _same(ours, theirs):
    """Structure, dtype and values of an axon batch equal those of a torch batch."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, at.Tensor)
        assert str(theirs.dtype).removeprefix("torch.") == ours.dtype.name.replace("bool_", "bool")
        assert tuple(theirs.shape) == ours.shape
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs)
        for key in theirs:
            _same(ours[key], theirs[key])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    else:
        assert ours == theirs


def _sample(k, lib):
    rng = np.random.default_rng(k)
    image = rng.standard_normal((2, 3)).astype(np.float32)
    make = (lambda a: at.tensor(a)) if lib == "axon" else (lambda a: torch.tensor(a))
    return {
        "image": make(image),
        "strided": make(np.ascontiguousarray(image[:, ::2])),
        "label": k,
        "weight": 0.5 * k,
        "flag": k % 2 == 0,
        "np": np.arange(3, dtype=np.int16) + k,
        "np_scalar": np.float64(k) / 3,
        "name": f"s{k}",
        "meta": (k, [float(k), float(-k)], {"inner": make(np.array([k, k + 1]))}),
        "pair": Pair(make(np.float64(k)), f"r{k}"),
        "nan": float("nan") if k == 1 else float("inf"),
    }


@pytest.mark.parametrize("size", [1, 3])
def test_default_collate_matches_torch_on_nested_samples(size):
    ours = default_collate([_sample(k, "axon") for k in range(size)])
    theirs = torch_collate([_sample(k, "torch") for k in range(size)])
    _same(ours, theirs)


def test_default_collate_matches_torch_on_plain_types():
    for batch in (
        [1, 2, 3],
        [1.5, 2.5],
        [True, False],
        [np.int32(1), np.int32(2)],
        [(1, "a"), (2, "b")],
        [[1, 2], [3, 4]],
    ):
        _same(default_collate(batch), torch_collate(batch))


class Numbers(Dataset):
    def __len__(self):
        return 23

    def __getitem__(self, i):
        return {"x": np.full(2, i, dtype=np.float32), "y": i}


@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (4, False), (4, True), (23, False), (50, True)])
def test_sequential_batches_match_torch(batch_size, drop_last):
    ours = list(DataLoader(Numbers(), batch_size=batch_size, drop_last=drop_last))
    theirs = list(TorchLoader(Numbers(), batch_size=batch_size, drop_last=drop_last))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        _same(a, b)


@pytest.mark.filterwarnings("ignore:Length of split")
@pytest.mark.parametrize("fractions", [[0.3, 0.7], [0.34, 0.33, 0.33], [0.1] * 10, [0.5, 0.5]])
def test_random_split_sizes_match_torch(fractions):
    for n in (0, 7, 10, 101):
        ours = [len(s) for s in random_split(list(range(n)), fractions, generator=at.Generator(0))]
        theirs = [
            len(s) for s in torch_random_split(list(range(n)), fractions, generator=torch.Generator().manual_seed(0))
        ]
        assert ours == theirs
