"""``DistributedDataParallel``: one model replica per process, gradients averaged in buckets.

As PyTorch's: the wrapper broadcasts rank 0's parameters and buffers at construction, groups
the parameters into buckets (in reverse registration order, because backward reaches the last
layers first; the first bucket is capped at 1 MiB so communication starts early) and registers a
post-accumulate-grad hook on every parameter. When a bucket's last gradient has been
accumulated, the hook copies the bucket's gradients into one flat buffer and posts an
asynchronous ``all_reduce`` of it, while backward goes on computing the gradients of the
earlier layers. Buckets are posted strictly in index order, so every rank issues the same
collectives in the same order whatever its backward did. When the last bucket is posted, the
hook waits for them all and writes the averaged gradients back into ``.grad``.

``no_sync()`` skips the communication (gradients accumulate locally; the next synchronised
backward averages the sum). ``find_unused_parameters=True`` walks the autograd graph from the
forward's outputs to find the parameters that will get no gradient this step and marks them
ready at once; a parameter no rank used keeps its ``.grad`` as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any, Iterator

import numpy as np

from axon_autograd import Variable, is_grad_enabled, no_grad
from axon_nn import Module
from axon_tensor import Tensor, tensor, zeros

from . import collectives as dist
from ._common import group_root, reachable_leaves

__all__ = ["DistributedDataParallel"]

_MIB = 1024 * 1024


class _Bucket:
    """Parameters whose gradients travel in one ``all_reduce`` (one dtype, one device)."""

    __slots__ = ("index", "params", "offsets", "numel", "buffer", "pending", "work")

    def __init__(self, index: int, params: list) -> None:
        self.index = index
        self.params = params
        self.offsets = []
        numel = 0
        for p in params:
            self.offsets.append(numel)
            numel += p.data.numel()
        self.numel = numel
        first = params[0].data
        # The flat buffer the all-reduce runs on: [numel] of the parameters' dtype and device.
        self.buffer = zeros(numel, dtype=first.dtype, device=first.device)
        self.pending = len(params)
        self.work: Any = None

    def slot(self, i: int) -> Tensor:
        """The flat view of parameter ``i``'s gradient inside the buffer."""
        return self.buffer.narrow(0, self.offsets[i], self.params[i].data.numel())


def _bucket_assignment(params: list, cap_bytes: int, first_cap_bytes: int) -> list[list]:
    """PyTorch's ``compute_bucket_assignment_by_size``: walk the parameters in reverse, one open
    bucket per (dtype, device), close a bucket once it holds ``cap`` bytes."""
    open_buckets: dict[tuple, list] = {}
    sizes: dict[tuple, int] = {}
    done: list[list] = []
    for p in reversed(params):
        key = (p.data.dtype, p.data.device)
        bucket = open_buckets.setdefault(key, [])
        bucket.append(p)
        sizes[key] = sizes.get(key, 0) + p.data.nbytes
        if sizes[key] >= (first_cap_bytes if not done else cap_bytes):
            done.append(open_buckets.pop(key))
            sizes.pop(key)
    done.extend(b for b in open_buckets.values() if b)
    return done


def _fingerprint(named: list) -> np.ndarray:
    """Names, shapes and dtypes of the parameters, hashed to 4 int64s (compared across ranks)."""
    text = ";".join(f"{n}:{tuple(p.shape)}:{p.dtype}" for n, p in named).encode()
    return np.frombuffer(hashlib.sha256(text).digest(), dtype=np.int64).copy()


