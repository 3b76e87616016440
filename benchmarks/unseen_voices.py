"""Does a model hear the word or its training voices? Peak scores on voices it never heard.

The phrase is spoken by Kokoro voices of two groups: some of the 28 English voices the data
engine trains on, and the 13 voice-bank entries it never uses (:data:`benchmarks.common.
HELD_OUT_KOKORO_VOICES`, non-English voices speaking English). Each clip is trimmed to the
spoken phrase (30 dB below its peak), placed after 1.5 s of faint noise, brought to a peak of
0.3 and scored from a fresh state; the highest keyword probability is its peak. A model that
learned the word scores both groups alike; one that learned its voices does not.

    python -m benchmarks.unseen_voices runs/computer/best.pt [more checkpoints or model folders]

Writes ``results/unseen_voices_<phrase>.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as `python benchmarks/unseen_voices.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common

TRAINING_VOICES = ("af_heart", "am_michael", "bf_emma", "bm_george", "af_bella", "am_adam")


def synthesise(phrase: str, voices: tuple[str, ...], per_voice: int, seed: int) -> list[Any]:
    import kokoro_onnx
    import onnxruntime as ort

    from wakeword.data.audio_io import resample
    from wakeword.data.tts import resolve_kokoro_dir

    kokoro_dir = resolve_kokoro_dir()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(kokoro_dir / "kokoro-v1.0.int8.onnx"),
                                   sess_options=options, providers=["CPUExecutionProvider"])
    engine = kokoro_onnx.Kokoro.from_session(session, str(kokoro_dir / "voices-v1.0.bin"))
    rng = np.random.default_rng(seed)
    clips = []
    for voice in voices:
        for _ in range(per_voice):
            audio, rate = engine.create(phrase, voice=engine.get_voice_style(voice),
                                        speed=float(rng.uniform(0.9, 1.1)), lang="en-us")
            clips.append(resample(np.asarray(audio, np.float32).ravel(), int(rate),
                                  common.SAMPLE_RATE_HZ))
    return clips


def scene(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from wakeword.data.engine import phrase_bounds

    start, end = phrase_bounds(audio, range_db=30.0)
    core = audio[max(0, start - 1600): end + 3200]
    lead = int(1.5 * common.SAMPLE_RATE_HZ)
    out = rng.standard_normal(lead + core.size + 8000).astype(np.float32) * 0.003
    out[lead: lead + core.size] += core
    return (out / max(1e-6, float(np.abs(out).max())) * 0.3).astype(np.float32)


def peaks(path: Path, scenes: list[np.ndarray]) -> np.ndarray:
    from wakeword.eval.evaluate import keyword_scores
    from wakeword.eval.scorer import load_scorer

    scorer = load_scorer(path)
    out = np.array([float(np.max(keyword_scores(scorer, a, 1, f"clip {i}")))
                    for i, a in enumerate(scenes)])
    if hasattr(scorer, "close"):
        scorer.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.unseen_voices", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", type=Path, help="checkpoints (*.pt) or model folders")
    p.add_argument("--phrase", default="computer")
    p.add_argument("--per-voice", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", type=Path, default=common.RESULTS_DIR)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    common.setup_logging(args.verbose)
    rng = np.random.default_rng([args.seed, 7])
    groups = {"training voices": TRAINING_VOICES, "unseen voices": common.HELD_OUT_KOKORO_VOICES}
    scenes = {name: [scene(a, rng) for a in synthesise(args.phrase, voices, args.per_voice,
                                                        args.seed)]
              for name, voices in groups.items()}
    result: dict[str, Any] = {
        "benchmark": "unseen_voices", "phrase": args.phrase,
        "command": "python -m benchmarks.unseen_voices " + " ".join(
            argv if argv is not None else sys.argv[1:]),
        "machine": common.machine_info(),
        "voices": {k: list(v) for k, v in groups.items()}, "per_voice": args.per_voice,
        "models": {}}
    print(f"{'model':<48}{'group':<18}{'median peak':>12}{'share > 0.5':>13}")
    for path in args.models:
        entry = {}
        for name, clips in scenes.items():
            values = peaks(path, clips)
            entry[name] = {"median_peak": float(np.median(values)),
                           "share_above_0.5": float(np.mean(values > 0.5)), "n": int(values.size),
                           "peaks": [round(float(v), 4) for v in values]}
            print(f"{str(path)[-47:]:<48}{name:<18}{entry[name]['median_peak']:12.3f}"
                  f"{entry[name]['share_above_0.5']:13.2f}")
        result["models"][str(path)] = entry
    out = common.write_json(args.out_dir / f"unseen_voices_{args.phrase.replace(' ', '_')}.json",
                            result)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
