"""Imported ResNet-18 inference (224x224 float32, batch 1 and 16): axon_onnx vs onnxruntime CPU.

    python tools/bench/bench_onnx_resnet.py [--steps N] [--rounds R] [--out bench-results/bench_onnx_resnet.json]

The model is the torchvision-layout ResNet-18 of ``tests-integration/test_onnx_real_models.py``
(seeded torch.nn weights), exported once by ``torch.onnx.export(dynamo=False, opset 17)`` with a
dynamic batch axis; both runtimes load the same bytes (onnxruntime with as many intra-op threads
as the machine has cores). One process: each round times axon then onnxruntime (the order
alternates by round) on the same input, checks their outputs agree, and gives the ratio axon /
onnxruntime of median step times; the reported ratio is the median over rounds.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import warnings
from pathlib import Path

import numpy as np
from _harness import machine_info, time_steps, write_report

MODELS = Path(__file__).resolve().parents[2] / "tests-integration" / "test_onnx_real_models.py"


def _export() -> bytes:
    import torch

    spec = importlib.util.spec_from_file_location("onnx_real_models", MODELS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    model = module.ResNet18().eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.randn(1, 3, 224, 224),),
            buffer,
            dynamo=False,
            opset_version=17,
            input_names=["x"],
            dynamic_axes={"x": {0: "batch"}},
        )
    return buffer.getvalue()


def main() -> None:
    import onnxruntime as ort

    import axon_onnx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--out", default="bench-results/bench_onnx_resnet.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    data = _export()
    ours = axon_onnx.load(data)
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    results = {}
    for batch in args.batches:
        x = np.random.default_rng(batch).standard_normal((batch, 3, 224, 224)).astype(np.float32)
        (a,) = ours.run(None, {"x": x})
        (r,) = session.run(None, {"x": x})
        error = float(np.abs(a - r).max() / np.abs(r).max())
        if error > 1e-4:
            raise SystemExit(f"batch {batch}: outputs disagree by {error:.2e} of the largest")
        steps = {
            "axon": lambda x=x: ours.run(None, {"x": x}),
            "onnxruntime": lambda x=x: session.run(None, {"x": x}),
        }
        rounds: dict[str, list[dict]] = {"axon": [], "onnxruntime": []}
        for k in range(args.rounds):
            order = list(steps) if k % 2 == 0 else list(steps)[::-1]
            for name in order:
                rounds[name].append(time_steps(steps[name], args.steps, args.warmup))
        ratios = [a["median_step_s"] / o["median_step_s"] for a, o in zip(rounds["axon"], rounds["onnxruntime"])]
        results[f"batch_{batch}"] = {
            "axon_median_step_s": float(np.median([r["median_step_s"] for r in rounds["axon"]])),
            "onnxruntime_median_step_s": float(np.median([r["median_step_s"] for r in rounds["onnxruntime"]])),
            "time_ratio_per_round": ratios,
            "time_ratio_axon_over_onnxruntime": float(np.median(ratios)),
            "output_error_vs_onnxruntime": error,
            "rounds": rounds,
        }
        res = results[f"batch_{batch}"]
        print(
            f"resnet18 b{batch}: axon {res['axon_median_step_s'] * 1e3:.0f} ms, onnxruntime "
            f"{res['onnxruntime_median_step_s'] * 1e3:.0f} ms, ratio {res['time_ratio_axon_over_onnxruntime']:.2f} "
            f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
        )
    report = {
        "benchmark": "onnx_resnet18_inference",
        "machine": machine_info(load_before, load_keys="load_average_1_5_15min"),
        "image_size": 224,
        "steps": args.steps,
        "rounds": args.rounds,
        "onnxruntime_intra_op_threads": options.intra_op_num_threads,
        "results": results,
    }
    print(f"wrote {write_report(report, args.out)}")


if __name__ == "__main__":
    main()
