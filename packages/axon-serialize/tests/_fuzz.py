"""The loader fuzzer shared by ``test_fuzz_sample.py`` (a fast sample) and
``tests-integration/test_serialize_fuzz.py`` (the full run). Test modules load this file by path
(pytest's importlib mode puts no test directory on ``sys.path``); run as a script it is the worker.

Each format starts from one valid file written by axon itself (a state dict as safetensors, JSON
and .axon; a Checkpoint with optimizer-like nesting, tuples, int keys, NaN, bytes and RNG state).
Mutants:

- bytes: every truncation point (a sweep), bit flips, deleted / inserted / doubled ranges, 8-byte
  edge integers written anywhere; for .axon some get a recomputed SHA-256, so the damage reaches
  the parser rather than the checksum;
- structure: the JSON header (the whole document for JSON) parsed, one node (anywhere: shapes,
  offsets, dtypes, values, the checkpoint tree, TrainingState fields) replaced by a hostile value
  (edge and huge integers, 4,301+ digit integers, NaN/Infinity tokens, 1e400, null, bools, floats
  for ints, unhashable lists, 65 dimensions, [0, 2**63], lone surrogates, tag objects such as
  ``{"__tensor__": []}``, nesting 50 to 5,000 deep), deleted, or duplicated under the same key;
  then re-serialised with correct lengths and checksum, so only the hostile part is wrong;
- paths: a FIFO, a directory, /dev/zero and /dev/urandom behind the format's suffix.

Every mutant is loaded by a separate worker process (``python _fuzz.py worker``) under
``RLIMIT_AS`` (its size after imports plus :data:`MEMORY_BUDGET`) and ``RLIMIT_CPU`` (the CPU
seconds used so far plus :data:`CASE_CPU_SECONDS`, reset per case), with a wall-clock limit per
case in the parent; a worker that dies or hangs is replaced and the case counted as a failure.
The only outcomes allowed are a load or a SerializationError; a load must agree with an
independent naive reader of the same bytes (plain ``json`` and NumPy, or ``safetensors.numpy``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import resource
import select
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import numpy as np

FORMATS = ("safetensors", "json", "axon", "checkpoint")
SUFFIX = {"safetensors": ".safetensors", "json": ".json", "axon": ".axon", "checkpoint": ".axon"}
MEMORY_BUDGET = 512 * 1024 * 1024  # bytes of address space a worker may add beyond its imports
CASE_CPU_SECONDS = 10
CASE_WALL_SECONDS = 20.0
ALLOWED = {"ok", "typed"}
_RAW = "\x00RAW"
_DUP = "\x00DUP"


# ---- the valid base files ----


def base_files(folder: Path) -> dict[str, bytes]:
    """The bytes of one valid file per format, written by axon."""
    import ml_dtypes

    from axon_serialize import Checkpoint, TrainingState, save_state_dict
    from axon_tensor import Generator, from_numpy

    rng = np.random.default_rng(5)
    arrays = {
        "layer.weight": rng.standard_normal((3, 4)).astype(np.float32),
        "layer.bias": np.array([1.5, -0.0, np.inf, np.nan], np.float32),
        "ids": np.array([-(2**63), 7, 2**62], np.int64),
        "mask": np.array([[True, False], [False, True]]),
        "half": np.array([0.5, 65504.0, 6e-8], np.float16),
        "brain": np.array([1.0, -3.25, 1e30], ml_dtypes.bfloat16),
        "bytes": np.arange(5, dtype=np.uint8),
        "empty": np.zeros((0, 5), np.float32),
        "scalar": np.array(2.5, np.float64),
        "complex": np.array([1 + 2j, -0.5j], np.complex64),
    }
    state = {name: from_numpy(array) for name, array in arrays.items()}
    files = {}
    for fmt in ("safetensors", "json", "axon"):
        path = folder / f"base{SUFFIX[fmt]}"
        save_state_dict(state, path, format=fmt)
        files[fmt] = path.read_bytes()
    training = TrainingState(epoch=1, step=10, loss_history=[2.5, math.nan, 1.25], best_metric=0.5)
    training.record("accuracy", 0.75)
    Checkpoint(
        model={"w": state["layer.weight"], "b": state["layer.bias"]},
        optimizer={
            "state": {0: {"step": 3, "exp_avg": from_numpy(np.full(3, 0.25, np.float32))}, 1: {"step": 3}},
            "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": math.inf, "params": [0, 1]}],
        },
        scheduler={"last_epoch": 2, "base_lrs": [0.1]},
        training=training,
        rng={"default": Generator(3).get_state()},
        extra={"note": "ü", "blob": b"\x00\xff", "ids": from_numpy(arrays["ids"])},
    ).save(folder / "base-checkpoint.axon")
    files["checkpoint"] = (folder / "base-checkpoint.axon").read_bytes()
    return files


# ---- splitting a file into its JSON part and the rest ----


def split(fmt: str, content: bytes) -> tuple[bytes, Any]:
    """(the JSON bytes, a function rebuilding a whole file around new JSON bytes)."""
    if fmt == "json":
        return content, lambda text: text
    if fmt == "safetensors":
        (length,) = struct.unpack_from("<Q", content)
        data = content[8 + length :]
        return content[8 : 8 + length], lambda text: struct.pack("<Q", len(text)) + text + data
    (length,) = struct.unpack_from("<Q", content, 12)
    data = content[_aligned(20 + length) : -32]

    def rebuild(text: bytes) -> bytes:
        body = content[:12] + struct.pack("<Q", len(text)) + text
        body += b"\0" * (_aligned(len(body)) - len(body)) + data
        return body + hashlib.sha256(body).digest()

    return content[20 : 20 + length], rebuild


def _aligned(n: int) -> int:
    return (n + 63) // 64 * 64


def with_digest(content: bytes) -> bytes:
    """An .axon file's bytes with its trailing SHA-256 recomputed."""
    return content[:-32] + hashlib.sha256(content[:-32]).digest() if len(content) >= 32 else content


