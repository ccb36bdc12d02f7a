"""atomic_writer: recognisable temporary names, debris of killed writers reclaimed by the next save
(real processes killed with SIGKILL), live writers left alone, symlinks followed, modes kept."""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

import axon_core.atomic as atomic
from axon_core import atomic_writer
from axon_core.atomic import TEMP_SUFFIX, reclaim_stale_temporaries

# A writer that stops inside atomic_writer (after writing and flushing part of the file), says so,
# and waits to be killed.
WRITER = textwrap.dedent(
    """
    import sys, time
    from axon_core import atomic_writer
    with atomic_writer(sys.argv[1]) as handle:
        handle.write(b"partial " * 1000)
        handle.flush()
        print("inside", flush=True)
        time.sleep(60)
    """
)


def _temporaries(folder) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(TEMP_SUFFIX))


def _writer_inside(target) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE)
    assert child.stdout.readline() == b"inside\n"
    return child


def _kill(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


def test_the_temporary_file_is_named_after_the_target(tmp_path) -> None:
    with atomic_writer(tmp_path / "model.axon") as handle:
        handle.write(b"x")
        (temp,) = _temporaries(tmp_path)
    assert temp.startswith(".model.axon.") and len(temp) == len(".model.axon.") + 16 + len(TEMP_SUFFIX)
    assert os.listdir(tmp_path) == ["model.axon"]


def test_a_writer_killed_mid_save_leaves_the_old_file_and_debris_the_next_save_removes(tmp_path) -> None:
    target = tmp_path / "ckpt.bin"
    target.write_bytes(b"good")
    seen = []
    for _ in range(3):  # three kills into one folder: each writer reclaims its killed predecessor's file
        _kill(_writer_inside(target))
        (stale,) = _temporaries(tmp_path)
        assert stale not in seen and target.read_bytes() == b"good"
        seen.append(stale)
    with atomic_writer(tmp_path / "other.bin") as handle:  # any save to the folder reclaims them
        handle.write(b"new")
    assert sorted(os.listdir(tmp_path)) == ["ckpt.bin", "other.bin"]


def test_a_live_writers_temporary_file_is_not_reclaimed(tmp_path) -> None:
    target = tmp_path / "slow.bin"
    child = _writer_inside(target)
    try:
        (live,) = _temporaries(tmp_path)
        with atomic_writer(tmp_path / "fast.bin") as handle:
            handle.write(b"fast")
        assert reclaim_stale_temporaries(tmp_path) == []
        assert _temporaries(tmp_path) == [live]
    finally:
        _kill(child)
    assert reclaim_stale_temporaries(tmp_path) == [live]
    assert sorted(os.listdir(tmp_path)) == ["fast.bin"]


def test_only_regular_files_with_our_names_are_reclaimed(tmp_path) -> None:
    keep = [
        ".notes.tmp",
        "a.axon-tmp",
        ".x.0123456789abcdeg.axon-tmp",
        ".x.0123.axon-tmp",
        "y.0123456789abcdef.axon-tmp",
    ]
    for name in keep:
        (tmp_path / name).write_bytes(b"user data")
    fifo = tmp_path / ".pipe.0123456789abcdef.axon-tmp"
    os.mkfifo(fifo)
    (tmp_path / ".dir.0123456789abcdef.axon-tmp").mkdir()
    os.symlink(tmp_path / ".notes.tmp", tmp_path / ".link.0123456789abcdef.axon-tmp")
    (tmp_path / ".stale.0123456789abcdef.axon-tmp").write_bytes(b"debris")
    assert reclaim_stale_temporaries(tmp_path) == [".stale.0123456789abcdef.axon-tmp"]
    survivors = set(os.listdir(tmp_path))
    assert set(keep) <= survivors and fifo.name in survivors and len(survivors) == len(keep) + 3


def test_a_reclaimer_racing_the_writers_lock_makes_it_take_a_new_name(tmp_path, monkeypatch) -> None:
    # Between the writer's create and its lock, another save removes the (still unlocked) file.
    real_flock = fcntl.flock
    raced = []

    def flock(fd, operation):
        if operation == fcntl.LOCK_EX and not raced:
            raced.extend(reclaim_stale_temporaries(tmp_path))
        return real_flock(fd, operation)

    monkeypatch.setattr(atomic.fcntl, "flock", flock)
    with atomic_writer(tmp_path / "f.bin") as handle:
        handle.write(b"content")
    assert len(raced) == 1 and (tmp_path / "f.bin").read_bytes() == b"content"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_saving_through_a_symlink_replaces_the_file_it_points_to(tmp_path) -> None:
    real = tmp_path / "store" / "weights.bin"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "current.bin"
    os.symlink(os.path.relpath(real, tmp_path), link)
    with atomic_writer(link) as handle:
        handle.write(b"new")
    assert os.path.islink(link) and real.read_bytes() == b"new"
    assert os.listdir(real.parent) == ["weights.bin"] and sorted(os.listdir(tmp_path)) == ["current.bin", "store"]


def test_a_dangling_symlink_creates_its_target_and_a_loop_is_refused(tmp_path) -> None:
    os.symlink(tmp_path / "made.bin", tmp_path / "dangling")
    with atomic_writer(tmp_path / "dangling") as handle:
        handle.write(b"made")
    assert (tmp_path / "made.bin").read_bytes() == b"made" and os.path.islink(tmp_path / "dangling")
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    with pytest.raises(OSError) as caught:
        with atomic_writer(tmp_path / "a") as handle:
            handle.write(b"never")
    assert caught.value.errno == errno.ELOOP
    assert os.path.islink(tmp_path / "a") and os.path.islink(tmp_path / "b")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600, 0o444, 0o1755])
def test_an_existing_files_mode_is_kept(tmp_path, mode) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    os.chmod(target, mode)
    with atomic_writer(target) as handle:
        handle.write(b"new")
    assert stat.S_IMODE(os.stat(target).st_mode) == mode and target.read_bytes() == b"new"


def test_setuid_and_setgid_bits_are_not_carried_over(tmp_path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o6755)
    with atomic_writer(target) as handle:
        handle.write(b"new")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o755


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_umask_like_open(tmp_path, umask) -> None:
    previous = os.umask(umask)
    try:
        with atomic_writer(tmp_path / "new.bin") as handle:
            handle.write(b"x")
        with open(tmp_path / "plain.bin", "wb") as handle:
            handle.write(b"x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "new.bin").st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(os.stat(tmp_path / "plain.bin").st_mode) == 0o666 & ~umask


def test_a_failed_save_removes_its_temporary_file_and_keeps_the_old_content(tmp_path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_writer(target) as handle:
            handle.write(b"new partial")
            raise RuntimeError("crash")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.bin"]
