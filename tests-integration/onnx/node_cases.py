"""Running the onnx package's backend node test cases through axon_onnx (shared by the
integration test over the whole corpus and the quick unit subset in packages/axon-onnx/tests)."""

from __future__ import annotations

import warnings

import ml_dtypes
import numpy as np
import onnx

import axon_onnx


def case_ops(case) -> set[str]:
    """The op types of a case's graph (default domain only; other domains count as themselves)."""
    return {n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}" for n in case.model.graph.node}


def _close(expected: np.ndarray, actual: np.ndarray, rtol: float, atol: float) -> str | None:
    if expected.dtype != actual.dtype:
        return f"dtype {actual.dtype}, expected {expected.dtype}"
    if expected.shape != actual.shape:
        return f"shape {actual.shape}, expected {expected.shape}"
    if expected.dtype.kind in "fc" or expected.dtype == ml_dtypes.bfloat16:
        if expected.dtype == ml_dtypes.bfloat16:
            expected, actual = expected.astype(np.float32), actual.astype(np.float32)
        if not np.allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True):
            err = np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64)))
            return f"max abs error {err:.3g} over rtol {rtol} / atol {atol}"
        return None
    if not np.array_equal(actual, expected):
        return "values differ (exact comparison)"
    return None


def _array(value):
    # Cases of types NumPy lacks (float8, int4, ...) hold TensorProtos; onnx's helper reads them
    # as ml_dtypes arrays.
    return onnx.numpy_helper.to_array(value) if isinstance(value, onnx.TensorProto) else value


def run_case(case, device: str = "cpu") -> tuple[bool, str]:
    """Load a case's model and run each of its data sets; (passed, reason it failed)."""
    try:
        model = axon_onnx.load(case.model.SerializeToString(), device=device)
    except axon_onnx.OnnxError as exc:
        return False, f"load: {type(exc).__name__}: {exc}"
    graph = case.model.graph
    names = [i.name for i in graph.input if i.name in model.input_names]
    outputs = [o.name for o in graph.output]
    for inputs, expected in case.data_sets:
        inputs = [_array(v) for v in inputs]
        expected = [_array(v) for v in expected]
        feeds = dict(zip(names, inputs))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = model.run(outputs, feeds)
        except Exception as exc:  # noqa: BLE001 (a case's failure is reported, not raised)
            return False, f"run: {type(exc).__name__}: {exc}"
        for name, want, have in zip(outputs, expected, got):
            problem = _close(np.asarray(want), np.asarray(have), case.rtol, case.atol)
            if problem:
                return False, f"output {name}: {problem}"
    return True, ""


__all__ = ["case_ops", "foreign_types", "run_case"]


def foreign_types(case) -> set[str]:
    """The element types in a case's graph (inputs, outputs, initializers, Cast targets) that no
    axon dtype holds (uint16/32/64, float8, int4, strings, ...)."""
    from axon_onnx.ops.generator import AXON_TYPES

    graph = case.model.graph
    codes = {v.type.tensor_type.elem_type for v in list(graph.input) + list(graph.output) + list(graph.value_info)}
    codes |= {t.data_type for t in graph.initializer}
    for node in graph.node:
        for attr in node.attribute:
            if node.op_type == "Cast" and attr.name == "to":
                codes.add(attr.i)
            if attr.type == onnx.AttributeProto.TENSOR:
                codes.add(attr.t.data_type)
    codes.discard(0)
    return {onnx.TensorProto.DataType.Name(c) for c in codes if c not in AXON_TYPES}
