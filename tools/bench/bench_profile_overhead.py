"""What axon-profile costs when no profile runs, and when one does, as JSON.

    python tools/bench/bench_profile_overhead.py [--rounds R] [--reps N] [--out FILE.json]

The report goes to bench-results/bench_profile_overhead.json unless ``--out`` says otherwise.
One process, axon_profile imported and one profile already entered and left (so every
instrumentation has been switched on and off again). Two workloads of small ops:

- ``tensor_ops``: ``a + b``, ``a @ b``, ``relu(a)``, ``sum(a)`` on [8, 8] float32 tensors;
- ``mlp_step``: forward and backward of a 2-layer MLP on [4, 8] (Function.apply, the backward
  engine, AccumulateGrad).

"off" runs them as they are. "without the hook" runs them with the profiler's hooks taken out:
the tensor ops and ``Function.apply`` are the same function objects either way (switched off,
the instrumentation puts the originals back; the script checks it by identity), and the backward
engine's one ``if OBSERVERS:`` check is removed by compiling ``run_backward`` from its own source
without it. Rounds alternate the two (and which goes first); each variant's time in a round is
the fastest of 5 chunks of calls; each round's ratio is off time / without time, and the report
takes the median. A control ratio times "off" a second time in each round: the host's noise
alone. For scale it also reports the ratio of a design not taken (every op behind a wrapper with
an "is anyone listening" check) and of profiling on.
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import time

import numpy as np
from _harness import machine_info, write_report

import axon_autograd.engine as engine
import axon_nn as nn
import axon_profile
import axon_tensor as at
from axon_autograd import Function, Variable
from axon_core.observe import OBSERVERS

_HOOK = """            if OBSERVERS:
                results = observe_call("backward", node.name(), node.apply_backward, (tuple(grads),), {})
            else:
                results = node.apply_backward(tuple(grads))
"""
_PLAIN = """            results = node.apply_backward(tuple(grads))
"""


def _run_backward_without_hook():
    source = inspect.getsource(engine.run_backward)
    if source.count(_HOOK) != 1:
        raise SystemExit("bench_profile_overhead: engine.run_backward's observer check changed; update _HOOK")
    plain = source.replace(_HOOK, _PLAIN)
    assert "OBSERVERS" not in plain
    namespace = dict(vars(engine))
    exec(compile(plain, engine.__file__, "exec"), namespace)
    return namespace["run_backward"]


def _workloads():
    rng = np.random.default_rng(0)
    a = at.tensor(rng.standard_normal((8, 8)).astype(np.float32))
    b = at.tensor(rng.standard_normal((8, 8)).astype(np.float32))

    def tensor_ops():
        (a + b) @ b
        at.relu(a).sum()

    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    x = Variable(at.tensor(rng.standard_normal((4, 8)).astype(np.float32)), requires_grad=False)

    def mlp_step():
        model(x).sum().backward()

    return {"tensor_ops": tensor_ops, "mlp_step": mlp_step}


def _time(fn, reps: int, chunks: int = 5) -> float:
    """Seconds per call: the fastest of ``chunks`` runs of ``reps // chunks`` calls (the host is
    shared; the fastest chunk is the one least disturbed by other processes, as timeit advises)."""
    per_chunk = max(1, reps // chunks)
    best = float("inf")
    for _ in range(chunks):
        start = time.perf_counter()
        for _ in range(per_chunk):
            fn()
        best = min(best, (time.perf_counter() - start) / per_chunk)
    return best


def _wrapped_tensor_ops():
    """The tensor_ops workload with every op behind the wrapper design that was not taken."""
    listeners: list = []

    def wrap(fn):
        def op(*args, **kwargs):
            if listeners:
                return None
            return fn(*args, **kwargs)

        return op

    add, matmul, relu, total = (wrap(f) for f in (at.Tensor.__add__, at.matmul, at.relu, at.sum))
    rng = np.random.default_rng(0)
    a = at.tensor(rng.standard_normal((8, 8)).astype(np.float32))
    b = at.tensor(rng.standard_normal((8, 8)).astype(np.float32))

    def tensor_ops():
        matmul(add(a, b), b)
        total(relu(a))

    return tensor_ops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--out", default="bench-results/bench_profile_overhead.json")
    args = parser.parse_args()
    load_before = os.getloadavg()

    originals = {name: at.Tensor.__dict__[name] for name in ("__add__", "matmul", "relu", "sum")}
    apply = Function.__dict__["apply"]
    with axon_profile.profile():
        pass
    assert not OBSERVERS
    assert all(at.Tensor.__dict__[n] is f for n, f in originals.items()) and Function.__dict__["apply"] is apply

    hooked_backward = engine.run_backward
    plain_backward = _run_backward_without_hook()
    workloads = _workloads()
    # The MLP's backward goes through engine.run_backward (the name the "without" rounds swap).
    engine.run_backward = None
    try:
        workloads["mlp_step"]()
    except TypeError:
        pass
    else:
        raise SystemExit("bench_profile_overhead: backward() no longer calls engine.run_backward")
    finally:
        engine.run_backward = hooked_backward
    for fn in workloads.values():
        for _ in range(50):
            fn()

    report: dict = {"benchmark": "profile_overhead", "rounds": args.rounds, "reps": args.reps, "results": {}}
    for name, fn in workloads.items():
        ratios, controls, off_times, without_times = [], [], [], []
        for r in range(args.rounds):
            order = ("off", "without", "off again") if r % 2 == 0 else ("without", "off", "off again")
            times = {}
            for variant in order:
                engine.run_backward = plain_backward if variant == "without" else hooked_backward
                try:
                    times[variant] = _time(fn, args.reps)
                finally:
                    engine.run_backward = hooked_backward
            ratios.append(times["off"] / times["without"])
            controls.append(times["off again"] / times["off"])
            off_times.append(times["off"])
            without_times.append(times["without"])
        report["results"][name] = {
            "off_us": statistics.median(off_times) * 1e6,
            "without_hook_us": statistics.median(without_times) * 1e6,
            "ratio_off_vs_without_hook": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
            # The same code timed twice: how far the host's noise alone moves a ratio.
            "control_ratio_off_vs_off": statistics.median(controls),
            "control_ratio_min": min(controls),
            "control_ratio_max": max(controls),
        }

    wrapped = _wrapped_tensor_ops()
    plain = workloads["tensor_ops"]
    wrapper_ratios = []
    for r in range(args.rounds):
        first, second = (plain, wrapped) if r % 2 == 0 else (wrapped, plain)
        t1, t2 = _time(first, args.reps), _time(second, args.reps)
        plain_t, wrapped_t = (t1, t2) if first is plain else (t2, t1)
        wrapper_ratios.append(wrapped_t / plain_t)
    report["results"]["tensor_ops"]["ratio_if_every_op_had_a_wrapper_check"] = statistics.median(wrapper_ratios)

    for name, fn in workloads.items():
        on_ratios = []
        for _ in range(max(3, args.rounds // 3)):
            off = _time(fn, args.reps // 4)
            with axon_profile.profile(record_shapes=True, profile_memory=True):
                on = _time(fn, args.reps // 4)
            on_ratios.append(on / off)
        report["results"][name]["ratio_profiling_on_vs_off"] = statistics.median(on_ratios)

    report["machine"] = machine_info(load_before)
    path = write_report(report, args.out)
    print(path.read_text())


if __name__ == "__main__":
    main()
