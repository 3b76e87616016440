"""Device-runtime commands: ``listen``, ``detect``, ``bench``, ``enroll`` and ``calibrate``.

They are registered into the ``wakeword`` command line by ``register(subparsers)`` and also run
standalone, without torch, as ``python -m device_runtime COMMAND ...`` through :func:`main`.
Each handler takes the parsed arguments and returns the exit code: 0 success, 1 a completed
run with a negative verdict (enroll validated worse), 2 an error (``error: ...`` on stderr).

A model is a folder path or the name of a shipped model (``detect computer clip.wav``);
``detect`` reads standard input for the file name ``-`` (WAV, or raw 16-bit mono PCM at the
model's rate).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from device_runtime.backends import BACKEND_CHOICES
from device_runtime.errors import DeviceRuntimeError

__all__ = ["build_parser", "main", "register"]

logger = logging.getLogger(__name__)


# -- argument helpers ----------------------------------------------------------------------------
def _threshold_arg(text: str) -> tuple[str | None, float]:
    """``0.7`` (every keyword) or ``keyword=0.7``."""
    name, _, value = text.rpartition("=")
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a threshold; use a probability like 0.7 or keyword=0.7") from None
    if not 0.0 < number <= 1.0:
        raise argparse.ArgumentTypeError(f"threshold {number} is outside (0, 1]")
    return (name or None), number


def _thresholds(items: list[tuple[str | None, float]] | None) -> float | dict[str, float] | None:
    if not items:
        return None
    if len(items) == 1 and items[0][0] is None:
        return items[0][1]
    if any(name is None for name, _ in items):
        raise DeviceRuntimeError("--threshold: give either one number for every keyword or "
                                 "keyword=value pairs, not both")
    return {str(name): value for name, value in items}


MAX_BENCH_S = 3600.0


def _seconds_arg(limit: float) -> Any:
    """An argparse type: a finite number of seconds in (0, limit]."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not 0 < value <= limit:  # also refuses nan
            raise argparse.ArgumentTypeError(f"{text} seconds is outside (0, {limit:g}]")
        return value

    return parse


def _count_arg(low: int, high: int) -> Any:
    """An argparse type: a whole number in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside [{low}, {high}]")
        return value

    return parse


def _fraction_arg(low: float, high: float, *, open_low: bool = True) -> Any:
    """An argparse type: a finite number in (low, high] (or [low, high])."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        ok = (low < value <= high) if open_low else (low <= value <= high)
        if not ok:
            interval = f"({low:g}, {high:g}]" if open_low else f"[{low:g}, {high:g}]"
            raise argparse.ArgumentTypeError(f"{text} is outside {interval}")
        return value

    return parse


def _device_arg(text: str) -> int | str:
    return int(text) if text.lstrip("-").isdigit() else text


