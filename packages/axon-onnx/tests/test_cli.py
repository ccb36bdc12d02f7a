"""``python -m axon_onnx inspect|check`` run as a subprocess on small models."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _save(tmp_path, nodes, name="m.onnx", inits=()):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        list(inits),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="test")
    path = tmp_path / name
    onnx.save_model(model, path)
    return path


def _run(*args):
    return subprocess.run([sys.executable, "-m", "axon_onnx", *map(str, args)], capture_output=True, text=True)


def test_inspect_lists_inputs_outputs_ops_and_opset(tmp_path):
    w = numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["a"]),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Relu", ["b"], ["y"]),
    ]
    path = _save(tmp_path, nodes, inits=[w])
    done = _run("inspect", path, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["inputs"] == [{"name": "x", "dtype": "FLOAT", "shape": ["batch", 4]}]
    assert report["outputs"] == [{"name": "y", "dtype": "FLOAT", "shape": None}]
    assert report["ops"] == {"Relu": 2, "MatMul": 1}
    assert report["opsets"] == {"ai.onnx": 17} and report["initializers"] == 1
    text = _run("inspect", path).stdout
    assert "x: FLOAT [batch, 4]" in text and "Relu: 2" in text and "ai.onnx 17" in text


def test_check_exit_status_says_whether_axon_runs_every_node(tmp_path):
    good = _save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], "good.onnx")
    done = _run("check", good)
    assert done.returncode == 0 and "1/1 nodes runnable" in done.stdout
    bad = _save(
        tmp_path,
        [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("GridSample", ["a"], ["y"], name="lp")],
        "bad.onnx",
    )
    done = _run("check", bad, "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["runnable"] == 1
    assert [(n["name"], n["op_type"]) for n in report["unsupported"]] == [("lp", "GridSample")]
    assert "cannot run lp: GridSample" in _run("check", bad).stdout


def test_unreadable_file_exits_2(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x08\xff\xff\xff\xff not onnx")
    done = _run("check", path)
    assert done.returncode == 2 and "error:" in done.stderr
