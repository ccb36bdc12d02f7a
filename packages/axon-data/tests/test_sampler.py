import math

import numpy as np
import pytest

import axon_tensor as at
from axon_core import ShapeError
from axon_data import (
    BatchSampler,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)


def _rng(seed):
    return np.random.Generator(np.random.PCG64(seed))


def test_sequential_sampler():
    assert list(SequentialSampler(range(5))) == [0, 1, 2, 3, 4]
    assert list(SequentialSampler([])) == []
    assert len(SequentialSampler(range(7))) == 7


def test_random_sampler_is_numpy_permutation_of_generator_stream():
    g = at.Generator(11)
    sampler = RandomSampler(range(9), generator=g)
    rng = _rng(11)
    for _ in range(3):  # successive epochs continue the same stream
        assert list(sampler) == rng.permutation(9).tolist()


def test_random_sampler_num_samples_larger_than_dataset_chains_permutations():
    sampler = RandomSampler(range(4), num_samples=10, generator=at.Generator(3))
    rng = _rng(3)
    expected = np.concatenate([rng.permutation(4) for _ in range(3)])[:10].tolist()
    got = list(sampler)
    assert got == expected and len(sampler) == 10
    assert sorted(got[:4]) == [0, 1, 2, 3] and sorted(got[4:8]) == [0, 1, 2, 3]


def test_random_sampler_with_replacement():
    sampler = RandomSampler(range(5), replacement=True, num_samples=50, generator=at.Generator(2))
    assert list(sampler) == _rng(2).integers(0, 5, size=50).tolist()


def test_random_sampler_default_generator_is_seeded_by_manual_seed():
    at.manual_seed(123)
    first = list(RandomSampler(range(20)))
    at.manual_seed(123)
    assert list(RandomSampler(range(20))) == first
    assert sorted(first) == list(range(20))


def test_random_sampler_empty_and_bad_args():
    assert list(RandomSampler([], generator=at.Generator(0))) == []
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(range(3), num_samples=0)


def test_subset_random_sampler():
    indices = [10, 20, 30, 40]
    got = list(SubsetRandomSampler(indices, generator=at.Generator(4)))
    assert got == [indices[i] for i in _rng(4).permutation(4)]


def test_weighted_sampler_frequencies_match_weights():
    weights = np.array([1.0, 2.0, 0.0, 5.0, 0.5])
    n = 40_000
    sampler = WeightedRandomSampler(weights, num_samples=n, generator=at.Generator(7))
    counts = np.bincount(np.array(list(sampler)), minlength=5)
    p = weights / weights.sum()
    # 5 binomial standard deviations: a seeded draw that is right cannot fail this.
    tolerance = 5 * np.sqrt(n * p * (1 - p))
    assert counts[2] == 0
    assert np.all(np.abs(counts - n * p) <= tolerance + 1e-9), (counts, n * p, tolerance)


def test_weighted_sampler_without_replacement_draws_distinct_nonzero():
    weights = at.tensor([0.1, 0.0, 3.0, 1.0, 1.0])
    got = list(WeightedRandomSampler(weights, num_samples=4, replacement=False, generator=at.Generator(1)))
    assert sorted(got) == [0, 2, 3, 4]
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler(weights, num_samples=5, replacement=False)


@pytest.mark.parametrize(
    "weights, match",
    [([[1.0, 2.0]], None), ([1.0, -1.0], "non-negative"), ([0.0, 0.0], "not all zero"), ([1.0, math.nan], "finite")],
)
def test_weighted_sampler_rejects_bad_weights(weights, match):
    with pytest.raises((ValueError, ShapeError), match=match):
        WeightedRandomSampler(weights, num_samples=2)


@pytest.mark.parametrize(
    "n, size, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False), (2, 5, True), (0, 2, False)]
)
def test_batch_sampler_matches_python_chunking(n, size, drop_last):
    indices = list(range(n))
    expected = [indices[i : i + size] for i in range(0, n, size)]
    if drop_last and expected and len(expected[-1]) < size:
        expected.pop()
    sampler = BatchSampler(SequentialSampler(indices), size, drop_last)
    assert list(sampler) == expected
    assert len(sampler) == len(expected)


def test_batch_sampler_rejects_bad_size():
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(range(3), 0, False)


@pytest.mark.parametrize(
    "make",
    [
        lambda g: RandomSampler(range(13), generator=g),
        lambda g: RandomSampler(range(5), replacement=True, num_samples=13, generator=g),
        lambda g: WeightedRandomSampler([1.0, 2.0, 3.0], num_samples=13, generator=g),
    ],
)
def test_sampler_state_dict_resumes_mid_epoch(make):
    sampler = make(at.Generator(9))
    it = iter(sampler)
    head = [next(it) for _ in range(5)]
    state = sampler.state_dict()
    rest = list(it)
    next_epoch = list(sampler)

    resumed = make(at.Generator(0))
    resumed.load_state_dict(state)
    assert list(resumed) == rest
    assert list(resumed) == next_epoch  # the generator continues as the uninterrupted one did
    assert head + rest != []


def test_sampler_state_dict_with_default_generator():
    at.manual_seed(5)
    sampler = RandomSampler(range(8))
    it = iter(sampler)
    next(it), next(it)
    state = sampler.state_dict()
    rest = list(it)
    fresh = RandomSampler(range(8))
    fresh.load_state_dict(state)
    assert list(fresh) == rest


def test_sampler_state_dict_before_start_and_bad_state():
    with pytest.raises(RuntimeError, match="no epoch"):
        RandomSampler(range(3)).state_dict()
    with pytest.raises(KeyError):
        RandomSampler(range(3)).load_state_dict({"consumed": 1})
