"""A crash in the middle of a save leaves the last good file and no temporary debris."""

from __future__ import annotations

import os

import numpy as np
import pytest

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
