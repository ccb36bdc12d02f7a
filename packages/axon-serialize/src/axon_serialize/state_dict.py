"""Saving and loading flat state dicts in any of the three formats, chosen by suffix."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from .arrays import host_array, to_tensor
from .container import read_container, write_container
from .errors import SerializationError
from .json_io import load_json, save_json
from .safetensors_io import load_safetensors, save_safetensors

__all__ = ["save_state_dict", "load_state_dict", "FORMATS"]

FORMATS = ("safetensors", "json", "axon")
_BY_SUFFIX = {".safetensors": "safetensors", ".json": "json", ".axon": "axon"}


def _format(path: str | os.PathLike[str], format: str | None) -> str:
    if format is not None:
        if format not in FORMATS:
            raise SerializationError(f"unknown format {format!r}; expected one of {FORMATS}")
        return format
    chosen = _BY_SUFFIX.get(Path(path).suffix)
    if chosen is None:
        raise SerializationError(f"{path}: cannot tell the format from the suffix; pass format= one of {FORMATS}")
    return chosen


def save_state_dict(
    state: Mapping[str, Any], path: str | os.PathLike[str], format: str | None = None, key: bytes | None = None
) -> None:
    """Write ``{name: tensor}`` atomically as safetensors, JSON or the axon container; with ``key``
    (axon only) the container carries an HMAC-SHA256 under it instead of a plain SHA-256."""
    chosen = _format(path, format)
    if key is not None and chosen != "axon":
        raise SerializationError(f"{path}: only the axon format can be signed with a key, not {chosen}")
    if chosen == "safetensors":
        save_safetensors(state, path)
    elif chosen == "json":
        save_json(state, path)
    else:
        arrays = {name: host_array(v, name) for name, v in state.items()}
        write_container(path, arrays, tree=None, metadata={"kind": "state_dict"}, key=key)


def load_state_dict(
    path: str | os.PathLike[str], format: str | None = None, device: Any = None, key: bytes | None = None
) -> dict[str, Any]:
    """Read ``{name: Tensor}`` (on ``device``) from a file written by :func:`save_state_dict`; a
    signed axon file needs its ``key``, and with ``key`` an unsigned one is refused."""
    chosen = _format(path, format)
    if key is not None and chosen != "axon":
        raise SerializationError(f"{path}: only the axon format can be signed with a key, not {chosen}")
    if chosen == "safetensors":
        return load_safetensors(path, device)
    if chosen == "json":
        return load_json(path, device)
    arrays, _, _ = read_container(path, key=key)
    return {name: to_tensor(array, device) for name, array in arrays.items()}
