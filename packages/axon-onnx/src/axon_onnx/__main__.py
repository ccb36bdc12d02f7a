"""``python -m axon_onnx inspect FILE.onnx`` and ``python -m axon_onnx check FILE.onnx``.

inspect: the graph's inputs and outputs (name, element type, shape), its opsets, producer and an
op-type histogram. check: which nodes axon can run; exit status 1 if any cannot, 2 if the file is
not a readable ONNX model. ``--json`` prints the same as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

import onnx

from ._proto import read_model
from .errors import OnnxError
from .model import default_opset, unsupported_nodes


def _value_info(value: onnx.ValueInfoProto) -> dict[str, Any]:
    kind = value.type.tensor_type
    dims: list[Any] | None = None
    if kind.HasField("shape"):
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in kind.shape.dim]
    dtype = onnx.TensorProto.DataType.Name(kind.elem_type) if kind.elem_type else "?"
    return {"name": value.name, "dtype": dtype, "shape": dims}


def inspect_report(model: onnx.ModelProto) -> dict[str, Any]:
    """Inputs (without initializers), outputs, opsets and the op histogram of ``model``."""
    graph = model.graph
    initialized = {t.name for t in graph.initializer}
    ops = Counter(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}" for n in graph.node)
    return {
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "ir_version": model.ir_version,
        "opsets": {(e.domain or "ai.onnx"): e.version for e in model.opset_import},
        "inputs": [_value_info(v) for v in graph.input if v.name not in initialized],
        "outputs": [_value_info(v) for v in graph.output],
        "initializers": len(graph.initializer),
        "nodes": len(graph.node),
        "ops": dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def check_report(model: onnx.ModelProto, folder: Any = None) -> dict[str, Any]:
    """The nodes axon cannot run (with reasons) out of all of ``model``'s nodes."""
    bad = unsupported_nodes(model, folder)
    return {
        "opset": default_opset(model),
        "nodes": len(model.graph.node),
        "runnable": len(model.graph.node) - len(bad),
        "unsupported": [
            {"name": name, "op_type": op, "domain": domain or "ai.onnx", "opset": opset, "reason": reason}
            for name, op, domain, opset, reason in bad
        ],
    }


def _print_inspect(report: dict[str, Any]) -> None:
    print(f"producer: {report['producer'] or '?'}  ir_version: {report['ir_version']}")
    print("opsets: " + ", ".join(f"{d} {v}" for d, v in report["opsets"].items()))
    for title in ("inputs", "outputs"):
        print(f"{title}:")
        for v in report[title]:
            shape = "?" if v["shape"] is None else "[" + ", ".join(str(d) for d in v["shape"]) + "]"
            print(f"  {v['name']}: {v['dtype']} {shape}")
    print(f"initializers: {report['initializers']}  nodes: {report['nodes']}")
    print("ops:")
    for op, count in report["ops"].items():
        print(f"  {op}: {count}")


def _print_check(report: dict[str, Any]) -> None:
    print(f"{report['runnable']}/{report['nodes']} nodes runnable by axon (opset {report['opset']})")
    for n in report["unsupported"]:
        where = f"{n['op_type']} ({n['domain']}, opset {n['opset']})"
        print(f"  cannot run {n['name'] or '<unnamed>'}: {where}: {n['reason']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m axon_onnx", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("inspect", "check"))
    parser.add_argument("file", help="an .onnx model")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        model, folder = read_model(args.file)
        report = inspect_report(model) if args.command == "inspect" else check_report(model, folder)
    except OnnxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report))
    elif args.command == "inspect":
        _print_inspect(report)
    else:
        _print_check(report)
    return 1 if args.command == "check" and report["unsupported"] else 0


if __name__ == "__main__":
    sys.exit(main())
