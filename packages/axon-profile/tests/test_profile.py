"""axon_profile on tensor ops: what was recorded against what the test ran, times against
perf_counter brackets, bytes against the arrays' nbytes, key_averages against a plain aggregation
of the raw events, the Chrome trace against the Trace Event Format's rules."""

from __future__ import annotations

import collections
import json
import sys
import time

import numpy as np
import pytest

import axon_profile
import axon_tensor as at
from axon_core import ShapeError
from axon_tensor import Tensor


def _t(shape, dtype=np.float32, seed=0):
    return at.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def test_ops_names_shapes_dtypes_and_nesting():
    a, b, v = _t((3, 4)), _t((4, 5), seed=1), _t((4,), np.float64, seed=2)
    with axon_profile.profile(record_shapes=True) as prof:
        c = a @ b
        d = at.mm(a, b)
        e = (v + v).relu()
    np.testing.assert_allclose(c.numpy(), d.numpy())
    assert e.shape == (4,)
    names = [(ev.name, ev.depth) for ev in prof.events]
    # mm checks its operands then calls matmul: nested, as aten::mm inside aten::matmul is in torch.
    assert names == [("matmul", 0), ("mm", 0), ("matmul", 1), ("add", 0), ("relu", 0)]
    assert prof.events[2].parent is prof.events[1]
    assert prof.events[1].children == [prof.events[2]]
    assert prof.events[0].input_shapes == [[3, 4], [4, 5]]
    assert prof.events[0].input_dtypes == ["float32", "float32"]
    assert prof.events[3].input_shapes == [[4], [4]] and prof.events[3].input_dtypes == ["float64", "float64"]
    # The tensors' device (cpu, or cuda-sim under AXON_DEFAULT_DEVICE=cuda-sim).
    assert all(ev.device == str(a.device) for ev in prof.events)
    here = f"{__file__}:"
    assert prof.events[0].call_site.startswith(here) and prof.events[0].call_site.endswith(
        "in test_ops_names_shapes_dtypes_and_nesting"
    )
    # The nested matmul's call site is the user's line too, not axon's own.
    assert prof.events[2].call_site == prof.events[1].call_site


def test_shapes_not_kept_without_record_shapes():
    a = _t((2, 2))
    with axon_profile.profile() as prof:
        a + a
    assert [ev.name for ev in prof.events] == ["add"] and prof.events[0].input_shapes == []


def test_profiling_off_leaves_the_original_functions():
    before_class = dict(Tensor.__dict__)
    module = sys.modules["axon_tensor.ops.linalg"]
    before_module = dict(vars(module))
    before_package = {name: getattr(at, name) for name in at.__all__}
    with axon_profile.profile():
        assert Tensor.__dict__["matmul"] is not before_class["matmul"]
        assert vars(module)["matmul"] is not before_module["matmul"]
    assert all(Tensor.__dict__[k] is v for k, v in before_class.items())
    assert all(vars(module)[k] is v for k, v in before_module.items())
    assert all(getattr(at, k) is v for k, v in before_package.items())
    # And nothing is recorded once the block is left.
    a = _t((2, 2))
    a + a
    assert [ev.name for ev in prof_events_of_empty_block()] == []


def prof_events_of_empty_block():
    with axon_profile.profile() as prof:
        pass
    return prof.events


def test_times_inside_perf_counter_brackets():
    a, b = _t((64, 64)), _t((64, 64), seed=1)
    with axon_profile.profile() as prof:
        brackets = []
        for _ in range(3):
            t0 = time.perf_counter_ns()
            at.mm(a, b)
            brackets.append((t0, time.perf_counter_ns()))
    tops = [ev for ev in prof.events if ev.depth == 0]
    assert len(tops) == 3
    for ev, (t0, t1) in zip(tops, brackets):
        assert t0 <= ev.start_ns <= ev.end_ns <= t1
        (child,) = ev.children
        assert ev.start_ns <= child.start_ns <= child.end_ns <= ev.end_ns
        assert ev.self_wall_ns == ev.wall_ns - child.wall_ns >= 0
        # CPU time of one thread cannot exceed the wall time around it (plus the clocks' granularity).
        assert 0 <= ev.cpu_ns <= (t1 - t0) + 1_000_000
    assert prof.start_ns <= tops[0].start_ns and tops[-1].end_ns <= prof.end_ns