class DistributedDataParallel(Module):
    """``DistributedDataParallel(module, process_group=None, bucket_cap_mb=25.0, ...)``.

    ``module``: the replica on this process (same architecture on every rank); its parameters
    and buffers are overwritten with rank 0's at construction. ``bucket_cap_mb``: the size of a
    gradient bucket in MiB. ``find_unused_parameters``: parameters may get no gradient in a step
    (a branch not taken); without it such a step raises at the next forward, naming them.
    ``broadcast_buffers``: copy rank 0's buffers (running statistics) to every rank before each
    forward. ``gradient_as_bucket_view``: after the reduction each ``.grad`` is a view of its
    bucket instead of a copy (one pass over the gradients less, and no allocation; the bucket is
    reused by the next backward, so a ``.grad`` kept across steps changes with it), as PyTorch's.
    Names carry the ``module.`` prefix, as PyTorch's.
    """

    def __init__(
        self,
        module: Module,
        process_group: Any = None,
        bucket_cap_mb: float = 25.0,
        find_unused_parameters: bool = False,
        broadcast_buffers: bool = True,
        init_sync: bool = True,
        gradient_as_bucket_view: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps an axon_nn.Module, got {type(module).__name__}")
        if bucket_cap_mb <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.process_group = process_group
        self.find_unused_parameters = bool(find_unused_parameters)
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = float(bucket_cap_mb)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        # False inside no_sync(): backward accumulates locally.
        self.require_backward_grad_sync = True
        self.world_size = dist.get_world_size(process_group)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError("DistributedDataParallel: the module has no parameter that requires grad")
        self._named = named
        self._name_of = {id(p): n for n, p in named}
        if init_sync and self.world_size > 1:
            self._check_same_model()
            self._sync_module_state()
        cap = int(self.bucket_cap_mb * _MIB)
        self.buckets = [
            _Bucket(i, ps) for i, ps in enumerate(_bucket_assignment([p for _, p in named], cap, min(_MIB, cap)))
        ]
        self._where = {id(p): (b, i) for b in self.buckets for i, p in enumerate(b.params)}
        self._hooks = [p.register_post_accumulate_grad_hook(self._grad_ready) for _, p in named]
        # Per-step state of the reducer: which parameters still owe a gradient.
        self._expecting = False
        self._ready: set[int] = set()
        self._used: set[int] = set()
        self._next_bucket = 0
        # Buckets posted during the current backward (how far communication has got).
        self.buckets_posted = 0

    # -- construction --------------------------------------------------------------------------
    def _check_same_model(self) -> None:
        mine = tensor(_fingerprint(self._named))
        every = [zeros(mine.shape, dtype=mine.dtype) for _ in range(self.world_size)]
        dist.all_gather(every, mine, group=self.process_group)
        differ = [r for r, theirs in enumerate(every) if not np.array_equal(theirs.numpy(), every[0].numpy())]
        if differ:
            raise RuntimeError(
                f"DistributedDataParallel: the model on rank(s) {differ} of the group differs from rank 0's "
                "(parameter names, shapes or dtypes); every rank must wrap the same architecture"
            )

    def _sync_module_state(self) -> None:
        src = group_root(self.process_group)
        with no_grad():
            for _, p in self._named:
                dist.broadcast(p.data, src, group=self.process_group)
            for _, b in self.module.named_buffers():
                dist.broadcast(b, src, group=self.process_group)

    # -- forward -------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._expecting and self._ready:
            missing = [self._name_of[id(p)] for _, p in self._named if id(p) not in self._ready]
            raise RuntimeError(
                "DistributedDataParallel: expected to have finished reduction in the prior iteration before "
                f"starting a new one; these parameters received no gradient: {missing}. Pass "
                "find_unused_parameters=True if parts of the model may go unused in a step, or make sure every "
                "output of forward takes part in the loss"
            )
        if self.broadcast_buffers and self.world_size > 1:
            src = group_root(self.process_group)
            for _, b in self.module.named_buffers():
                dist.broadcast(b, src, group=self.process_group)
        output = self.module(*args, **kwargs)
        self._expecting = False
        if is_grad_enabled() and self.require_backward_grad_sync:
            self._prepare_for_backward(output)
        return output

    def _prepare_for_backward(self, output: Any) -> None:
        self._expecting = True
        self._ready = set()
        self._next_bucket = 0
        self.buckets_posted = 0
        for b in self.buckets:
            b.pending = len(b.params)
            b.work = None
        if not self.find_unused_parameters:
            self._used = {id(p) for _, p in self._named}
            return
        self._used = reachable_leaves(output) & set(self._name_of)
        for _, p in self._named:
            if id(p) not in self._used:
                self._mark_ready(p)

    # -- backward ------------------------------------------------------------------------------
    def _grad_ready(self, param: Variable) -> None:
        if not self._expecting:
            return
        if id(param) in self._ready:
            raise RuntimeError(
                f"DistributedDataParallel: parameter {self._name_of[id(param)]!r} got a gradient twice in one "
                "iteration (a second backward through the same forward); DDP reduces once per forward"
            )
        self._mark_ready(param)

    def _mark_ready(self, param: Variable) -> None:
        self._ready.add(id(param))
        bucket, i = self._where[id(param)]
        slot = bucket.slot(i)
        if param.grad is None:
            slot.zero_()
        elif param.grad.data.data_ptr() != slot.data_ptr():  # a bucket view accumulated in place already
            slot.copy_(param.grad.data.reshape(-1))
        bucket.pending -= 1
        # Post buckets in index order only: every rank then issues the same collectives in order.
        while self._next_bucket < len(self.buckets) and self.buckets[self._next_bucket].pending == 0:
            b = self.buckets[self._next_bucket]
            if self.world_size > 1:
                b.buffer.div_(self.world_size)
            b.work = dist.all_reduce(b.buffer, group=self.process_group, async_op=True)
            self._next_bucket += 1
            self.buckets_posted = self._next_bucket
        if self._next_bucket == len(self.buckets):
            self._finalize()

    def _finalize(self) -> None:
        self._expecting = False
        for b in self.buckets:
            b.work.wait()
        used_anywhere = None
        if self.find_unused_parameters:
            flags = tensor([1 if id(p) in self._used else 0 for _, p in self._named], dtype="int32")
            dist.all_reduce(flags, group=self.process_group)
            used_anywhere = flags.numpy()
        for k, (_, p) in enumerate(self._named):
            if used_anywhere is not None and used_anywhere[k] == 0:
                continue  # no rank computed a gradient for it: leave .grad as it was
            bucket, i = self._where[id(p)]
            averaged = bucket.slot(i).view(p.shape)
            if self.gradient_as_bucket_view:
                if p.grad is None or p.grad.data.data_ptr() != averaged.data_ptr():
                    p.grad = averaged
            elif p.grad is None:
                p.grad = averaged.clone()
            else:
                p.grad.data.copy_(averaged)

    # -- public API ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside: forward/backward accumulate gradients locally with no communication. The first
        backward after it averages the accumulated sums."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def bucket_names(self) -> list[list[str]]:
        """The parameter names of each bucket, in the order their all-reduces are posted."""
        return [[self._name_of[id(p)] for p in b.params] for b in self.buckets]

    def extra_repr(self) -> str:
        return (
            f"world_size={self.world_size}, buckets={len(self.buckets)}, bucket_cap_mb={self.bucket_cap_mb:g}, "
            f"find_unused_parameters={self.find_unused_parameters}"
        )
