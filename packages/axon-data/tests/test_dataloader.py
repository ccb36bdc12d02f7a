import gc
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import psutil
import pytest

import axon_tensor as at
from axon_data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    SequentialSampler,
    TensorDataset,
    get_worker_info,
)


def _rng(seed):
    return np.random.Generator(np.random.PCG64(seed))


def _epoch_orders(seed, n, epochs):
    """The documented order, recomputed: per epoch a base seed is drawn, then a permutation."""
    rng = _rng(seed)
    orders = []
    for _ in range(epochs):
        rng.integers(0, 2**62)
        orders.append(rng.permutation(n).tolist())
    return orders


def _chunks(order, size, drop_last):
    out = [order[i : i + size] for i in range(0, len(order), size)]
    return out[:-1] if drop_last and out and len(out[-1]) < size else out


def _ids(loader):
    return [b[1].tolist() for b in loader]


def _dataset(n=11):
    return TensorDataset(at.tensor(np.arange(n * 2, dtype=np.float32).reshape(n, 2)), at.tensor(np.arange(n)))


def _worker_children():
    # multiprocessing's resource tracker (started by the spawn context) lives as long as we do.
    children = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(child.cmdline()):
                children.append(child)
        except psutil.NoSuchProcess:
            pass
    return children


def _no_children(timeout=5.0):
    gc.collect()  # an exception's traceback keeps its iterator alive until the cycle is collected
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = _worker_children()
        if not children:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("batch_size, drop_last", [(3, False), (3, True), (11, False), (20, True)])
def test_sequential_batches(num_workers, batch_size, drop_last):
    ds = _dataset()
    loader = DataLoader(ds, batch_size=batch_size, drop_last=drop_last, num_workers=num_workers)
    expected = _chunks(list(range(11)), batch_size, drop_last)
    batches = list(loader)
    assert [b[1].tolist() for b in batches] == expected
    assert len(loader) == len(expected)
    for b, idx in zip(batches, expected):
        np.testing.assert_array_equal(b[0].numpy(), np.arange(22, dtype=np.float32).reshape(11, 2)[idx])


@pytest.mark.parametrize("num_workers", [0, 2])
def test_shuffle_order_is_recomputable_and_independent_of_workers(num_workers):
    loader = DataLoader(_dataset(), batch_size=4, shuffle=True, generator=at.Generator(21), num_workers=num_workers)
    orders = _epoch_orders(21, 11, 3)
    for order in orders:
        assert _ids(loader) == _chunks(order, 4, False)


def test_no_batching_and_custom_collate():
    assert [[t.tolist() for t in s] for s in DataLoader(_dataset(3), batch_size=None)] == [
        [[0.0, 1.0], 0],
        [[2.0, 3.0], 1],
        [[4.0, 5.0], 2],
    ]
    loader = DataLoader(list(range(7)), batch_size=3, collate_fn=lambda batch: sum(batch))
    assert list(loader) == [3, 12, 6]


def test_custom_sampler_and_batch_sampler():
    loader = DataLoader(list(range(6)), batch_size=2, sampler=[5, 4, 3, 2, 1, 0])
    assert [b.tolist() for b in loader] == [[5, 4], [3, 2], [1, 0]]
    batches = BatchSampler(SequentialSampler(range(5)), 2, drop_last=True)
    assert [b.tolist() for b in DataLoader(list(range(5)), batch_sampler=batches)] == [[0, 1], [2, 3]]


def test_argument_errors():
    ds = _dataset()
    for kwargs, match in [
        ({"num_workers": -1}, "num_workers"),
        ({"prefetch_factor": 2}, "prefetch_factor"),
        ({"persistent_workers": True}, "persistent_workers"),
        ({"batch_size": 0}, "batch_size"),
        ({"timeout": -1}, "timeout"),
        ({"sampler": [0], "shuffle": True}, "sampler"),
        ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler"),
        ({"batch_size": None, "drop_last": True}, "drop_last"),
    ]:
        with pytest.raises(ValueError, match=match):
            DataLoader(ds, **kwargs)
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(Stream(4), shuffle=True)


