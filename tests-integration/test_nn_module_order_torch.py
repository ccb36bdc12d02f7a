"""Replacing a child module, parameter or buffer keeps its place in the order, as in PyTorch."""

from __future__ import annotations

import torch

import axon_nn as nn
import axon_tensor


def _assign_both(name: str, make_axon, make_torch):
    ours = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    setattr(ours, name, make_axon())
    setattr(theirs, name, make_torch())
    return ours, theirs


def test_replaced_child_keeps_its_place():
    ours, theirs = _assign_both("0", lambda: nn.Tanh(), lambda: torch.nn.Tanh())
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs] == ["Tanh", "ReLU", "Linear"]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    ours.add_module("1", nn.GELU())
    theirs.add_module("1", torch.nn.GELU())
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]


def test_replaced_parameter_and_buffer_keep_their_place():
    ours, theirs = nn.Linear(2, 3), torch.nn.Linear(2, 3)
    ours.weight = nn.Parameter(axon_tensor.zeros(3, 2))
    theirs.weight = torch.nn.Parameter(torch.zeros(3, 2))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "bias"]
    ours_bn, theirs_bn = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    ours_bn.register_buffer("running_mean", axon_tensor.ones(3))
    theirs_bn.register_buffer("running_mean", torch.ones(3))
    assert list(ours_bn.state_dict()) == list(theirs_bn.state_dict())
