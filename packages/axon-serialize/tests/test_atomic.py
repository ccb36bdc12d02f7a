"""A crash in the middle of a save leaves the last good file, and its temporary file is removed by
the next save to the folder (real processes killed with SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from axon_core.atomic import TEMP_SUFFIX
from axon_serialize import Checkpoint, atomic_writer, load_state_dict, save_state_dict
from axon_tensor import from_numpy


class Crash(Exception):
    pass


def test_atomic_writer_keeps_old_content_on_failure(tmp_path) -> None:
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")
    with pytest.raises(Crash):
        with atomic_writer(target) as handle:
            handle.write(b"new partial")
            raise Crash()
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["file.bin"]


@pytest.mark.parametrize("suffix", [".safetensors", ".json", ".axon"])
def test_crash_mid_save_leaves_last_good_state_dict(tmp_path, monkeypatch, suffix) -> None:
    path = tmp_path / f"model{suffix}"
    good = {"w": from_numpy(np.arange(6, dtype=np.float32))}
    save_state_dict(good, path)

    real_fsync = os.fsync

    def dying_fsync(fd: int) -> None:
        raise Crash("power loss")

    monkeypatch.setattr(os, "fsync", dying_fsync)
    with pytest.raises(Crash):
        save_state_dict({"w": from_numpy(np.zeros(6, dtype=np.float32))}, path)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert load_state_dict(path)["w"].numpy().tolist() == list(range(6))
    assert sorted(os.listdir(tmp_path)) == [path.name]


def test_checkpoint_save_is_atomic(tmp_path, monkeypatch) -> None:
    path = tmp_path / "ckpt.axon"
    Checkpoint(model={"w": from_numpy(np.ones(3, np.float32))}).save(path)
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        Checkpoint(model={"w": from_numpy(np.zeros(3, np.float32))}).save(path)
    monkeypatch.undo()
    assert Checkpoint.load(path).model["w"].numpy().tolist() == [1.0, 1.0, 1.0]
    assert sorted(os.listdir(tmp_path)) == ["ckpt.axon"]


# A child that saves a Checkpoint and is stopped inside the save, at its fsync (all bytes written,
# nothing renamed), until it is killed.
_STOPPED_SAVER = """
import os, sys, time
import numpy as np
from axon_serialize import Checkpoint
from axon_tensor import from_numpy

def stop(fd):
    print("inside", flush=True)
    time.sleep(60)

os.fsync = stop
Checkpoint(model={"w": from_numpy(np.full(1 << 16, 2.0, np.float32))}).save(sys.argv[1])
"""


@pytest.mark.parametrize("kills", [1, 3])
def test_checkpoint_saves_killed_with_sigkill_leave_the_last_good_file_and_no_lasting_debris(tmp_path, kills) -> None:
    path = tmp_path / "run.axon"
    Checkpoint(model={"w": from_numpy(np.ones(4, np.float32))}).save(path)
    for _ in range(kills):
        child = subprocess.Popen([sys.executable, "-c", _STOPPED_SAVER, str(path)], stdout=subprocess.PIPE)
        assert child.stdout.readline() == b"inside\n"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
        child.stdout.close()
        # The killed save's temporary file is there (a previous one was reclaimed by this save)...
        (debris,) = [name for name in os.listdir(tmp_path) if name != "run.axon"]
        assert debris.startswith(".run.axon.") and debris.endswith(TEMP_SUFFIX)
        assert Checkpoint.load(path).model["w"].numpy().tolist() == [1.0] * 4
    # ... and the next save to the folder removes it.
    Checkpoint(model={"w": from_numpy(np.zeros(2, np.float32))}).save(path)
    assert os.listdir(tmp_path) == ["run.axon"]
