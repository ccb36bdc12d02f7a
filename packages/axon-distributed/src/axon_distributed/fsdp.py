"""``FullyShardedDataParallel``: parameters, gradients and optimizer state sharded across ranks.

The shape of PyTorch's FSDP (ZeRO-3). Each FSDP unit (the root, and every submodule the
``auto_wrap_policy`` picks) flattens the parameters it owns into one vector, pads it to a
multiple of the world size and keeps only this rank's slice as its ``flat_param`` (an
``axon_nn.Parameter``: an optimizer built on ``fsdp.parameters()`` keeps sharded state).

- Before a unit's forward, its flat parameter is all-gathered and every original parameter
  becomes a view leaf of the gathered vector (set as the module attribute it was, so layers run
  unchanged). ``FULL_SHARD`` frees the gathered vector after the unit's forward (the views'
  data are swapped for an empty placeholder, which drops the last reference) and all-gathers it
  again from a hook on the unit's outputs when backward reaches them; ``SHARD_GRAD_OP`` keeps it
  from forward to backward. ``NO_SHARD`` keeps the whole vector on every rank (DDP's memory).
- When every view of a unit has its gradient, the unit's gradients are flattened, divided by
  the world size and reduce-scattered (asynchronously: the rest of backward runs meanwhile);
  this rank's slice lands in ``flat_param.grad`` when backward ends. ``NO_SHARD`` all-reduces.
- ``CPUOffload(offload_params=True)`` keeps shards, their gradients (and so the optimizer
  state) on the CPU; the all-gather copies the shard to the compute device first.
- ``full_state_dict()`` gathers every unit and returns the unwrapped model's state dict
  (PyTorch's names, no FSDP prefixes) on rank 0; ``load_full_state_dict`` shards one back in
  (any world size). ``sharded_state_dict()`` is this rank's slices only.

Collectives run in the same order on every rank as long as every rank runs the same graph
(the same units, in the same order, with the same parameters used), as PyTorch requires.
"""

from __future__ import annotations

import contextlib
import enum
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from axon_autograd import Variable, is_grad_enabled, no_grad
from axon_core import ShapeError
from axon_nn import Module, Parameter
from axon_tensor import Tensor, cat, empty, tensor, zeros

from . import collectives as dist
from ._common import group_root, reachable_leaves, variables_in

__all__ = ["FullyShardedDataParallel", "ShardingStrategy", "CPUOffload", "ModuleWrapPolicy"]


class ShardingStrategy(enum.Enum):
    """What each rank keeps between uses (PyTorch's names)."""

    FULL_SHARD = 1  # parameters, gradients, optimizer state sharded; re-gathered for backward
    SHARD_GRAD_OP = 2  # gradients and optimizer state sharded; parameters kept from forward to backward
    NO_SHARD = 3  # nothing sharded (DDP's memory): gradients all-reduced


@dataclass(frozen=True)
class CPUOffload:
    """``offload_params=True``: shards and their gradients live on the CPU between uses."""

    offload_params: bool = False


class ModuleWrapPolicy:
    """Wrap every submodule that is an instance of one of ``module_classes`` in its own unit."""

    def __init__(self, module_classes: Any) -> None:
        self.module_classes = tuple(module_classes)

    def __call__(self, module: Module) -> bool:
        return isinstance(module, self.module_classes)

    def __repr__(self) -> str:
        return f"ModuleWrapPolicy({[c.__name__ for c in self.module_classes]})"


class _Entry:
    """One original parameter inside a unit's flat vector: where it lives and where it sits."""

    __slots__ = ("locations", "shape", "numel", "offset", "view")

    def __init__(self, locations: list, shape: tuple, numel: int, offset: int, view: Variable) -> None:
        self.locations = locations  # [(owner module, attribute name)]: every place it is set
        self.shape = shape
        self.numel = numel
        self.offset = offset
        self.view = view  # the leaf the module computes with; its data is swapped in and out


class _RootState:
    """Shared by a root and every unit under it: the per-iteration bookkeeping of backward."""

    def __init__(self, units: list) -> None:
        self.units = units  # pre-order, the root first
        self.forwarded: list = []  # units unsharded by this iteration's forward, in order
        self.waiting = 0  # units whose gradients backward still owes
        self.started = False  # backward has reached a unit since the last forward
        self.works: list = []  # (unit, work, reduced gradient, its input) posted during backward
        self.live_bytes = 0  # bytes of gathered (unsharded) parameters alive now
        self.peak_bytes = 0


