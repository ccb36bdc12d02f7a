"""``OnnxModel``: an ONNX graph as an axon-nn Module, run node by node on any axon device."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from axon_autograd import Variable, no_grad
from axon_core import Device
from axon_nn import Module, Parameter
from axon_tensor import tensor

from . import ops as _ops  # noqa: F401 (registers every operator)
from ._node import Node
from ._proto import attribute_value, read_model, tensor_to_array
from .errors import OnnxError, OnnxFormatError, OnnxRuntimeError, UnsupportedOperatorError
from .registry import OpSpec, lookup, supported_ops

__all__ = ["OnnxModel", "load", "default_opset", "unsupported_nodes"]

_DEFAULT_DOMAINS = ("", "ai.onnx")


def default_opset(model: onnx.ModelProto) -> int:
    """The model's default-domain (``ai.onnx``) opset version."""
    for entry in model.opset_import:
        if entry.domain in _DEFAULT_DOMAINS:
            return int(entry.version)
    raise OnnxFormatError("the model imports no ai.onnx opset (opset_import has no default-domain entry)")


def _node_attrs(node: onnx.NodeProto, folder: Path | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for attr in node.attribute:
        if attr.ref_attr_name:
            raise OnnxFormatError(f"node {node.name!r}: attribute {attr.name!r} refers to a function attribute")
        attrs[attr.name] = attribute_value(attr, folder)
    return attrs


def _reason(spec: OpSpec | None, node: onnx.NodeProto, attrs: dict[str, Any], opset: int) -> str | None:
    if node.domain not in _DEFAULT_DOMAINS:
        return f"operator domain {node.domain!r} is not supported"
    if spec is None:
        first = supported_ops().get(node.op_type)
        if first:
            return f"opset {opset} is older than {first[0]}, the first opset axon implements {node.op_type} for"
        return "operator not implemented"
    unknown = sorted(set(attrs) - spec.attrs, key=str)
    if unknown:
        return f"attribute(s) {', '.join(map(str, unknown))} not supported"
    return spec.check(attrs) if spec.check is not None else None


def unsupported_nodes(model: onnx.ModelProto, folder: Path | None = None) -> list[tuple[str, str, str, int, str]]:
    """Every node of ``model`` that axon cannot run: ``(name, op type, domain, opset, reason)``."""
    opset = default_opset(model)
    found = []
    for node in model.graph.node:
        attrs = _node_attrs(node, folder)
        spec = lookup(node.op_type, opset) if node.domain in _DEFAULT_DOMAINS else None
        reason = _reason(spec, node, attrs, opset)
        if reason is not None:
            found.append((node.name, node.op_type, node.domain, opset, reason))
    return found


def _topological(graph: onnx.GraphProto, known: set[str]) -> list[onnx.NodeProto]:
    """The nodes in an order where each runs after its inputs' producers (Kahn's algorithm)."""
    producers: dict[str, int] = {}
    for index, node in enumerate(graph.node):
        for out in node.output:
            if out:
                if out in producers or out in known:
                    raise OnnxFormatError(f"value {out!r} is produced more than once")
                producers[out] = index
    order: list[onnx.NodeProto] = []
    state = [0] * len(graph.node)  # 0 unvisited, 1 on the stack, 2 done
    for start in range(len(graph.node)):
        if state[start]:
            continue
        stack = [(start, iter(graph.node[start].input))]
        state[start] = 1
        while stack:
            index, inputs = stack[-1]
            for name in inputs:
                if not name or name in known:
                    continue
                if name not in producers:
                    node = graph.node[index]
                    raise OnnxFormatError(
                        f"node {node.name or '<unnamed>'} ({node.op_type}) reads {name!r}, which no input, "
                        f"initializer or node provides"
                    )
                dep = producers[name]
                if state[dep] == 1:
                    raise OnnxFormatError(f"the graph has a cycle through {name!r}")
                if state[dep] == 0:
                    state[dep] = 1
                    stack.append((dep, iter(graph.node[dep].input)))
                    break
            else:
                stack.pop()
                state[index] = 2
                order.append(graph.node[index])
    return order


def _declared_dtype(name: str, kind: onnx.TypeProto) -> np.dtype | None:
    """The NumPy dtype a graph input declares (None when it declares none)."""
    if not kind.HasField("tensor_type") or not kind.tensor_type.elem_type:
        return None
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(kind.tensor_type.elem_type))
    except (KeyError, TypeError, ValueError) as exc:
        raise OnnxFormatError(f"input {name!r}: unknown element type {kind.tensor_type.elem_type}") from exc


