"""HF model folders: ``config.json`` plus ``model.safetensors`` or shards listed in
``model.safetensors.index.json``.

Loading validates before copying: every tensor the model needs must be in the files with the
shape the config implies (a :class:`ModelLoadError` names the file, the tensor and both shapes),
tied embeddings may be absent, bf16/f16 files are converted to the model's dtype. Pickled
checkpoints (``pytorch_model.bin``) are refused: loading one would run code from the file.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from axon_core import atomic_writer
from axon_serialize import SerializationError, load_safetensors, save_safetensors

from ..config import LLMConfig
from ..errors import ModelLoadError

__all__ = ["load_hf_model", "read_hf_config", "read_hf_state", "save_hf_model"]

WEIGHTS_NAME = "model.safetensors"
INDEX_NAME = "model.safetensors.index.json"
_PICKLED = ("pytorch_model.bin", "pytorch_model.bin.index.json", "model.ckpt", "tf_model.h5", "flax_model.msgpack")


def read_hf_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """``config.json`` of an HF folder as a dict."""
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        raise ModelLoadError("not an HF model folder: config.json is missing", path=folder)
    try:
        with open(path, encoding="utf-8") as handle:
            values = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"cannot read config.json: {error}", path=path) from error
    if not isinstance(values, dict):
        raise ModelLoadError("config.json must hold a JSON object", path=path)
    return values


def _weight_files(folder: str) -> list[str]:
    single, index = os.path.join(folder, WEIGHTS_NAME), os.path.join(folder, INDEX_NAME)
    if os.path.isfile(index):
        try:
            with open(index, encoding="utf-8") as handle:
                weight_map = json.load(handle)["weight_map"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
            raise ModelLoadError(f"cannot read the shard index: {error}", path=index) from error
        shards = sorted(set(weight_map.values()))
        for shard in shards:
            if os.path.basename(shard) != shard:
                raise ModelLoadError(f"shard name {shard!r} must be a file in the folder", path=index)
            if not os.path.isfile(os.path.join(folder, shard)):
                raise ModelLoadError(f"shard {shard!r} listed in the index is missing", path=index)
        return [os.path.join(folder, shard) for shard in shards]
    if os.path.isfile(single):
        return [single]
    pickled = [name for name in _PICKLED if os.path.exists(os.path.join(folder, name))]
    if pickled:
        raise ModelLoadError(
            f"the folder holds only {pickled[0]}, a pickled checkpoint, which axon does not load (unpickling runs "
            "code from the file). Convert it once where you trust it: in Python with transformers, "
            "`AutoModel.from_pretrained(folder).save_pretrained(folder, safe_serialization=True)` writes "
            "model.safetensors",
            path=folder,
        )
    others = sorted(name for name in os.listdir(folder) if name.endswith(".safetensors"))
    if len(others) == 1:
        return [os.path.join(folder, others[0])]
    raise ModelLoadError(f"no {WEIGHTS_NAME} or {INDEX_NAME} in the folder", path=folder)


def read_hf_state(folder: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """All tensors of an HF folder, ``({name: Tensor}, {name: file it came from})``."""
    folder = os.fspath(folder)
    state: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for path in _weight_files(folder):
        try:
            tensors = load_safetensors(path)
        except SerializationError as error:
            raise ModelLoadError(str(error), path=path) from error
        for name, value in tensors.items():
            if name in state:
                raise ModelLoadError(f"tensor stored twice (also in {origin[name]})", path=path, tensor=name)
            state[name], origin[name] = value, path
    return state, origin


def load_hf_model(folder: str | os.PathLike[str], model_class: Any = None, dtype: Any = None) -> Any:
    """Build the model ``config.json`` describes and fill it from the folder's safetensors.

    ``model_class`` defaults to the class registered for the config's ``model_type`` (and its
    ``architectures`` entry); ``dtype`` None gives float32 parameters, ``"auto"`` keeps the file's.
    """
    from ..models import model_class_for

    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ModelLoadError("no such model folder", path=folder)
    values = read_hf_config(folder)
    if model_class is None:
        model_class = model_class_for(values, path=folder)
    config: LLMConfig = model_class.config_class.from_dict(values)
    state, origin = read_hf_state(folder)
    model = model_class(config)
    if dtype == "auto":
        floating = {value.dtype for value in state.values() if value.dtype.is_floating_point}
        if len(floating) == 1:
            model.to(dtype=floating.pop())
    elif dtype is not None:
        model.to(dtype=dtype)
    load_into(model, state, origin)
    if os.path.isfile(os.path.join(folder, "generation_config.json")) and hasattr(model, "generation_config"):
        from ..generation import GenerationConfig

        # the folder's generation defaults (eos lists, sampling settings), as transformers reads them
        model.generation_config = GenerationConfig.from_pretrained(folder)
    model.eval()
    return model


def load_into(model: Any, hf_state: dict[str, Any], origin: dict[str, str] | None = None) -> None:
    """Copy an HF-named state into ``model``, checking names and shapes first."""
    origin = origin or {}
    state = type(model).from_hf_state(dict(hf_state), model.config)
    own = model.state_dict()
    tied = set(model.tied_weights) if model.config.tie_word_embeddings else set()
    missing = [name for name in own if name not in state and name not in tied]
    if missing:
        where = next(iter(origin.values()), None)
        raise ModelLoadError(
            f"{len(missing)} tensor(s) the {type(model).__name__} needs are not in the files, first "
            f"{missing[0]!r} of shape {tuple(own[missing[0]].shape)}",
            path=os.path.dirname(where) if where else None,
            tensor=missing[0],
        )
    for name, value in state.items():
        if name not in own:
            continue
        if tuple(value.shape) != tuple(own[name].shape):
            raise ModelLoadError(
                f"shape mismatch: the config implies {tuple(own[name].shape)}, the file holds {tuple(value.shape)}",
                path=origin.get(name),
                tensor=name,
            )
    unexpected = [n for n in state if n not in own and not any(n.endswith(s) for s in model.ignored_on_load)]
    if unexpected:
        raise ModelLoadError(
            f"{len(unexpected)} tensor(s) in the files are not part of {type(model).__name__}: {unexpected[:5]}",
            path=origin.get(unexpected[0]),
            tensor=unexpected[0],
        )
    model.load_state_dict({name: value for name, value in state.items() if name in own}, strict=False)
    model.tie_weights()


def save_hf_model(model: Any, directory: str | os.PathLike[str], max_shard_size: int | None = None) -> None:
    """``config.json`` and the weights under HF's names; shards of at most ``max_shard_size`` bytes
    with an index when given. Tied copies are left out, as ``transformers`` does."""
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    own = dict(model.state_dict())
    if model.config.tie_word_embeddings:
        for name in model.tied_weights:
            own.pop(name, None)
    state = model.to_hf_state(own)
    arrays = {name: np.ascontiguousarray(value.numpy()) for name, value in state.items()}
    config = model.config.to_dict()
    floating = {a.dtype.name for a in arrays.values() if a.dtype.kind == "f"}
    config["dtype"] = floating.pop() if len(floating) == 1 else "float32"
    metadata = {"format": "pt"}
    if max_shard_size is None or sum(a.nbytes for a in arrays.values()) <= max_shard_size:
        save_safetensors(arrays, os.path.join(directory, WEIGHTS_NAME), metadata=metadata)
    else:
        shards: list[dict[str, np.ndarray]] = [{}]
        for name, array in arrays.items():
            if shards[-1] and sum(a.nbytes for a in shards[-1].values()) + array.nbytes > max_shard_size:
                shards.append({})
            shards[-1][name] = array
        weight_map = {}
        for number, shard in enumerate(shards, start=1):
            file_name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
            save_safetensors(shard, os.path.join(directory, file_name), metadata=metadata)
            weight_map.update({name: file_name for name in shard})
        index = {"metadata": {"total_size": sum(a.nbytes for a in arrays.values())}, "weight_map": weight_map}
        with atomic_writer(os.path.join(directory, INDEX_NAME)) as handle:
            handle.write(json.dumps(index, indent=2).encode())
    with atomic_writer(os.path.join(directory, "config.json")) as handle:
        handle.write(json.dumps(config, indent=2, sort_keys=True).encode())
    generation = getattr(model, "generation_config", None)
    if generation is not None:
        with atomic_writer(os.path.join(directory, "generation_config.json")) as handle:
            handle.write(json.dumps(generation.to_dict(), indent=2, sort_keys=True).encode())
