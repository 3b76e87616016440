"""Cost: per-chunk latency, CPU per audio second, peak memory, model size and parameters.

Every system is fed the same audio (``--seconds`` of shared keyword recordings with a little
noise; seeded) as 80 ms chunks of s16le bytes, what a microphone delivers:

- ours: each exported folder in ``models/`` (computer, alexa, hey_jarvis) and each
  ``--extra-model PATH[@LABEL]``, through ``device_runtime.Detector`` with the ONNX Runtime
  and the LiteRT backends (one interpreter thread, the Detector's default);
- openWakeWord and microWakeWord (``--peer-models``, default alexa and hey_jarvis) through
  :mod:`benchmarks.peers` streams (their own TFLite C library, default options).

Each measurement runs in its own subprocess (so peak memory and library loading are not
shared) and the systems are interleaved over ``--repeats`` rounds; the table reports the
median over rounds. Per run: the first ``--warmup-chunks`` chunks are not timed (first calls
allocate; openWakeWord's first chunk also runs its 8 s zero history), then every chunk's
``process`` call is timed with ``perf_counter`` and the whole loop's CPU time with
``process_time`` (all threads of the process). Peak RSS is the process's high-water mark
(``VmHWM``; ``ru_maxrss`` would include the parent's size, as Linux keeps it across exec); its
delta is over the RSS of the process after importing numpy and loading the audio, before the
runtime library is imported and the model loaded (so the delta includes the runtime library).

Model size is the bytes of the files the system loads. Parameters: ours from ``weights.npz``
(trained) and ``wakeword.model.summary`` of the manifest's network (frozen kernels); for
every TFLite graph, the elements of its constant tensors (shape and axis constants of <= 8
int32/int64 elements excluded).

    python -m benchmarks.cost                      # 60 s, 3 rounds
    python -m benchmarks.cost --seconds 30 --repeats 1 --extra-model benchmarks/out/dev_models/c_small@dev
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as `python benchmarks/cost.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common  # noqa: E402

log = logging.getLogger("benchmarks.cost")

CHUNK_SAMPLES = 1280  # 80 ms at 16 kHz
PEER_LABELS = {"openwakeword": "openWakeWord", "microwakeword": "microWakeWord"}


# -- worker (runs in a subprocess) -----------------------------------------------------------
def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS: now, VmHWM: peak), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _peak_rss_mb() -> float:
    """Peak RSS of this process image. VmHWM, not ru_maxrss: Linux carries ru_maxrss over
    exec, so a worker forked from a bigger parent would report the parent's size."""
    peak = _status_mb("VmHWM")
    if peak == peak:  # not NaN
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _threads() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def worker(spec: dict[str, Any], audio_path: Path, warmup_chunks: int) -> dict[str, Any]:
    """Measure one system on the int16 audio in ``audio_path``; returns the figures."""
    audio = np.load(audio_path)
    chunks = [audio[i:i + CHUNK_SAMPLES].tobytes()
              for i in range(0, audio.size - CHUNK_SAMPLES + 1, CHUNK_SAMPLES)]
    rss_before = _status_mb("VmRSS")
    t0 = time.perf_counter()
    if spec["kind"] == "ours":
        from device_runtime import Detector

        det = Detector(spec["path"], backend=spec["backend"], trace_s=60.0)

        def process(chunk: bytes) -> Any:
            return det.process(chunk)

        close = det.close
    else:
        from benchmarks.peers import make_stream

        stream = make_stream(spec["kind"], spec["model"])
        process = stream.process
        close = stream.close
    load_s = time.perf_counter() - t0
    rss_loaded = _status_mb("VmRSS")
    for chunk in chunks[:warmup_chunks]:
        process(chunk)
    timed = chunks[warmup_chunks:]
    latencies = np.empty(len(timed))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i, chunk in enumerate(timed):
        start = time.perf_counter()
        process(chunk)
        latencies[i] = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    threads = _threads()
    close()
    audio_s = len(timed) * CHUNK_SAMPLES / common.SAMPLE_RATE_HZ
    peak = _peak_rss_mb()
    return {
        "chunks_timed": len(timed), "audio_s": audio_s, "load_s": load_s,
        "latency_ms_p50": float(np.percentile(latencies, 50) * 1e3),
        "latency_ms_p99": float(np.percentile(latencies, 99) * 1e3),
        "latency_ms_mean": float(latencies.mean() * 1e3),
        "latency_ms_max": float(latencies.max() * 1e3),
        "cpu_s_per_audio_s": cpu / audio_s, "wall_s_per_audio_s": wall / audio_s,
        "rss_before_load_mb": rss_before, "rss_after_load_mb": rss_loaded,
        "peak_rss_mb": peak, "peak_rss_delta_mb": peak - rss_before, "threads": threads,
    }