class Stream(IterableDataset):
    """0..n-1, split between workers in contiguous shards."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        per = -(-self.n // info.num_workers)
        return iter(range(info.id * per, min(self.n, (info.id + 1) * per)))


def test_iterable_dataset_in_main_process():
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]
    assert len(DataLoader(Stream(7), batch_size=3)) == 3


def test_iterable_dataset_with_workers_interleaves_shards():
    # Shards [0..4] and [5..8]; batches alternate between workers until one runs dry.
    batches = [b.tolist() for b in DataLoader(Stream(9), batch_size=2, num_workers=2)]
    assert batches == [[0, 1], [5, 6], [2, 3], [7, 8], [4]]


class Probe(Dataset):
    """Each sample reports where it was made and what the seeded generators gave there."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return {
            "index": i,
            "pid": os.getpid(),
            "worker": -1 if info is None else info.id,
            "seed": -1 if info is None else info.seed,
            "py": random.random(),
            "axon": at.rand(1).item(),
            "flag": os.environ.get("AXON_TEST_INIT", ""),
        }


def _init(worker_id):
    os.environ["AXON_TEST_INIT"] = f"init{worker_id}"


def test_worker_seeds_init_fn_and_round_robin():
    loader = DataLoader(Probe(), batch_size=2, num_workers=2, generator=at.Generator(8), worker_init_fn=_init)
    batches = list(loader)
    base_seed = int(_rng(8).integers(0, 2**62))
    first_draw = {}
    for k, batch in enumerate(batches):
        worker = k % 2  # batch k goes to worker k mod num_workers
        assert batch["worker"].tolist() == [worker, worker]
        assert batch["seed"].tolist() == [base_seed + worker] * 2
        assert batch["flag"] == [f"init{worker}"] * 2
        first_draw.setdefault(worker, batch["py"].tolist()[0])
    for worker in (0, 1):
        assert first_draw[worker] == random.Random(base_seed + worker).random()
    assert "AXON_TEST_INIT" not in os.environ
    assert _no_children()


