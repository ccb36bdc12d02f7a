"""Issue 22 §3: torch 2.13's public surface, name by name, against axon's.

Four surfaces are enumerated from torch itself: ``torch.Tensor`` methods (axon: ``Tensor`` or
``Variable``), ``torch`` functions (``axon.*``), ``torch.nn.functional`` (``axon.nn.functional``)
and ``torch.nn`` modules (``axon.nn``). Every name is one of:

- present in axon, and for the Python-level surfaces (functional, modules) accepting every
  argument name torch's signature has, unless the gap is in ``torch_surface_ledger.json``;
- out of scope: it matches an entry of :data:`EXCLUDED` (a pattern and the reason);
- not done yet: it is listed in ``torch_surface_ledger.json`` under its surface.

The ledger must not go stale: a name listed there that axon now has fails the test (take it off).
The coverage counts published in packages/axon/README.md are checked against what is computed here.
Regenerate the ledger with ``python tests-integration/test_surface_coverage_torch.py --write``.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import axon  # noqa: E402
import axon.nn as nn  # noqa: E402
import axon.nn.functional as F  # noqa: E402

LEDGER = Path(__file__).with_name("torch_surface_ledger.json")
README = Path(__file__).parents[1] / "packages" / "axon" / "README.md"

#: (surfaces, pattern, reason): names that are out of scope for axon, and why.
EXCLUDED: list[tuple[str, str, str]] = [
    (
        "tensor torch functional",
        r"^(q_|quantize|dequantize|int_repr|qscheme|fake_quantize|fused_moving_avg|choose_qparams|quantized_|"
        r"fbgemm_)",
        "torch's affine quantized tensors; axon quantizes through axon-quant's GGML formats",
    ),
    (
        "tensor torch",
        r"(sparse|coalesce|^indices$|^values$|crow_indices|col_indices|row_indices|_nnz|^dense_dim$|^to_dense$|"
        r"^smm$|^sspaddmm$|^hspmm$|mkldnn)",
        "torch's sparse/mkldnn layouts; axon's sparse tensors are their own classes (SparseCOOTensor, SparseCSRTensor)",
    ),
    (
        "tensor torch",
        r"^(cuda|xpu|mps|ipu|hpu|mtia|maia|is_xpu|is_mps|is_ipu|is_hpu|is_mtia|is_maia|is_vulkan|is_meta|is_nested|"
        r"record_stream|pin_memory|is_pinned|share_memory_|is_shared|storage|untyped_storage|storage_type|"
        r"nested_|is_set_to|set_$|module_load|dim_order|get_device|is_inference|apply_|map_|map2_|new$)",
        "device-, storage- and runtime-specific APIs of torch's C++ core (axon: Tensor.to(device), Device)",
    ),
    (
        "tensor torch",
        r"^(conj_physical_?|resolve_conj|resolve_neg|is_conj|is_neg|_conj)$",
        "torch's lazy conjugation / negation bits",
    ),
    (
        "torch",
        r"^(compile|export|vmap|cond|while_loop|associative_scan|jit|script|trace|compiled_with_cxx11_abi|"
        r"is_compiling|is_dynamo|fx_|library|func$)",
        "torch.compile / jit / export / functorch: axon-jit has its own tracing API",
    ),
    (
        "torch",
        r"^(cudnn_|miopen_|mkldnn_|native_|slow_conv|thnn_|batch_norm_(backward|elemt|gather|stats|update)|"
        r"conv_tbc|convolution$|constant_pad_nd|embedding_renorm_|grid_sampler|affine_grid_generator|"
        r"adaptive_max_pool1d$|max_pool1d_with_indices|quantile_|segment_reduce|rnn_(relu|tanh)(_cell)?$|"
        r"(gru|lstm)_cell$|(gru|lstm)$|_|unsafe_|sym_|is_same_size|nuclear_norm|fused_)",
        "ATen kernels torch exposes for its own modules (axon's are reached through axon.nn.functional)",
    ),
    (
        "torch",
        r"^(set_|get_|use_deterministic|are_deterministic|is_deterministic|is_warn_always|is_anomaly|"
        r"set_flush_denormal|typename|is_storage|is_tensor|is_nonzero|inference_mode|is_inference_mode_enabled|"
        r"autocast_|clear_autocast|is_autocast|init_num_threads|from_file|load$|save$|broadcast_to_|"
        r"can_cast|empty_strided|empty_permuted|empty_quantized|as_strided_scatter|frombuffer|import_ir_module|"
        r"merge_type_from_type_comment|parse_ir|parse_schema|parse_type_comment|vitals_enabled|read_vitals|"
        r"set_vital|wait$|classproperty|chunk_cat|align_tensors|unify_type_list|lobpcg|pca_lowrank|svd_lowrank)",
        "process-wide configuration, serialization and torch-internal helpers (axon-serialize saves; axon_core "
        "configures)",
    ),
    (
        "functional",
        r"^(upsample|upsample_bilinear|upsample_nearest|assert_int_or_pair|multi_head_attention_forward|"
        r"grouped_mm|scaled_mm|scaled_grouped_mm|.*_with_indices)$",
        "deprecated aliases, internal helpers of torch's own modules, and CUDA-only low-precision GEMMs",
    ),
    (
        "nn",
        r"^(Lazy.*|SyncBatchNorm|Container|NLLLoss2d|RNNBase|RNNCellBase|CrossMapLRN2d)$",
        "lazy (shape-inferring) modules, deprecated or legacy classes, base classes; SyncBatchNorm belongs to "
        "axon-distributed",
    ),
]

#: Argument names torch keeps for compatibility only; axon need not accept them.
EXCLUDED_ARGUMENTS = {
    "size_average": "deprecated in torch (use reduction=)",
    "reduce": "deprecated in torch (use reduction=)",
    "_stacklevel": "private",
    "_weight": "private",
    "_freeze": "private",
    "out": "out= tensors: axon ops return new tensors",
    "min_value": "deprecated in torch (Hardtanh's min_val)",
    "max_value": "deprecated in torch (Hardtanh's max_val)",
}


def _is_function(value) -> bool:
    return callable(value) and not inspect.isclass(value) and not inspect.ismodule(value)


def torch_surface() -> dict[str, list[str]]:
    """The public names of each surface, from torch itself."""
    functional = sorted(
        name
        for name, value in vars(torch.nn.functional).items()
        if not name.startswith("_")
        and _is_function(value)
        and getattr(value, "__module__", None) in ("torch.nn.functional", "torch._C._nn", None)
    )
    modules = sorted(
        name
        for name in torch.nn.modules.__all__
        if inspect.isclass(getattr(torch.nn, name, None)) and issubclass(getattr(torch.nn, name), torch.nn.Module)
    )
    return {
        "tensor": sorted(n for n in dir(torch.Tensor) if not n.startswith("_")),
        "torch": sorted(n for n in dir(torch) if not n.startswith("_") and _is_function(getattr(torch, n))),
        "functional": functional,
        "nn": modules,
    }


def present(surface: str, name: str) -> bool:
    if surface == "tensor":
        return hasattr(axon.Tensor, name) or hasattr(axon.Variable, name)
    if surface == "torch":
        return hasattr(axon, name)
    if surface == "functional":
        return hasattr(F, name)
    return hasattr(nn, name)


def exclusion(surface: str, name: str) -> str | None:
    for surfaces, pattern, reason in EXCLUDED:
        if surface in surfaces.split() and re.search(pattern, name):
            return reason
    return None


def _parameters(fn) -> list[str] | None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return None
    return [p for p in signature.parameters if p != "self"]


def _positional(fn) -> list[str]:
    parameters = inspect.signature(fn).parameters.values()
    return [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "self"]


def argument_gaps() -> dict[str, list[str]]:
    """Per present functional/module name: torch argument names axon does not accept."""
    gaps = {}
    surface = torch_surface()
    pairs = [(f"F.{n}", getattr(torch.nn.functional, n), getattr(F, n, None)) for n in surface["functional"]]
    pairs += [
        (f"nn.{n}", getattr(torch.nn, n).__init__, getattr(getattr(nn, n, None), "__init__", None))
        for n in surface["nn"]
    ]
    for key, theirs, ours in pairs:
        if ours is None:
            continue
        want, have = _parameters(theirs), _parameters(ours)
        if want is None or have is None:
            continue
        missing = [p for p in want if p not in have and p not in EXCLUDED_ARGUMENTS and p not in ("args", "kwargs")]
        if missing:
            gaps[key] = missing
        # A positional call must land on the same parameters (torch's deprecated ones aside).
        their_order = [p for p in _positional(theirs) if p not in EXCLUDED_ARGUMENTS]
        our_order = _positional(ours)
        common = min(len(their_order), len(our_order))
        if their_order[:common] != our_order[:common]:
            gaps[f"{key} positional order"] = their_order
    return dict(sorted(gaps.items()))


def classify() -> dict[str, dict[str, list[str]]]:
    result = {}
    for surface, names in torch_surface().items():
        groups: dict[str, list[str]] = {"present": [], "excluded": [], "missing": []}
        for name in names:
            if present(surface, name):
                groups["present"].append(name)
            elif exclusion(surface, name):
                groups["excluded"].append(name)
            else:
                groups["missing"].append(name)
        result[surface] = groups
    return result


def coverage_line(groups: dict[str, dict[str, list[str]]]) -> str:
    parts = []
    total_present = total_scope = 0
    for surface, label in (
        ("tensor", "Tensor methods"),
        ("torch", "torch functions"),
        ("functional", "nn.functional"),
        ("nn", "nn modules"),
    ):
        have, scope = len(groups[surface]["present"]), len(groups[surface]["present"]) + len(groups[surface]["missing"])
        total_present, total_scope = total_present + have, total_scope + scope
        parts.append(f"{label} {have}/{scope}")
    return f"torch 2.13 surface coverage: {total_present}/{total_scope} names in scope ({'; '.join(parts)})"


def _ledger() -> dict:
    return json.loads(LEDGER.read_text())


def test_every_torch_name_is_present_excluded_or_in_the_ledger() -> None:
    ledger = _ledger()
    groups = classify()
    for surface, split in groups.items():
        unlisted = sorted(set(split["missing"]) - set(ledger[surface]))
        assert not unlisted, f"{surface}: missing from axon and not in the ledger: {unlisted}"


def test_ledger_is_not_stale() -> None:
    ledger = _ledger()
    groups = classify()
    for surface, split in groups.items():
        stale = sorted(set(ledger[surface]) - set(split["missing"]))
        assert not stale, f"{surface}: the ledger lists names axon now has (or torch lacks): {stale}"
    assert ledger["argument_gaps"] == argument_gaps(), "argument gaps changed: regenerate the ledger"


def test_every_exclusion_is_used_and_has_a_reason() -> None:
    groups = classify()
    for surfaces, pattern, reason in EXCLUDED:
        assert len(reason) > 20
        hits = [n for s in surfaces.split() for n in groups[s]["excluded"] if re.search(pattern, n)]
        assert hits, f"exclusion {pattern!r} matches nothing"


def test_readme_publishes_the_current_coverage() -> None:
    line = coverage_line(classify())
    assert line in README.read_text(), f"packages/axon/README.md should state: {line}"


if __name__ == "__main__" and "--write" in sys.argv:
    groups = classify()
    data = {surface: split["missing"] for surface, split in groups.items()}
    data["argument_gaps"] = argument_gaps()
    from axon_core import atomic_writer

    with atomic_writer(LEDGER) as out:
        out.write((json.dumps(data, indent=1, sort_keys=True) + "\n").encode())
    print(coverage_line(groups))
