"""Load-time checks: every unsupported node listed at once, malformed bytes and external data
refused with typed errors, opset-dependent forms (attribute vs input) both understood."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import axon_onnx


def _model(nodes, inputs, outputs, initializers=(), opset=17, extra_opsets=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    opsets = [helper.make_opsetid("", opset), *[helper.make_opsetid(d, v) for d, v in extra_opsets]]
    return helper.make_model(graph, opset_imports=opsets)


def _vi(name, shape=None, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def test_every_unsupported_node_is_listed_at_load_time():
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="ok"),
        helper.make_node("GridSample", ["a"], ["b"], name="lp"),
        helper.make_node("MyOp", ["b"], ["c"], name="custom", domain="com.example"),
        helper.make_node("Conv", ["c", "w"], ["d"], name="conv", auto_pad="BOGUS"),
        helper.make_node("Softmax", ["d"], ["e"], name="soft", not_an_attribute=3),
    ]
    model = _model(
        nodes,
        [_vi("x"), _vi("w")],
        [_vi("e")],
        extra_opsets=[("com.example", 1)],
    )
    with pytest.raises(axon_onnx.UnsupportedOperatorError) as info:
        axon_onnx.load(model)
    listed = {(name, op, domain) for name, op, domain, _, _ in info.value.nodes}
    assert listed == {
        ("lp", "GridSample", ""),
        ("custom", "MyOp", "com.example"),
        ("conv", "Conv", ""),
        ("soft", "Softmax", ""),
    }
    text = str(info.value)
    assert "4 unsupported node(s)" in text and "opset 17" in text and "not_an_attribute" in text and "BOGUS" in text
    assert axon_onnx.unsupported_nodes(model) == info.value.nodes


def test_an_opset_older_than_an_op_entry_is_refused():
    model = _model([helper.make_node("ReduceSum", ["x"], ["y"], axes=[0])], [_vi("x")], [_vi("y")], opset=11)
    with pytest.raises(axon_onnx.UnsupportedOperatorError, match="opset 11 is older than 13"):
        axon_onnx.load(model)


@pytest.mark.parametrize("opset", [13, 18])
def test_reduce_mean_axes_as_attribute_then_as_input(opset):
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    if opset == 13:
        nodes, inits = [helper.make_node("ReduceMean", ["x"], ["y"], axes=[0, 2], keepdims=0)], []
    else:
        nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)]
        inits = [numpy_helper.from_array(np.array([0, 2], np.int64), "axes")]
    model = _model(nodes, [_vi("x", [2, 3, 4])], [_vi("y")], inits, opset=opset)
    (y,) = axon_onnx.load(model).run(None, {"x": x})
    np.testing.assert_allclose(y, x.mean(axis=(0, 2)), rtol=1e-6)


def test_split_sizes_input_and_num_outputs_attribute():
    x = np.arange(10, dtype=np.float32)
    as_input = _model(
        [helper.make_node("Split", ["x", "s"], ["a", "b"])],
        [_vi("x", [10])],
        [_vi("a"), _vi("b")],
        [numpy_helper.from_array(np.array([3, 7], np.int64), "s")],
        opset=13,
    )
    a, b = axon_onnx.load(as_input).run(None, {"x": x})
    np.testing.assert_array_equal(a, x[:3])
    np.testing.assert_array_equal(b, x[3:])
    by_count = _model(
        [helper.make_node("Split", ["x"], ["a", "b", "c"], num_outputs=3)],
        [_vi("x", [10])],
        [_vi("a"), _vi("b"), _vi("c")],
        opset=18,
    )
    parts = axon_onnx.load(by_count).run(None, {"x": x})
    assert [p.tolist() for p in parts] == [x[:4].tolist(), x[4:8].tolist(), x[8:].tolist()]


def test_malformed_bytes_and_graphs_are_typed_errors(tmp_path):
    with pytest.raises(axon_onnx.OnnxFormatError):
        axon_onnx.load(b"\xff\xff\xff not a model")
    with pytest.raises(axon_onnx.OnnxFormatError, match="cannot read"):
        axon_onnx.load(tmp_path / "missing.onnx")
    dangling = _model([helper.make_node("Relu", ["nowhere"], ["y"])], [_vi("x")], [_vi("y")])
    with pytest.raises(axon_onnx.OnnxFormatError, match="nowhere"):
        axon_onnx.load(dangling)
    cycle = _model(
        [helper.make_node("Relu", ["b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])], [_vi("x")], [_vi("a")]
    )
    with pytest.raises(axon_onnx.OnnxFormatError, match="cycle"):
        axon_onnx.load(cycle)
    no_opset = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x")], [_vi("y")])
    del no_opset.opset_import[:]
    with pytest.raises(axon_onnx.OnnxFormatError, match="opset"):
        axon_onnx.load(no_opset)


def _mutants(data: bytes, count: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        raw = bytearray(data)
        kind = rng.integers(4)
        if kind == 0:
            raw = raw[: rng.integers(len(raw))]
        elif kind == 1:
            for _ in range(rng.integers(1, 9)):
                raw[rng.integers(len(raw))] ^= 1 << rng.integers(8)
        elif kind == 2:
            for _ in range(rng.integers(1, 4)):
                raw[rng.integers(len(raw))] = rng.integers(256)
        else:
            start = rng.integers(len(raw))
            raw[start:start] = raw[start : start + rng.integers(1, 16)]
        yield bytes(raw)


def fuzz(data: bytes, count: int, seed: int, feeds: dict) -> dict[str, int]:
    """Load (and, when it loads, run) each mutant: only axon_onnx's typed errors may escape."""
    outcomes = {"loaded": 0, "refused": 0}
    for raw in _mutants(data, count, seed):
        try:
            model = axon_onnx.load(raw)
            try:
                model.run(None, {k: v for k, v in feeds.items() if k in model.input_names})
            except axon_onnx.OnnxError:
                pass
            outcomes["loaded"] += 1
        except axon_onnx.OnnxError:
            outcomes["refused"] += 1
    return outcomes