class Failing(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3:
            raise KeyError(f"missing sample {i}")
        return i


def test_worker_exception_reaches_main_with_traceback():
    loader = DataLoader(Failing(), batch_size=2, num_workers=2)
    it = iter(loader)
    assert next(it).tolist() == [0, 1]
    with pytest.raises(KeyError) as caught:
        next(it)
    text = str(caught.value)
    assert "Caught KeyError in DataLoader worker process 1" in text
    assert "missing sample 3" in text and "in __getitem__" in text and "raise KeyError" in text
    assert next(it).tolist() == [4, 5]  # the loader goes on, as PyTorch's does
    del it, caught  # the traceback holds the iterator; dropping both shuts the workers down
    gc.collect()
    assert _no_children()


class Unpicklable(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        return lambda: i


def test_unpicklable_batch_is_an_error_not_a_hang():
    with pytest.raises(Exception, match="while sending a batch"):
        list(DataLoader(Unpicklable(), batch_size=1, num_workers=1, collate_fn=lambda b: b, timeout=20))
    assert _no_children()


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(1.5)
        return i


def test_timeout():
    loader = DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.3)
    with pytest.raises(RuntimeError, match="timed out after 0.3 s"):
        next(iter(loader))
    assert _no_children()


class Killer(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return i


def test_dead_worker_is_reported():
    with pytest.raises(RuntimeError, match="worker 1 .* killed by signal SIGKILL"):
        list(DataLoader(Killer(), batch_size=1, num_workers=2))
    assert _no_children()


def test_shutdown_after_break_and_after_exhaustion():
    loader = DataLoader(_dataset(40), batch_size=2, num_workers=2)
    for k, _ in enumerate(loader):
        if k == 2:
            break
    gc.collect()
    assert _no_children()
    assert len(list(loader)) == 20
    assert _no_children()


def test_workers_exit_when_the_main_process_is_killed(tmp_path):
    script = textwrap.dedent(
        f"""
        import os, sys, time
        sys.path[:0] = {sys.path!r}
        import axon_tensor as at
        from axon_data import DataLoader, TensorDataset
        loader = DataLoader(TensorDataset(at.zeros(100, 2)), batch_size=1, num_workers=2)
        it = iter(loader)
        next(it)
        import psutil
        print(" ".join(str(c.pid) for c in psutil.Process().children()), flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
            psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids
        ):
            time.sleep(0.05)
        assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)
    finally:
        proc.kill()


def test_persistent_workers_keep_processes_and_restart_epochs():
    loader = DataLoader(Probe(), batch_size=2, num_workers=2, persistent_workers=True)
    first = list(loader)
    pids = {p for b in first for p in b["pid"].tolist()}
    it = iter(loader)
    next(it)  # leave an epoch half-read: the next epoch must still start from the beginning
    second = list(loader)
    assert [b["index"].tolist() for b in second] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert {p for b in second for p in b["pid"].tolist()} == pids
    assert len(_worker_children()) == 2
    loader._iterator._shutdown()
    assert _no_children()


def test_persistent_workers_with_iterable_dataset():
    loader = DataLoader(Stream(5), batch_size=2, num_workers=2, persistent_workers=True)
    for _ in range(2):
        assert sorted(sum((b.tolist() for b in loader), [])) == [0, 1, 2, 3, 4]
    loader._iterator._shutdown()


def test_spawn_context():
    loader = DataLoader(_dataset(5), batch_size=2, num_workers=1, multiprocessing_context="spawn")
    assert _ids(loader) == [[0, 1], [2, 3], [4]]
    assert _no_children()


@pytest.mark.parametrize("num_workers", [0, 2])
def test_state_dict_resumes_exactly(num_workers):
    def make(seed):
        return DataLoader(_dataset(), batch_size=2, shuffle=True, generator=at.Generator(seed), num_workers=num_workers)

    loader = make(4)
    list(loader)  # one full epoch first, so the resumed one is not the first
    it = iter(loader)
    head = [next(it)[1].tolist() for _ in range(2)]
    state = loader.state_dict()
    assert state["batches_consumed"] == 2
    rest = [b[1].tolist() for b in it]
    following = _ids(loader)

    resumed = make(999)
    resumed.load_state_dict(state)
    assert _ids(resumed) == rest
    assert _ids(resumed) == following
    orders = _epoch_orders(4, 11, 3)
    assert head + rest == _chunks(orders[1], 2, False)
    assert following == _chunks(orders[2], 2, False)


def test_state_dict_resume_reproduces_random_draws_in_workers():
    def make():
        return DataLoader(Probe(), batch_size=2, num_workers=2, generator=at.Generator(3))

    loader = make()
    it = iter(loader)
    next(it), next(it), next(it)
    state = loader.state_dict()
    rest = [(b["index"].tolist(), b["axon"].tolist(), b["py"].tolist()) for b in it]
    resumed = make()
    resumed.load_state_dict(state)
    assert [(b["index"].tolist(), b["axon"].tolist(), b["py"].tolist()) for b in resumed] == rest
    assert len(rest) == 1


@pytest.mark.parametrize("num_workers", [0, 2])
def test_state_dict_resume_of_a_stream(num_workers):
    loader = DataLoader(Stream(9), batch_size=2, num_workers=num_workers)
    it = iter(loader)
    next(it)
    state = loader.state_dict()
    rest = [b.tolist() for b in it]
    resumed = DataLoader(Stream(9), batch_size=2, num_workers=num_workers)
    resumed.load_state_dict(state)
    assert [b.tolist() for b in resumed] == rest


def test_state_dict_before_iterating_and_bad_state():
    loader = DataLoader(_dataset(), batch_size=2, shuffle=True)
    state = loader.state_dict()
    assert state["batches_consumed"] == 0 and state["sampler"] is None
    with pytest.raises(KeyError):
        loader.load_state_dict({})
