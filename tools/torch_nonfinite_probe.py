"""Where does PyTorch's answer on NaN/±inf depend on the machine, the length or the position?

PyTorch's CPU kernels run a vector body (ATen ``Vectorized`` with SLEEF, or a oneDNN JIT kernel)
and a scalar tail, and pick the vector ISA at run time (``ATEN_CPU_CAPABILITY``,
``ONEDNN_MAX_CPU_ISA``). The two paths do not always agree on non-finite inputs: on an AVX-512
machine ``F.gelu`` of +inf is NaN in oneDNN's vector body and inf in a one-element tensor. A test
that takes torch's answer there passes or fails depending on the CPU.

This script puts each special value (NaN, +inf, -inf; for elementwise ops also ±0 and 1) at the
start, middle and end of 1-d inputs of lengths 1, 7, 8, 16, 40, 64 and 65 (all special, one special
among finite values, a strided view), in float32, float64, bfloat16 and float16, runs the ops the
axon tests compare with torch on such inputs (activations, unary and binary math, reductions,
norms, pooling, losses, softmax, attention) and does so again in child processes under
``ATEN_CPU_CAPABILITY=default``, ``ONEDNN_MAX_CPU_ISA=SSE41`` and with oneDNN disabled. It prints
(and with ``--out`` writes as JSON) every (op, dtype, input, layout family) whose outcome class
(``nan``, ``inf``, ``-inf``, or the value to 3 digits; see ``_outcome``) is not the same
everywhere, with the places that gave each outcome.

Run: ``.venv/bin/python tools/torch_nonfinite_probe.py [--out bench-results/torch_nonfinite.json]``
(a few minutes on 2 cores). Only the ISAs of the machine it runs on are covered; run it again on
another CPU family (AVX-512, AMX, Arm) to see theirs.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

LENGTHS = (1, 7, 8, 16, 40, 64, 65)
DTYPES = ("float32", "float64", "bfloat16", "float16")
# Signed zeros and 1 too, for the elementwise ops: log, reciprocal, rsqrt, atanh... turn them into
# infinities, and the sign of a zero result may differ between paths.
SPECIALS = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "0": 0.0, "-0": -0.0, "1": 1.0}
NON_FINITE = ("nan", "inf", "-inf")
FILLER = 0.75
# Child configurations: environment variables that change the kernels torch picks.
CONFIGS = {
    "native": {},
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "onednn-sse41": {"ONEDNN_MAX_CPU_ISA": "SSE41"},
    "no-mkldnn": {"PROBE_DISABLE_MKLDNN": "1"},
}

Unary = Callable[[torch.Tensor], torch.Tensor]


def _activations() -> dict[str, Unary]:
    ops: dict[str, Unary] = {
        "relu": F.relu,
        "relu6": F.relu6,
        "leaky_relu": F.leaky_relu,
        "elu": F.elu,
        "selu": F.selu,
        "celu(1.5)": lambda x: F.celu(x, 1.5),
        "gelu": F.gelu,
        "gelu(tanh)": lambda x: F.gelu(x, approximate="tanh"),
        "silu": F.silu,
        "mish": F.mish,
        "softplus": F.softplus,
        "softplus(2,5)": lambda x: F.softplus(x, 2.0, 5.0),
        "softsign": F.softsign,
        "hardtanh": F.hardtanh,
        "hardsigmoid": F.hardsigmoid,
        "hardswish": F.hardswish,
        "logsigmoid": F.logsigmoid,
        "tanhshrink": F.tanhshrink,
        "softshrink": F.softshrink,
        "hardshrink": F.hardshrink,
    }
    for name in (
        "exp",
        "exp2",
        "expm1",
        "log",
        "log2",
        "log10",
        "log1p",
        "sqrt",
        "rsqrt",
        "reciprocal",
        "sin",
        "cos",
        "tan",
        "asin",
        "acos",
        "atan",
        "sinh",
        "cosh",
        "tanh",
        "asinh",
        "acosh",
        "atanh",
        "erf",
        "erfc",
        "erfinv",
        "sigmoid",
        "frac",
        "logit",
        "nan_to_num",
        "abs",
        "neg",
        "sign",
        "square",
        "floor",
        "ceil",
        "round",
        "trunc",
        "isnan",
        "isinf",
        "isposinf",
        "isneginf",
        "isfinite",
        "signbit",
        "lgamma",
        "digamma",
    ):
        ops[name] = getattr(torch, name)
    ops["logit(0.1)"] = lambda x: torch.logit(x, eps=0.1)
    ops["clamp(-1,2)"] = lambda x: torch.clamp(x, -1, 2)
    ops["pow(x,2)"] = lambda x: x**2
    ops["pow(x,0.5)"] = lambda x: x**0.5
    ops["pow(2,x)"] = lambda x: 2**x
    return ops


# Binary ops with the special as the left operand, the right one drawn from these.
OTHERS = {"0": 0.0, "-0": -0.0, "1": 1.0, "-2.5": -2.5, "inf": float("inf"), "-inf": float("-inf"), "nan": float("nan")}
BINARY = {
    name: getattr(torch, name)
    for name in (
        "add",
        "sub",
        "mul",
        "div",
        "maximum",
        "minimum",
        "fmax",
        "fmin",
        "atan2",
        "hypot",
        "copysign",
        "fmod",
        "remainder",
        "floor_divide",
        "pow",
        "xlogy",
    )
}
BINARY["div(floor)"] = lambda a, b: torch.div(a, b, rounding_mode="floor")
BINARY["div(trunc)"] = lambda a, b: torch.div(a, b, rounding_mode="trunc")
BINARY["eq"], BINARY["lt"], BINARY["ge"] = torch.eq, torch.lt, torch.ge


def _reductions() -> dict[str, Unary]:
    ops: dict[str, Unary] = {}
    for name in (
        "sum",
        "mean",
        "prod",
        "amax",
        "amin",
        "logsumexp",
        "var",
        "std",
        "nansum",
        "nanmean",
        "all",
        "any",
        "count_nonzero",
        "argmax",
        "argmin",
    ):
        ops[name] = (lambda fn: lambda x: fn(x, dim=-1))(getattr(torch, name))
    ops["count_nonzero:count"] = ops.pop("count_nonzero")
    ops["abs(prod)"] = lambda x: torch.prod(x, -1).abs()  # the sign of a product of L infinities is L's parity
    del ops["prod"]
    ops["median"] = lambda x: torch.median(x, -1).values
    ops["nanmedian"] = lambda x: torch.nanmedian(x, -1).values
    ops["median(all)"] = torch.median
    ops["max.values"] = lambda x: torch.max(x, -1).values
    ops["max.indices"] = lambda x: torch.max(x, -1).indices
    ops["min.indices"] = lambda x: torch.min(x, -1).indices
    ops["median.indices"] = lambda x: torch.median(x, -1).indices
    for p in (2, 1, float("inf"), float("-inf"), 0, 3, 0.5):
        ops[f"norm(p={p})" + (":count" if p == 0 else "")] = functools.partial(_vector_norm, order=p)
    # Ops whose output is a vector: every element is classified.
    for name in ("softmax", "log_softmax"):
        ops[f"{name}[*]"] = (lambda fn: lambda x: fn(x, -1))(getattr(torch, name))
    for name in ("cumsum", "logcumsumexp"):
        ops[f"{name}:cumulative"] = (lambda fn: lambda x: fn(x, -1))(getattr(torch, name))
    ops["abs(cumprod):cumulative"] = lambda x: torch.cumprod(x, -1).abs()
    ops["cummax.values:cumulative"] = lambda x: torch.cummax(x, -1).values
    # Sorting: where the special lands (the first and last sorted values) and whether ties keep their order.
    ops["sort.values[0,-1]:raw"] = lambda x: torch.sort(x, -1, stable=True).values[[0, -1]]
    ops["sort(desc).values[0,-1]:raw"] = lambda x: torch.sort(x, -1, descending=True, stable=True).values[[0, -1]]
    ops["sort.stable:raw"] = lambda x: (torch.sort(x, -1, stable=True).indices == torch.arange(x.shape[-1])).all()
    ops["topk(1).indices[*]"] = lambda x: torch.topk(x, 1).indices
    ops["layer_norm[*]"] = lambda x: F.layer_norm(x, x.shape[-1:])
    ops["rms_norm[*]"] = lambda x: F.rms_norm(x, x.shape[-1:])
    ops["normalize[*]"] = lambda x: F.normalize(x, dim=-1)
    ops["group_norm[*]"] = lambda x: F.group_norm(x.reshape(1, 1, -1), 1).reshape(-1)
    ops["instance_norm[*]"] = lambda x: F.instance_norm(x.reshape(1, 1, -1)).reshape(-1)
    ops["batch_norm(train)[*]"] = lambda x: F.batch_norm(x.reshape(-1, 1), None, None, training=True).reshape(-1)
    ops["max_pool1d(3,1,1)[*]"] = lambda x: F.max_pool1d(x.reshape(1, 1, -1), 3, 1, 1).reshape(-1)
    ops["max_pool1d(L).indices"] = lambda x: F.max_pool1d(x.reshape(1, 1, -1), x.shape[-1], return_indices=True)[1]
    ops["max_pool2d((1,2),1):set"] = lambda x: F.max_pool2d(x.reshape(1, 1, 1, -1), (1, 2), 1)
    ops["avg_pool1d(3,1,1)[*]"] = lambda x: F.avg_pool1d(x.reshape(1, 1, -1), 3, 1, 1).reshape(-1)
    ops["adaptive_max_pool1d(1)"] = lambda x: F.adaptive_max_pool1d(x.reshape(1, 1, -1), 1).reshape(-1)
    ops["adaptive_avg_pool1d(1)"] = lambda x: F.adaptive_avg_pool1d(x.reshape(1, 1, -1), 1).reshape(-1)
    ops["lp_pool1d(2,L)"] = lambda x: F.lp_pool1d(x.reshape(1, 1, -1), 2, x.shape[-1]).reshape(-1)
    # Losses: the special is in the input, the target a fixed finite vector.
    for name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "soft_margin_loss"):
        ops[f"{name}(none)[*]"] = (lambda fn: lambda x: fn(x, torch.full_like(x, 0.25), reduction="none"))(
            getattr(F, name)
        )
        ops[f"{name}(mean)"] = (lambda fn: lambda x: fn(x, torch.full_like(x, 0.25)))(getattr(F, name))
    ops["bce_with_logits(none)[*]"] = lambda x: F.binary_cross_entropy_with_logits(
        x, torch.full_like(x, 0.25), reduction="none"
    )
    ops["kl_div(none)[*]"] = lambda x: F.kl_div(x, torch.full_like(x, 0.25), reduction="none")
    ops["poisson_nll(none)[*]"] = lambda x: F.poisson_nll_loss(x, torch.full_like(x, 0.25), reduction="none")
    # One row of logits per target class: at the special the target is the special logit.
    ops["cross_entropy[*]"] = lambda x: F.cross_entropy(x.expand(len(x), -1), torch.arange(len(x)), reduction="none")
    ops["cross_entropy(ls=0.1)[*]"] = lambda x: F.cross_entropy(
        x.expand(len(x), -1), torch.arange(len(x)), reduction="none", label_smoothing=0.1
    )
    ops["cosine_similarity"] = lambda x: F.cosine_similarity(x, torch.full_like(x, 0.25), dim=-1)
    ops["linear(x@ones):set"] = lambda x: x.reshape(1, -1) @ torch.ones(x.shape[-1], 3, dtype=x.dtype)
    ops["dot(x,ones)"] = lambda x: torch.dot(x, torch.ones_like(x))
    ops["clip_grad_norm(total)"] = _clip_total
    return ops


def _vector_norm(x: torch.Tensor, order: float) -> torch.Tensor:
    return torch.linalg.vector_norm(x, order, -1)


def _clip_total(x: torch.Tensor) -> torch.Tensor:
    p = torch.nn.Parameter(torch.zeros_like(x))
    p.grad = x.clone()
    return torch.nn.utils.clip_grad_norm_([p], 1.0, foreach=False)


def _attention() -> dict[str, Unary]:
    """Scores of one query over L keys: the special is one score (an additive mask of -inf, ...)."""

    def sdpa(x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        q = torch.ones(1, 1, 1, 4, dtype=x.dtype)
        k = torch.zeros(1, 1, n, 4, dtype=x.dtype)
        v = torch.arange(n * 2, dtype=x.dtype).reshape(1, 1, n, 2)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=x.reshape(1, 1, 1, n)).reshape(-1)

    def sdpa_bool(x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        q, k = torch.ones(1, 1, 1, 4, dtype=x.dtype), torch.ones(1, 1, n, 4, dtype=x.dtype)
        v = torch.arange(n * 2, dtype=x.dtype).reshape(1, 1, n, 2)
        keep = ~torch.isnan(x).reshape(1, 1, 1, n)  # NaN marks a masked key: an all-NaN row masks every key
        return F.scaled_dot_product_attention(q, k, v, attn_mask=keep).reshape(-1)

    return {"sdpa(float mask):set": sdpa, "sdpa(bool mask, NaN = masked):set": sdpa_bool}


def _classify(value: float) -> str:
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return f"{value:.3g}"


def _layouts(length: int, special: float, dtype: torch.dtype):
    """(family, name, input, positions of the specials): all special; one special among finite values.

    A one-element input is all special, so it has no ``one`` layouts.
    """
    yield "all", "all", torch.full((length,), special, dtype=torch.float64).to(dtype), tuple(range(length))
    if length == 1:
        return
    for where, position in (("first", 0), ("middle", length // 2), ("last", length - 1)):
        x = torch.full((length,), FILLER, dtype=torch.float64)
        x[position] = special
        yield "one", f"one@{where}", x.to(dtype), (position,)
    strided = torch.full((2 * length,), FILLER, dtype=torch.float64)
    strided[2 * (length - 1)] = special
    yield "one", "strided@last", strided.to(dtype)[::2], (length - 1,)


def _finite_or_class(value: float) -> str:
    return "finite" if math.isfinite(value) else _classify(value)


def _outcome(out: torch.Tensor, positions: tuple[int, ...], length: int, family: str, kind: str) -> str:
    """The outcome class, written so that it does not change with the length or the special's place.

    ``elementwise``: the classes at the specials' positions. ``scalar``: the class of a reduction
    (finite values as ``finite`` when finite filler values took part). ``vector``: for an output as
    long as the input, the classes at the specials and the set of classes elsewhere.
    ``cumulative``: the classes at the first special and at the end. ``set``: the set of classes.
    ``indices``: each index as ``special`` (it points at the single special), ``first``/``last``
    (of the input) or ``other``. ``count``: the value as ``L`` minus something. ``raw``: every
    element's class.
    """
    flat = out.detach().reshape(-1).double().tolist()
    if kind == "elementwise":
        return " ".join(sorted({_classify(flat[p]) for p in positions}))
    if kind == "indices":

        def name(v: float) -> str:
            if family == "one":
                return "special" if int(v) == positions[0] else "other"
            return "first" if int(v) == 0 else ("last" if int(v) == length - 1 else "other")

        return " ".join(sorted({name(v) for v in flat}))
    if kind == "count":
        return f"L-{length - int(flat[0])}"
    if kind == "raw":
        return " ".join(_classify(v) for v in flat)
    if kind == "set":
        return " ".join(sorted({_finite_or_class(v) for v in flat}))
    if kind == "cumulative":
        return f"special:{_finite_or_class(flat[positions[0]])} last:{_finite_or_class(flat[-1])}"
    if kind == "vector":
        at_special = ",".join(sorted({_classify(flat[p]) for p in positions}))
        elsewhere = ",".join(sorted({_finite_or_class(v) for i, v in enumerate(flat) if i not in positions}))
        return f"special:{at_special}" + (f" rest:{elsewhere}" if elsewhere else "")
    (value,) = flat
    return _finite_or_class(value) if family == "one" else _classify(value)


def _kind(name: str) -> str:
    if ":" in name:
        return name.rsplit(":", 1)[1]
    if "indices" in name or name.startswith("arg"):
        return "indices"
    return "vector" if name.endswith("[*]") else "scalar"


def run_child() -> dict[str, list[str]]:
    """Outcomes of every case in this process: "op|dtype|special|family" -> ["outcome|layout|length", ...]."""
    if os.environ.get("PROBE_DISABLE_MKLDNN"):
        torch.backends.mkldnn.enabled = False
    results: dict[str, list[str]] = defaultdict(list)

    def record(key: str, fn: Callable[[], torch.Tensor], positions, length: int, kind: str, where: str) -> None:
        family = key.rsplit("|", 1)[1]
        if kind == "indices" and length == 1:
            return  # the only index there is
        if kind == "cumulative" and positions == (0,):
            key += "@first"  # nothing finite before the special
        try:
            outcome = _outcome(fn(), positions, length, family, kind)
        except (RuntimeError, ValueError, TypeError, IndexError) as error:
            if length == 1:
                return  # batch statistics of one value, a pool window larger than the input: refused everywhere
            outcome = f"error: {type(error).__name__}"
        results[key].append(f"{outcome}|{where}")

    unary, reductions = _activations(), {**_reductions(), **_attention()}
    for dtype_name in DTYPES:
        dtype = getattr(torch, dtype_name)
        for special_name, special in SPECIALS.items():
            for length in LENGTHS:
                for family, layout, x, positions in _layouts(length, special, dtype):
                    where, suffix = f"{layout}|{length}", f"{dtype_name}|{special_name}|{family}"
                    for name, fn in unary.items():
                        record(f"{name}|{suffix}", lambda fn=fn, x=x: fn(x), positions, length, "elementwise", where)
                    for name, fn in reductions.items() if special_name in NON_FINITE else ():
                        record(f"{name}|{suffix}", lambda fn=fn, x=x: fn(x), positions, length, _kind(name), where)
                    for other_name, other in OTHERS.items():
                        right = torch.full((length,), other, dtype=torch.float64).to(dtype)
                        for name, fn in BINARY.items():
                            record(
                                f"{name}(x, {other_name})|{suffix}",
                                lambda fn=fn, x=x, right=right: fn(x, right),
                                positions,
                                length,
                                "elementwise",
                                where,
                            )
                            record(
                                f"{name}(x, scalar {other_name})|{suffix}",
                                lambda fn=fn, x=x, o=other: fn(x, o),
                                positions,
                                length,
                                "elementwise",
                                where,
                            )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help="write the varying cases as JSON here")
    args = parser.parse_args()
    if args.child:
        json.dump(run_child(), sys.stdout)
        return 0
    merged: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for config, env in CONFIGS.items():
        child = subprocess.run(
            [sys.executable, __file__, "--child"], env={**os.environ, **env}, capture_output=True, text=True, check=True
        )
        for key, entries in json.loads(child.stdout).items():
            for entry in entries:
                outcome, where = entry.split("|", 1)
                merged[key][outcome].append(f"{config}|{where}")
    varying = {key: dict(outcomes) for key, outcomes in merged.items() if len(outcomes) > 1}
    print(
        f"torch {torch.__version__}, capability {torch.backends.cpu.get_cpu_capability()}: "
        f"{len(merged)} cases, {len(varying)} with more than one outcome"
    )
    for key, outcomes in sorted(varying.items()):
        print(f"\n{key}")
        for outcome, places in sorted(outcomes.items(), key=lambda item: -len(item[1])):
            shown = ", ".join(places[:6]) + (f" ... (+{len(places) - 6})" if len(places) > 6 else "")
            print(f"  {outcome!r:<28} {len(places):4d}x  {shown}")
    if args.out:
        from axon_core import atomic_writer

        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "torch": torch.__version__,
            "capability": torch.backends.cpu.get_cpu_capability(),
            "configs": CONFIGS,
            "varying": varying,
        }
        with atomic_writer(args.out) as handle:
            handle.write(json.dumps(report, indent=1).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
