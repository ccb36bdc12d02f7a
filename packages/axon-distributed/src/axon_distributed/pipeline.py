"""Pipeline parallelism: a model split by layer into stages, one stage per rank, fed micro-batches.

The shape of ``torch.distributed.pipelining``: a :class:`PipelineStage` holds this rank's slice
of the model; a schedule (:class:`ScheduleGPipe`, :class:`Schedule1F1B`) splits the batch into
``n_microbatches`` along dim 0 and runs the forward (``F``) and backward (``B``) of every
micro-batch in its order. Activations travel forward to the next rank and their gradients back,
point to point (a small header carries the shape and dtype, so stages need not know their
input's shape). Sends are non-blocking (kept until the step ends), so neighbours that both send
never wait on each other; receives block.

Each micro-batch's loss is divided by ``n_microbatches`` before its backward, so after ``step``
the stage's parameters hold the gradient of the mean loss over the whole batch, as a single
process computing the whole batch would (for a loss that is a mean over samples).

A schedule is data: ``actions(stage_index, num_stages, n_microbatches)`` is the list of
``("F", i)`` / ``("B", i)`` the stage runs. GPipe runs every forward, then every backward, so a
stage keeps all ``n`` micro-batches' activations; 1F1B runs ``num_stages - stage - 1`` warm-up
forwards, then alternates one forward and one backward, so stage ``s`` keeps at most
``min(num_stages - s, n)``. :class:`PipelineMemoryStats` records what each stage actually kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from axon_autograd import BackwardNode, Variable
from axon_core import ShapeError, as_dtype
from axon_nn import Module, Sequential
from axon_tensor import Tensor, cat, empty, tensor

from . import collectives as dist

__all__ = [
    "PipelineStage",
    "PipelineSchedule",
    "ScheduleGPipe",
    "Schedule1F1B",
    "PipelineMemoryStats",
    "split_sequential",
]

# Header of an activation message: ndim, dtype code, then up to _MAX_DIMS sizes (int64).
_MAX_DIMS = 8
_DTYPES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "bool")


def split_sequential(model: Sequential, num_stages: int, balance: list[int] | None = None) -> list[Sequential]:
    """Split ``model`` by layer into ``num_stages`` consecutive ``Sequential``s (layer names kept,
    so a stage's ``state_dict`` keys are the whole model's). ``balance``: layers per stage;
    default as even as possible (the first stages take the remainder)."""
    n = len(model)
    if balance is None:
        if not 1 <= num_stages <= n:
            raise ValueError(f"split_sequential: cannot split {n} layers into {num_stages} stages")
        base, extra = divmod(n, num_stages)
        balance = [base + (1 if i < extra else 0) for i in range(num_stages)]
    if len(balance) != num_stages or sum(balance) != n or min(balance) < 1:
        raise ValueError(f"split_sequential: balance {balance} does not cover {n} layers in {num_stages} stages")
    stages, start = [], 0
    for count in balance:
        stages.append(model[start : start + count])
        start += count
    return stages


class PipelineStage:
    """``PipelineStage(submodule, stage_index, num_stages, group=None)``: stage ``stage_index``
    runs on rank ``stage_index`` of ``group`` (whose size must be ``num_stages``)."""

    def __init__(self, submodule: Module, stage_index: int, num_stages: int, group: Any = None) -> None:
        if not isinstance(submodule, Module):
            raise TypeError(f"PipelineStage: submodule must be an axon_nn.Module, got {type(submodule).__name__}")
        size = dist.get_world_size(group)
        if size != num_stages:
            raise ValueError(f"PipelineStage: {num_stages} stages need a group of {num_stages} ranks, got {size}")
        if not 0 <= stage_index < num_stages:
            raise ValueError(f"PipelineStage: stage_index {stage_index} outside [0, {num_stages})")
        if dist.get_rank(group) != stage_index:
            raise ValueError(
                f"PipelineStage: stage {stage_index} must run on rank {stage_index} of its group, "
                f"this is rank {dist.get_rank(group)}"
            )
        self.submodule = submodule
        self.stage_index = stage_index
        self.num_stages = num_stages
        self.group = group
        self.is_first = stage_index == 0
        self.is_last = stage_index == num_stages - 1
        self.prev_rank = None if self.is_first else dist.get_global_rank(group, stage_index - 1)
        self.next_rank = None if self.is_last else dist.get_global_rank(group, stage_index + 1)

    def parameters(self) -> Any:
        return self.submodule.parameters()

    def __repr__(self) -> str:
        return f"PipelineStage(stage_index={self.stage_index}, num_stages={self.num_stages})"


@dataclass
class PipelineMemoryStats:
    """What one stage kept for backward during its last ``step``.

    ``peak_inflight``: the most micro-batches whose activations were alive at once;
    ``peak_activation_bytes``: the most bytes of them at once (the tensors the stage's graphs
    saved for backward, parameters excluded, plus the stage's input and output of each);
    ``activation_bytes_per_microbatch``: the largest single micro-batch's share.
    """

    stage_index: int
    schedule: str
    n_microbatches: int
    peak_inflight: int
    peak_activation_bytes: int
    activation_bytes_per_microbatch: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _InFlight:
    __slots__ = ("input", "output", "loss", "nbytes")

    def __init__(self, input: Any, output: Variable, loss: Any, nbytes: int) -> None:
        self.input = input
        self.output = output
        self.loss = loss
        self.nbytes = nbytes


class PipelineSchedule:
    """Runs one stage's share of a training step: ``schedule.step(x)`` on the first stage,
    ``schedule.step(target=y, losses=out)`` on the last (``losses`` receives each micro-batch's
    loss), ``schedule.step()`` on the others. Gradients accumulate into the stage's ``.grad``;
    call the optimizer afterwards. The last stage returns the outputs of the whole batch
    (concatenated, detached); the others return None."""

    name = "base"

    def __init__(self, stage: PipelineStage, n_microbatches: int, loss_fn: Callable[[Any, Any], Any] | None = None):
        if n_microbatches < 1:
            raise ValueError(f"{type(self).__name__}: n_microbatches must be at least 1, got {n_microbatches}")
        if stage.is_last and loss_fn is None:
            raise ValueError(f"{type(self).__name__}: the last stage needs a loss_fn")
        self.stage = stage
        self.n_microbatches = n_microbatches
        self.loss_fn = loss_fn
        self.memory_stats: PipelineMemoryStats | None = None

    @staticmethod
    def actions(stage_index: int, num_stages: int, n_microbatches: int) -> list[tuple[str, int]]:
        raise NotImplementedError

    # -- one step --------------------------------------------------------------------------------
    def step(self, *args: Any, target: Any = None, losses: list | None = None) -> Any:
        stage, n = self.stage, self.n_microbatches
        inputs = self._split(args[0], "input") if stage.is_first else None
        if stage.is_first and len(args) != 1:
            raise TypeError(f"{type(self).__name__}.step: the first stage takes one input, got {len(args)}")
        targets = self._split(target, "target") if stage.is_last else None
        inflight: dict[int, _InFlight] = {}
        sends: list = []
        outputs: list = [None] * n
        micro_losses: list = [None] * n
        live = peak_bytes = peak_count = largest = 0
        for kind, i in self.actions(stage.stage_index, stage.num_stages, n):
            if kind == "F":
                record = self._forward(i, inputs, targets, sends)
                inflight[i] = record
                live += record.nbytes
                largest = max(largest, record.nbytes)
                peak_bytes = max(peak_bytes, live)
                peak_count = max(peak_count, len(inflight))
                if stage.is_last:
                    outputs[i] = record.output.detach()
                    micro_losses[i] = record.loss.detach()
            else:
                record = inflight.pop(i)
                live -= record.nbytes
                self._backward(i, record, sends)
        for work in sends:
            work.wait()
        self.memory_stats = PipelineMemoryStats(stage.stage_index, self.name, n, peak_count, peak_bytes, largest)
        if losses is not None and stage.is_last:
            losses.extend(micro_losses)
        if stage.is_last:
            return Variable(cat([o.data for o in outputs]))
        return None

    def _split(self, value: Any, what: str) -> list:
        if value is None:
            raise TypeError(
                f"{type(self).__name__}.step: the {'first' if what == 'input' else 'last'} stage needs its {what}"
            )
        data = value.data if isinstance(value, Variable) else value
        size = data.shape[0] if data.ndim else 0
        if size % self.n_microbatches:
            raise ShapeError(
                f"{type(self).__name__}: a batch of {size} does not split into "
                f"{self.n_microbatches} equal micro-batches"
            )
        chunk = size // self.n_microbatches
        return [value[i * chunk : (i + 1) * chunk] for i in range(self.n_microbatches)]

    def _forward(self, i: int, inputs: list | None, targets: list | None, sends: list) -> _InFlight:
        stage = self.stage
        if stage.is_first:
            x = inputs[i]
        else:
            x = Variable(_recv_activation(stage.prev_rank, stage.group, 3 * i), requires_grad=True)
        out = stage.submodule(x)
        if not isinstance(out, Variable):
            raise TypeError(
                f"PipelineStage {stage.stage_index}: the stage must return one Variable, got {type(out).__name__}"
            )
        loss = None
        if stage.is_last:
            loss = self.loss_fn(out, targets[i])
        else:
            sends.extend(_send_activation(out.data, stage.next_rank, stage.group, 3 * i))
        nbytes = _activation_bytes(loss if loss is not None else out, x, out, stage.submodule)
        return _InFlight(x, out, loss, nbytes)

    def _backward(self, i: int, record: _InFlight, sends: list) -> None:
        stage = self.stage
        if stage.is_last:
            (record.loss / self.n_microbatches).backward()
        else:
            grad = empty(record.output.shape, dtype=record.output.dtype, device=record.output.device)
            dist.recv(grad, stage.next_rank, group=stage.group, tag=3 * i + 2)
            record.output.backward(grad)
        if not stage.is_first:
            if record.input.grad is None:
                raise RuntimeError(
                    f"PipelineStage {stage.stage_index}: the stage's output does not depend on its input"
                )
            sends.append(
                dist.isend(record.input.grad.data.contiguous(), stage.prev_rank, group=stage.group, tag=3 * i + 2)
            )


class ScheduleGPipe(PipelineSchedule):
    """GPipe: every micro-batch's forward, then every backward (in the same order)."""

    name = "gpipe"

    @staticmethod
    def actions(stage_index: int, num_stages: int, n_microbatches: int) -> list[tuple[str, int]]:
        return [("F", i) for i in range(n_microbatches)] + [("B", i) for i in range(n_microbatches)]


class Schedule1F1B(PipelineSchedule):
    """1F1B (PipeDream-flush): ``num_stages - stage - 1`` warm-up forwards, then one forward and
    one backward in turn, then the remaining backwards."""

    name = "1f1b"

    @staticmethod
    def actions(stage_index: int, num_stages: int, n_microbatches: int) -> list[tuple[str, int]]:
        warmup = min(num_stages - stage_index - 1, n_microbatches)
        order = [("F", i) for i in range(warmup)]
        backward = 0
        for i in range(warmup, n_microbatches):
            order.append(("F", i))
            order.append(("B", backward))
            backward += 1
        order.extend(("B", i) for i in range(backward, n_microbatches))
        return order


# -- point to point ------------------------------------------------------------------------------
def _send_activation(data: Tensor, dst: int, group: Any, tag: int) -> list:
    if data.ndim > _MAX_DIMS:
        raise ShapeError(f"pipeline: activations of more than {_MAX_DIMS} dims are not supported, got {data.ndim}")
    if data.dtype.name not in _DTYPES:
        raise TypeError(f"pipeline: cannot send activations of dtype {data.dtype}")
    header = np.zeros(2 + _MAX_DIMS, dtype=np.int64)
    header[0] = data.ndim
    header[1] = _DTYPES.index(data.dtype.name)
    header[2 : 2 + data.ndim] = data.shape
    payload = data.contiguous()
    return [
        dist.isend(tensor(header), dst, group=group, tag=tag),
        dist.isend(payload, dst, group=group, tag=tag + 1),
    ]


def _recv_activation(src: int, group: Any, tag: int) -> Tensor:
    header = tensor(np.zeros(2 + _MAX_DIMS, dtype=np.int64))
    dist.recv(header, src, group=group, tag=tag)
    values = header.numpy()
    ndim, code = int(values[0]), int(values[1])
    if not 0 <= ndim <= _MAX_DIMS or not 0 <= code < len(_DTYPES) or (values[2 : 2 + ndim] < 0).any():
        raise RuntimeError(f"pipeline: a malformed activation header from rank {src}: {values.tolist()}")
    data = empty(tuple(int(d) for d in values[2 : 2 + ndim]), dtype=as_dtype(_DTYPES[code]))
    dist.recv(data, src, group=group, tag=tag + 1)
    return data


def _activation_bytes(root: Variable, x: Any, out: Variable, module: Module) -> int:
    """Bytes this micro-batch keeps alive until its backward: the tensors its graph saved (each
    storage once; parameters excluded), its input and its output."""
    params = [(p.data.data_ptr(), p.data.data_ptr() + p.data.nbytes) for p in module.parameters()]
    seen: set[tuple[int, int]] = set()
    total = 0

    def count(t: Tensor) -> None:
        nonlocal total
        key = (t.data_ptr(), t.nbytes)
        if key in seen or any(lo <= key[0] < hi for lo, hi in params):
            return  # counted already, or a parameter (or a view of one)
        seen.add(key)
        total += t.nbytes

    for v in (x, out):
        count(v.data if isinstance(v, Variable) else v)
    stack = [root.grad_fn] if root.grad_fn is not None else []
    visited: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in visited or not isinstance(node, BackwardNode):
            continue
        visited.add(id(node))
        if node.saved_count():
            for saved in node.saved_tensors:
                if saved is not None:
                    count(saved.data)
        stack.extend(edge[0] for edge in node.next_functions if edge is not None)
    return total