def _wanted_outputs(node: onnx.NodeProto) -> int:
    names = list(node.output)
    while names and not names[-1]:
        names.pop()
    return len(names)


def _holder_for(root: Module, name: str) -> tuple[Module, str] | None:
    """The submodule and leaf name that give an initializer named ``a.b.w`` the state-dict key
    ``a.b.w`` (PyTorch exports name them after the module path); None if the name cannot be one."""
    parts = name.split(".")
    if any(not p.isidentifier() or hasattr(Module, p) for p in parts):
        return None
    holder = root
    for part in parts[:-1]:
        child = holder._modules.get(part)
        if child is None:
            if part in holder._parameters:
                return None
            child = Module()
            holder.add_module(part, child)
        holder = child
    if parts[-1] in holder._modules or parts[-1] in holder._parameters:
        return None
    return holder, parts[-1]


class OnnxModel(Module):
    """An imported ONNX graph.

    Floating-point initializers are :class:`axon_nn.Parameter` s (state-dict keys are the
    initializer names where they are dotted identifiers, else the name with non-identifier
    characters replaced by ``_``), so the graph fine-tunes with autograd. ``run`` follows
    onnxruntime's ``InferenceSession.run``; ``model(**feeds)`` returns Variables that carry
    gradients. The graph's own semantics decide train/inference behaviour (Dropout's
    ``training_mode`` input, BatchNormalization's attribute), not ``Module.train()``.
    """

    def __init__(self, proto: onnx.ModelProto, folder: Path | None = None, device: str | Device | None = None) -> None:
        super().__init__()
        graph = proto.graph
        self.device = Device(device) if device is not None else Device("cpu")
        self.opset = default_opset(proto)
        unsupported = unsupported_nodes(proto, folder)
        if unsupported:
            raise UnsupportedOperatorError(unsupported)
        self._constants: dict[str, Variable] = {}
        self._params: dict[str, Parameter] = {}
        for init in graph.initializer:
            self._add_initializer(init.name, tensor_to_array(init, folder))
        for sparse in graph.sparse_initializer:
            raise OnnxFormatError(f"sparse initializer {sparse.values.name!r} is not supported")
        self.input_names = [i.name for i in graph.input if i.name not in self._params and i.name not in self._constants]
        self.output_names = [o.name for o in graph.output]
        self._input_types = {i.name: i.type for i in graph.input}
        self._input_dtypes = {name: _declared_dtype(name, kind) for name, kind in self._input_types.items()}
        known = set(self.input_names) | set(self._params) | set(self._constants)
        self._plan = [
            (
                node,
                lookup(node.op_type, self.opset),
                Node(node.name, node.op_type, self.opset, self.device, attrs, _wanted_outputs(node)),
            )
            for node in _topological(graph, known)
            for attrs in (_node_attrs(node, folder),)
        ]
        produced = known | {out for node, _, _ in self._plan for out in node.output}
        for name in self.output_names:
            if name not in produced:
                raise OnnxFormatError(f"graph output {name!r} is produced by no node, input or initializer")

    def _add_initializer(self, name: str, array: np.ndarray) -> None:
        if name in self._params or name in self._constants:
            raise OnnxFormatError(f"initializer {name!r} appears twice")
        value = tensor(array, device=self.device)
        if not value.dtype.is_floating_point:
            self._constants[name] = Variable(value)
            return
        param = Parameter(value)
        place = _holder_for(self, name)
        if place is None:
            key = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
            if not key or not key.isidentifier() or hasattr(Module, key):
                key = f"p_{key}"
            while key in self._parameters or key in self._modules:
                key += "_"
            place = (self, key)
        place[0].register_parameter(place[1], param)
        self._params[name] = param

    def initializer(self, name: str) -> Parameter:
        """The Parameter holding floating-point initializer ``name`` (its ONNX name)."""
        return self._params[name]

    def _feed(self, name: str, value: Any) -> Variable:
        if isinstance(value, Variable):
            data = value
        else:
            try:
                array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
                data = Variable(tensor(array, device=self.device))
            except (TypeError, ValueError, KeyError) as exc:
                raise OnnxRuntimeError(f"input {name!r}: cannot be made an axon tensor ({exc})") from exc
        kind = self._input_types.get(name)
        if kind is not None and kind.HasField("tensor_type"):
            declared = kind.tensor_type
            want = self._input_dtypes.get(name)
            if want is not None:
                if data.dtype.np != want:
                    raise OnnxRuntimeError(f"input {name!r}: expected dtype {want}, got {data.dtype.np}")
            if declared.HasField("shape"):
                dims = declared.shape.dim
                if len(dims) != data.ndim:
                    raise OnnxRuntimeError(f"input {name!r}: expected rank {len(dims)}, got shape {data.shape}")
                for axis, (dim, size) in enumerate(zip(dims, data.shape, strict=True)):
                    if dim.HasField("dim_value") and dim.dim_value != size:
                        raise OnnxRuntimeError(
                            f"input {name!r}: dim {axis} must be {dim.dim_value}, got shape {data.shape}"
                        )
        return data

    def forward(self, **feeds: Any) -> Any:
        """Run the graph on ``feeds`` (input name -> array, Tensor or Variable); the graph's outputs
        as Variables (one, or a tuple when the graph has several)."""
        outputs = self._execute(feeds, self.output_names)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def run(self, output_names: Sequence[str] | None, feeds: dict[str, Any]) -> list[np.ndarray]:
        """onnxruntime's ``InferenceSession.run``: ``output_names`` (None for all) computed from
        ``feeds`` (name -> NumPy array), returned as NumPy arrays, without recording gradients."""
        names = list(self.output_names if output_names is None else output_names)
        with no_grad():
            return [v.detach().numpy() for v in self._execute(feeds, names)]

    def _execute(self, feeds: dict[str, Any], wanted: list[str]) -> list[Variable]:
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise OnnxRuntimeError(f"missing input(s) {missing}; the graph's inputs are {self.input_names}")
        extra = sorted(set(feeds) - set(self.input_names))
        if extra:
            raise OnnxRuntimeError(f"unknown input(s) {extra}; the graph's inputs are {self.input_names}")
        values: dict[str, Any] = dict(self._constants)
        values.update(self._params)
        values.update({name: self._feed(name, value) for name, value in feeds.items()})
        for name in wanted:
            if name not in values and not any(name in node.output for node, _, _ in self._plan):
                raise OnnxRuntimeError(f"{name!r} is not a value of this graph")
        for proto, spec, node in self._plan:
            args = [values[name] if name else None for name in proto.input]
            try:
                result = spec.fn(node, *args)
            except OnnxError:
                raise
            except Exception as exc:  # an op refusing its inputs: name the node
                raise OnnxRuntimeError(f"{node.where()}: {type(exc).__name__}: {exc}") from exc
            results = result if isinstance(result, tuple) else (result,)
            for name, value in zip(proto.output, results, strict=False):
                if name:
                    values[name] = value
            absent = [n for n in proto.output[len(results) :] if n]
            if absent:
                raise OnnxRuntimeError(f"{node.where()}: output(s) {absent} are not produced by axon's {node.op_type}")
        return [values[name] for name in wanted]


def load(source: str | os.PathLike[str] | bytes | onnx.ModelProto, device: str | Device | None = None) -> OnnxModel:
    """Read an ONNX model (a path, its bytes or a ModelProto) and prepare it to run on ``device``.

    Raises :class:`OnnxFormatError` for malformed models, :class:`ExternalDataError` for bad
    external data, and :class:`UnsupportedOperatorError` listing every node axon cannot run.
    """
    proto, folder = read_model(source)
    return OnnxModel(proto, folder, device)
