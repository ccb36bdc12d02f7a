"""axon_audio.load on a few hundred mutated WAV / FLAC / OGG files: every outcome is a finite waveform or an
AudioFileError naming the file; nothing else escapes, nothing hangs (each file read in a worker with a deadline)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

import axon_audio

RATE = 8000
PER_FORMAT = 110

_WORKER = textwrap.dedent(
    """
    import sys, numpy as np, axon_audio
    ok = errors = 0
    for path in sys.argv[1:]:
        try:
            wave, rate = axon_audio.load(path)
        except axon_audio.AudioFileError as error:
            assert path.split("/")[-1] in str(error), (path, str(error))
            errors += 1
        else:
            assert np.isfinite(wave.numpy()).all() and rate > 0, path
            ok += 1
    print(ok, errors)
    """
)


def _mutants(original: bytes, rng: np.random.Generator) -> list[bytes]:
    out = []
    for k in range(PER_FORMAT):
        data = bytearray(original)
        kind = k % 4
        if kind == 0:  # truncation anywhere, headers included
            data = data[: int(rng.integers(0, len(data)))]
        elif kind == 1:  # random byte flips concentrated in the first 200 bytes (headers, chunk sizes)
            for _ in range(int(rng.integers(1, 8))):
                data[int(rng.integers(0, min(200, len(data))))] = int(rng.integers(0, 256))
        elif kind == 2:  # random flips anywhere
            for _ in range(int(rng.integers(1, 40))):
                data[int(rng.integers(0, len(data)))] ^= 1 << int(rng.integers(0, 8))
        else:  # a run of garbage spliced in
            at = int(rng.integers(0, len(data)))
            data[at:at] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
        out.append(bytes(data))
    return out


def test_mutated_files_give_waveforms_or_typed_errors(tmp_path):
    rng = np.random.default_rng(16)
    t = np.arange(RATE // 2) / RATE
    wave = np.stack([np.sin(2 * np.pi * 300 * t), 0.5 * np.sin(2 * np.pi * 500 * t)]).astype(np.float32) * 0.5
    paths = []
    for suffix in (".wav", ".flac", ".ogg"):
        clean = tmp_path / f"clean{suffix}"
        axon_audio.save(clean, wave, RATE)
        for i, blob in enumerate(_mutants(clean.read_bytes(), rng)):
            path = tmp_path / f"mutant{i:03d}{suffix}"
            path.write_bytes(blob)
            paths.append(str(path))
    assert len(paths) >= 300
    result = subprocess.run(
        [sys.executable, "-c", _WORKER, *paths], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ok, errors = (int(v) for v in result.stdout.split())
    assert ok + errors == len(paths)
    assert errors > 50, (ok, errors)  # the truncations of headers alone must fail
