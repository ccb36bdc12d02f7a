"""Module API semantics: registration, traversal, modes, devices/dtypes, state dicts, hooks, repr."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import axon_nn as nn
from axon_autograd import Variable
from axon_core import ShapeError
from axon_tensor import tensor


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.norm = nn.BatchNorm1d(4)
        self.scale = nn.Parameter(tensor(np.ones(4, dtype=np.float32)))
        self.register_buffer("steps", tensor(np.zeros(1, dtype=np.float32)))
        self.register_buffer("scratch", tensor(np.zeros(2, dtype=np.float32)), persistent=False)

    def forward(self, x):
        return self.norm(self.fc(x)) * self.scale


def test_named_parameters_buffers_and_modules_are_dotted_and_ordered():
    model = nn.Sequential(Block(), nn.ReLU(), nn.Linear(4, 2))
    assert [n for n, _ in model.named_parameters()] == [
        "0.scale",
        "0.fc.weight",
        "0.fc.bias",
        "0.norm.weight",
        "0.norm.bias",
        "2.weight",
        "2.bias",
    ]
    assert [n for n, _ in model.named_buffers()] == [
        "0.steps",
        "0.scratch",
        "0.norm.running_mean",
        "0.norm.running_var",
        "0.norm.num_batches_tracked",
    ]
    assert [n for n, _ in model.named_modules()] == ["", "0", "0.fc", "0.norm", "1", "2"]
    assert [type(m).__name__ for m in model.children()] == ["Block", "ReLU", "Linear"]
    # PyTorch's order: each module's parameters, then its buffers, then its children.
    assert list(model.state_dict()) == [
        "0.scale",
        "0.steps",
        "0.fc.weight",
        "0.fc.bias",
        "0.norm.weight",
        "0.norm.bias",
        "0.norm.running_mean",
        "0.norm.running_var",
        "0.norm.num_batches_tracked",
        "2.weight",
        "2.bias",
    ]
    assert model.get_submodule("0.fc") is model[0].fc


def _shared_pair():
    torch = pytest.importorskip("torch")
    shared, torch_shared = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    return shared, nn.Sequential(shared, shared), torch_shared, torch.nn.Sequential(torch_shared, torch_shared)


def test_shared_parameters_appear_once():
    """A module used twice yields its parameters and itself once, under the first name; torch.nn.Module
    traversing the same structure is the oracle."""
    shared, model, torch_shared, torch_model = _shared_pair()
    params = list(model.parameters())
    assert len(params) == 2 and params[0] is shared.weight and params[1] is shared.bias
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in torch_model.named_parameters()]
    assert [n for n, _ in model.named_modules()] == [n for n, _ in torch_model.named_modules()]
    assert [m is shared for m in model.modules()] == [m is torch_shared for m in torch_model.modules()]


def test_state_dict_of_shared_modules_names_every_path():
    """As PyTorch: a module used twice is in the state dict under both names, and PyTorch's state
    dict of the same structure loads strictly (values copied into the one shared module)."""
    shared, model, _, torch_model = _shared_pair()
    state = model.state_dict()
    assert list(state) == list(torch_model.state_dict())
    assert state["0.weight"] is state["1.weight"] is shared.weight.data
    torch_state = torch_model.state_dict()
    result = model.load_state_dict({k: tensor(v.numpy()) for k, v in torch_state.items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(shared.weight.data.numpy(), torch_state["0.weight"].numpy())
    np.testing.assert_array_equal(shared.bias.data.numpy(), torch_state["1.bias"].numpy())
    assert len(list(model.parameters())) == len(list(torch_model.parameters())) == 2


def test_assigning_wrong_types_is_rejected():
    block = Block()
    with pytest.raises(TypeError):
        block.fc = 3
    with pytest.raises(TypeError):
        block.scale = tensor(np.ones(4))
    block.scale = None
    assert "scale" not in dict(block.named_parameters())
    del block.fc
    assert not hasattr(block, "fc")


def test_train_eval_apply_and_requires_grad():
    model = nn.Sequential(Block(), nn.Dropout(0.5))
    model.eval()
    assert all(not m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    visited = []
    model.apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["Linear", "BatchNorm1d", "Block", "Dropout", "Sequential"]
    model.requires_grad_(False)
    assert all(not p.requires_grad for p in model.parameters())


def test_zero_grad_and_backward_fill_every_parameter():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    out = model(Variable(tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))))
    nn.functional.mse_loss(out, tensor(np.zeros((5, 1), dtype=np.float32))).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_to_dtype_keeps_parameter_identity_and_casts_only_floats():
    block = Block()
    weight = block.fc.weight
    before = weight.data.numpy().copy()
    block.to("float64")
    assert block.fc.weight is weight and weight.dtype.name == "float64"
    np.testing.assert_array_equal(weight.data.numpy(), before.astype(np.float64))
    assert block.norm.num_batches_tracked.dtype.name == "int64"
    assert block.steps.dtype.name == "float64"


def test_state_dict_round_trip_and_strict_errors():
    source, target = Block(), Block()
    target.load_state_dict(source.state_dict())
    for (name, a), (_, b) in zip(source.state_dict().items(), target.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    assert "scratch" not in source.state_dict()
    state = source.state_dict()
    state.pop("fc.bias")
    state["extra"] = tensor(np.zeros(1))
    with pytest.raises(nn.StateDictError, match="fc.bias.*extra|missing.*fc.bias"):
        target.load_state_dict(state)
    result = target.load_state_dict(state, strict=False)
    assert result.missing_keys == ["fc.bias"] and result.unexpected_keys == ["extra"]
    bad = source.state_dict()
    bad["fc.weight"] = tensor(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(ShapeError, match="fc.weight"):
        target.load_state_dict(bad)


def test_load_state_dict_writes_in_place():
    layer = nn.Linear(2, 3)
    weight_data = layer.weight.data
    layer.load_state_dict({"weight": np.arange(6, dtype=np.float64).reshape(3, 2), "bias": np.zeros(3)})
    assert layer.weight.data is weight_data
    np.testing.assert_array_equal(layer.weight.data.numpy(), np.arange(6, dtype=np.float32).reshape(3, 2))


def test_forward_hooks_can_replace_args_and_output_and_be_removed():
    layer = nn.Linear(2, 2, bias=False)
    layer.load_state_dict({"weight": np.eye(2)})
    calls = []
    pre = layer.register_forward_pre_hook(lambda m, args: (args[0] * 2.0,))
    post = layer.register_forward_hook(lambda m, args, out: calls.append(out.detach().numpy().copy()))
    x = Variable(tensor(np.array([[1.0, 2.0]], dtype=np.float32)))
    np.testing.assert_array_equal(layer(x).detach().numpy(), [[2.0, 4.0]])
    assert len(calls) == 1
    pre.remove()
    post.remove()
    np.testing.assert_array_equal(layer(x).detach().numpy(), [[1.0, 2.0]])
    assert len(calls) == 1


def test_repr_matches_pytorch_layout():
    model = nn.Sequential(
        OrderedDict(conv=nn.Conv2d(1, 2, 3, padding=1, bias=False), act=nn.ReLU(), head=nn.Linear(4, 2))
    )
    assert repr(model) == (
        "Sequential(\n"
        "  (conv): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)\n"
        "  (act): ReLU()\n"
        "  (head): Linear(in_features=4, out_features=2, bias=True)\n"
        ")"
    )
    nested = nn.ModuleList([nn.Sequential(nn.Identity())])
    assert repr(nested) == "ModuleList(\n  (0): Sequential(\n    (0): Identity()\n  )\n)"


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and len(seq[:2]) == 2
    layers = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    layers.insert(1, nn.ReLU())
    del layers[0]
    assert [type(m).__name__ for m in layers] == ["ReLU", "Linear", "Linear"]
    assert [n for n, _ in layers.named_parameters()] == ["1.weight", "1.bias", "2.weight", "2.bias"]
    heads = nn.ModuleDict({"a": nn.Linear(1, 2), "b": nn.Linear(1, 3)})
    assert list(heads.keys()) == ["a", "b"] and "a" in heads
    heads.pop("a")
    assert [n for n, _ in heads.named_parameters()] == ["b.weight", "b.bias"]
    with pytest.raises(IndexError):
        seq[5]


def test_parameter_wraps_tensors_and_requires_grad():
    p = nn.Parameter(tensor(np.zeros(3)))
    assert p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\n")
    with pytest.raises(TypeError):
        nn.Parameter([1.0, 2.0])


def test_default_initialisation_follows_pytorch_bounds():
    layer = nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    w = layer.weight.data.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    conv = nn.Conv2d(8, 4, 3)
    assert np.abs(conv.weight.data.numpy()).max() <= 1 / np.sqrt(8 * 9)


def test_batchnorm_momentum_none_is_the_cumulative_mean():
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [np.random.default_rng(i).standard_normal((6, 2)).astype(np.float32) for i in range(3)]
    for b in batches:
        bn(Variable(tensor(b)))
    np.testing.assert_allclose(
        bn.running_mean.numpy(), np.mean([b.mean(0) for b in batches], axis=0), rtol=1e-5, atol=1e-6
    )
    assert bn.num_batches_tracked.item() == 3


def test_dropout_scales_kept_values_and_is_identity_in_eval():
    layer = nn.Dropout(0.25)
    x = Variable(tensor(np.ones((200, 200), dtype=np.float32)))
    out = layer(x).numpy()
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)
    assert abs(kept.mean() - 0.75) < 0.01
    layer.eval()
    assert layer(x) is x
    channels = nn.Dropout2d(0.5)(Variable(tensor(np.ones((4, 50, 3, 3), dtype=np.float32)))).numpy()
    assert np.all((channels == channels[:, :, :1, :1]))


def test_alpha_dropout_keeps_moments():
    x = np.random.default_rng(0).standard_normal((500, 400)).astype(np.float32)
    out = nn.AlphaDropout(0.2).train()(Variable(tensor(x))).numpy()
    assert abs(out.mean()) < 0.02 and abs(out.std() - 1) < 0.02


def test_bad_inputs_raise_typed_errors():
    with pytest.raises(ShapeError, match="linear"):
        nn.Linear(3, 2)(Variable(tensor(np.zeros((2, 4), dtype=np.float32))))
    with pytest.raises(ShapeError, match="conv2d"):
        nn.Conv2d(3, 2, 3)(Variable(tensor(np.zeros((1, 2, 5, 5), dtype=np.float32))))
    with pytest.raises(IndexError, match="cross_entropy"):
        nn.CrossEntropyLoss()(Variable(tensor(np.zeros((2, 3), dtype=np.float32))), tensor(np.array([0, 3])))
    with pytest.raises(IndexError, match="embedding"):
        nn.Embedding(3, 2)(tensor(np.array([3])))
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="batch_norm"):
        nn.BatchNorm1d(3)(Variable(tensor(np.zeros((1, 3), dtype=np.float32))))
