"""OnnxModel: runs like onnxruntime's InferenceSession (the oracle), on cpu and cuda-sim, with
initializers as Parameters whose gradients match PyTorch's; typed errors for bad feeds."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import axon_onnx
from axon_autograd import Variable
from axon_nn import Parameter
from axon_tensor import tensor

RNG = np.random.default_rng(0)


def mlp_model(opset: int = 17) -> onnx.ModelProto:
    """x [batch, 4] -> Gemm(fc1, transB) -> Relu -> MatMul(fc2) + bias -> Softmax."""
    w1 = RNG.standard_normal((8, 4)).astype(np.float32)
    b1 = RNG.standard_normal(8).astype(np.float32)
    w2 = RNG.standard_normal((8, 3)).astype(np.float32)
    b2 = RNG.standard_normal(3).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], transB=1, name="fc1"),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("MatMul", ["r", "fc2.weight"], ["m"], name="fc2"),
        helper.make_node("Add", ["m", "onnx::Add_7"], ["logits"], name="add"),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1, name="softmax"),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3]),
        ],
        [
            numpy_helper.from_array(w1, "fc1.weight"),
            numpy_helper.from_array(b1, "fc1.bias"),
            numpy_helper.from_array(w2, "fc2.weight"),
            numpy_helper.from_array(b2, "onnx::Add_7"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model, full_check=True)
    return model


def ort_run(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


@pytest.mark.parametrize("source", ["bytes", "path", "proto"])
def test_run_matches_onnxruntime(tmp_path, source):
    model = mlp_model()
    x = RNG.standard_normal((5, 4)).astype(np.float32)
    if source == "path":
        onnx.save_model(model, tmp_path / "mlp.onnx")
        loaded = axon_onnx.load(tmp_path / "mlp.onnx")
    else:
        loaded = axon_onnx.load(model.SerializeToString() if source == "bytes" else model)
    want = ort_run(model, {"x": x})
    got = loaded.run(None, {"x": x})
    assert [g.dtype for g in got] == [np.float32, np.float32]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    (logits,) = loaded.run(["logits"], {"x": x})
    np.testing.assert_allclose(logits, want[1], rtol=1e-5, atol=1e-6)


def test_initializers_are_parameters_with_module_names():
    model = mlp_model()
    loaded = axon_onnx.load(model)
    names = dict(loaded.named_parameters())
    assert sorted(names) == ["fc1.bias", "fc1.weight", "fc2.weight", "onnx__Add_7"]
    assert all(isinstance(p, Parameter) for p in names.values())
    assert loaded.initializer("onnx::Add_7") is names["onnx__Add_7"]
    state = loaded.state_dict()
    np.testing.assert_array_equal(state["fc1.weight"].numpy(), numpy_helper.to_array(model.graph.initializer[0]))


def test_gradients_match_torch():
    torch = pytest.importorskip("torch")
    model = mlp_model()
    loaded = axon_onnx.load(model)
    x = RNG.standard_normal((6, 4)).astype(np.float32)
    target = RNG.standard_normal((6, 3)).astype(np.float32)
    probs, logits = loaded(x=x)
    assert isinstance(probs, Variable)
    loss = ((logits - Variable(tensor(target))) ** 2).sum() + (probs * probs).sum()
    loss.backward()

    init = {t.name: torch.tensor(numpy_helper.to_array(t), requires_grad=True) for t in model.graph.initializer}
    h = torch.relu(torch.from_numpy(x) @ init["fc1.weight"].T + init["fc1.bias"])
    t_logits = h @ init["fc2.weight"] + init["onnx::Add_7"]
    t_probs = torch.softmax(t_logits, -1)
    t_loss = ((t_logits - torch.from_numpy(target)) ** 2).sum() + (t_probs * t_probs).sum()
    t_loss.backward()
    np.testing.assert_allclose(loss.detach().numpy(), t_loss.detach().numpy(), rtol=1e-5)
    for name, t in init.items():
        np.testing.assert_allclose(loaded.initializer(name).grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_a_step_of_fine_tuning_lowers_the_loss():
    loaded = axon_onnx.load(mlp_model())
    x = RNG.standard_normal((16, 4)).astype(np.float32)
    target = Variable(tensor(RNG.standard_normal((16, 3)).astype(np.float32)))

    def loss_value():
        _, logits = loaded(x=x)
        return ((logits - target) ** 2).mean()

    before = loss_value()
    before.backward()
    for p in loaded.parameters():
        p.data.sub_(p.grad.data * 0.05)
    after = loss_value()
    assert after.item() < before.item()


def test_cuda_sim_matches_onnxruntime():
    model = mlp_model()
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    loaded = axon_onnx.load(model, device="cuda-sim")
    assert str(loaded.initializer("fc1.weight").device) == "cuda-sim"
    probs, logits = loaded(x=x)
    assert str(probs.device) == "cuda-sim"
    for g, w in zip((probs.detach().numpy(), logits.detach().numpy()), ort_run(model, {"x": x})):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_bad_feeds_are_typed_errors():
    loaded = axon_onnx.load(mlp_model())
    x = np.zeros((2, 4), np.float32)
    with pytest.raises(axon_onnx.OnnxRuntimeError, match="missing input"):
        loaded.run(None, {})
    with pytest.raises(axon_onnx.OnnxRuntimeError, match="unknown input"):
        loaded.run(None, {"x": x, "y": x})
    with pytest.raises(axon_onnx.OnnxRuntimeError, match="expected dtype float32"):
        loaded.run(None, {"x": x.astype(np.float64)})
    with pytest.raises(axon_onnx.OnnxRuntimeError, match="dim 1 must be 4"):
        loaded.run(None, {"x": np.zeros((2, 5), np.float32)})
    with pytest.raises(axon_onnx.OnnxRuntimeError, match="not a value"):
        loaded.run(["nope"], {"x": x})


def test_a_node_failing_names_the_node():
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "s"], ["y"], name="bad_reshape")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array([7, 3], np.int64), "s")],
    )
    loaded = axon_onnx.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    with pytest.raises(axon_onnx.OnnxRuntimeError, match="bad_reshape.*cannot reshape"):
        loaded.run(None, {"x": np.zeros((2, 3), np.float32)})


def test_nodes_out_of_order_are_sorted():
    nodes = [
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Neg", ["x"], ["a"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, [3])],
    )
    loaded = axon_onnx.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    (out,) = loaded.run(None, {"x": np.array([-1.0, 2.0, -3.0], np.float32)})
    np.testing.assert_array_equal(out, [1.0, 0.0, 3.0])


def test_training_graph_with_its_loss_matches_torch():
    # A graph that ends in its own loss (as training exports do): Gemm -> SoftmaxCrossEntropyLoss
    # with class weights and an ignored label; loss and weight gradient vs torch's cross_entropy.
    torch = pytest.importorskip("torch")
    w = RNG.standard_normal((5, 4)).astype(np.float32)
    class_weight = RNG.uniform(0.5, 2.0, 5).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["x", "w"], ["scores"], transB=1),
        helper.make_node("SoftmaxCrossEntropyLoss", ["scores", "labels", "cw"], ["loss"], ignore_index=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "train",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [6, 4]),
            helper.make_tensor_value_info("labels", TensorProto.INT64, [6]),
        ],
        [helper.make_tensor_value_info("loss", TensorProto.FLOAT, [])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(class_weight, "cw")],
    )
    loaded = axon_onnx.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    x = RNG.standard_normal((6, 4)).astype(np.float32)
    labels = np.array([0, 3, -1, 4, 1, 3], np.int64)
    loss = loaded(x=x, labels=labels)
    loss.backward()
    tw = torch.tensor(w, requires_grad=True)
    want = torch.nn.functional.cross_entropy(
        torch.from_numpy(x) @ tw.T, torch.from_numpy(labels), weight=torch.from_numpy(class_weight), ignore_index=-1
    )
    want.backward()
    np.testing.assert_allclose(loss.detach().numpy(), want.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(loaded.initializer("w").grad.numpy(), tw.grad.numpy(), rtol=1e-4, atol=1e-6)
