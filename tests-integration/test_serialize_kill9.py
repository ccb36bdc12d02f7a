"""kill -9 during real saves: a child process saves a Checkpoint (8 MiB), a safetensors and a JSON
state dict into one folder over and over; the parent kills it with SIGKILL at a random moment
inside a save, 40 times, into the same folder.

After every kill: each file loads and holds the last completed save (or the one in flight, if the
kill came after its rename), never a torn one, and at most one temporary file is in the folder
(the killed save's: every save removes the debris of the ones before it). At the end one more save
leaves no temporary file at all. The counts are printed (``pytest -s``).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from axon_core.atomic import TEMP_SUFFIX
from axon_serialize import Checkpoint, load_state_dict, save_state_dict
from axon_tensor import from_numpy

pytestmark = pytest.mark.slow

TRIALS = 40
TARGETS = ("run.axon", "model.safetensors", "small.json")

# Save i writes the value i everywhere, so a loaded file says which save it came from.
SAVER = """
import sys, time
import numpy as np
from axon_serialize import Checkpoint, TrainingState, save_state_dict
from axon_tensor import from_numpy

folder, start = sys.argv[1], int(sys.argv[2])
for i in range(start, start + 10**6):
    big = from_numpy(np.full(1 << 21, float(i), np.float32))
    for name in ("run.axon", "model.safetensors", "small.json"):
        print(f"saving {name} {i} {time.monotonic()}", flush=True)
        if name == "run.axon":
            Checkpoint(model={"w": big}, training=TrainingState(step=i)).save(f"{folder}/{name}")
        elif name == "model.safetensors":
            save_state_dict({"w": big}, f"{folder}/{name}")
        else:
            save_state_dict({"w": from_numpy(np.full(4096, float(i), np.float32))}, f"{folder}/{name}")
        print(f"saved {name} {i} {time.monotonic()}", flush=True)
"""


def _marker(folder, name: str) -> int | None:
    path = folder / name
    if not path.exists():
        return None
    if name == "run.axon":
        checkpoint = Checkpoint.load(path)
        values, step = checkpoint.model["w"].numpy(), checkpoint.training.step
        assert values.shape == (1 << 21,) and np.all(values == step), "a torn checkpoint"
        return step
    values = load_state_dict(path)["w"].numpy()
    assert np.all(values == values[0]), f"a torn {name}"
    return int(values[0])


def _record(line: str, saved: dict, in_flight: dict, began: dict, durations: dict) -> None:
    event, name, index, stamp = line.split()
    if event == "saving":
        in_flight[name], began[name] = int(index), float(stamp)
    else:
        saved[name] = int(index)
        durations[name].append(float(stamp) - began[name])


def _temporaries(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.endswith(TEMP_SUFFIX))


def test_kill_9_mid_save_leaves_last_good_files_and_debris_is_reclaimed(tmp_path) -> None:
    rnd = random.Random(23)
    folder = tmp_path / "run"
    folder.mkdir()
    start = 0
    durations: dict[str, list[float]] = {name: [] for name in TARGETS}
    before: dict[str, int | None] = dict.fromkeys(TARGETS)  # what each file held before this run
    mid_save, reclaimed, seen = 0, 0, set()
    for trial in range(TRIALS):
        child = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(folder), str(start)], stdout=subprocess.PIPE, text=True
        )
        saved: dict[str, int] = {}
        in_flight: dict[str, int] = {}
        began: dict[str, float] = {}
        target, skip = rnd.choice(TARGETS), rnd.randint(0, 2)  # let a few saves of the target finish first
        while True:
            line = child.stdout.readline()
            assert line, "the saver stopped by itself"
            _record(line, saved, in_flight, began, durations)
            if line.startswith(f"saving {target} "):
                if skip == 0:
                    break
                skip -= 1
        # Kill at a random moment within a typical save of the target.
        typical = float(np.median(durations[target])) if durations[target] else 0.1
        time.sleep(rnd.uniform(0, 1.2 * typical))
        child.send_signal(signal.SIGKILL)
        for line in child.stdout.read().splitlines():  # lines written before the kill
            _record(line, saved, in_flight, began, durations)
        assert child.wait(timeout=60) == -signal.SIGKILL
        child.stdout.close()

        debris = _temporaries(folder)
        assert len(debris) <= 1, f"trial {trial}: {debris}"
        mid_save += len(debris)
        reclaimed += len(seen - set(debris))
        seen = set(debris)
        for name in TARGETS:
            # The last completed save, or the one in flight if the kill came after its rename.
            allowed = {saved.get(name, before[name])} | ({in_flight[name]} if name in in_flight else set())
            marker = _marker(folder, name)
            assert marker in allowed, f"trial {trial}: {name} holds save {marker}, expected one of {allowed}"
            before[name] = marker
        start = max([start, *saved.values(), *in_flight.values()]) + 1

    save_state_dict({"w": from_numpy(np.zeros(3, np.float32))}, folder / "final.safetensors")
    reclaimed += len(seen)
    assert _temporaries(folder) == []
    typical = {name: f"{np.median(values) * 1e3:.0f} ms" for name, values in durations.items()}
    print(
        f"\n{TRIALS} kill -9 trials: {mid_save} left a temporary file (killed mid-save), {reclaimed} reclaimed "
        f"by the next save; median save times {typical}"
    )
    assert mid_save >= TRIALS // 4  # the kills did land inside saves
    assert reclaimed == mid_save
