"""Fuzzing axon_onnx.load (and run, when a mutant loads) with 3000 mutated copies of two small
valid models: truncations, bit flips, byte overwrites and duplicated byte ranges. Every mutant
must end loaded or in an ``axon_onnx.OnnxError`` (any other exception fails the test)."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

_TESTS = Path(__file__).parents[1] / "packages" / "axon-onnx" / "tests"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"axon_onnx_{name}", _TESTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_three_thousand_mutants_raise_only_typed_errors():
    errors, model = _module("test_errors"), _module("test_model")
    seeds = [
        (errors.small_conv_model(), {"x": np.ones((1, 1, 4, 4), np.float32)}),
        (model.mlp_model(), {"x": np.ones((2, 4), np.float32)}),
    ]
    start = time.perf_counter()
    totals = {"loaded": 0, "refused": 0}
    for seed, (proto, feeds) in enumerate(seeds):
        outcome = errors.fuzz(proto.SerializeToString(), 1500, seed=seed, feeds=feeds)
        for key in totals:
            totals[key] += outcome[key]
    print(f"\nONNX fuzz: {sum(totals.values())} mutants in {time.perf_counter() - start:.1f} s: {totals}")
    assert sum(totals.values()) == 3000
    assert totals["refused"] > 300 and totals["loaded"] > 100