def test_bytes_allocated_and_freed():
    a, b = _t((8, 16)), _t((8, 16), seed=1)
    with axon_profile.profile(profile_memory=True) as prof:
        c = a + b
        view = c.transpose(0, 1)
        d = at.cat([a, b], 0).to(at.float64)
        del view, c
        mark = time.perf_counter_ns()
    by_name = {ev.name: ev for ev in prof.events}
    assert by_name["add"].self_bytes_allocated == (a.numpy() + b.numpy()).nbytes == 512
    assert by_name["transpose"].self_bytes_allocated == 0  # a view shares its base's storage
    cat_bytes = np.concatenate([a.numpy(), b.numpy()]).nbytes
    assert by_name["cat"].self_bytes_allocated == cat_bytes
    assert by_name["to"].self_bytes_allocated == d.numpy().nbytes == 2 * cat_bytes
    timeline = prof.memory_timeline()
    # add's result, cat's, to's, then cat's freed once to() returned (nothing holds it), add's freed.
    steps = [512, cat_bytes, 2 * cat_bytes, -cat_bytes, -512]
    assert [m.nbytes for m in prof.memory_events] == steps
    assert timeline.live_bytes == list(np.cumsum(steps))
    assert timeline.peak_bytes == 512 + 3 * cat_bytes == max(timeline.live_bytes)
    assert timeline.high_water(by_name["to"]) == 512 + 3 * cat_bytes
    assert by_name["to"].self_bytes_freed == 0  # cat's storage went after to() had returned
    assert prof.memory_events[-1].time_ns <= mark
    assert timeline.high_water(by_name["cat"]) == 512 + cat_bytes
    assert timeline.high_water(by_name["add"]) == 512
    table = prof.key_averages().table()
    assert "CPU Mem" in table and "Self CPU Mem" in table


def test_key_averages_match_an_aggregation_of_the_raw_events():
    a, b = _t((5, 6)), _t((6, 7), seed=1)
    with axon_profile.profile(record_shapes=True, profile_memory=True) as prof:
        for _ in range(4):
            at.mm(a, b).relu()
        (a.sum() + 1.0).exp()
    totals = collections.defaultdict(lambda: [0, 0, 0, 0])
    for ev in prof.events:
        row = totals[ev.name]
        row[0] += 1
        row[1] += ev.end_ns - ev.start_ns
        row[2] += (ev.end_ns - ev.start_ns) - sum(c.end_ns - c.start_ns for c in ev.children)
        row[3] += ev.self_bytes_allocated - ev.self_bytes_freed
    averages = prof.key_averages()
    assert {r.key for r in averages} == set(totals)
    for r in averages:
        count, wall, self_wall, self_mem = totals[r.key]
        assert r.count == count
        assert r.cpu_time_total == pytest.approx(wall / 1e3)
        assert r.self_cpu_time_total == pytest.approx(self_wall / 1e3)
        assert r.cpu_time == pytest.approx(wall / 1e3 / count)
        assert r.self_cpu_memory_usage == self_mem
    assert {r.key: r.count for r in averages}["matmul"] == 4
    by_shape = prof.key_averages(group_by_input_shape=True)
    assert {(r.key, r.input_shapes) for r in by_shape} >= {("mm", "[[5, 6], [6, 7]]"), ("relu", "[[5, 7]]")}


def test_table_layout_and_sorting():
    a = _t((4, 4))
    with axon_profile.profile(record_shapes=True) as prof:
        for _ in range(3):
            a @ a
        a + a
    table = prof.key_averages(group_by_input_shape=True).table(sort_by="count")
    lines = table.splitlines()
    assert lines[0] == lines[2] == lines[-2] and set(lines[0]) == {"-", " "}
    header = [h.strip() for h in lines[1].split("  ") if h.strip()]
    assert header == [
        "Name",
        "Self CPU %",
        "Self CPU",
        "CPU total %",
        "CPU total",
        "CPU time avg",
        "# of Calls",
        "Input Shapes",
    ]
    assert lines[3].split()[0] == "matmul" and lines[3].split()[-5] == "3"
    assert lines[-1].startswith("Self CPU time total: ")
    self_percent = sum(float(line.split()[1].rstrip("%")) for line in lines[3:-2])
    assert self_percent == pytest.approx(100.0, abs=0.05)
    with pytest.raises(ValueError, match="sort_by='speed'"):
        prof.key_averages().table(sort_by="speed")


def _check_trace_event_format(document):
    """The Trace Event Format's rules for the phases we write (X complete, C counter, M metadata)."""
    assert isinstance(document["traceEvents"], list)
    assert document.get("displayTimeUnit") in ("ms", "ns")
    for ev in document["traceEvents"]:
        assert isinstance(ev["name"], str) and ev["ph"] in {"X", "C", "M"}
        assert isinstance(ev["pid"], int) and isinstance(ev["tid"], int)
        if ev["ph"] == "M":
            assert ev["name"] in {"process_name", "thread_name"} and isinstance(ev["args"]["name"], str)
            continue
        assert isinstance(ev["ts"], (int, float)) and ev["ts"] >= 0
        if ev["ph"] == "X":
            assert isinstance(ev["dur"], (int, float)) and ev["dur"] >= 0
        else:
            assert ev["args"] and all(isinstance(v, (int, float)) for v in ev["args"].values())
    # Complete events on one track nest properly (viewers draw them as a stack).
    tracks = collections.defaultdict(list)
    for ev in document["traceEvents"]:
        if ev["ph"] == "X":
            tracks[(ev["pid"], ev["tid"])].append((ev["ts"], -ev["dur"], ev["ts"] + ev["dur"]))
    for spans in tracks.values():
        open_ends: list = []
        for start, _, end in sorted(spans):
            while open_ends and open_ends[-1] <= start:
                open_ends.pop()
            assert not open_ends or end <= open_ends[-1] + 1e-3
            open_ends.append(end)


