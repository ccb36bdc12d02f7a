"""Checkpoints of a distributed run: sharded (one file per rank) and full (one file), atomic.

A checkpoint is a directory::

    manifest.json                       what was saved, by how many ranks, each file's SHA-256
    data-<token>-rank<r>-of-<n>.npz     sharded: rank r's shards (and its ``extra``)
    data-<token>-full.npz               full: the unwrapped model's state dict, written by rank 0

The data files are NumPy ``.npz`` archives read with ``allow_pickle=False`` (no code runs on
load); structure (nesting, dict keys, numbers, strings) travels as JSON inside the archive.
Every file is written through ``axon_core.atomic_writer`` (temporary file, fsync, rename) under
a fresh token; ``manifest.json`` is replaced last, by rank 0, once every rank has written: it is
the commit point. A crash before it leaves the previous manifest naming the previous files,
which are deleted only after the new manifest is in place.

- ``kind="sharded"``: FSDP's flat shards and its optimizer's sharded state, exactly; a pipeline
  stage's or any rank-local module's state dict. Resumes bit-exact on the same world size.
- ``kind="full"``: the unwrapped model's state dict and the optimizer's state keyed by parameter
  name (PyTorch's "full optimizer state dict"), gathered on rank 0. Loads into FSDP (any world
  size, any sharding strategy), DDP or an unwrapped model.

``extra`` is anything JSON-like plus tensors (training step, RNG states, data-loader position):
per rank in a sharded checkpoint, rank 0's in a full one. All ranks must see the directory
(a shared file system when ranks span hosts).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from axon_autograd import Variable
from axon_core import AxonError, as_dtype, atomic_writer
from axon_nn import Module
from axon_tensor import Tensor, tensor

from . import collectives as dist
from ._common import group_root
from .ddp import DistributedDataParallel
from .fsdp import FullyShardedDataParallel

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "read_manifest"]

_FORMAT = "axon-distributed-checkpoint"
_VERSION = 1
_TREE = "__tree__.json"


class CheckpointError(AxonError, RuntimeError):
    """A checkpoint that is missing, damaged, or does not fit the model or world it is loaded into."""


# -- saving --------------------------------------------------------------------------------------
def save_checkpoint(
    directory: str | os.PathLike[str],
    model: Module,
    optimizer: Any = None,
    *,
    kind: str = "sharded",
    extra: dict[str, Any] | None = None,
    group: Any = None,
) -> None:
    """Save ``model`` (FSDP, DDP or a plain Module) and ``optimizer`` into ``directory``; every
    rank of ``group`` calls it. See the module docstring for the two kinds."""
    if kind not in ("sharded", "full"):
        raise ValueError(f"save_checkpoint: kind must be 'sharded' or 'full', got {kind!r}")
    directory = Path(directory)
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    token = _agree_on_token(group)
    if kind == "sharded":
        payload = {"model": _local_model_state(model), "optimizer": _local_optim_state(optimizer), "extra": extra}
        name = f"data-{token}-rank{rank}-of-{world}.npz"
        digest = _write_npz(directory / name, payload)
        digests = _all_gather_digests(digest, group)
        files = {str(r): {"name": f"data-{token}-rank{r}-of-{world}.npz", "sha256": d} for r, d in enumerate(digests)}
    else:
        state, optim = _full_model_state(model), _full_optim_state(model, optimizer)
        files = {}
        if rank == 0:
            name = f"data-{token}-full.npz"
            digest = _write_npz(directory / name, {"model": state, "optimizer": optim, "extra": extra})
            files = {"full": {"name": name, "sha256": digest}}
    dist.barrier(group)
    if rank == 0:
        manifest = {"format": _FORMAT, "version": _VERSION, "kind": kind, "world_size": world, "token": token}
        manifest["files"] = files
        manifest["model"] = type(model).__name__
        with atomic_writer(directory / "manifest.json") as handle:
            handle.write(json.dumps(manifest, indent=1).encode())
        keep = {entry["name"] for entry in files.values()}
        for stale in directory.glob("data-*.npz"):
            if stale.name not in keep:
                stale.unlink(missing_ok=True)
    dist.barrier(group)


def _agree_on_token(group: Any) -> str:
    value = tensor(np.array([secrets.randbits(62)], dtype=np.int64))
    dist.broadcast(value, group_root(group), group=group)
    return f"{int(value.item()):016x}"


def _all_gather_digests(digest: str, group: Any) -> list[str]:
    mine = tensor(np.frombuffer(bytes.fromhex(digest), dtype=np.int64).copy())
    every = [tensor(np.zeros(4, dtype=np.int64)) for _ in range(dist.get_world_size(group))]
    dist.all_gather(every, mine, group=group)
    return [t.numpy().tobytes().hex() for t in every]


# -- loading -------------------------------------------------------------------------------------
def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of the checkpoint in ``directory`` (CheckpointError when there is none)."""
    path = Path(directory) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{directory}: no checkpoint here (manifest.json is missing)") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable manifest: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise CheckpointError(f"{path}: not an axon-distributed checkpoint manifest")
    if manifest.get("version") != _VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {manifest.get('version')}, this reads {_VERSION}")
    return manifest


