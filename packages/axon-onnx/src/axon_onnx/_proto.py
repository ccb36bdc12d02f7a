"""Reading ModelProto bytes and initializers (inline or external data, bounds checked)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from .errors import ExternalDataError, OnnxFormatError


def read_model(source: str | os.PathLike[str] | bytes | onnx.ModelProto) -> tuple[onnx.ModelProto, Path | None]:
    """Parse ``source`` (a path, the serialized bytes or a ModelProto); return it and its folder."""
    if isinstance(source, onnx.ModelProto):
        return source, None
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _parse(bytes(source), "<bytes>"), None
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OnnxFormatError(f"cannot read ONNX model {path}: {exc}") from exc
    return _parse(data, str(path)), path.parent


def _parse(data: bytes, where: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise OnnxFormatError(f"{where}: not a valid ONNX ModelProto ({exc})") from exc
    if not model.HasField("graph"):
        raise OnnxFormatError(f"{where}: the model has no graph")
    _check_text(model, where)
    return model


def _check_text(model: onnx.ModelProto, where: str) -> None:
    # protobuf hands back a string field that is not valid UTF-8 as bytes; refuse the model
    # rather than let names of two types meet in the graph.
    graph = model.graph
    texts: list[object] = [e.domain for e in model.opset_import]
    for node in graph.node:
        texts += [node.name, node.op_type, node.domain, *node.input, *node.output]
        texts += [a.name for a in node.attribute]
    for values in (graph.input, graph.output, graph.value_info, graph.initializer):
        texts += [v.name for v in values]
    bad = next((t for t in texts if not isinstance(t, str)), None)
    if bad is not None:
        raise OnnxFormatError(f"{where}: name {bad!r} is not valid UTF-8")


def tensor_to_array(tensor: onnx.TensorProto, folder: Path | None) -> np.ndarray:
    """A TensorProto's value as a NumPy array; external data is read from ``folder`` with its
    offset and length checked against the file and the element count checked against the dims."""
    if any(d < 0 for d in tensor.dims):
        raise OnnxFormatError(f"initializer {tensor.name!r}: negative dimension in {list(tensor.dims)}")
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        return _external(tensor, folder)
    try:
        return numpy_helper.to_array(tensor)
    except Exception as exc:  # onnx raises ValueError, TypeError or KeyError on inconsistent protos
        raise OnnxFormatError(f"initializer {tensor.name!r}: {type(exc).__name__}: {exc}") from exc


def _external(tensor: onnx.TensorProto, folder: Path | None) -> np.ndarray:
    info = {entry.key: entry.value for entry in tensor.external_data}
    name = tensor.name
    if folder is None:
        raise ExternalDataError(f"initializer {name!r} has external data but the model was not loaded from a path")
    location = info.get("location")
    if not location:
        raise ExternalDataError(f"initializer {name!r}: external data without a location")
    base = folder.resolve()
    path = (base / location).resolve()
    if base != path and base not in path.parents:
        raise ExternalDataError(f"initializer {name!r}: external file {location!r} is outside {base}")
    if not path.is_file():
        raise ExternalDataError(f"initializer {name!r}: external file {path} does not exist")
    try:
        offset = int(info.get("offset", 0))
        size = path.stat().st_size
        length = int(info["length"]) if "length" in info else size - offset
    except ValueError as exc:
        raise ExternalDataError(f"initializer {name!r}: bad offset/length in external data ({exc})") from exc
    if offset < 0 or length < 0 or offset + length > size:
        raise ExternalDataError(
            f"initializer {name!r}: bytes [{offset}, {offset + length}) lie outside {path} ({size} bytes)"
        )
    dtype = _np_dtype(tensor)
    count = int(np.prod(tensor.dims, dtype=np.int64))
    if count * dtype.itemsize != length:
        raise ExternalDataError(
            f"initializer {name!r}: {length} bytes at offset {offset} of {path} do not hold "
            f"{count} x {dtype} (dims {list(tensor.dims)})"
        )
    with open(path, "rb") as handle:
        handle.seek(offset)
        raw = handle.read(length)
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).reshape(tuple(tensor.dims)).astype(dtype)


def _np_dtype(tensor: onnx.TensorProto) -> np.dtype:
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type))
    except (KeyError, TypeError) as exc:
        raise OnnxFormatError(f"initializer {tensor.name!r}: unknown data type {tensor.data_type}") from exc


def attribute_value(attr: onnx.AttributeProto, folder: Path | None) -> Any:
    """A node attribute as a Python value (tensors as NumPy arrays, graphs refused by the caller)."""
    kind = attr.type
    A = onnx.AttributeProto
    if kind == A.FLOAT:
        return float(attr.f)
    if kind == A.INT:
        return int(attr.i)
    if kind == A.STRING:
        return attr.s.decode("utf-8", errors="replace")
    if kind == A.TENSOR:
        return tensor_to_array(attr.t, folder)
    if kind == A.FLOATS:
        return [float(x) for x in attr.floats]
    if kind == A.INTS:
        return [int(x) for x in attr.ints]
    if kind == A.STRINGS:
        return [s.decode("utf-8", errors="replace") for s in attr.strings]
    if kind == A.GRAPH:
        return attr.g
    raise OnnxFormatError(f"attribute {attr.name!r}: unsupported attribute type {A.AttributeType.Name(kind)}")