# ---- hostile values ----


def _raw(text: str) -> str:
    """A placeholder that :func:`_dump` replaces by ``text`` verbatim (JSON that json.dumps cannot write)."""
    return _RAW + text + _RAW


def _deep(kind: str, depth: int) -> str:
    return _raw("[" * depth + "]" * depth if kind == "list" else '{"a":' * depth + "1" + "}" * depth)


# fmt: off
HOSTILE: list[Any] = [
    0, 1, -1, 2, 3, 4, 7, 8, 63, 64, 65, 255, 256, 2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**62, 2**63 - 1,
    2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30, 10**300,
    _raw("1" * 4300), _raw("1" * 4301), _raw("-" + "9" * 5000), _raw("7" * 20000),
    0.5, 1.5, -0.0, 3.0, 1e39, 1e-46, 1e-320, 5e-324, 1.7976931348623157e308, 2.0**53 + 2,
    _raw("1e400"), _raw("-1e400"), _raw("1e-400"), _raw("NaN"), _raw("Infinity"), _raw("-Infinity"),
    _raw("1" * 400 + ".5"), None, True, False,
    "", "nan", "inf", "-inf", "NaN", "1", "float32", "float64", "int64", "bool", "bfloat16", "complex64",
    "float99", "F32", "BF16", "I64", "C128", "checkpoint", "state_dict", "axon-state-dict", "__tensor__",
    "model.w", "optimizer.state.0.exp_avg", "layer.weight", "x" * 5000, _raw('"\\ud800"'), "../../etc/passwd",
    [], [0], [-1], [1] * 64, [1] * 65, [1] * 200, [0, 2**63], [0, 2**47], [0, 2**46, 2], [2**32, 2**32],
    [2**20, 2**20], [3, 4], [4, 3], [12], [[1]], [[3, 4]], [1.5], [True], ["a"], [None], [0] * 1000, [0, 4],
    [4, 0], [0, 48], [[1, 2]], [[1, 2, 3]], [["nan", "inf"]],
    {}, {"__tensor__": []}, {"__tensor__": {}}, {"__tensor__": "model.w"}, {"__tensor__": "nope"},
    {"__tuple__": 5}, {"__tuple__": [[[]]]}, {"__dict__": [[[], 1]]}, {"__dict__": [[1]]}, {"__dict__": 3},
    {"__dict__": [[{"__tensor__": "model.w"}, 1]]}, {"__float__": "1.0"}, {"__float__": []}, {"__float__": "nan"},
    {"__bytes__": "zz"}, {"__bytes__": 5}, {"__bytes__": "00ff"}, {"a": 1, "b": 2},
    {"dtype": "float32", "shape": [1], "offset": 0, "nbytes": 4},
    {"dtype": "float32", "shape": [1], "values": [1.0]},
    {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
    _deep("list", 50), _deep("list", 150), _deep("list", 400), _deep("list", 5000),
    _deep("dict", 50), _deep("dict", 150), _deep("dict", 400), _deep("dict", 5000),
]
# fmt: on


def _dump(document: Any) -> bytes:
    text = json.dumps(document, separators=(",", ":"), allow_nan=False, ensure_ascii=True)
    # Placeholders were escaped by json.dumps: "\u0000RAW...\u0000RAW" -> the raw text.
    raw, dup = json.dumps(_RAW)[1:-1], json.dumps(_DUP)[1:-1]
    while f'"{raw}' in text:
        start = text.index(f'"{raw}')
        end = text.index(f'{raw}"', start + 1)
        text = text[:start] + json.loads(f'"{text[start + 1 + len(raw) : end]}"') + text[end + len(raw) + 1 :]
    return text.replace(dup, "").encode()


def _nodes(document: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) position under ``document``."""
    stack = [document]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            yield node, key
            stack.append(child)


def _pick(document: Any, rnd: random.Random) -> tuple[Any, Any] | None:
    """A random position: a random walk down from the root that stops at each level with p=0.35."""
    node, chosen = document, None
    while isinstance(node, (dict, list)) and node:
        key = rnd.choice(list(node)) if isinstance(node, dict) else rnd.randrange(len(node))
        chosen = (node, key)
        if rnd.random() < 0.35:
            break
        node = node[key]
    return chosen


def structural(fmt: str, content: bytes, rnd: random.Random) -> tuple[str, bytes]:
    """One structural mutant: (kind, bytes)."""
    text, rebuild = split(fmt, content)
    document = json.loads(text)
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        position = _pick(document, rnd) if rnd.random() < 0.8 else rnd.choice(list(_nodes(document)) or [None])
        if position is None:
            continue
        node, key = position
        action = rnd.random()
        if action < 0.70:
            node[key] = json.loads(json.dumps(rnd.choice(HOSTILE)))  # a fresh copy
            kind = "replace"
        elif action < 0.80 and isinstance(node, dict):
            del node[key]
            kind = "delete"
        elif action < 0.90 and isinstance(node, dict):
            node[key + _DUP] = json.loads(json.dumps(rnd.choice([node[key], *HOSTILE[:30]])))
            kind = "duplicate-key"
        elif isinstance(node, list):
            node.insert(key, json.loads(json.dumps(node[key])))
            kind = "duplicate-element"
        else:
            other = rnd.choice(list(_nodes(document)))
            node[key] = json.loads(json.dumps(other[0][other[1]]))
            kind = "swap"
    return f"json-{kind}", rebuild(_dump(document))


_EDGE_U64 = [0, 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1]


def byte_level(fmt: str, content: bytes, rnd: random.Random) -> tuple[str, bytes]:
    """One byte-level mutant: (kind, bytes)."""
    data = bytearray(content)
    choice = rnd.randrange(5)
    if choice == 0:
        for _ in range(rnd.randint(1, 8)):
            data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
        kind = "bit-flip"
    elif choice == 1:
        start = rnd.randrange(len(data))
        del data[start : start + rnd.randint(1, 64)]
        kind = "delete-range"
    elif choice == 2:
        start = rnd.randrange(len(data) + 1)
        data[start:start] = rnd.randbytes(rnd.randint(1, 64))
        kind = "insert-random"
    elif choice == 3:
        start = rnd.randrange(len(data))
        chunk = data[start : start + rnd.randint(1, 256)]
        data[start:start] = chunk
        kind = "double-range"
    else:
        at = rnd.randrange(max(len(data) - 8, 1))
        data[at : at + 8] = struct.pack("<Q", rnd.choice(_EDGE_U64))
        kind = "edge-u64"
    if fmt in ("axon", "checkpoint") and rnd.random() < 0.5:
        return f"{kind}+digest", with_digest(bytes(data))
    return kind, bytes(data)


def mutants(fmt: str, content: bytes, count: int, seed: int, sweep: bool) -> Iterator[tuple[str, bytes]]:
    """``count`` mutants of ``content``: with ``sweep`` every truncation first, then random ones
    (half structural, half byte-level)."""
    rnd = random.Random(seed)
    made = 0
    if sweep:
        for end in range(len(content)):
            if made == count:
                return
            yield "truncate", content[:end]
            made += 1
    while made < count:
        yield structural(fmt, content, rnd) if rnd.random() < 0.5 else byte_level(fmt, content, rnd)
        made += 1


# ---- hostile paths ----


def special_paths(folder: Path, fmt: str) -> Iterator[tuple[str, Path]]:
    suffix = SUFFIX[fmt]
    fifo = folder / f"fifo-{fmt}{suffix}"
    os.mkfifo(fifo)
    yield "fifo", fifo
    directory = folder / f"dir-{fmt}{suffix}"
    directory.mkdir()
    yield "directory", directory
    for device in ("/dev/zero", "/dev/urandom"):
        if os.path.exists(device):
            link = folder / f"{Path(device).name}-{fmt}{suffix}"
            os.symlink(device, link)
            yield f"link to {device}", link


# ---- running cases in isolated workers ----


class Worker:
    """One worker process under memory and CPU limits; replaced when it dies or hangs."""

    def __init__(self) -> None:
        self.errors = tempfile.TemporaryFile()
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self.peak_rss_kb = 0
        self._start()

    def _start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
        )
        ready = self._line(60.0)
        if not ready or json.loads(ready).get("ready") is not True:
            raise RuntimeError(f"the fuzz worker did not start: {ready!r}")

    def _line(self, timeout: float) -> str | None:
        readable, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not readable:
            return None
        return self.process.stdout.readline().decode()  # "" at end of file: the worker died

    def run(self, fmt: str, path: Path) -> dict[str, Any]:
        try:
            self.process.stdin.write(f"{fmt}\t{path}\n".encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            line = ""
        else:
            line = self._line(CASE_WALL_SECONDS)
        if line:
            result = json.loads(line)
            self.peak_rss_kb = max(self.peak_rss_kb, result.pop("max_rss_kb"))
            return result
        if line is None:
            outcome = {"outcome": "hang", "detail": f"no answer in {CASE_WALL_SECONDS} s"}
        else:
            outcome = {"outcome": "died", "detail": f"exit status {self.process.wait(timeout=60)}"}
        self.close()
        self.restarts += 1
        self._start()
        return outcome

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait()
            self.process.stdin.close()
            self.process.stdout.close()


def run_cases(cases: Iterator[tuple[str, str, bytes | Path]], folder: Path) -> dict[str, Any]:
    """Load every ``(format, kind, bytes or path)`` case in a worker. Returns counts by
    (format, outcome), by (format, kind), the failures (outcome not allowed, with the mutant's
    bytes kept under ``folder``) and the worker's peak RSS."""
    worker = Worker()
    outcomes: Counter = Counter()
    kinds: Counter = Counter()
    failures: list[dict[str, Any]] = []
    try:
        for number, (fmt, kind, content) in enumerate(cases):
            if isinstance(content, Path):
                path = content
            else:
                path = folder / f"case{SUFFIX[fmt]}"
                path.write_bytes(content)
            result = worker.run(fmt, path)
            outcomes[fmt, result["outcome"]] += 1
            kinds[fmt, kind] += 1
            if result["outcome"] not in ALLOWED:
                kept = path
                if not isinstance(content, Path):
                    kept = folder / f"failure-{number}{SUFFIX[fmt]}"
                    kept.write_bytes(content)
                failures.append({"format": fmt, "kind": kind, "file": str(kept), **result})
    finally:
        worker.close()
    return {
        "outcomes": outcomes,
        "kinds": kinds,
        "failures": failures,
        "restarts": worker.restarts,
        "peak_rss_kb": worker.peak_rss_kb,
    }


def report(results: dict[str, Any]) -> str:
    lines = []
    for fmt in FORMATS:
        counts = {outcome: n for (f, outcome), n in sorted(results["outcomes"].items()) if f == fmt}
        lines.append(f"{fmt}: {sum(counts.values())} cases {counts}")
    lines.append(f"worker peak RSS {results['peak_rss_kb'] / 1024:.0f} MiB, restarts {results['restarts']}")
    for failure in results["failures"][:20]:
        lines.append(f"FAILURE {failure}")
    return "\n".join(lines)


# ---- the worker ----


def _worker_main() -> None:
    from axon_serialize import Checkpoint, SerializationError, load_state_dict

    address_space = _vm_size()
    resource.setrlimit(resource.RLIMIT_AS, (address_space + MEMORY_BUDGET, resource.RLIM_INFINITY))
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    _answer({"ready": True})
    for line in sys.stdin:
        fmt, path = line.rstrip("\n").split("\t")
        used = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(used.ru_utime + used.ru_stime) + CASE_CPU_SECONDS
        resource.setrlimit(
            resource.RLIMIT_CPU, (soft if cpu_hard == resource.RLIM_INFINITY else min(soft, cpu_hard), cpu_hard)
        )
        try:
            if fmt.startswith("selftest-"):
                _selftest(fmt, used)
            loaded = Checkpoint.load(path) if fmt == "checkpoint" else load_state_dict(path, format=fmt)
        except SerializationError as exc:
            result = {"outcome": "typed", "detail": str(exc)[:300]}
            if "fit in memory" in str(exc):  # the mutants are a few KB: memory errors mean a header-sized allocation
                result["outcome"] = "memory"
        except BaseException as exc:  # noqa: B036 -- PanicException and MemoryError included
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            result = {
                "outcome": "untyped",
                "detail": f"{type(exc).__name__}: {str(exc)[:300]} at {frame.filename}:{frame.lineno}",
            }
        else:
            try:
                disagreement = _oracle(fmt, path, loaded)
            except BaseException as exc:  # noqa: B036
                disagreement = f"the oracle failed: {type(exc).__name__}: {exc}"
            result = {"outcome": "ok"} if disagreement is None else {"outcome": "wrong", "detail": disagreement}
        result["max_rss_kb"] = _peak_rss_kb()
        _answer(result)


def _peak_rss_kb() -> int:
    """This process's own peak RSS (VmHWM). Not ``ru_maxrss``: Linux carries that across execve, so a
    worker started by a large pytest process would report its parent's size."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _selftest(kind: str, used: Any) -> None:
    """Misbehaviours the harness must catch (tested in test_fuzz_sample.py)."""
    if kind == "selftest-hang":
        time.sleep(3600)
    elif kind == "selftest-crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif kind == "selftest-cpu":
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(used.ru_utime + used.ru_stime) + 1, hard))
        while True:
            pass
    elif kind == "selftest-memory":
        raise RuntimeError(f"allocated {len(bytearray(2 * MEMORY_BUDGET))} bytes: no memory limit")


def _answer(value: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def _vm_size() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def _oracle(fmt: str, path: str, loaded: Any) -> str | None:
    """None if a naive reader of the same bytes finds exactly what the loader returned."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        return "a non-regular file was loaded"
    with open(path, "rb") as handle:
        content = handle.read()
    if fmt == "safetensors":
        expected = _naive_safetensors(content)
        got = {name: t.numpy() for name, t in loaded.items()}
    elif fmt == "json":
        document = json.loads(content)
        expected = _naive_json(document)
        got = {name: t.numpy() for name, t in loaded.items()}
        inexact = _inexact(document, got)
        if inexact is not None:
            return inexact
    else:
        expected = _naive_container(content)
        if fmt == "checkpoint":
            got = {}
            _tensors_in(loaded.model, got, "model")
            if not (type(loaded.training.epoch) is int and type(loaded.training.step) is int):
                return f"training state of the wrong types: {loaded.training!r}"[:300]
            # Every loaded tensor must be one of the file's arrays.
            for array in got.values():
                if not any(_same(array, candidate) for candidate in expected.values()):
                    return "a checkpoint tensor that the file does not hold"
            return None
        got = {name: t.numpy() for name, t in loaded.items()}
    if sorted(got) != sorted(expected):
        return f"names {sorted(got)[:10]} != {sorted(expected)[:10]}"
    for name, array in expected.items():
        if not _same(np.asarray(array), got[name]):
            return f"tensor {name!r}: {got[name].dtype}{got[name].shape} != {array.dtype}{array.shape}"
    return None


def _tensors_in(value: Any, found: dict, where: str) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _tensors_in(child, found, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, child in enumerate(value):
            _tensors_in(child, found, f"{where}.{i}")
    elif hasattr(value, "numpy"):
        found[where] = value.numpy()


def _same(a: Any, b: Any) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _inexact(document: dict, got: dict) -> str | None:
    """The exact format's promise: every value in the file is the loaded value, same type, no rounding."""
    for name, entry in document["tensors"].items():
        array = got[name]
        loaded = array.astype(np.complex128 if array.dtype.kind == "c" else object).reshape(-1).tolist()
        values = entry["values"]
        if array.dtype.kind == "c":
            values = [complex(_number(r), _number(i)) for r, i in values]
            loaded = [complex(v) for v in loaded]
        for i, (written, read) in enumerate(zip(values, loaded)):
            if array.dtype.kind == "b":
                same = type(written) is bool and written == read
            elif array.dtype.kind in "iu":
                same = type(written) is int and written == int(read)
            elif array.dtype.kind == "c":
                same = _same_number(written.real, read.real) and _same_number(written.imag, read.imag)
            else:
                same = type(written) in (int, float, str) and _same_number(_number(written), float(read))
            if not same:
                return f"tensor {name!r} value {i}: the file says {written!r}, the loader gave {read!r}"
    return None


def _number(value: Any) -> float:
    return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}[value] if isinstance(value, str) else value


def _same_number(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _naive_json(document: dict) -> dict:
    from axon_serialize.arrays import DTYPE_BY_NAME

    special = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
    result = {}
    for name, entry in document["tensors"].items():
        dtype = DTYPE_BY_NAME[entry["dtype"]].np
        values = entry["values"]
        if dtype.kind == "c":
            flat = np.array([complex(special.get(r, r), special.get(i, i)) for r, i in values], dtype=dtype)
        elif dtype.kind in "fV":
            flat = np.array([special.get(v, v) for v in values], dtype=np.float64).astype(dtype)
        else:
            flat = np.array(values, dtype=dtype)
        result[name] = flat.reshape(entry["shape"])
    return result


def _naive_safetensors(content: bytes) -> dict:
    import ml_dtypes

    dtypes = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "I32": np.int32, "I64": np.int64}
    dtypes |= {"F16": np.float16, "BF16": ml_dtypes.bfloat16, "F32": np.float32, "F64": np.float64}
    dtypes["C64"] = np.complex64
    (length,) = struct.unpack_from("<Q", content)
    header = json.loads(content[8 : 8 + length])
    result = {}
    for name, entry in header.items():
        if name != "__metadata__":
            begin, end = entry["data_offsets"]
            raw = content[8 + length + begin : 8 + length + end]
            result[name] = np.frombuffer(raw, dtype=dtypes[entry["dtype"]]).reshape(entry["shape"])
    return result


def _naive_container(content: bytes) -> dict:
    from axon_serialize.arrays import DTYPE_BY_NAME

    (length,) = struct.unpack_from("<Q", content, 12)
    header = json.loads(content[20 : 20 + length])
    start = _aligned(20 + length)
    if hashlib.sha256(content[:-32]).digest() != content[-32:]:
        raise ValueError("the checksum does not match")
    result = {}
    for name, entry in header["tensors"].items():
        dtype = DTYPE_BY_NAME[entry["dtype"]].np
        at = start + entry["offset"]
        raw = content[at : at + entry["nbytes"]]
        result[name] = np.frombuffer(raw, dtype=dtype).reshape(entry["shape"])
    return result


if __name__ == "__main__" and sys.argv[1:] == ["worker"]:
    _worker_main()