def load_checkpoint(
    directory: str | os.PathLike[str], model: Module, optimizer: Any = None, *, group: Any = None
) -> dict[str, Any] | None:
    """Load the checkpoint in ``directory`` into ``model`` and ``optimizer`` (every rank calls it)
    and return the ``extra`` saved with it (this rank's, for a sharded checkpoint)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    if manifest["kind"] == "sharded":
        if manifest["world_size"] != world:
            raise CheckpointError(
                f"{directory}: a sharded checkpoint written by {manifest['world_size']} ranks cannot be loaded by "
                f"{world}; save a full checkpoint (kind='full') to change the world size"
            )
        payload = _read_npz(directory, manifest["files"][str(rank)])
        _load_local_model_state(model, payload["model"], directory)
        if optimizer is not None:
            if payload["optimizer"] is None:
                raise CheckpointError(f"{directory}: the checkpoint holds no optimizer state")
            optimizer.load_state_dict(payload["optimizer"])
    else:
        payload = _read_npz(directory, manifest["files"]["full"])
        _load_full_model_state(model, payload["model"], directory)
        if optimizer is not None:
            if payload["optimizer"] is None:
                raise CheckpointError(f"{directory}: the checkpoint holds no optimizer state")
            _load_full_optim_state(model, optimizer, payload["optimizer"])
    return payload["extra"]


# -- what is saved -------------------------------------------------------------------------------
def _unwrapped(model: Module) -> Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def _local_model_state(model: Module) -> dict[str, Any]:
    if isinstance(model, FullyShardedDataParallel):
        return model.sharded_state_dict()
    return dict(_unwrapped(model).state_dict())


def _local_optim_state(optimizer: Any) -> dict[str, Any] | None:
    return None if optimizer is None else optimizer.state_dict()


def _load_local_model_state(model: Module, state: dict[str, Any], where: Path) -> None:
    try:
        if isinstance(model, FullyShardedDataParallel):
            model.load_sharded_state_dict(state)
        else:
            _unwrapped(model).load_state_dict(state)
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{where}: {exc}") from exc


def _full_model_state(model: Module) -> "OrderedDict[str, Tensor] | None":
    if isinstance(model, FullyShardedDataParallel):
        return model.full_state_dict(rank0_only=True)
    return OrderedDict(_unwrapped(model).state_dict())


def _load_full_model_state(model: Module, state: dict[str, Any], where: Path) -> None:
    if isinstance(model, FullyShardedDataParallel):
        try:
            model.load_full_state_dict(state)
        except KeyError as exc:
            raise CheckpointError(f"{where}: {exc.args[0]}") from exc
        return
    _unwrapped(model).load_state_dict(state)


def _full_optim_state(model: Module, optimizer: Any) -> dict[str, Any] | None:
    """The optimizer state keyed by the unwrapped parameter names (on rank 0 for FSDP)."""
    if optimizer is None:
        return None
    if isinstance(model, FullyShardedDataParallel):
        return model.full_optim_state_dict(optimizer, rank0_only=True)
    names = {id(p): n for n, p in _unwrapped(model).named_parameters()}
    sd = optimizer.state_dict()
    order = [p for g in optimizer.param_groups for p in g["params"]]
    by_index = {i: names[id(p)] for i, p in enumerate(dict.fromkeys(order))}
    return {
        "state": {by_index[i]: value for i, value in sd["state"].items()},
        "param_groups": [{**g, "params": [by_index[i] for i in g["params"]]} for g in sd["param_groups"]],
    }


def _load_full_optim_state(model: Module, optimizer: Any, full: dict[str, Any]) -> None:
    if isinstance(model, FullyShardedDataParallel):
        model.load_full_optim_state_dict(optimizer, full)
        return
    names = {id(p): n for n, p in _unwrapped(model).named_parameters()}
    order = list(dict.fromkeys(p for g in optimizer.param_groups for p in g["params"]))
    index = {names[id(p)]: i for i, p in enumerate(order)}
    unknown = sorted(set(full["state"]) - set(index))
    if unknown:
        raise CheckpointError(f"the checkpoint holds optimizer state for parameters the model lacks: {unknown}")
    own = optimizer.state_dict()["param_groups"]
    if len(own) != len(full["param_groups"]):
        raise CheckpointError(
            f"the checkpoint's optimizer has {len(full['param_groups'])} parameter groups, this one {len(own)}"
        )
    # Hyper-parameters from the checkpoint, parameters in this optimizer's own order.
    groups = [
        {**{k: v for k, v in saved.items() if k != "params"}, "params": mine["params"]}
        for mine, saved in zip(own, full["param_groups"])
    ]
    state = {index[name]: value for name, value in full["state"].items()}
    optimizer.load_state_dict({"state": state, "param_groups": groups})


# -- the file format -------------------------------------------------------------------------------
def _write_npz(path: Path, payload: Any) -> str:
    """Write ``payload`` as an ``.npz`` (arrays plus a JSON tree) atomically; return its SHA-256."""
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(payload, arrays)
    arrays[_TREE] = np.frombuffer(json.dumps(tree).encode(), dtype=np.uint8)
    with atomic_writer(path) as handle:
        np.savez(handle, **arrays)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_npz(directory: Path, entry: dict[str, str]) -> Any:
    path = directory / entry["name"]
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: a file the manifest names is missing") from None
    if hashlib.sha256(raw).hexdigest() != entry["sha256"]:
        raise CheckpointError(f"{path}: SHA-256 does not match the manifest (a damaged or partial file)")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError) as exc:
        raise CheckpointError(f"{path}: not a readable .npz archive: {exc}") from exc
    if _TREE not in arrays:
        raise CheckpointError(f"{path}: the archive lacks its structure ({_TREE})")
    tree = json.loads(arrays.pop(_TREE).tobytes())
    return _decode(tree, arrays, path)


def _encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, Variable):
        value = value.data
    if isinstance(value, Tensor):
        name = f"a{len(arrays)}"
        array = value.numpy()
        dtype = value.dtype.name
        if array.dtype.kind == "V" or dtype == "bfloat16":
            array = array.view(np.uint16)  # ml_dtypes' bfloat16: kept as its bits
        arrays[name] = np.ascontiguousarray(array)
        return {"__tensor__": name, "dtype": dtype, "device": str(value.device)}
    if isinstance(value, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = np.ascontiguousarray(value)
        return {"__ndarray__": name}
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k, arrays), _encode(v, arrays)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"__tuple__" if isinstance(value, tuple) else "__list__": [_encode(v, arrays) for v in value]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"save_checkpoint: cannot save a {type(value).__name__} (tensors, numbers, strings, lists, dicts)")


def _decode(tree: Any, arrays: dict[str, np.ndarray], where: Path) -> Any:
    if isinstance(tree, dict):
        if "__tensor__" in tree:
            array = _array(arrays, tree["__tensor__"], where)
            dtype = as_dtype(tree["dtype"])
            if dtype.name == "bfloat16":
                array = array.view(dtype.np)
            return tensor(array, dtype=dtype)
        if "__ndarray__" in tree:
            return _array(arrays, tree["__ndarray__"], where)
        if "__dict__" in tree:
            return {_decode(k, arrays, where): _decode(v, arrays, where) for k, v in tree["__dict__"]}
        if "__list__" in tree:
            return [_decode(v, arrays, where) for v in tree["__list__"]]
        if "__tuple__" in tree:
            return tuple(_decode(v, arrays, where) for v in tree["__tuple__"])
        raise CheckpointError(f"{where}: unknown entry in the checkpoint's structure: {sorted(tree)}")
    return tree


def _array(arrays: dict[str, np.ndarray], name: str, where: Path) -> np.ndarray:
    if name not in arrays:
        raise CheckpointError(f"{where}: the structure names array {name!r}, which the archive lacks")
    return arrays[name]