EXIT_CODES = (
    "exit codes: 0 success; 1 the run completed with a negative verdict (enroll: the new model "
    "validated worse; listen --list-devices: no input device); 2 an error (bad arguments, "
    "unreadable input, missing interpreter; the message on stderr says how to fix it)."
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"wakeword {version('wakeword')} (device runtime)"
    except PackageNotFoundError:  # a clone that was not installed
        return "wakeword (device runtime, not installed)"


def _resolve_model(args: argparse.Namespace) -> None:
    """Turn a shipped model's name in ``args.model_dir`` into its folder."""
    from device_runtime.detector import resolve_model

    args.model_dir = resolve_model(args.model_dir)


def _add_model_options(p: argparse.ArgumentParser, *, backends: tuple[str, ...] = BACKEND_CHOICES,
                       names: bool = True) -> None:
    if names:
        from device_runtime.detector import list_pretrained

        shipped = ", ".join(list_pretrained()) or "none installed"
        p.add_argument("model_dir", metavar="MODEL", type=Path,
                       help="model folder (manifest.json, graphs, weights.npz), or the name of a "
                       f"shipped model ({shipped})")
    else:
        p.add_argument("model_dir", metavar="MODEL_DIR", type=Path,
                       help="model folder (manifest.json, graphs, weights.npz)")
    p.add_argument("--backend", choices=backends, default="auto",
                   help="interpreter: onnx (onnxruntime), tflite (ai-edge-litert) or auto "
                   "(onnx if installed); a named backend is never swapped (default: auto)")


def _add_threshold(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threshold", type=_threshold_arg, action="append", metavar="[KW=]P",
                   help="detection threshold, one for all keywords or KW=P per keyword "
                   "(repeatable; default: the manifest's)")


def _detector(args: argparse.Namespace, **kwargs: Any) -> Any:
    from device_runtime.detector import Detector

    _resolve_model(args)
    try:
        return Detector(args.model_dir, backend=args.backend,
                        threshold=_thresholds(getattr(args, "threshold", None)), **kwargs)
    except ValueError as exc:  # argument values the model rejects (e.g. unknown keyword)
        raise DeviceRuntimeError(str(exc)) from exc


# -- detect ----------------------------------------------------------------------------------------
def _cmd_detect(args: argparse.Namespace) -> int:
    from device_runtime.audio_file import STDIN, iter_audio

    if sum(str(path) == STDIN for path in args.files) > 1:
        raise DeviceRuntimeError("standard input ('-') can be read only once; give '-' once")
    failed = 0
    report: dict[str, Any] = {"files": []}
    best: dict[str, float] = {}

    def track(time_s: float, scores: np.ndarray) -> None:
        for i, kw in enumerate(keywords, start=1):
            best[kw] = max(best.get(kw, 0.0), float(scores[i]))

    with _detector(args, on_scores=track) as det:
        keywords = det.keywords
        report.update(model=str(args.model_dir), backend=det.backend,
                      thresholds=det.thresholds)
        for path in args.files:
            entry: dict[str, Any] = {"path": str(path)}
            det.reset()
            best.clear()
            found, samples = [], 0
            try:  # block by block: memory does not grow with the file
                source = sys.stdin.buffer if str(path) == STDIN else path
                for block in iter_audio(source, det.sample_rate_hz, downmix=args.downmix):
                    samples += block.size
                    found.extend(det.process(block))
            except DeviceRuntimeError as exc:
                failed += 1
                entry["error"] = str(exc)
                if not args.json:
                    print(f"error: {exc}", file=sys.stderr)
                report["files"].append(entry)
                continue
            entry["duration_s"] = samples / det.sample_rate_hz
            entry["detections"] = [asdict(d) for d in found]
            entry["max_scores"] = {kw: best.get(kw) for kw in det.keywords}
            report["files"].append(entry)
            if not args.json:
                if not found:
                    shown = ", ".join(f"{k} {v:.2f}" for k, v in entry["max_scores"].items()
                                      if v is not None)
                    print(f"{path}: no detection (max score {shown or 'n/a'})")
                for d in found:
                    print(f"{path}: {d.keyword} at {d.time_s:.2f} s (score {d.score:.3f})")
    if args.json:
        print(json.dumps(report, indent=2))
    return 2 if failed else 0


# -- listen ----------------------------------------------------------------------------------------
def _meter(keywords: tuple[str, ...], thresholds: dict[str, float]) -> Any:
    width = 20

    def show(time_s: float, scores: np.ndarray) -> None:
        bars = []
        for i, kw in enumerate(keywords, start=1):
            filled = round(float(scores[i]) * width)
            mark = "!" if scores[i] >= thresholds[kw] else " "
            bars.append(f"{kw} [{'#' * filled}{'.' * (width - filled)}]{mark}{scores[i]:.2f}")
        sys.stdout.write(f"\r{time_s:8.1f}s  " + "  ".join(bars))
        sys.stdout.flush()

    return show


def _cmd_listen(args: argparse.Namespace) -> int:
    from device_runtime.stream import Listener, Microphone, input_devices

    if args.list_devices:
        devices = input_devices()
        if not devices:
            print("no audio input devices found: connect a microphone, or check that PortAudio "
                  "can see it (e.g. a running PulseAudio or PipeWire server)", file=sys.stderr)
            return 1
        for d in devices:
            print(f"{d['index']:3d}: {d['name']} ({d['channels']} ch, "
                  f"{d['default_sample_rate_hz']:.0f} Hz)")
        return 0
    det = _detector(args)
    meter = args.meter and sys.stdout.isatty()
    if meter:
        det.on_scores = _meter(det.keywords, det.thresholds)
    mic = Microphone(args.device, sample_rate_hz=det.sample_rate_hz,
                     block_ms=1000.0 * det.chunk_samples / det.sample_rate_hz)
    print(f"listening for {', '.join(det.keywords)} on {args.device or 'the default device'} "
          f"({det.backend}); Ctrl-C to stop", file=sys.stderr)
    timer = None
    try:
        with det, Listener(det, mic) as listener:
            if args.seconds is not None:
                timer = threading.Timer(args.seconds, listener.stop)
                timer.daemon = True
                timer.start()
            for detection in listener:
                prefix, suffix = ("\r", " " * 40) if meter else ("", "")
                print(f"{prefix}DETECTED {detection.keyword} at {detection.time_s:.2f} s "
                      f"(score {detection.score:.3f}){suffix}", flush=True)
                if args.once:
                    break
    except KeyboardInterrupt:
        print(file=sys.stderr)
    finally:
        if timer is not None:
            timer.cancel()
        if meter:
            print()
        if mic.overruns:
            print(f"note: {mic.overruns} audio block(s) were dropped because processing "
                  "fell behind", file=sys.stderr)
    return 0


# -- bench -----------------------------------------------------------------------------------------
def _peak_rss_mb() -> float | None:
    """Peak resident set size of this process so far, in MB (None where unsupported)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 1024.0 / 1024.0


def bench_backend(model_dir: Path, backend: str, seconds: float, seed: int = 0
                  ) -> dict[str, Any]:
    """Latency per model step, CPU time per audio second and peak RSS for one backend."""
    from device_runtime.detector import Detector

    t0 = time.perf_counter()
    det = Detector(model_dir, backend=backend, trace_s=60.0)
    load_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    chunk = det.chunk_samples
    if not 0 < seconds <= MAX_BENCH_S:
        raise DeviceRuntimeError(f"seconds is {seconds}; use a duration in (0, {MAX_BENCH_S:g}]")
    n_steps = max(1, int(seconds * det.sample_rate_hz / chunk))
    n_noise = min(n_steps, max(1, int(10 * det.sample_rate_hz / chunk)))  # 10 s, cycled
    audio = (rng.normal(0, 0.01, (n_noise, chunk))).astype(np.float32)
    for frame in audio[: min(10, n_noise)]:  # warm-up: first calls allocate
        det.process(frame)
    det.reset()
    latencies = np.empty(n_steps)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(n_steps):
        start = time.perf_counter()
        det.process(audio[i % n_noise])
        latencies[i] = time.perf_counter() - start
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    audio_s = n_steps * chunk / det.sample_rate_hz
    det.close()
    return {
        "backend": backend, "steps": n_steps, "audio_s": audio_s, "load_s": load_s,
        "latency_ms_p50": float(np.percentile(latencies, 50) * 1e3),
        "latency_ms_p99": float(np.percentile(latencies, 99) * 1e3),
        "latency_ms_mean": float(latencies.mean() * 1e3),
        "cpu_s_per_audio_s": cpu / audio_s, "wall_s_per_audio_s": wall / audio_s,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _cmd_bench(args: argparse.Namespace) -> int:
    from device_runtime.backends import available_formats
    from device_runtime.manifest import load_manifest

    _resolve_model(args)
    manifest = load_manifest(args.model_dir)
    if args.backend == "both":
        backends = [f for f in ("onnx", "tflite") if f in manifest.graphs]
        missing = [f for f in backends if f not in available_formats()]
        if missing:
            print(f"note: skipping {missing}: interpreter not installed", file=sys.stderr)
        backends = [f for f in backends if f not in missing]
        if not backends:
            raise DeviceRuntimeError("no interpreter for this model's graphs is installed: "
                                     "pip install onnxruntime or ai-edge-litert")
    else:
        backends = [args.backend]
    results = [bench_backend(args.model_dir, b, args.seconds) for b in backends]
    report = {"model": str(args.model_dir), "chunk_ms": manifest.chunk_ms,
              "note": "peak_rss_mb is the whole process's peak so far (cumulative)",
              "results": results}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.model_dir}: {manifest.chunk_ms:.0f} ms chunks, {args.seconds:g} s of audio")
    print(f"{'backend':8} {'p50 ms':>8} {'p99 ms':>8} {'CPU s/s':>9} {'load s':>7} {'peak RSS':>9}")
    for r in results:
        print(f"{r['backend']:8} {r['latency_ms_p50']:8.3f} {r['latency_ms_p99']:8.3f} "
              f"{r['cpu_s_per_audio_s']:9.5f} {r['load_s']:7.3f} {r['peak_rss_mb'] or 0:7.1f}MB")
    return 0


# -- enroll ----------------------------------------------------------------------------------------
def _cmd_enroll(args: argparse.Namespace) -> int:
    from device_runtime.finetune import enroll

    _resolve_model(args)

    def progress(epoch: int, loss: float) -> None:
        if not args.json and (epoch == 1 or epoch == args.epochs or epoch % 10 == 0):
            print(f"epoch {epoch}/{args.epochs}: loss {loss:.4f}", file=sys.stderr)

    result = enroll(args.model_dir, args.positives, args.negatives, out_dir=args.out,
                    keyword=args.keyword, backend=args.backend, epochs=args.epochs,
                    learning_rate=args.learning_rate,
                    seed=args.seed, overwrite=args.overwrite,
                    allow_unrecognised=args.allow_unrecognised, on_epoch=progress)
    if args.json:
        data = asdict(result)
        data.update(out_dir=str(result.out_dir), base_dir=str(result.base_dir),
                    summary=result.summary)
        print(json.dumps(data, indent=2))
    else:
        for line in result.skipped:
            print(f"skipped {line}", file=sys.stderr)
        print(f"wrote {result.out_dir}")
        print(result.summary)
        if not result.accepted:
            print(f"WARNING: validation got worse; keep using {result.base_dir}",
                  file=sys.stderr)
    return 0 if result.accepted else 1


# -- calibrate -------------------------------------------------------------------------------------
def _cmd_calibrate(args: argparse.Namespace) -> int:
    from device_runtime.calibrate import calibrate

    result = calibrate(args.model_dir, args.negatives, fa_per_hour=args.fa_per_hour,
                       keyword=args.keyword, backend=args.backend,
                       min_threshold=args.min_threshold, write=not args.dry_run)
    if args.json:
        print(json.dumps({**asdict(result), "summary": result.summary}, indent=2))
    else:
        print(result.summary)
        print(f"wrote {args.model_dir / 'manifest.json'}" if result.written
              else "dry run: manifest not changed")
    return 0


# -- registration ----------------------------------------------------------------------------------
def register(subparsers: Any) -> None:
    """Add ``listen``, ``detect``, ``bench``, ``enroll`` and ``calibrate`` to an argparse
    subparsers object."""
    p = subparsers.add_parser("detect", help="detect keywords in audio files or standard input",
                              description="Replay audio files through the streaming detector "
                              "and print the detections.")
    _add_model_options(p)
    p.add_argument("files", metavar="FILE", nargs="+", type=Path,
                   help="WAV files (FLAC/OGG with soundfile); other rates are resampled. '-' "
                   "reads standard input: a WAV stream, or raw 16-bit little-endian mono PCM "
                   "at the model's rate (16 kHz), e.g. arecord -f S16_LE -r 16000 -c 1 | "
                   "wakeword detect computer -")
    _add_threshold(p)
    p.add_argument("--downmix", action="store_true",
                   help="average the channels of multi-channel files (else they are an error)")
    p.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    p.set_defaults(handler=_cmd_detect)

    p = subparsers.add_parser("listen", help="detect keywords live from a microphone",
                              description="Listen on a microphone, show a live score meter and "
                              "print detections until Ctrl-C.")
    _add_model_options(p)
    p.add_argument("--device", type=_device_arg, default=None,
                   help="input device index or name (default: the system's; see "
                   "--list-devices)")
    _add_threshold(p)
    p.add_argument("--seconds", type=_seconds_arg(float("inf")), default=None,
                   help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("--once", action="store_true", help="stop after the first detection")
    p.add_argument("--no-meter", dest="meter", action="store_false",
                   help="do not draw the live score meter")
    p.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    p.set_defaults(handler=_cmd_listen)

    p = subparsers.add_parser("bench", help="measure latency, CPU and memory per backend",
                              description="Stream seeded noise through each backend and report "
                              "p50/p99 latency per chunk, CPU seconds per audio second "
                              "(time.process_time) and peak RSS.")
    _add_model_options(p, backends=("both", *BACKEND_CHOICES))
    p.set_defaults(backend="both")
    p.add_argument("--seconds", type=_seconds_arg(MAX_BENCH_S), default=60.0,
                   help=f"audio to stream, at most {MAX_BENCH_S:g} (default 60)")
    p.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    p.set_defaults(handler=_cmd_bench)

    p = subparsers.add_parser("enroll", help="fine-tune a model on your own keyword clips",
                              description="Fine-tune the model's weights on the device with its "
                              "training-step graph and write a new model folder. Exit code 1 "
                              "when the new model validated worse (the original stays the "
                              "default).")
    _add_model_options(p)
    p.add_argument("--positives", type=Path, required=True, metavar="DIR",
                   help="folder of recordings of the keyword (at least 3)")
    p.add_argument("--negatives", type=Path, default=None, metavar="DIR",
                   help="optional folder of recordings without the keyword (default: "
                   "generated noise and the model's stored negatives)")
    p.add_argument("--out", type=Path, required=True, metavar="NEW_DIR",
                   help="the new model folder (must not exist unless --overwrite)")
    p.add_argument("--keyword", default=None, help="the keyword the clips say (default: the "
                   "model's only keyword; needed for multi-keyword models)")
    p.add_argument("--epochs", type=_count_arg(1, 10000), default=30,
                   help="training epochs (default 30)")
    p.add_argument("--learning-rate", type=_fraction_arg(0.0, 1.0), default=None,
                   help="Adam step size (default: the manifest's train_step.learning_rate)")
    p.add_argument("--seed", type=int, default=0, help="seed for split and augmentation")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing NEW_DIR (only a model folder that holds neither "
                   "MODEL_DIR nor the clips)")
    p.add_argument("--allow-unrecognised", action="store_true",
                   help="enrol even when the base model scores the clips near zero (they "
                   "probably say another phrase)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=_cmd_enroll)

    p = subparsers.add_parser("calibrate", help="set the threshold from audio that must not "
                              "trigger", description="Stream negative audio (speech, TV, the "
                              "device's room) through the detector and set the manifest "
                              "threshold to the lowest value with at most --fa-per-hour false "
                              "accepts. Give at least 1/FA-PER-HOUR hours of audio. It writes "
                              "the model folder's manifest: to calibrate a shipped model, copy "
                              "its folder first.")
    _add_model_options(p, names=False)
    p.add_argument("--negatives", type=Path, nargs="+", required=True, metavar="PATH",
                   help="audio files or folders (searched recursively) without the keyword")
    p.add_argument("--fa-per-hour", type=_fraction_arg(0.0, 3600.0), default=0.5,
                   help="false accepts per hour to allow (default 0.5)")
    p.add_argument("--keyword", default=None, help="which keyword (default: the model's only "
                   "keyword; needed for multi-keyword models)")
    p.add_argument("--min-threshold", type=_fraction_arg(0.05, 0.99999, open_low=False),
                   default=0.5, help="never set the threshold below this, in [0.05, 0.99999] "
                   "(default 0.5)")
    p.add_argument("--dry-run", action="store_true", help="report, do not write the manifest")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=_cmd_calibrate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m device_runtime",
        description="wakeword device runtime: detect keywords with an exported model folder "
        "(ONNX Runtime or LiteRT), listen live, benchmark and fine-tune on the device.",
        epilog=EXIT_CODES)
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (``python -m device_runtime``); returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args) or 0)
    except DeviceRuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