def small_conv_model() -> onnx.ModelProto:
    w = np.random.default_rng(2).standard_normal((2, 1, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("ReduceSum", ["f"], ["y"], keepdims=0),
    ]
    return _model(nodes, [_vi("x", [1, 1, 4, 4])], [_vi("y")], [numpy_helper.from_array(w, "w")])


def test_fuzzed_model_bytes_raise_only_typed_errors():
    data = small_conv_model().SerializeToString()
    outcomes = fuzz(data, 100, seed=0, feeds={"x": np.ones((1, 1, 4, 4), np.float32)})
    assert outcomes["refused"] > 0 and sum(outcomes.values()) == 100


def _external_model(tmp_path):
    model = small_conv_model()
    stored = onnx.ModelProto()
    stored.CopyFrom(model)  # save_model moves the initializers of what it saves to external data
    onnx.save_model(stored, tmp_path / "m.onnx", save_as_external_data=True, location="weights.bin", size_threshold=0)
    return model


def test_external_data_loads_and_matches(tmp_path):
    model = _external_model(tmp_path)
    assert (tmp_path / "weights.bin").stat().st_size == 2 * 9 * 4
    x = np.random.default_rng(3).standard_normal((1, 1, 4, 4)).astype(np.float32)
    got = axon_onnx.load(tmp_path / "m.onnx").run(None, {"x": x})
    want = axon_onnx.load(model).run(None, {"x": x})
    np.testing.assert_array_equal(got[0], want[0])


def _rewrite_external(tmp_path, **changes):
    proto = onnx.load_model(tmp_path / "m.onnx", load_external_data=False)
    entries = proto.graph.initializer[0].external_data
    for key, value in changes.items():
        for entry in entries:
            if entry.key == key:
                entry.value = value
                break
        else:
            entries.add(key=key, value=value)
    (tmp_path / "m.onnx").write_bytes(proto.SerializeToString())


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"length": "1000"}, "outside"),
        ({"offset": "70"}, "outside"),
        ({"length": "8"}, "do not hold"),
        ({"location": "../escape.bin"}, "outside"),
        ({"location": "absent.bin"}, "does not exist"),
        ({"offset": "x"}, "bad offset"),
    ],
)
def test_bad_external_data_is_refused(tmp_path, changes, message):
    _external_model(tmp_path)
    (tmp_path.parent / "escape.bin").write_bytes(b"\0" * 72)
    _rewrite_external(tmp_path, **changes)
    with pytest.raises(axon_onnx.ExternalDataError, match=message):
        axon_onnx.load(tmp_path / "m.onnx")


def test_external_data_needs_a_path(tmp_path):
    _external_model(tmp_path)
    proto = onnx.load_model(tmp_path / "m.onnx", load_external_data=False)
    with pytest.raises(axon_onnx.ExternalDataError, match="not loaded from a path"):
        axon_onnx.load(proto.SerializeToString())
