"""MelSpectrogram and MFCC of 60 s of 16 kHz audio: axon-audio vs librosa, in the same run, written as JSON.

    python tools/bench/bench_audio_features.py [--steps N] [--warmup N] [--threads N]
        [--out bench-results/bench_audio_features.json]

Signal: 60 s at 16 kHz, float32 (a pentatonic melody with harmonics and noise, seeded). Settings shared
by both: n_fft 400, hop 160, Hann window, centred with zero padding, 80 Slaney mels with Slaney norm,
power 2; MFCC: 40 coefficients, DCT-II ortho of power_to_db(top_db=80). axon runs eagerly with
autograd off (``no_grad``). Each library runs in its own subprocess with BLAS limited to ``--threads``
(threadpoolctl) so neither inherits the other's warm caches; the ratio is axon / librosa median time.
Each child also reports the max relative difference of its output from librosa's (computed in the
axon child), so a fast wrong answer cannot pass unnoticed.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
from _harness import machine_info, run_child, time_steps, write_report

RATE, SECONDS = 16000, 60
N_FFT, HOP, N_MELS, N_MFCC = 400, 160, 80, 40


def _signal() -> np.ndarray:
    rng = np.random.default_rng(0)
    note = np.arange(RATE // 4) / RATE
    pieces = []
    for _ in range(SECONDS * 4):
        f = 220.0 * 2 ** (rng.choice([0, 2, 4, 7, 9, 12]) / 12)
        pieces.append(sum(np.sin(2 * np.pi * k * f * note) / k for k in range(1, 6)) * np.hanning(note.size))
    wave = np.concatenate(pieces) + 0.01 * rng.standard_normal(SECONDS * RATE)
    return (0.3 * wave).astype(np.float32)


def _librosa_steps(y: np.ndarray):
    import librosa

    mel_kwargs = dict(sr=RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)

    def mel():
        return librosa.feature.melspectrogram(y=y, **mel_kwargs)

    def mfcc():
        return librosa.feature.mfcc(y=y, n_mfcc=N_MFCC, **mel_kwargs)

    return {"melspectrogram": mel, "mfcc": mfcc}


def _axon_steps(y: np.ndarray):
    from axon_audio import MFCC, MelSpectrogram
    from axon_autograd import no_grad
    from axon_tensor import tensor

    melkwargs = dict(n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, pad_mode="constant", mel_scale="slaney", norm="slaney")
    mel_module = MelSpectrogram(RATE, **melkwargs)
    mfcc_module = MFCC(RATE, n_mfcc=N_MFCC, melkwargs=melkwargs)
    x = tensor(y)

    def mel():
        with no_grad():
            return mel_module(x).numpy()

    def mfcc():
        with no_grad():
            return mfcc_module(x).numpy()

    return {"melspectrogram": mel, "mfcc": mfcc}


def _measure(library: str, steps: int, warmup: int, threads: int) -> dict:
    from threadpoolctl import threadpool_limits

    y = _signal()
    with threadpool_limits(threads):
        make = _axon_steps if library == "axon" else _librosa_steps
        results = {}
        for name, step in make(y).items():
            results[name] = time_steps(step, steps, warmup, peak_rss=False, keep_times=True)
        if library == "axon":
            reference = _librosa_steps(y)
            for name, step in make(y).items():
                ours, theirs = step(), reference[name]()
                results[name]["max_rel_diff_vs_librosa"] = float(np.abs(ours - theirs).max() / np.abs(theirs).max())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="bench-results/bench_audio_features.json")
    parser.add_argument("--child", metavar="LIBRARY", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child, args.steps, args.warmup, args.threads)))
        return
    load_before = os.getloadavg()
    common = ("--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads))
    results = {library: run_child(__file__, library, *common) for library in ("axon", "librosa")}
    ratios = {
        name: results["axon"][name]["median_step_s"] / results["librosa"][name]["median_step_s"]
        for name in ("melspectrogram", "mfcc")
    }
    import librosa

    report = {
        "benchmark": "audio_features",
        "config": {
            "sample_rate": RATE,
            "seconds": SECONDS,
            "n_fft": N_FFT,
            "hop_length": HOP,
            "n_mels": N_MELS,
            "n_mfcc": N_MFCC,
            "mel_scale": "slaney",
            "norm": "slaney",
            "dtype": "float32",
            "blas_threads": args.threads,
            "librosa": librosa.__version__,
        },
        "machine": machine_info(load_before, load_keys=("loadavg_before", "loadavg_after")),
        "steps": args.steps,
        "results": results,
        "time_ratio_axon_over_librosa": ratios,
    }
    for name, ratio in ratios.items():
        print(
            f"{name}: axon {results['axon'][name]['median_step_s'] * 1e3:.1f} ms, "
            f"librosa {results['librosa'][name]['median_step_s'] * 1e3:.1f} ms, ratio {ratio:.2f}, "
            f"max rel diff {results['axon'][name]['max_rel_diff_vs_librosa']:.2g}"
        )
    print(f"load average {load_before[0]:.1f} -> {report['machine']['loadavg_after'][0]:.1f}")
    print(f"wrote {write_report(report, args.out)}")


if __name__ == "__main__":
    main()
