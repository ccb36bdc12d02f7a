"""The digits example (AdamW, 15 MLP epochs, 5 CNN epochs) reaches at least 97% test accuracy with both models."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

pytestmark = pytest.mark.slow


def test_digits_example_accuracy():
    path = Path(__file__).resolve().parents[1] / "examples" / "train_digits.py"
    spec = importlib.util.spec_from_file_location("train_digits", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main()
    assert results["mlp"] >= 0.97, results
    assert results["cnn"] >= 0.97, results
