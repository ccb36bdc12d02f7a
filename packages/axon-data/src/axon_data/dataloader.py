"""The DataLoader: batches from a dataset, in the main process or in worker processes.

Workers are ``multiprocessing`` processes started with ``fork`` where the platform has it (they
start in milliseconds and the dataset need not be picklable) and ``spawn`` elsewhere; pass
``multiprocessing_context="spawn"`` when the main process has already initialised CUDA, which a
forked child cannot use. Each worker gets its own index queue and sends results back on its own
pipe; the main process hands out batch indices round-robin, keeps ``prefetch_factor`` batches per
worker in flight, and yields batches in sampler order.
"""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.connection
import signal
import time
import weakref
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar

from axon_tensor import Generator, default_generator

from .collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset
from .fetch import make_fetcher
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from .worker import worker_loop

__all__ = ["DataLoader"]

T = TypeVar("T")

# How long shutdown waits for workers to exit on their own before terminating them.
_SHUTDOWN_GRACE_S = 5.0


class DataLoader(Generic[T]):
    """Iterate over ``dataset`` in batches of ``batch_size`` samples.

    ``shuffle`` draws each epoch's order from ``generator`` (or from axon's default generator).
    ``sampler`` / ``batch_sampler`` choose the indices instead; ``collate_fn`` turns a list of
    samples into a batch (default: :func:`default_collate`, stacking tensors into
    ``[batch, *sample_shape]``). ``num_workers > 0`` loads in that many processes, each seeded
    with ``base_seed + worker_id``; ``timeout`` (seconds, 0 = wait forever) bounds the wait for
    one batch; ``persistent_workers`` keeps the processes between epochs.

    ``state_dict()`` / ``load_state_dict()`` save and restore the position within an epoch: the
    next ``iter()`` after a load yields exactly the batches the saved run had not yet yielded.
    """

    def __init__(
        self,
        dataset: Dataset[Any] | IterableDataset[Any],
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler[Any] | Iterable[Any] | None = None,
        batch_sampler: Sampler[Any] | Iterable[Any] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[Any], Any] | None = None,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: str | Any = None,
        generator: Generator | None = None,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
    ) -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative int, got {num_workers!r}")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout must be non-negative, got {timeout}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor needs num_workers > 0")
        if prefetch_factor is not None and prefetch_factor < 1:
            raise ValueError(f"DataLoader: prefetch_factor must be >= 1, got {prefetch_factor}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers needs num_workers > 0")
        if batch_size is not None and (
            not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0
        ):
            raise ValueError(f"DataLoader: batch_size must be a positive int or None, got {batch_size!r}")

        self.dataset = dataset
        self.num_workers = num_workers
        self.timeout = float(timeout)
        self.worker_init_fn = worker_init_fn
        self.generator = generator
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers > 0 else prefetch_factor
        self.persistent_workers = persistent_workers
        self.multiprocessing_context = multiprocessing_context
        self._is_iterable = isinstance(dataset, IterableDataset)

        if self._is_iterable:
            if shuffle:
                raise ValueError("DataLoader: shuffle is not allowed with an IterableDataset (shuffle in the dataset)")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader: an IterableDataset takes no sampler or batch_sampler")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler excludes batch_size, shuffle, sampler and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: drop_last needs a batch_size")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler excludes shuffle")

        if not self._is_iterable and sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)  # type: ignore[arg-type]
        if not self._is_iterable and batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)  # type: ignore[arg-type]

        self.batch_size = batch_size
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.collate_fn = (
            collate_fn if collate_fn is not None else (default_collate if self._auto_collation else default_convert)
        )

        self._iterator: Any = None
        self._num_yielded = 0
        self._base_seed: int | None = None
        self._epoch_started = False
        self._resume: dict[str, Any] | None = None

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (self._is_iterable and self.batch_size is not None)

    def _index_iterator(self) -> Iterator[Any]:
        if self._is_iterable:
            return itertools.repeat(self.batch_size)
        return iter(self.batch_sampler if self.batch_sampler is not None else self.sampler)  # type: ignore[arg-type]

    def _stateful_sampler(self) -> Any:
        if isinstance(self.batch_sampler, BatchSampler):
            source = self.batch_sampler.sampler
        else:
            source = self.batch_sampler if self.batch_sampler is not None else self.sampler
        return source if hasattr(source, "state_dict") and hasattr(source, "load_state_dict") else None

    def _begin_epoch(self) -> tuple[Iterator[Any], int]:
        """Start an epoch: its worker base seed, its index order, and how many batches to skip."""
        resume, self._resume = self._resume, None
        skip = 0
        if resume is not None:
            skip = int(resume["batches_consumed"])
            if resume.get("sampler") is not None:
                sampler = self._stateful_sampler()
                if sampler is None:
                    raise ValueError(
                        "DataLoader.load_state_dict(): the state holds a sampler state but this loader's sampler keeps none"
                    )
                # The sampler replays the whole epoch; the loader skips the consumed batches itself.
                sampler.load_state_dict({**resume["sampler"], "consumed": 0})
        # Drawn for every epoch, with or without workers (as PyTorch does), so the shuffled order
        # does not depend on num_workers; persistent workers keep the seed they started with.
        if not (self.persistent_workers and self._iterator is not None):
            if resume is not None and resume.get("base_seed") is not None:
                self._base_seed = int(resume["base_seed"])
            else:
                gen = self.generator if self.generator is not None else default_generator
                self._base_seed = int(gen.numpy_generator.integers(0, 2**62))
        indices = self._index_iterator()
        self._num_yielded = skip
        self._epoch_started = True
        return indices, skip

    def __iter__(self) -> Iterator[T]:
        if self.num_workers == 0:
            return _SingleProcessIterator(self)
        if self.persistent_workers and self._iterator is not None:
            self._iterator._next_epoch()
            return self._iterator
        iterator = _MultiProcessIterator(self)
        if self.persistent_workers:
            self._iterator = iterator
        return iterator

    def __len__(self) -> int:
        if self._is_iterable:
            n = len(self.dataset)  # type: ignore[arg-type]
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)  # type: ignore[arg-type]

    def state_dict(self) -> dict[str, Any]:
        """Where the current epoch stands: ``batches_consumed``, the ``sampler``'s epoch state, ``base_seed``."""
        sampler = self._stateful_sampler()
        return {
            "batches_consumed": self._num_yielded if self._epoch_started else 0,
            "sampler": sampler.state_dict() if sampler is not None and self._epoch_started else None,
            "base_seed": self._base_seed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """The next ``iter()`` resumes the saved epoch after its consumed batches."""
        if "batches_consumed" not in state:
            raise KeyError(f"DataLoader.load_state_dict(): expected key 'batches_consumed', got {sorted(state)}")
        self._resume = dict(state)

    def _mp_context(self) -> Any:
        context = self.multiprocessing_context
        if context is None:
            context = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        if isinstance(context, str):
            return multiprocessing.get_context(context)
        return context


class _SingleProcessIterator:
    def __init__(self, loader: DataLoader[Any]) -> None:
        self._loader = loader
        self._indices, skip = loader._begin_epoch()
        self._fetcher = make_fetcher(
            loader.dataset, loader._is_iterable, loader._auto_collation, loader.collate_fn, loader.drop_last
        )
        self._skip(skip)

    def _skip(self, count: int) -> None:
        if not self._loader._is_iterable:
            for _ in itertools.islice(self._indices, count):
                pass
            return
        # A stream can only be skipped by reading it; keep the default generator as the caller left it.
        saved = default_generator.get_state()
        try:
            for _ in range(count):
                self._fetcher.fetch(next(self._indices))
        except StopIteration:
            pass
        finally:
            default_generator.set_state(saved)

    def __iter__(self) -> "_SingleProcessIterator":
        return self

    def __next__(self) -> Any:
        batch = self._fetcher.fetch(next(self._indices))
        self._loader._num_yielded += 1
        return batch

    def __len__(self) -> int:
        return len(self._loader)


def _exit_description(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _shutdown_workers(workers: list[Any], index_queues: list[Any], conns: list[Any]) -> None:
    """Ask every worker to exit, drain their pipes so none blocks on a send, then reap them."""
    for q in index_queues:
        try:
            q.put(None)
        except (OSError, ValueError):
            pass
    open_conns = [c for c in conns if not c.closed]
    alive = [w for w in workers if w.is_alive()]
    deadline = time.monotonic() + _SHUTDOWN_GRACE_S
    while alive and time.monotonic() < deadline:
        ready = multiprocessing.connection.wait(open_conns + [w.sentinel for w in alive], timeout=0.1)
        for conn in ready:
            if conn in open_conns:
                try:
                    conn.recv()
                except (EOFError, OSError):
                    open_conns.remove(conn)
        alive = [w for w in alive if w.is_alive()]
    for w in alive:
        w.terminate()
        w.join(1.0)
        if w.is_alive():
            w.kill()
    for w in workers:
        w.join()
        w.close()
    for q in index_queues:
        q.cancel_join_thread()
        q.close()
    for c in conns:
        c.close()


class _MultiProcessIterator:
    def __init__(self, loader: DataLoader[Any]) -> None:
        self._loader = loader
        context = loader._mp_context()
        indices, skip = loader._begin_epoch()
        n = loader.num_workers
        self._workers: list[Any] = []
        self._index_queues: list[Any] = []
        self._conns: list[Any] = []
        self._finalizer = weakref.finalize(self, _shutdown_workers, self._workers, self._index_queues, self._conns)
        for worker_id in range(n):
            index_queue = context.Queue()
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(
                target=worker_loop,
                args=(
                    loader.dataset,
                    loader._is_iterable,
                    loader._auto_collation,
                    loader.collate_fn,
                    loader.drop_last,
                    index_queue,
                    writer,
                    worker_id,
                    n,
                    loader._base_seed + worker_id,
                    loader.worker_init_fn,  # type: ignore[operator]
                ),
                daemon=True,
            )
            process.start()
            writer.close()
            self._workers.append(process)
            self._index_queues.append(index_queue)
            self._conns.append(reader)
        self._worker_of_conn = {id(c): i for i, c in enumerate(self._conns)}
        self._reset_token = 0
        self._start(indices, skip)

    def _start(self, indices: Iterator[Any], skip: int) -> None:
        n = self._loader.num_workers
        self._indices = indices
        self._skip = skip
        self._indices_done = False
        self._send_idx = 0
        self._rcvd_idx = 0
        self._pending: dict[int, int] = {}  # send_idx -> worker id, until its result is consumed
        self._results: dict[int, tuple[str, Any]] = {}
        self._active = [True] * n
        self._next_worker = 0
        for _ in range(self._loader.prefetch_factor * n):  # type: ignore[operator]
            self._try_put()

    def _next_epoch(self) -> None:
        """Persistent workers: tell each to restart its dataset, drop what the old epoch left in flight."""
        self._reset_token += 1
        for q in self._index_queues:
            q.put(("reset", -self._reset_token, None))
        acks = 0
        while acks < len(self._workers):
            for send_idx, kind, _ in self._receive():
                if kind == "reset" and send_idx == -self._reset_token:
                    acks += 1
        indices, skip = self._loader._begin_epoch()
        self._start(indices, skip)

    def _try_put(self) -> bool:
        if self._indices_done or len(self._pending) >= self._loader.prefetch_factor * len(self._workers):  # type: ignore[operator]
            return False
        n = len(self._workers)
        for _ in range(n):
            worker_id = self._next_worker
            self._next_worker = (worker_id + 1) % n
            if self._active[worker_id]:
                break
        else:
            return False
        try:
            index = next(self._indices)
        except StopIteration:
            self._indices_done = True
            return False
        kind = "skip" if self._send_idx < self._skip else "fetch"
        self._index_queues[worker_id].put((kind, self._send_idx, index))
        self._pending[self._send_idx] = worker_id
        self._send_idx += 1
        return True

    def _receive(self) -> list[tuple[int, str, Any]]:
        """Block until at least one worker message arrives; raise if a worker died or time ran out."""
        timeout = self._loader.timeout or None
        conns = [c for c in self._conns if not c.closed]
        ready = multiprocessing.connection.wait(conns + [w.sentinel for w in self._workers], timeout=timeout)
        if not ready:
            self._shutdown()
            raise RuntimeError(
                f"DataLoader timed out after {self._loader.timeout} s waiting for a batch from its workers"
            )
        messages = []
        for conn in conns:
            if conn in ready or conn.poll():
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    conn.close()
                    continue
                if message[1] == "done":
                    self._active[self._worker_of_conn[id(conn)]] = False
                messages.append(message)
        if not messages:
            for worker_id, w in enumerate(self._workers):
                if not w.is_alive():
                    message = (
                        f"DataLoader worker {worker_id} (pid {w.pid}) {_exit_description(w.exitcode)} unexpectedly"
                    )
                    self._shutdown()
                    raise RuntimeError(message)
        return messages

    def __iter__(self) -> "_MultiProcessIterator":
        return self

    def __next__(self) -> Any:
        while True:
            if self._rcvd_idx in self._results:
                kind, payload = self._results.pop(self._rcvd_idx)
                del self._pending[self._rcvd_idx]
                self._rcvd_idx += 1
                self._try_put()
                if kind == "data":
                    self._loader._num_yielded += 1
                    return payload
                if kind == "error":
                    payload.reraise()
                continue
            if self._rcvd_idx == self._send_idx and not self._try_put():
                if not self._loader.persistent_workers:
                    self._shutdown()
                raise StopIteration
            for send_idx, kind, payload in self._receive():
                if send_idx >= 0:
                    self._results[send_idx] = (kind, payload)

    def __len__(self) -> int:
        return len(self._loader)

    def _shutdown(self) -> None:
        self._finalizer()