def test_chrome_trace(tmp_path):
    a = _t((3, 3))
    with axon_profile.profile(record_shapes=True, profile_memory=True) as prof:
        at.mm(a, a).relu()
        del a
    path = tmp_path / "sub" / "trace.json"
    prof.export_chrome_trace(path)
    document = json.loads(path.read_text())
    _check_trace_event_format(document)
    ops = [ev for ev in document["traceEvents"] if ev["ph"] == "X"]
    assert [ev["name"] for ev in ops] == [ev.name for ev in prof.events] == ["mm", "matmul", "relu"]
    for ev, rec in zip(ops, prof.events):
        assert ev["ts"] == pytest.approx((rec.start_ns - prof.start_ns) / 1e3)
        assert ev["dur"] == pytest.approx(rec.wall_ns / 1e3)
        assert ev["args"]["Input Dims"] == rec.input_shapes
    counters = [ev["args"]["live bytes"] for ev in document["traceEvents"] if ev["ph"] == "C"]
    assert counters == prof.memory_timeline().live_bytes
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temporary left beside it


def test_misuse_is_a_clear_error():
    prof = axon_profile.profile()
    with prof:
        with pytest.raises(RuntimeError, match="still running"):
            prof.key_averages()
    with pytest.raises(RuntimeError, match="records once"):
        prof.start()
    with pytest.raises(RuntimeError, match="profile_memory=False"):
        prof.memory_timeline()
    with pytest.raises(RuntimeError, match="not running"):
        axon_profile.profile().stop()


def test_nested_profiles_both_record():
    a = _t((2, 2))
    with axon_profile.profile() as outer:
        a + a
        with axon_profile.profile() as inner:
            a * a
    assert [e.name for e in outer.events] == ["add", "mul"] and [e.name for e in inner.events] == ["mul"]


def test_memory_timeline_png(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    a = _t((16, 16))
    with axon_profile.profile(profile_memory=True) as prof:
        b = a + a
        c = b @ b
        del b
        c.relu()
    timeline = prof.memory_timeline()
    path = tmp_path / "memory.png"
    figure = timeline.plot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert imread(path).shape[:2] == (350, 800)  # figsize 8 x 3.5 inches at 100 dpi
    axes = figure.axes[0]
    step = axes.lines[0]
    # The step line is the timeline itself: 0, then each allocation's and free's running total.
    np.testing.assert_array_equal(step.get_ydata(), [0] + timeline.live_bytes)
    np.testing.assert_allclose(step.get_xdata(), [0.0] + timeline.times_us)
    assert axes.lines[1].get_ydata()[0] == timeline.peak_bytes == 2 * 1024  # b and c live together
    marks = [seg[0][1] for coll in axes.collections for seg in coll.get_segments()]
    assert marks == [timeline.high_water(op) for op in prof.events if op.depth == 0]


def test_an_op_that_raises_is_recorded_and_leaves_the_stack_clean():
    a, b = _t((2, 3)), _t((4, 5), seed=1)
    with axon_profile.profile(record_shapes=True) as prof:
        with pytest.raises(ShapeError, match="matmul"):
            a @ b
        a + a
    assert [(e.name, e.depth) for e in prof.events] == [("matmul", 0), ("add", 0)]
    assert prof.events[0].end_ns >= prof.events[0].start_ns and prof.events[0].input_shapes == [[2, 3], [4, 5]]


def test_ops_on_other_threads_have_their_own_stacks():
    import threading

    a = _t((4, 4))
    # All three alive at once, so their thread ids are distinct (a finished thread's id is reused).
    together = threading.Barrier(3)

    def work():
        at.mm(a, a)
        together.wait(timeout=10)

    with axon_profile.profile() as prof:
        workers = [threading.Thread(target=work) for _ in range(3)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        a + a
    threads = collections.Counter(e.thread for e in prof.events if e.name == "mm")
    assert len(threads) == 3 and set(threads.values()) == {1}
    for e in prof.events:
        if e.name == "matmul":
            assert e.parent.name == "mm" and e.parent.thread == e.thread and e.depth == 1
    assert [e.depth for e in prof.events if e.name == "add"] == [0]
