"""`wakeword demo` (the README's main job) and `wakeword example` (make a demo clip).

``demo`` runs the embedded default model (models/computer) on its bundled example clip, which
the project synthesised itself with ``wakeword example``, through both device backends (ONNX
Runtime and LiteRT), prints the detections with timestamps, and plots the score trace.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from wakeword.errors import DataError, MissingExtraError
from wakeword.paths import DEFAULT_KERNEL_BANK, MODELS_DIR

DEFAULT_MODEL = MODELS_DIR / "computer"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="run the embedded default model on its example clip (ONNX and LiteRT)",
        description="Detect the default phrase in the bundled example clip with both device "
        "backends, print detections and write a score-trace plot.")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                   help="exported model folder or shipped model name (default: the shipped "
                   "'computer' model)")
    p.add_argument("--audio", type=Path, default=None,
                   help="audio file (default: the model folder's example.wav)")
    p.add_argument("--out", type=Path, default=Path("demo_out"),
                   help="folder for score_trace.png (needs matplotlib) and detections.json")
    p.set_defaults(handler=_demo)

    e = sub.add_parser(
        "example", help="synthesise an example clip containing a phrase",
        description="Synthesise a short scene: a sentence, a pause, the phrase, silence; with "
        "Kokoro when its files are present (else espeak-ng), mixed with light noise.")
    e.add_argument("--phrase", default="computer", help="the phrase to speak")
    e.add_argument("--out", type=Path, required=True, help="WAV file to write")
    e.add_argument("--voice", default=None, help="voice name (default: am_michael / en-us)")
    e.add_argument("--seed", type=int, default=0, help="seed of the added noise")
    e.set_defaults(handler=_example)


def synthesize_example(phrase: str, *, voice: str | None = None, seed: int = 0) -> tuple[np.ndarray, tuple[float, float]]:
    """``(audio, (start_s, end_s) of the phrase)`` for a short demo scene at 16 kHz."""
    from wakeword.data.tts import EspeakSynthesizer, KokoroSynthesizer

    try:
        synth = KokoroSynthesizer()
        voice = voice or "am_michael"
    except DataError:
        synth = EspeakSynthesizer()  # type: ignore[assignment]
        voice = voice or "en-us"
    rng = np.random.default_rng(seed)
    sr = 16000
    lead = synth.synthesize("Let me see, what was that.", voice=voice)
    word = synth.synthesize(phrase, voice=voice)
    tail = synth.synthesize("What time is it?", voice=voice)

    def gap(seconds: float) -> np.ndarray:
        return np.zeros(int(seconds * sr), np.float32)

    parts = [gap(0.8), lead, gap(0.8)]
    start = sum(len(p) for p in parts) / sr
    parts += [word]
    end = sum(len(p) for p in parts) / sr
    parts += [gap(1.2), tail, gap(1.0)]
    audio = np.concatenate(parts).astype(np.float32)
    audio = 0.5 * audio / max(1e-6, float(np.abs(audio).max()))
    audio += rng.normal(0, 0.003, audio.shape).astype(np.float32)
    return audio, (start, end)


def _example(args: argparse.Namespace) -> int:
    from wakeword.data.audio_io import save_wav

    audio, (start, end) = synthesize_example(args.phrase, voice=args.voice, seed=args.seed)
    save_wav(args.out, audio)
    args.out.with_suffix(".json").write_text(json.dumps(
        {"phrase": args.phrase, "keyword_start_s": round(start, 3), "keyword_end_s": round(end, 3),
         "duration_s": round(len(audio) / 16000, 3), "made_by": "wakeword example"}, indent=2))
    print(f"wrote {args.out} ({len(audio) / 16000:.1f} s); '{args.phrase}' at {start:.2f}-{end:.2f} s")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from device_runtime import Detector, load_manifest
    from device_runtime.detector import resolve_model

    model_dir: Path = resolve_model(args.model)
    manifest = load_manifest(model_dir)
    audio_path = args.audio or model_dir / "example.wav"
    if not audio_path.is_file():
        raise DataError(f"{audio_path}: no example clip; pass --audio FILE or make one with "
                        f"`wakeword example --phrase {manifest.keywords[0]!r} --out {audio_path}`")
    meta_path = audio_path.with_suffix(".json")
    span = None
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        span = (meta["keyword_start_s"], meta["keyword_end_s"])
    print(f"model     {model_dir}  keywords {list(manifest.keywords)}  "
          f"chunk {manifest.chunk_ms:.0f} ms  kernels {manifest.provenance.get('kernel_fingerprint', '')[:12]}")
    if DEFAULT_KERNEL_BANK.is_file():
        print(f"kernels   {DEFAULT_KERNEL_BANK.relative_to(MODELS_DIR.parent).as_posix()} "
              "(FlyWire auditory connectome, CC BY 4.0)")
    print(f"audio     {audio_path}" + (f"  ('{manifest.keywords[0]}' spoken at "
                                      f"{span[0]:.2f}-{span[1]:.2f} s)" if span else ""))
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    traces = {}
    from device_runtime.backends import PIP_PACKAGE, available_formats

    installed = available_formats()
    for backend in ("onnx", "tflite"):
        if backend not in manifest.graphs:
            continue
        if backend not in installed:
            print(f"{backend:<9} skipped: {PIP_PACKAGE[backend]} is not installed")
            continue
        with Detector(model_dir, backend=backend) as det:
            found = det.process_file(audio_path)
            traces[backend] = det.scores
        results[backend] = [
            {"keyword": d.keyword, "time_s": round(d.time_s, 3), "score": round(d.score, 4)}
            for d in found]
        shown = ", ".join(f"'{d.keyword}' at {d.time_s:.2f} s (score {d.score:.2f})"
                          for d in found) or "no detection"
        trace = traces[backend]
        kw_scores = np.nan_to_num(trace.smoothed[:, 1])
        peak = int(np.argmax(kw_scores)) if len(kw_scores) else 0
        peak_text = (f"; peak '{manifest.keywords[0]}' score {kw_scores[peak]:.2f} at "
                     f"{trace.times_s[peak]:.2f} s, threshold {manifest.threshold(manifest.keywords[0]):.2f}"
                     if len(kw_scores) else "")
        print(f"{backend:<9} {shown}{peak_text}")
    if len(traces) == 2:
        a, b = (np.nan_to_num(t.raw) for t in traces.values())
        n = min(len(a), len(b))
        print(f"parity    max |onnx - tflite| score difference {np.abs(a[:n] - b[:n]).max():.2e}")
    (args.out / "detections.json").write_text(json.dumps(results, indent=2))
    if not traces:
        raise DataError(f"{model_dir}: no interpreter for its graphs is installed; "
                        "pip install 'wakeword[onnx]' or 'wakeword[litert]'")
    first = next(iter(traces.values()))
    keyword = manifest.keywords[0]
    scores = np.nan_to_num(first.smoothed[:, 1])
    try:
        from wakeword.eval.plots import plot_score_trace

        png = plot_score_trace(scores, args.out / "score_trace.png",
                               step_s=manifest.chunk_ms / 1000,
                               threshold=manifest.threshold(keyword),
                               refractory_s=manifest.refractory_s,
                               keyword_span_s=span, title=f"'{keyword}' score, {audio_path.name}")
    except (ModuleNotFoundError, MissingExtraError):
        print(f"plot      skipped: drawing {args.out / 'score_trace.png'} needs matplotlib "
              "(pip install matplotlib, or the 'train' extra)")
    else:
        print(f"plot      {png}")
    return 0