# -- static facts (main process) -------------------------------------------------------------
def tflite_constants(path: str | Path) -> int | None:
    """Elements of a TFLite graph's constant tensors (weights; tiny shape constants left
    out), read with LiteRT; ``None`` if LiteRT is not installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    interpreter = Interpreter(model_path=str(path))
    produced, consumed = set(), set()
    for op in interpreter._get_ops_details():
        consumed.update(int(i) for i in op["inputs"] if i >= 0)
        produced.update(int(i) for i in op["outputs"])
    graph_inputs = {d["index"] for d in interpreter.get_input_details()}
    total = 0
    for d in interpreter.get_tensor_details():
        i = d["index"]
        if i not in consumed or i in produced or i in graph_inputs:
            continue
        size = int(np.prod(d["shape"])) if len(d["shape"]) else 1
        if np.dtype(d["dtype"]).kind in "iu" and np.dtype(d["dtype"]).itemsize >= 4 and size <= 8:
            continue  # shapes, axes, slice bounds
        total += size
    return total


def our_facts(path: Path, backend: str) -> dict[str, Any]:
    manifest = json.loads((path / "manifest.json").read_text())
    graph = path / manifest["graphs"][backend]
    weights_file = path / manifest.get("weights_file", "weights.npz")
    trained = None
    if weights_file.is_file():
        with np.load(weights_file) as data:
            trained = int(sum(data[k].size for k in data.files))
    facts: dict[str, Any] = {
        "model_files": [graph.name, weights_file.name],
        "model_bytes": graph.stat().st_size + (weights_file.stat().st_size
                                               if weights_file.is_file() else 0),
        "trained_parameters": trained,
        "quantization": (manifest.get("quantization") or {}).get(backend),
        "chunk_ms": 1000 * manifest["chunk_samples"] / manifest["sample_rate_hz"],
    }
    tflite = path / manifest["graphs"].get("tflite", "") if "tflite" in manifest["graphs"] \
        else None
    if tflite is not None and tflite.is_file():
        facts["graph_constants"] = tflite_constants(tflite)
    try:
        from wakeword.features.mel import FrontendConfig
        from wakeword.kernels.bank import load_default_bank
        from wakeword.model.config import NetworkConfig
        from wakeword.model.summary import summarize
        from wakeword.model.wakeword_model import WakeWordModel

        bank = load_default_bank()
        model = WakeWordModel(FrontendConfig.from_dict(manifest["frontend"]),
                              NetworkConfig.from_dict(manifest["network"]), bank.kernels,
                              bank.path)
        summary = summarize(model, manifest.get("name", path.name)).to_dict()
        facts["frozen_parameters"] = summary["frozen_parameters"]
        facts["summary"] = summary
        if trained is None:
            facts["trained_parameters"] = summary["trained_parameters"]
    except Exception as exc:  # noqa: BLE001 - the summary is informative only
        log.warning("%s: no parameter summary (%s)", path, exc)
        facts["frozen_parameters"] = None
    return facts


def peer_facts(family: str, model: str) -> dict[str, Any]:
    from benchmarks.peers import peer_info

    info = peer_info(family, model).to_dict()
    files = [Path(f) for f in info["model_files"]]
    return {
        "model_files": [f.name for f in files],
        "model_bytes": sum(f.stat().st_size for f in files),
        "keyword_model_bytes": files[0].stat().st_size,
        "graph_constants": sum(tflite_constants(f) or 0 for f in files),
        "keyword_model_constants": tflite_constants(files[0]),
        "trained_parameters": None, "frozen_parameters": None,
        "package": f"{info['package']} {info['package_version']}",
        "chunk_ms": 80.0,
        "native_step_ms": 1000 * info["step_s"],
    }


# -- main -------------------------------------------------------------------------------------
def build_systems(args: argparse.Namespace) -> list[dict[str, Any]]:
    from device_runtime.backends import available_formats

    formats = set(available_formats())
    systems: list[dict[str, Any]] = []
    dirs = [(f"wakeword {name}", path) for name, path in common.find_model_dirs().items()]
    for item in args.extra_model:
        path_text, _, label = item.partition("@")
        dirs.append((label or f"ours:{Path(path_text).name}", Path(path_text)))
    for label, path in dirs:
        manifest = json.loads((path / "manifest.json").read_text())
        for backend in args.backends:
            if backend not in manifest["graphs"]:
                log.info("%s has no %s graph; skipped", path, backend)
                continue
            if backend not in formats:
                log.warning("no %s interpreter installed; %s skipped", backend, label)
                continue
            systems.append({"label": f"{label} ({backend})", "kind": "ours", "path": str(path),
                            "backend": backend})
    if not args.no_peers:
        from benchmarks.peers import available_families

        for family in available_families():
            for model in args.peer_models:
                systems.append({"label": f"{PEER_LABELS[family]} {model}", "kind": family,
                                "model": model})
    return systems


def run_worker(spec: dict[str, Any], audio_path: Path, warmup: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.cost", "--worker", json.dumps(spec),
           "--audio", str(audio_path), "--warmup-chunks", str(warmup)]
    out = subprocess.run(cmd, cwd=common.REPO_ROOT, capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONPATH": str(common.REPO_ROOT)})
    if out.returncode != 0:
        raise RuntimeError(f"{spec['label']}: worker failed ({out.returncode}): "
                           f"{out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


METRICS = ("latency_ms_p50", "latency_ms_p99", "latency_ms_mean", "latency_ms_max",
           "cpu_s_per_audio_s", "wall_s_per_audio_s", "peak_rss_mb", "peak_rss_delta_mb",
           "rss_after_load_mb", "load_s")


def print_table(result: dict[str, Any]) -> None:
    print()
    print(f"{result['audio_s']:.0f} s of audio in 80 ms chunks, median of {result['repeats']} "
          "round(s)")
    print(f"{'system':<34}{'p50 ms':>8}{'p99 ms':>8}{'CPU s/s':>9}{'peak RSS':>10}"
          f"{'delta':>8}{'size KB':>9}{'trained':>9}{'frozen':>8}{'consts':>9}")
    for r in result["systems"]:
        m = r["median"]

        def num(x: Any) -> str:
            return "-" if x is None else str(x)

        print(f"{r['label'][:33]:<34}{m['latency_ms_p50']:8.3f}{m['latency_ms_p99']:8.3f}"
              f"{m['cpu_s_per_audio_s']:9.4f}{m['peak_rss_mb']:8.1f}MB{m['peak_rss_delta_mb']:6.1f}MB"
              f"{r['model_bytes'] / 1024:9.0f}{num(r.get('trained_parameters')):>9}"
              f"{num(r.get('frozen_parameters')):>8}{num(r.get('graph_constants')):>9}")
    print()
    print(f"machine: {result['machine_line']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cost", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0, help="audio per run (default 60)")
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds (median)")
    p.add_argument("--warmup-chunks", type=int, default=10)
    p.add_argument("--backends", default="onnx,tflite")
    p.add_argument("--peer-models", default="alexa,hey_jarvis")
    p.add_argument("--no-peers", action="store_true")
    p.add_argument("--extra-model", action="append", default=[], metavar="DIR[@LABEL]",
                   help="also measure this exported model folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=common.RESULTS_DIR / "cost.json")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--audio", type=Path, help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker), args.audio, args.warmup_chunks)))
        return 0
    common.setup_logging(args.verbose)
    from wakeword.progress import progress, set_progress

    set_progress(True)
    args.backends = [b for b in args.backends.split(",") if b]
    args.peer_models = [m for m in args.peer_models.split(",") if m]
    systems = build_systems(args)
    if not systems:
        print("cost: nothing to measure (no models/ folder, no --extra-model, peers off)")
        return 0
    audio = common.cost_audio(args.seconds, args.seed)
    audio_path = common.OUT_DIR / f"cost_audio_{args.seconds:g}s_seed{args.seed}.npy"
    audio_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(audio_path, np.clip(np.rint(audio * 32767), -32768, 32767).astype(np.int16))
    runs: dict[str, list[dict[str, Any]]] = {s["label"]: [] for s in systems}
    jobs = [(r, s) for r in range(args.repeats) for s in systems]
    for _, spec in progress(jobs, desc="cost runs", total=len(jobs)):
        runs[spec["label"]].append(run_worker(spec, audio_path, args.warmup_chunks))
    machine = common.machine_info()
    result: dict[str, Any] = {
        "benchmark": "cost",
        "command": "python -m benchmarks.cost " + " ".join(argv if argv is not None
                                                           else sys.argv[1:]),
        "machine": machine, "machine_line": common.machine_line(machine),
        "audio": "shared/data/keywords/computer recordings back to back + noise at -50 dBFS",
        "audio_s": args.seconds, "chunk_ms": 80.0, "repeats": args.repeats,
        "warmup_chunks": args.warmup_chunks, "systems": [],
    }
    for spec in systems:
        facts = (our_facts(Path(spec["path"]), spec["backend"]) if spec["kind"] == "ours"
                 else peer_facts(spec["kind"], spec["model"]))
        median = {k: float(np.median([r[k] for r in runs[spec["label"]]])) for k in METRICS}
        result["systems"].append({**spec, **facts, "median": median,
                                  "runs": runs[spec["label"]]})
    path = common.write_json(args.out, result)
    print_table(result)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
