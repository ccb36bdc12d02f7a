"""The kernel toolchain without a GPU: NVRTC compile, ptxas assembly, the check command, the disk cache."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

pytest.importorskip("nvidia.cuda_nvrtc")

from axon_core import KernelCompileError
from axon_core.kernels import REGISTRY, KernelCache, KernelSource, kernel_suffix
from axon_core.kernels.__main__ import main
from axon_core.kernels.toolchain import check_kernels
from axon_core.kernels.toolchain.nvrtc import compile_source, nvrtc_version

ARCHS = ["sm_80", "sm_90", "sm_120"]
TINY = KernelSource(
    "tiny",
    'extern "C" __global__ void scale2(float* x, int n) { int i = threadIdx.x; if (i < n) x[i] *= 2.0f; }',
    ("scale2",),
)


def test_check_command_compiles_and_assembles_every_kernel_for_every_arch():
    """CI's kernel check: the real command, in a subprocess, over every family and arch."""
    result = subprocess.run(
        [sys.executable, "-m", "axon_core.kernels", "check", "--arch", ",".join(ARCHS)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [line.split() for line in result.stdout.splitlines() if line.split()[:1] and line.split()[0] in REGISTRY]
    seen = {(row[1], row[2]) for row in rows}
    expected = {(kernel, arch) for source in REGISTRY.values() for kernel in source.kernels for arch in ARCHS}
    assert seen == expected
    for _, kernel, arch, registers, spill_stores, spill_loads, *_ in rows:
        assert int(registers) > 0, (kernel, arch)
        assert int(spill_stores) == 0 and int(spill_loads) == 0, (kernel, arch)
    assert result.stdout.strip().endswith("0 errors, 0 warnings")


def test_static_shared_memory_is_reported():
    report = check_kernels([REGISTRY["norms"]], ["sm_80"])
    shared = {row.kernel: row.shared_bytes for _, row in report.rows}
    assert shared["layer_norm_fwd_f32"] == 32 * 4  # the block-reduction scratch
    assert shared["norm_bwd_params_f32"] == 0


def test_broken_source_names_the_kernel_and_shows_the_log(tmp_path):
    broken = KernelSource("broken_family", 'extern "C" __global__ void k(float* x) { x[0] = not_declared; }', ("k",))
    with pytest.raises(KernelCompileError) as info:
        broken.compile("sm_80", cache=KernelCache(tmp_path))
    message = str(info.value)
    assert "broken_family" in message and "not_declared" in message and "sm_80" in message
    report = check_kernels([broken, TINY], ["sm_90"])
    assert len(report.errors) == 1 and "broken_family" in report.errors[0]
    assert {row.kernel for _, row in report.rows} == {"scale2"}


def test_missing_entry_point_is_an_error():
    liar = KernelSource("liar", TINY.source, ("scale2", "scale3"))
    report = check_kernels([liar], ["sm_80"])
    assert report.errors == ["liar (sm_80): entry point 'scale3' missing"]


def test_cache_hit_miss_and_corrupt_entry_rebuild(tmp_path):
    cache = KernelCache(tmp_path)
    first = TINY.compile("sm_80", target="cubin", cache=cache)
    assert (cache.hits, cache.misses) == (0, 1)
    assert first[:4] == b"\x7fELF"
    assert TINY.compile("sm_80", target="cubin", cache=cache) == first
    assert (cache.hits, cache.misses) == (1, 1)
    key = cache.key(TINY.source, TINY.options, "sm_80", "cubin", nvrtc_version())
    entry = cache.path(key)
    blob = bytearray(entry.read_bytes())
    blob[-10] ^= 0xFF
    entry.write_bytes(bytes(blob))
    assert TINY.compile("sm_80", target="cubin", cache=cache) == first
    assert cache.corrupt == 1 and cache.misses == 2
    assert cache.load(key) == first  # rebuilt entry is valid again
    entry.write_bytes(b"AX")  # truncated
    assert cache.load(key) is None and cache.corrupt == 2
    assert not list(tmp_path.glob("*.tmp"))


def test_cache_key_covers_source_options_arch_target_and_version():
    base = KernelCache.key("src", (), "sm_80", "ptx", (12, 9))
    variants = [
        KernelCache.key("src2", (), "sm_80", "ptx", (12, 9)),
        KernelCache.key("src", ("-DX",), "sm_80", "ptx", (12, 9)),
        KernelCache.key("src", (), "sm_90", "ptx", (12, 9)),
        KernelCache.key("src", (), "sm_80", "cubin", (12, 9)),
        KernelCache.key("src", (), "sm_80", "ptx", (12, 8)),
    ]
    assert len({base, *variants}) == 6
    # The documented name: the hex SHA-256 of the fields, each followed by the unit separator.
    fields = ["src", "", "sm_80", "ptx", "12.9"]
    assert base == hashlib.sha256(b"".join(f.encode() + b"\x1f" for f in fields)).hexdigest()
    assert KernelCache.key("src", (), "sm_80", "ptx", (12, 9)) == base
    # Fields do not run into each other: moving text across a boundary changes the name.
    assert KernelCache.key("ab", ("-DX",), "sm_80", "ptx", (12, 9)) != KernelCache.key(
        "a", ("b-DX",), "sm_80", "ptx", (12, 9)
    )
    assert KernelCache.key("s", ("-DX", "-DY"), "sm_80", "ptx", (12, 9)) != KernelCache.key(
        "s", ("-DX-DY",), "sm_80", "ptx", (12, 9)
    )


def test_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AXON_CACHE_DIR", str(tmp_path / "k"))
    cache = KernelCache()
    path = cache.store("ab" * 32, b"payload")
    assert path.parent == tmp_path / "k" and cache.load("ab" * 32) == b"payload"


def test_compile_source_rejects_bad_arguments():
    with pytest.raises(ValueError, match="arch"):
        compile_source(TINY.source, "tiny", "80")
    with pytest.raises(ValueError, match="target"):
        compile_source(TINY.source, "tiny", "sm_80", target="sass")
    assert compile_source(TINY.source, "tiny", "sm_80").image.startswith(b"//")


def test_check_command_prints_rows_and_status(capsys):
    assert main(["check", "--arch", "sm_80", "--family", "softmax"]) == 0
    out = capsys.readouterr().out
    assert "softmax_fwd_f32" in out and "sm_80" in out and out.strip().endswith("0 warnings")
    with pytest.raises(SystemExit):
        main(["check", "--arch", "80"])


def test_kernel_suffix_names_supported_dtypes():
    import ml_dtypes
    import numpy as np

    assert kernel_suffix(np.dtype(np.float32)) == "f32"
    assert kernel_suffix(np.dtype(np.float16)) == "f16"
    assert kernel_suffix(np.dtype(ml_dtypes.bfloat16)) == "bf16"
    assert kernel_suffix(np.dtype(np.float64)) is None
