"""ResNet-18 inference (eval, batch 16, 224x224, float32): axon_vision.models.resnet18 vs PyTorch CPU eager.

    python tools/bench/bench_vision_resnet.py [--steps N] [--rounds R] [--out bench-results/bench_vision_resnet.json]

torchvision is not installed, so the PyTorch side is the torchvision architecture written with torch.nn
in axon-vision's model tests (``TResNet``); each child copies axon's seeded weights into it by name and
checks the logits agree before timing. Each (framework) run is its own subprocess; ``--rounds``
alternates them, each round gives the ratio axon / PyTorch of median forward times, and the reported
ratio is the median over rounds (a slow spell of the shared machine skews one round, not the result).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
from _harness import machine_info, run_child, time_steps, write_report

BATCH, SIZE = 16, 224
TESTS = Path(__file__).resolve().parents[2] / "packages" / "axon-vision" / "tests" / "test_models.py"


def _models():
    import torch

    from axon_tensor import manual_seed
    from axon_vision.models import resnet18

    spec = importlib.util.spec_from_file_location("vision_test_models", TESTS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    manual_seed(0)
    ours = resnet18().eval()
    reference = module.TResNet(module.TBasic, [2, 2, 2, 2], 1000).eval()
    reference.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()})
    return ours, reference


def _measure(framework: str, steps: int, warmup: int) -> dict:
    import torch

    from axon_autograd import no_grad
    from axon_tensor import tensor

    ours, reference = _models()
    x = np.random.default_rng(0).standard_normal((BATCH, 3, SIZE, SIZE)).astype(np.float32)
    with no_grad(), torch.no_grad():
        a, t = ours(tensor(x)).numpy(), reference(torch.from_numpy(x)).numpy()
    error = float(np.abs(a - t).max() / np.abs(t).max())
    if error > 1e-4:
        raise SystemExit(f"logits disagree: {error:.2e} of the largest")
    if framework == "axon":
        xt = tensor(x)

        def step():
            with no_grad():
                return ours(xt)
    else:
        xt = torch.from_numpy(x)

        def step():
            with torch.no_grad():
                return reference(xt)

    result = time_steps(step, steps, warmup)
    result["logit_error_vs_other"] = error
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--out", default="bench-results/bench_vision_resnet.json")
    parser.add_argument("--child", nargs=1, metavar="FRAMEWORK", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child[0], args.steps, args.warmup)))
        return
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {"axon": [], "torch": []}
    for _ in range(args.rounds):
        for framework in runs:
            runs[framework].append(
                run_child(__file__, framework, "--steps", str(args.steps), "--warmup", str(args.warmup))
            )
    ratios = [a["median_step_s"] / t["median_step_s"] for a, t in zip(runs["axon"], runs["torch"])]
    results = {
        framework: {
            "median_step_s": float(np.median([r["median_step_s"] for r in rs])),
            "min_step_s": float(np.min([r["min_step_s"] for r in rs])),
            "peak_rss_mib": float(np.max([r["peak_rss_mib"] for r in rs])),
            "rounds": rs,
        }
        for framework, rs in runs.items()
    }
    results["time_ratio_per_round"] = ratios
    results["time_ratio_axon_over_torch"] = float(np.median(ratios))
    print(
        f"resnet18 b{BATCH} {SIZE}px: axon {results['axon']['median_step_s'] * 1e3:.0f} ms, torch "
        f"{results['torch']['median_step_s'] * 1e3:.0f} ms, ratio {results['time_ratio_axon_over_torch']:.2f} "
        f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    report = {
        "benchmark": "vision_resnet18_forward",
        "machine": machine_info(load_before, load_keys="load_average_1_5_15min"),
        "batch": BATCH,
        "image_size": SIZE,
        "steps": args.steps,
        "rounds": args.rounds,
        "results": results,
    }
    print(f"wrote {write_report(report, args.out)}")


if __name__ == "__main__":
    main()
