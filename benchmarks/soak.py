"""Soak: a day of audio streamed through one ``device_runtime.Detector``, faster than real time.

The stream is a seeded mix of 10 s segments, the way a kitchen device hears a day: running
speech-like sound (voiced harmonics with a pitch contour and a syllable envelope, in noise),
the shipped model's own example recording (so detections happen), white and low-passed noise
at room levels, near-silence and digital silence, each at a random gain. It is fed in 80 ms
chunks (what a microphone delivers), never reset, with the Detector's default score trace.

Every simulated hour the script records the process's resident memory (``VmRSS``) and
high-water mark (``VmHWM``), the CPU seconds (``time.process_time``, all threads) and wall
seconds spent per audio second in that hour, and the detections. The result, with the machine
description, goes to ``benchmarks/results/soak.json``; ``rss_growth_hour1_to_last`` is the
relative change of VmRSS from the end of hour 1 to the end of the last hour (the target: within
10 %). The segment pool is built once before the clock starts, so the figures are the runtime's.

    python -m benchmarks.soak                   # 24 h of audio: a few minutes on one core
    python -m benchmarks.soak --hours 2 --out /tmp/soak.json
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks import common

log = logging.getLogger("benchmarks.soak")

SEGMENT_S = 10.0
POOL_SIZE = 48
KINDS = ("speech", "speech", "speech", "example", "noise", "rumble", "near_silence", "silence")


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _speechlike(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / rate
    f0 = rng.uniform(90, 220) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.2, 0.8) * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * rng.uniform(2.5, 5.0) * t + rng.uniform(0, 6)), 0, 1)
    pauses = (np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * t) > -0.6).astype(np.float64)
    speech = voiced * syllables ** 2 * pauses
    speech /= np.max(np.abs(speech)) + 1e-9
    return 0.3 * speech + rng.normal(0, 0.005, n)


def segment_pool(example: np.ndarray, rate: int, seed: int) -> list[tuple[str, np.ndarray]]:
    """``POOL_SIZE`` seeded 10 s segments (kind, float32 samples at ``rate``)."""
    rng = np.random.default_rng(seed)
    n = int(SEGMENT_S * rate)
    pool = []
    for i in range(POOL_SIZE):
        kind = KINDS[i % len(KINDS)]
        if kind == "speech":
            x = _speechlike(n, rate, rng)
        elif kind == "example":
            x = np.zeros(n)
            start = int(rng.integers(0, max(1, n - example.size)))
            piece = example[: n - start]
            x[start:start + piece.size] = piece
            x += rng.normal(0, 0.003, n)
        elif kind == "noise":
            x = rng.normal(0, 10 ** rng.uniform(-3.0, -1.5), n)
        elif kind == "rumble":
            spectrum = np.fft.rfft(rng.normal(0, 1, n))
            spectrum /= 1 + 1j * np.arange(spectrum.size) / (spectrum.size * 0.02)
            x = np.fft.irfft(spectrum, n=n)
            x *= 10 ** rng.uniform(-2.5, -1.5) / (x.std() + 1e-12)
        elif kind == "near_silence":
            x = rng.normal(0, 10 ** rng.uniform(-4.5, -3.5), n)
        else:
            x = np.zeros(n)
        pool.append((kind, np.clip(x, -1, 1).astype(np.float32)))
    return pool


def soak(model_dir: Path, *, hours: float, backend: str, chunk_ms: float, seed: int
         ) -> dict[str, Any]:
    from device_runtime import Detector
    from device_runtime.audio import read_audio

    rss_start_kb = _status_kb("VmRSS")
    det = Detector(model_dir, backend=backend)  # default trace: the last 10 minutes
    rate = det.sample_rate_hz
    example = read_audio(model_dir / "example.wav", rate) if (model_dir / "example.wav").is_file() \
        else np.zeros(0, np.float32)
    pool = segment_pool(example, rate, seed)
    rng = np.random.default_rng(seed + 1)
    chunk = round(chunk_ms * rate / 1000)
    per_hour = round(3600 / SEGMENT_S)
    n_hours = int(np.ceil(hours))
    rows: list[dict[str, Any]] = []
    kinds: dict[str, int] = {}
    rss_loaded_kb = _status_kb("VmRSS")
    log.info("soaking %s (%s) for %g h of audio in %g ms chunks", model_dir, det.backend, hours,
             chunk_ms)
    for hour in range(n_hours):
        segments = per_hour if hour + 1 <= hours else round((hours - hour) * per_hour)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        detections = 0
        samples = 0
        for _ in range(segments):
            kind, x = pool[int(rng.integers(len(pool)))]
            kinds[kind] = kinds.get(kind, 0) + 1
            gain = np.float32(10 ** rng.uniform(-0.5, 0.3))
            x = x * gain
            for start in range(0, x.size, chunk):
                detections += len(det.process(x[start:start + chunk]))
            samples += x.size
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        audio_s = samples / rate
        row = {"hour": hour + 1, "audio_s": audio_s, "rss_mb": _status_kb("VmRSS") / 1024,
               "peak_rss_mb": _status_kb("VmHWM") / 1024, "cpu_s_per_audio_s": cpu / audio_s,
               "wall_s_per_audio_s": wall / audio_s, "detections": detections,
               "steps_total": det.steps}
        rows.append(row)
        log.info("hour %d: RSS %.1f MB (peak %.1f), %.5f CPU s per audio s, %.4f wall s per "
                 "audio s, %d detections", row["hour"], row["rss_mb"], row["peak_rss_mb"],
                 row["cpu_s_per_audio_s"], row["wall_s_per_audio_s"], detections)
    det.close()
    first, last = rows[0], rows[-1]
    return {
        "model": str(model_dir), "backend": det.backend, "hours": hours, "chunk_ms": chunk_ms,
        "seed": seed, "segment_s": SEGMENT_S, "segment_kinds": kinds,
        "rss_before_model_mb": rss_start_kb / 1024, "rss_after_load_mb": rss_loaded_kb / 1024,
        "rss_growth_hour1_to_last": (last["rss_mb"] - first["rss_mb"]) / first["rss_mb"],
        "rss_within_10_percent": abs(last["rss_mb"] - first["rss_mb"]) <= 0.1 * first["rss_mb"],
        "cpu_s_per_audio_s_mean": float(np.mean([r["cpu_s_per_audio_s"] for r in rows])),
        "faster_than_real_time_by": 1.0 / max(1e-12, float(np.mean(
            [r["wall_s_per_audio_s"] for r in rows]))),
        "detections_total": sum(r["detections"] for r in rows),
        "per_hour": rows,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=REPO_ROOT / "models" / "computer",
                   help="model folder (default models/computer)")
    p.add_argument("--hours", type=float, default=24.0, help="simulated hours (default 24)")
    p.add_argument("--backend", default="onnx", choices=("onnx", "tflite"))
    p.add_argument("--chunk-ms", type=float, default=80.0, help="chunk size fed (default 80)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=common.RESULTS_DIR / "soak.json")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if not (0 < args.hours <= 24 * 7 and 0 < args.chunk_ms <= 10000):
        p.error("--hours must be in (0, 168] and --chunk-ms in (0, 10000]")
    common.setup_logging(args.verbose)
    logging.getLogger("device_runtime.audio").setLevel(logging.ERROR)  # clipping notes
    result = soak(args.model, hours=args.hours, backend=args.backend, chunk_ms=args.chunk_ms,
                  seed=args.seed)
    result["machine"] = common.machine_info()
    path = common.write_json(args.out, result)
    print(f"{path}: RSS {result['per_hour'][0]['rss_mb']:.1f} MB after hour 1, "
          f"{result['per_hour'][-1]['rss_mb']:.1f} MB after hour {len(result['per_hour'])} "
          f"({100 * result['rss_growth_hour1_to_last']:+.2f} %); "
          f"{result['cpu_s_per_audio_s_mean']:.5f} CPU s per audio s; "
          f"{result['faster_than_real_time_by']:.0f}x real time; "
          f"{result['detections_total']} detections")
    return 0


if __name__ == "__main__":
    sys.exit(main())