def _placeholder(like: Tensor) -> Tensor:
    return empty(0, dtype=like.dtype, device=like.device)


class FullyShardedDataParallel(Module):
    """``FullyShardedDataParallel(module, process_group=None, sharding_strategy=FULL_SHARD, ...)``.

    ``auto_wrap_policy``: a callable ``policy(submodule) -> bool`` (e.g. :class:`ModuleWrapPolicy`)
    choosing the submodules that become units of their own (each gathered only around its own
    forward and backward); the root unit owns the rest. ``sync_module_states``: broadcast rank
    0's parameters and buffers first, so every rank starts from the same model. Every rank must
    wrap the same architecture. The optimizer is built on ``fsdp.parameters()`` (the shards);
    elementwise optimizers (SGD, Adam, AdamW, RMSprop) then update exactly as unsharded ones.
    """

    def __init__(
        self,
        module: Module,
        process_group: Any = None,
        sharding_strategy: ShardingStrategy = ShardingStrategy.FULL_SHARD,
        cpu_offload: CPUOffload | None = None,
        auto_wrap_policy: Callable[[Module], bool] | None = None,
        sync_module_states: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"FullyShardedDataParallel wraps an axon_nn.Module, got {type(module).__name__}")
        if not isinstance(sharding_strategy, ShardingStrategy):
            raise TypeError(f"sharding_strategy must be a ShardingStrategy, got {sharding_strategy!r}")
        self.process_group = process_group
        self.sharding_strategy = sharding_strategy
        self.cpu_offload = cpu_offload or CPUOffload()
        self.world_size = dist.get_world_size(process_group)
        self.rank = dist.get_rank(process_group)
        if auto_wrap_policy is not None:
            _wrap_children(
                module,
                auto_wrap_policy,
                dict(process_group=process_group, sharding_strategy=sharding_strategy, cpu_offload=cpu_offload),
            )
        self.module = module
        self.flat_param: Parameter | None = None
        self._gathered: Tensor | None = None
        self._pending: set[int] | None = None
        self._flatten(sync_module_states)
        self._is_root = True
        self._state = _RootState([])
        # Claim the units below: one root per tree; they share its bookkeeping.
        units = [self]
        owned = set(self._owned_ids)
        for m in module.modules():
            if isinstance(m, FullyShardedDataParallel):
                if m.process_group is not process_group:
                    raise ValueError("FullyShardedDataParallel: nested units must use the root's process group")
                if owned & m._owned_ids:
                    raise ValueError(
                        f"FullyShardedDataParallel: a parameter of {type(m.module).__name__} is shared with another "
                        "FSDP unit; wrap the modules that share it in one unit"
                    )
                owned |= m._owned_ids
                m._is_root = False
                units.append(m)
        for unit in units:
            unit._state = self._state
        self._state.units = units

    # -- construction --------------------------------------------------------------------------
    def _flatten(self, sync_module_states: bool) -> None:
        taken: set[int] = set()  # parameters the units below already own
        for m in self.module.modules():
            if isinstance(m, FullyShardedDataParallel):
                taken |= m._owned_ids
        owners = list(_own_modules(self.module))
        owned: OrderedDict[int, tuple[Parameter, list]] = OrderedDict()
        for owner in owners:
            for name, p in owner.named_parameters(recurse=False):
                if not p.requires_grad:
                    continue  # frozen parameters stay where they are, replicated
                if id(p) in taken:
                    raise ValueError(
                        f"FullyShardedDataParallel: parameter {name!r} of {type(owner).__name__} is shared with "
                        "another FSDP unit; wrap the modules that share it in one unit"
                    )
                owned.setdefault(id(p), (p, []))[1].append((owner, name))
        self._owned_ids = set(owned)
        if sync_module_states and self.world_size > 1:
            src = group_root(self.process_group)
            with no_grad():
                for p, _ in owned.values():
                    dist.broadcast(p.data, src, group=self.process_group)
                for owner in owners:
                    for _, b in owner.named_buffers(recurse=False):
                        dist.broadcast(b, src, group=self.process_group)
        params = [p for p, _ in owned.values()]
        entry_of: dict[int, _Entry] = {}
        offset = 0
        for p, locations in owned.values():
            n = p.data.numel()
            view = Variable(_placeholder(p.data), requires_grad=True)
            view.register_post_accumulate_grad_hook(self._view_ready)
            entry_of[id(p)] = _Entry(locations, tuple(p.shape), n, offset, view)
            offset += n
        self._entries = list(entry_of.values())
        # The unwrapped model's state-dict keys (nested units spliced in), read before the params go.
        self._keys = _state_keys(self.module, entry_of)
        self.numel = offset
        if not params:
            self.padded_numel = self.shard_numel = 0
            return
        dtypes = {p.data.dtype for p in params}
        devices = {p.data.device for p in params}
        if len(dtypes) > 1 or len(devices) > 1:
            raise TypeError(
                f"FullyShardedDataParallel: a unit's parameters must share one dtype and device, got "
                f"{sorted(str(d) for d in dtypes)} on {sorted(str(d) for d in devices)}; wrap them in separate units"
            )
        self.compute_device = params[0].data.device
        world = 1 if self.sharding_strategy is ShardingStrategy.NO_SHARD else self.world_size
        self.padded_numel = -(-offset // world) * world
        self.shard_numel = self.padded_numel // world
        with no_grad():
            flat = cat([p.data.reshape(-1) for p in params])
            shard = self._my_slice(flat).clone()
        if self.cpu_offload.offload_params:
            shard = shard.to("cpu")
        self.flat_param = Parameter(shard)
        # The originals go: the modules hold the view leaves instead (their data set at each unshard).
        for entry in self._entries:
            for owner, name in entry.locations:
                delattr(owner, name)
                setattr(owner, name, entry.view)

    # -- unshard / reshard -----------------------------------------------------------------------
    def _unshard(self) -> None:
        if self.flat_param is None or self._gathered is not None:
            return
        shard = self.flat_param.data
        if shard.device is not self.compute_device:
            shard = shard.to(self.compute_device)
        if self.sharding_strategy is ShardingStrategy.NO_SHARD or self.world_size == 1:
            full = shard
        else:
            full = empty(self.padded_numel, dtype=shard.dtype, device=shard.device)
            dist.all_gather_into_tensor(full, shard, group=self.process_group)
            state = self._state
            state.live_bytes += full.nbytes
            state.peak_bytes = max(state.peak_bytes, state.live_bytes)
        self._gathered = full
        for e in self._entries:
            e.view.data = full.narrow(0, e.offset, e.numel).view(e.shape)

    def _reshard(self) -> None:
        if self._gathered is None:
            return
        if self.sharding_strategy is not ShardingStrategy.NO_SHARD and self.world_size > 1:
            self._state.live_bytes -= self._gathered.nbytes
        self._gathered = None
        for e in self._entries:
            e.view.data = _placeholder(e.view.data)

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        state = self._state
        grad = is_grad_enabled()
        if self._is_root:
            self._root_pre_forward()
        self._unshard()
        if self not in state.forwarded:
            state.forwarded.append(self)
        output = self.module(*args, **kwargs)
        if grad:
            for v in variables_in(output):
                if v.requires_grad and v.grad_fn is not None:
                    v.register_hook(self._pre_backward)
        if self._is_root:
            if grad:
                self._root_post_forward(output)
            else:
                for unit in state.forwarded:
                    if unit.sharding_strategy is not ShardingStrategy.NO_SHARD:
                        unit._reshard()
                state.forwarded = []
        elif self.sharding_strategy is ShardingStrategy.FULL_SHARD or (
            not grad and self.sharding_strategy is ShardingStrategy.SHARD_GRAD_OP
        ):
            self._reshard()
        return output

    def _root_pre_forward(self) -> None:
        state = self._state
        # A forward that no backward followed (an evaluation with gradients on) is simply dropped.
        if state.waiting and state.started:
            late = [type(u.module).__name__ for u in state.forwarded if u._pending]
            raise RuntimeError(
                "FullyShardedDataParallel: the previous backward did not finish (units still waiting for "
                f"gradients: {late}); every forward with gradients enabled must be followed by one backward"
            )
        for unit in state.forwarded:
            unit._pending = None
            unit._reshard()
        state.forwarded = []
        state.works = []
        state.waiting = 0
        state.started = False

    def _root_post_forward(self, output: Any) -> None:
        state = self._state
        reached = reachable_leaves(output)
        state.waiting = 0
        for unit in state.forwarded:
            if unit.flat_param is None:
                unit._pending = set()
                continue
            unit._pending = {id(e.view) for e in unit._entries if id(e.view) in reached}
            if unit._pending:
                state.waiting += 1

    # -- backward --------------------------------------------------------------------------------
    def _pre_backward(self, grad: Any) -> None:
        # Backward has reached this unit's outputs: its parameters are needed again.
        self._state.started = True
        self._unshard()

    def _view_ready(self, view: Variable) -> None:
        pending = self._pending
        if not pending or id(view) not in pending:
            return
        pending.discard(id(view))
        self._state.started = True
        if pending:
            return
        self._post_backward()
        state = self._state
        state.waiting -= 1
        if state.waiting == 0:
            self._finish_backward()

    def _post_backward(self) -> None:
        """Flatten this unit's gradients, post their reduce-scatter, free the gathered parameters."""
        dtype = self.flat_param.dtype
        full_grad = zeros(self.padded_numel, dtype=dtype, device=self.compute_device)
        for e in self._entries:
            if e.view.grad is not None:
                full_grad.narrow(0, e.offset, e.numel).copy_(e.view.grad.data.reshape(-1))
                e.view.grad = None
        if self.world_size == 1:
            state_work, reduced = None, full_grad
        else:
            full_grad.div_(self.world_size)
            if self.sharding_strategy is ShardingStrategy.NO_SHARD:
                reduced = full_grad
                state_work = dist.all_reduce(full_grad, group=self.process_group, async_op=True)
            else:
                reduced = empty(self.shard_numel, dtype=dtype, device=self.compute_device)
                state_work = dist.reduce_scatter_tensor(reduced, full_grad, group=self.process_group, async_op=True)
        # The input stays referenced until the work is waited on (an asynchronous collective reads it).
        self._state.works.append((self, state_work, reduced, full_grad))
        if self.sharding_strategy is not ShardingStrategy.NO_SHARD:
            self._reshard()
        self._pending = None

    def _finish_backward(self) -> None:
        state = self._state
        # Units forwarded but reached by no gradient still take part (zeros), in forward order.
        for unit in state.forwarded:
            if unit._pending is not None and unit.flat_param is not None:
                unit._post_backward()
        for unit, work, reduced, _ in state.works:
            if work is not None:
                work.wait()
            if reduced.device is not unit.flat_param.data.device:
                reduced = reduced.to(unit.flat_param.data.device)
            if unit.flat_param.grad is None:
                unit.flat_param.grad = reduced
            else:
                unit.flat_param.grad.data.add_(reduced)
        state.works = []
        for unit in state.forwarded:
            unit._pending = None
            if unit.sharding_strategy is not ShardingStrategy.NO_SHARD:
                unit._reshard()
        state.forwarded = []

    # -- whole-model views -----------------------------------------------------------------------
    def _check_root(self, what: str) -> None:
        if not self._is_root:
            raise RuntimeError(f"FullyShardedDataParallel.{what} is called on the root unit only")

    def _gather_full(self) -> Tensor:
        """This unit's whole flat vector (unpadded length ``numel``) on every rank."""
        shard = self.flat_param.data
        if shard.device is not self.compute_device:
            shard = shard.to(self.compute_device)
        if self.sharding_strategy is ShardingStrategy.NO_SHARD or self.world_size == 1:
            return shard.narrow(0, 0, self.numel)
        full = empty(self.padded_numel, dtype=shard.dtype, device=shard.device)
        dist.all_gather_into_tensor(full, shard, group=self.process_group)
        return full.narrow(0, 0, self.numel)

    @contextlib.contextmanager
    def summon_full_params(self) -> Iterator[None]:
        """Inside: every unit is gathered and the modules' parameters hold their full values
        (read-only: changes are not written back to the shards)."""
        self._check_root("summon_full_params")
        with no_grad():
            for unit in self._state.units:
                unit._unshard()
        try:
            yield
        finally:
            for unit in self._state.units:
                if unit.sharding_strategy is not ShardingStrategy.NO_SHARD:
                    unit._reshard()

    def full_state_dict(self, rank0_only: bool = True) -> "OrderedDict[str, Tensor] | None":
        """The unwrapped model's state dict (its names and order), gathered; with ``rank0_only``
        the other ranks take part in the gathers and return None."""
        self._check_root("full_state_dict")
        values: dict[_Entry, Tensor] = {}
        with no_grad():
            for unit in self._state.units:
                if unit.flat_param is None:
                    continue
                full = unit._gather_full()
                for e in unit._entries:
                    values[e] = full.narrow(0, e.offset, e.numel).reshape(e.shape).clone()
        if rank0_only and self.rank != 0:
            return None
        out: OrderedDict[str, Tensor] = OrderedDict()
        for key, ref in self._keys:
            out[key] = values[ref] if isinstance(ref, _Entry) else _tensor_at(ref)
        return out

    def load_full_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take every unit's shard (and every buffer) from a full, unwrapped state dict."""
        self._check_root("load_full_state_dict")
        keys = dict(self._keys)
        missing = [k for k in keys if k not in state_dict]
        unexpected = [k for k in state_dict if k not in keys]
        if missing or unexpected:
            raise KeyError(f"load_full_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        by_entry: dict[_Entry, tuple[str, Any]] = {}
        for key, ref in self._keys:
            value = state_dict[key]
            if isinstance(ref, _Entry):
                by_entry.setdefault(ref, (key, value))
            else:
                target = _tensor_at(ref)
                with no_grad():
                    target.copy_(_as_tensor(value, target))
        with no_grad():
            for unit in self._state.units:
                if unit.flat_param is None:
                    continue
                pieces = []
                for e in unit._entries:
                    key, value = by_entry[e]
                    value = _as_tensor(value, unit.flat_param.data)
                    if tuple(value.shape) != e.shape:
                        raise ShapeError(
                            f"load_full_state_dict: {key!r} has shape {tuple(value.shape)}, expected {e.shape}"
                        )
                    pieces.append(value.reshape(-1))
                unit.flat_param.data.copy_(unit._my_slice(cat(pieces)))

    def sharded_state_dict(self) -> dict[str, Any]:
        """This rank's state, no communication: ``{"flat": {flat_param name: shard},
        "replicated": {unwrapped name: buffer or frozen parameter}}``."""
        self._check_root("sharded_state_dict")
        flat = {name: p.data for name, p in self.named_parameters() if name.endswith("flat_param")}
        replicated = {key: _tensor_at(ref) for key, ref in self._keys if not isinstance(ref, _Entry)}
        return {"flat": flat, "replicated": replicated}

    def load_sharded_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`sharded_state_dict` saved by this rank (same world size and strategy)."""
        self._check_root("load_sharded_state_dict")
        params = {name: p for name, p in self.named_parameters() if name.endswith("flat_param")}
        flat, replicated = state["flat"], state["replicated"]
        if set(flat) != set(params):
            raise KeyError(f"load_sharded_state_dict: units {sorted(flat)} do not match the model's {sorted(params)}")
        own = {key: ref for key, ref in self._keys if not isinstance(ref, _Entry)}
        if set(replicated) != set(own):
            raise KeyError(f"load_sharded_state_dict: buffers {sorted(replicated)} do not match {sorted(own)}")
        with no_grad():
            for name, p in params.items():
                value = _as_tensor(flat[name], p.data)
                if tuple(value.shape) != tuple(p.shape):
                    raise ValueError(
                        f"load_sharded_state_dict: shard {name!r} has shape {tuple(value.shape)}, this rank's has "
                        f"{tuple(p.shape)} (another world size, sharding strategy or model)"
                    )
                p.data.copy_(value)
            for key, ref in own.items():
                target = _tensor_at(ref)
                target.copy_(_as_tensor(replicated[key], target))

    def _my_slice(self, flat: Tensor) -> Tensor:
        """This rank's slice of a whole (unpadded) flat vector of this unit."""
        if self.padded_numel > self.numel:
            flat = cat([flat, zeros(self.padded_numel - self.numel, dtype=flat.dtype, device=flat.device)])
        if self.sharding_strategy is ShardingStrategy.NO_SHARD:
            return flat
        return flat.narrow(0, self.rank * self.shard_numel, self.shard_numel)

    def flat_param_names(self) -> list[str]:
        """The dotted name of each unit's ``flat_param`` in ``named_parameters()``, unit order."""
        self._check_root("flat_param_names")
        index = {id(p): n for n, p in self.named_parameters()}
        return [index[id(u.flat_param)] for u in self._state.units if u.flat_param is not None]

    def full_optim_state_dict(self, optimizer: Any, rank0_only: bool = True) -> dict[str, Any] | None:
        """The optimizer's state as an unsharded optimizer on the unwrapped model would hold it:
        ``{"state": {param name: {...}}, "param_groups": [...]}`` keyed by the unwrapped names."""
        self._check_root("full_optim_state_dict")
        units = [u for u in self._state.units if u.flat_param is not None]
        names = self._unit_param_names()
        sd = optimizer.state_dict()
        index = _optimizer_index(optimizer)
        state_out: dict[str, dict[str, Any]] = {}
        with no_grad():
            for unit in units:
                saved = sd["state"].get(index[id(unit.flat_param)])
                if saved is None:
                    continue
                per_param: list[dict[str, Any]] = [{} for _ in unit._entries]
                for key, value in saved.items():
                    if isinstance(value, Tensor) and tuple(value.shape) == (unit.shard_numel,):
                        full = unit._gather_state(value)
                        for d, e in zip(per_param, unit._entries):
                            d[key] = full.narrow(0, e.offset, e.numel).reshape(e.shape).clone()
                    else:
                        for d in per_param:
                            d[key] = value.clone() if isinstance(value, Tensor) else value
                for d, e in zip(per_param, unit._entries):
                    state_out[names[e]] = d
        if rank0_only and self.rank != 0:
            return None
        groups = []
        for group in sd["param_groups"]:
            packed = {k: v for k, v in group.items() if k != "params"}
            flat_ids = set(group["params"])
            packed["params"] = [names[e] for u in units if index[id(u.flat_param)] in flat_ids for e in u._entries]
            groups.append(packed)
        return {"state": state_out, "param_groups": groups}

    def load_full_optim_state_dict(self, optimizer: Any, full: dict[str, Any]) -> None:
        """Shard a :meth:`full_optim_state_dict` (saved at any world size) into ``optimizer``."""
        self._check_root("load_full_optim_state_dict")
        units = [u for u in self._state.units if u.flat_param is not None]
        names = self._unit_param_names()
        index = _optimizer_index(optimizer)
        state: dict[int, dict[str, Any]] = {}
        for unit in units:
            per = [full["state"].get(names[e]) for e in unit._entries]
            if all(p is None for p in per):
                continue
            if any(p is None for p in per):
                raise KeyError("load_full_optim_state_dict: some parameters of one FSDP unit have no state")
            packed: dict[str, Any] = {}
            for key, first in per[0].items():
                if isinstance(first, Tensor) and tuple(first.shape) == unit._entries[0].shape:
                    flat = cat([_as_tensor(p[key], unit.flat_param.data).reshape(-1) for p in per])
                    packed[key] = unit._my_slice(flat).clone()
                else:
                    packed[key] = first
            state[index[id(unit.flat_param)]] = packed
        sd = optimizer.state_dict()
        groups = []
        for own, saved in zip(sd["param_groups"], full["param_groups"]):
            groups.append({**{k: v for k, v in saved.items() if k != "params"}, "params": own["params"]})
        optimizer.load_state_dict({"state": state, "param_groups": groups})

    def _gather_state(self, shard_value: Tensor) -> Tensor:
        value = shard_value.to(self.compute_device)
        if self.sharding_strategy is ShardingStrategy.NO_SHARD or self.world_size == 1:
            return value.narrow(0, 0, self.numel)
        full = empty(self.padded_numel, dtype=value.dtype, device=value.device)
        dist.all_gather_into_tensor(full, value, group=self.process_group)
        return full.narrow(0, 0, self.numel)

    def _unit_param_names(self) -> dict[_Entry, str]:
        """Each flattened parameter's name in the unwrapped model (its first state-dict key)."""
        names: dict[_Entry, str] = {}
        for key, ref in self._keys:
            if isinstance(ref, _Entry):
                names.setdefault(ref, key)
        return names

    def clip_grad_norm_(self, max_norm: float, norm_type: float = 2.0) -> Tensor:
        """Scale every shard's gradient so the global norm (over all ranks' shards) is at most
        ``max_norm``; returns the norm before clipping (``torch``'s FSDP.clip_grad_norm_)."""
        self._check_root("clip_grad_norm_")
        if norm_type != 2.0:
            raise ValueError("FullyShardedDataParallel.clip_grad_norm_: only norm_type=2.0 is supported")
        grads = [
            u.flat_param.grad.data
            for u in self._state.units
            if u.flat_param is not None and u.flat_param.grad is not None
        ]
        local = sum(float((g.double() * g.double()).sum().item()) for g in grads)
        total = tensor([local], dtype="float64")
        if self.sharding_strategy is not ShardingStrategy.NO_SHARD and self.world_size > 1:
            dist.all_reduce(total, group=self.process_group)
        norm = float(total.item()) ** 0.5
        coef = max_norm / (norm + 1e-6)
        if coef < 1.0:
            for g in grads:
                g.mul_(coef)
        return tensor(norm, dtype="float64")

    def sharded_param_bytes(self) -> int:
        """Bytes this rank holds for parameters between iterations (the shards, all units)."""
        return sum(u.flat_param.data.nbytes for u in self._state.units if u.flat_param is not None)

    @property
    def peak_unsharded_bytes(self) -> int:
        """The most bytes of gathered parameters alive at once since construction."""
        return self._state.peak_bytes

    def extra_repr(self) -> str:
        shard = f", numel={self.numel}, shard_numel={self.shard_numel}" if self.flat_param is not None else ""
        return f"sharding_strategy={self.sharding_strategy.name}, world_size={self.world_size}{shard}"


def _own_modules(module: Module) -> Iterator[Module]:
    """``module`` and its descendants, pre-order, not entering FSDP units (they own theirs)."""
    seen: set[int] = set()

    def walk(m: Module) -> Iterator[Module]:
        if id(m) in seen:
            return
        seen.add(id(m))
        yield m
        for _, child in m.named_children():
            if not isinstance(child, FullyShardedDataParallel):
                yield from walk(child)

    yield from walk(module)


def _state_keys(module: Module, entry_of: dict[int, _Entry]) -> list[tuple[str, Any]]:
    """``(key, where)`` in the order of the unwrapped ``module.state_dict()``: ``where`` is the
    :class:`_Entry` of a flattened parameter or ``(owner, attribute)`` of a buffer or a frozen
    parameter. A nested unit contributes the keys it recorded, under its path."""
    persistent = set(module.state_dict().keys())
    keys: list[tuple[str, Any]] = []

    def walk(m: Module, prefix: str) -> None:
        if isinstance(m, FullyShardedDataParallel):
            keys.extend((prefix + k, ref) for k, ref in m._keys)
            return
        for name, p in m.named_parameters(recurse=False):
            keys.append((prefix + name, entry_of.get(id(p), (m, name))))
        for name, _ in m.named_buffers(recurse=False):
            if prefix + name in persistent:
                keys.append((prefix + name, (m, name)))
        for name, child in m.named_children():
            walk(child, f"{prefix}{name}.")

    walk(module, "")
    return keys


def _wrap_children(module: Module, policy: Callable[[Module], bool], config: dict) -> None:
    """Replace (bottom-up) every descendant the policy picks by an FSDP unit around it."""
    for name, child in list(module.named_children()):
        if isinstance(child, FullyShardedDataParallel):
            continue
        _wrap_children(child, policy, config)
        if policy(child):
            setattr(module, name, FullyShardedDataParallel(child, auto_wrap_policy=None, **config))


def _tensor_at(ref: tuple) -> Tensor:
    value = getattr(*ref)
    return value.data if isinstance(value, Variable) else value


def _as_tensor(value: Any, like: Tensor) -> Tensor:
    """``value`` (a Tensor, Variable or array) as a Tensor of ``like``'s dtype and device."""
    if isinstance(value, Variable):
        value = value.data
    if not isinstance(value, Tensor):
        value = tensor(value)
    return value.to(like.device, like.dtype)


def _optimizer_index(optimizer: Any) -> dict[int, int]:
    """id(parameter) -> its index in ``optimizer.state_dict()`` (positions across groups)."""
    index: dict[int, int] = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            index.setdefault(id(p), len(index))
    return index
