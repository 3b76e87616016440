"""Ship a trained checkpoint as a model folder under models/: export, example clip, model card.

    python -m benchmarks.ship_model runs/computer/best.pt --name computer [--accuracy JSON]

Steps: `wakeword export` (ONNX + TFLite + training-step graphs, parity-checked) into
models/NAME, `wakeword example` (a scene the project synthesises itself) into
models/NAME/example.wav, then CARD.md from the manifest, the run's run.json and, when given, the
accuracy benchmark's JSON (measured figures with the command that produced them).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ATTRIBUTION = """\
- **FlyWire connectome** (kernels): FlyWire Consortium, FAFB v783; Dorkenwald et al. 2024,
  *Nature*, doi:10.1038/s41586-024-07558-y; Schlegel et al. 2024, *Nature*,
  doi:10.1038/s41586-024-07686-5; auditory identities after Baker et al. 2022, *Curr. Biol.*,
  doi:10.1016/j.cub.2022.06.019. Licence CC BY 4.0. Modification: only kernels derived by
  `wakeword kernels` are included (see models/kernels/CARD.md), no connectome data.
- **Kokoro-82M** voices (part of the synthetic training speech): Apache-2.0.
- **espeak-ng** voices (synthetic training speech): GPL-3.0 program, used as a tool; its output
  audio is not redistributed except inside this card's example clip.
- **Noise** for augmentation: Google Speech Commands `_background_noise_`, CC BY 4.0 (used at
  training time from ../shared, not redistributed).
- **Recorded speech negatives** (training and threshold calibration, not redistributed): Debian
  `klettres-data` (KDE KLettres spoken letters and syllables, GPL-2+) and `hedgewars-data`
  (Hedgewars voice lines, GFDL-1.3).
- **Python documentation text** (threshold calibration only, not redistributed): sentences of
  CPython's `pydoc_data.topics` (PSF License), read by espeak-ng."""


def run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO)


def card(name: str, model_dir: Path, run_json: dict, accuracy: dict | None,
         accuracy_cmd: str | None) -> str:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    parity = json.loads((model_dir / "parity.json").read_text()) if (model_dir / "parity.json").is_file() else {}
    kw = manifest["keywords"][0]
    model = run_json.get("model", {})
    lines = [
        f"# {name}: wake phrase \"{kw}\"",
        "",
        "## Intended use",
        f"Detect the phrase \"{kw}\" in 16 kHz mono audio on a device (ONNX Runtime or LiteRT), "
        "for hobby and research use. Not validated for safety-critical or accessibility use. "
        "Trained from synthetic speech only: expect more misses on accents and recording "
        "conditions unlike the synthetic voices; personalise with `wakeword enroll`.",
        "",
        "## Model",
        f"- Architecture: FIG. 4B recurrent network ({manifest['network'].get('architecture')}), "
        f"{manifest['network'].get('channels')} bio-conv channels, window "
        f"{manifest['network'].get('window_frames')} Mel frames, step {manifest['chunk_samples'] / 16:.0f} ms.",
        f"- {model.get('trained_parameters', '?')} trained parameters; "
        f"{model.get('frozen_parameters', '?')} frozen connectome kernel taps "
        "(baked into the graphs as constants).",
        f"- Network {model.get('network_macs_per_second', 0) / 1e3:.0f} k multiply-accumulates per "
        f"second of audio (log-Mel front end {model.get('frontend_macs_per_second', 0) / 1e6:.1f} M).",
        f"- Kernel provenance: bank fingerprint `{manifest['provenance'].get('kernel_fingerprint')}` "
        "= models/kernels/flywire_auditory.npz (`wakeword kernels` reproduces it).",
        f"- Shipped threshold {manifest['thresholds'].get(kw, 0.5):.3f}, smoothing "
        f"{manifest['smoothing_steps']} step(s), refractory {manifest['refractory_s']} s. "
        + (_calibration_line(manifest['provenance']['calibration'])
           if 'calibration' in manifest.get('provenance', {}) else
           _held_out_line(run_json) if run_json.get("kinds", {}).get("held_out") else
           "Threshold: 99th percentile of synthetic validation negatives."),
        "- Export parity vs PyTorch (max |score difference| over a multi-second stream): "
        + ", ".join(f"{k} {v['max_abs_diff']:.1e} over {v['steps']} steps"
                    for k, v in parity.get("stream", {}).items()) if parity
        else "- Export parity: see parity.json",
        "",
        "## Training data (synthetic)",
        *(_engine_lines(run_json) if "n_positives" in run_json.get("data", {}) else [
        f"- Recipe (DataConfig): phrase \"{kw}\"; clip counts {run_json.get('kinds')}; "
        f"{run_json.get('n_train')} training / {run_json.get('n_val')} validation clips.",
        "- Positives: Kokoro voices (blended) and espeak-ng voices with varied speed and pitch, "
        "placed near the end of 2 s clips; negatives: near-miss phrases and parts of the phrase, "
        "random synthetic speech, "
        + (f"{run_json['kinds']['recorded_speech']} real recordings of the training speakers of "
           "klettres-data and hedgewars-data, " if run_json.get("kinds", {}).get("recorded_speech")
           else "")
        + "noise and silence; augmentation: recorded and coloured noise (0-25 dB "
        "SNR), simulated room reverb, gain, shift. No recording of the phrase itself.",
        f"- Data took {run_json.get('data_seconds', 0):.0f} s to build (partly cached), training "
        f"{run_json.get('train_seconds', 0):.0f} s (best epoch {run_json.get('best_epoch')})."]),
        "",
        "## Measured figures",
    ]
    if accuracy:
        lines.append(f"Command: `{accuracy_cmd}`")
        lines.append("")
        lines.append("Real recordings (positives padded 1 s, 10 dB SNR noise) against "
                     f"{accuracy['systems'][0]['negative_hours']:.2f} h of negatives "
                     "(other keywords' real recordings, synthetic speech, recorded prompts, "
                     "noise); see benchmarks/RESULTS.md for the definitions.")
        lines.append("")
        lines.append("| system | positives | FRR @ 1 FA/h (threshold) | FRR @ 0.5 FA/h (threshold) "
                     "| at the shipped threshold: FRR, FA/h |")
        lines.append("|---|---|---|---|---|")
        recomputed = False
        for system in accuracy["systems"]:
            if system["label"].startswith(f"wakeword {name} "):
                system = _at_current_threshold(system, accuracy, manifest["thresholds"].get(kw))
                recomputed |= bool(system.get("shipped_threshold", {}).get("recomputed"))
            lines.append(_accuracy_row(system))
        lines.append("")
        if recomputed:
            lines.append("The last column is at the threshold shipped now, which was calibrated "
                         "after that run: recomputed from the run's raw scores "
                         "(benchmarks/out/scores), which do not depend on the threshold.")
            lines.append("")
        lines.append("Your own data: `wakeword eval models/" + name + " --positives DIR "
                     "--negatives DIR --out eval/` (DET curve, FRR at 1 and 0.5 FA/h).")
    else:
        lines.append("See benchmarks/RESULTS.md (accuracy on real recordings; regenerate with "
                     "`python -m benchmarks.accuracy`). Single-model evaluation: "
                     f"`wakeword eval models/{name} --positives DIR --negatives DIR --out eval/`.")
    if run_json.get("reproduce"):
        lines += ["", "## Reproduce", "```", run_json["reproduce"], "```"]
    if run_json.get("card_notes"):
        lines += ["", "## Provenance notes", *[f"- {note}" for note in run_json["card_notes"]]]
    lines += ["", "## Attribution", ATTRIBUTION, ""]
    return "\n".join(lines)


def _held_out_line(run_json: dict) -> str:
    held = run_json["kinds"]["held_out"]
    val = run_json.get("val", {})
    return (f"Threshold and checkpoint chosen on held-out data only (the data engine's val split: "
            f"{held['stream_hours']:.2f} h of running speech of held-out speakers and syntheses, "
            f"as recorded and with noise, and {held['positives']} held-out synthetic positives): "
            f"the lowest threshold with at most {val.get('target_fa_per_hour', '?')} false "
            f"accepts per hour there ({val.get('fa_per_hour', 0):.2f} FA/h, held-out recall "
            f"{100 * val.get('recall', 0):.1f} %).")


def _engine_lines(run_json: dict) -> list[str]:
    stats = run_json.get("data_stats", {})
    kinds = run_json.get("kinds", {})
    neg = stats.get("negative_hours_by_source", {})
    real = sum(v for k, v in neg.items() if k == "real_speech")
    return [
        (f"- Data engine build (`wakeword data build`): {stats.get('positives')} synthetic "
         f"positives ({100 * stats.get('positives_kokoro_share', 0):.0f} % Kokoro, "
         f"{stats.get('kokoro_voices_distinct')} distinct Kokoro voices and blends; the rest "
         f"espeak-ng), {stats.get('near_miss_clips')} near misses, "
         f"{stats.get('negative_hours', 0):.1f} h of negatives of which {real:.1f} h recorded "
         f"speech of {stats.get('real_speech_speakers')} speakers; 15 % of speakers and 5 % of "
         "syntheses held out. No recording of the phrase itself."),
        (f"- Step recipe: {run_json.get('epochs_run')} steps of 128 clips from a feature bank "
         f"of {kinds.get('bank_clips')} augmented renderings (rooms, noise and speech "
         "backgrounds at -5..20 dB SNR, level, speed, SpecAugment); labels at the keyword's "
         f"end; best step {run_json.get('best_epoch')}."),
        (f"- Data took {run_json.get('data_seconds', 0):.0f} s (from the cache), training "
         f"{run_json.get('train_seconds', 0):.0f} s on 2 cores."),
    ]


def _at_current_threshold(system: dict, accuracy: dict, threshold: float | None) -> dict:
    """``system`` with its shipped-threshold point moved to ``threshold`` (the manifest's now),
    recomputed from the accuracy run's raw scores when the run used another threshold."""
    import numpy as np

    from wakeword.eval.metrics import count_false_accepts

    shipped = system.get("shipped_threshold")
    if threshold is None or (shipped and abs(shipped["threshold"] - threshold) < 1e-9):
        return system
    from benchmarks.accuracy import raw_scores_path

    raw = raw_scores_path(accuracy["keyword"], system["label"], quick=accuracy["settings"]["quick"])
    if not raw.is_file():
        print(f"warning: {raw} is missing; the card's shipped-threshold column is left out")
        return {**system, "shipped_threshold": None}
    with np.load(raw) as data:
        pos_max = data["pos_max"]
        step_s = float(data["step_s"])
        neg = [data[k] for k in sorted((k for k in data.files if k.startswith("neg_")),
                                       key=lambda k: int(k[4:]))]
    refractory_s = accuracy["settings"]["refractory_s"]
    fa = sum(count_false_accepts(s, threshold, step_s, refractory_s) for s in neg)
    return {**system, "shipped_threshold": {
        "threshold": threshold, "false_reject_rate": float(np.mean(pos_max < threshold)),
        "false_accepts_per_hour": fa / system["negative_hours"], "recomputed": True}}


def _accuracy_row(system: dict) -> str:
    def point(target: str) -> str:
        op = system["operating_points"].get(target, {})
        if not op or op.get("threshold") is None:
            return "not reached"
        return f"{100 * op['false_reject_rate']:.1f}% ({op['threshold']:.3f})"

    shipped = system.get("shipped_threshold") or {}
    at_shipped = (f"{shipped['threshold']:.3f}: {100 * shipped['false_reject_rate']:.1f}%, "
                  f"{shipped['false_accepts_per_hour']:.2f}" if shipped else "-")
    return (f"| {system['label']} | {system['n_positives']} | {point('1')} | {point('0.5')} "
            f"| {at_shipped} |")


def _calibration_stream(n_validation: int, prose_minutes: float) -> str:
    prose = (f", {prose_minutes:g} min of running espeak-ng prose (Python's reference "
             "documentation, wakeword.data.prose_speech)" if prose_minutes else "")
    return ("held-out speakers of the recorded-speech packages" + prose
            + (f" and {n_validation} validation speech and noise clips" if n_validation
               else ""))


def _calibration_line(record: dict) -> str:
    what = record.get("description") or ("held-out speakers of the recorded-speech packages "
                                         "and the validation speech and noise clips")
    return (f"Calibrated by `python -m device_runtime calibrate` on {record['hours'] * 60:.0f} min "
            f"of negatives ({what}): {record['false_accepts']} false accept(s) "
            f"there, target {record['target_fa_per_hour']:g}/h.")


def validation_clips(checkpoint: Path):
    """The validation split of the checkpoint's own (cached) training data."""
    from wakeword.data.dataset import DataConfig, build_dataset
    from wakeword.train.checkpoint import load_checkpoint

    payload = load_checkpoint(checkpoint)
    if "n_positives" in payload["data"]:  # the data engine (held-out speakers and syntheses)
        return engine_validation_clips(payload["data"])
    clips = build_dataset(DataConfig.from_dict(payload["data"]), REPO / ".cache" / "wakeword")
    return clips.split(payload["train"]["val_fraction"], payload["train"]["seed"])[1]


def engine_validation_clips(data_dict: dict):
    """The data engine's held-out (val) clips as rendered for validation, with their kinds."""
    import types

    import numpy as np

    from wakeword.data.augment import RirBank
    from wakeword.data.engine import BuildConfig, build
    from wakeword.data.serve import AugmentConfig, ClipServer

    data_dict = dict(data_dict)
    augment = AugmentConfig(**{k: tuple(v) if isinstance(v, list) else v
                               for k, v in data_dict.pop("augment", {}).items()})
    config = BuildConfig.from_dict(data_dict)
    data = build(config, None, cached_only=True)
    rirs = RirBank(seed=config.seed, n_rooms=48, cache_dir=data.cache_dir)
    server = ClipServer(data, augment, split="val", seed=config.seed + 7919, rir_bank=rirs)
    audio, labels, _ = server.fixed_set()
    kinds, _items = server.plan(2**31 - 1)
    names = np.array(["positive", "near_miss", "speech", "noise"])[kinds]
    return types.SimpleNamespace(audio=audio, labels=labels, kinds=names)


def write_speech_negatives(model_dir: Path, val, n: int = 24, seed: int = 0) -> Path:
    """``negatives.npz``: speech and near-miss clips of the model's own validation data ``val``.

    On-device enrolment validates against them, so a fine-tune that starts firing on speech is
    rejected (noise-only validation let such models through: see benchmarks/RESULTS.md).
    """
    import numpy as np

    kinds = np.asarray(val.kinds)
    pick = np.flatnonzero(np.isin(kinds, ["speech", "near_miss"]))
    pick = np.random.default_rng(seed).permutation(pick)[:n]
    path = model_dir / "negatives.npz"
    np.savez_compressed(path, audio=np.asarray(val.audio[pick], dtype=np.float32))
    return path


PROSE_MINUTES = 30.0


FA_PER_HOUR = 2.0


def calibrate_threshold(model_dir: Path, val, fa_per_hour: float = FA_PER_HOUR,
                        prose_minutes: float = PROSE_MINUTES) -> dict:
    """Set the shipped threshold on negatives the model never trained on.

    The stream: the held-out speakers of the recorded-speech packages (the ``calibration``
    split of :mod:`wakeword.data.recorded_speech`), ``prose_minutes`` of running espeak-ng
    prose (:mod:`wakeword.data.prose_speech`: long continuous speech, which is what fires on
    real streams and what short clips lack) and the model's own validation negatives ``val``
    other than near misses.
    Under ``1 / fa_per_hour`` hours of audio this means no false accept at all on it.
    """
    import numpy as np

    from device_runtime.calibrate import calibrate
    from wakeword.data.prose_speech import prose_streams
    from wakeword.data.recorded_speech import recorded_speech_folders

    manifest = json.loads((model_dir / "manifest.json").read_text())
    # near misses are left out: 35 % of the negatives are adversarial rhymes and parts of the
    # phrase, far more than any real stream holds, and they would set the threshold for them alone
    negatives = []
    if val is not None:
        keep = (np.asarray(val.labels) == 0) & (np.asarray(val.kinds) != "near_miss")
        negatives = [np.asarray(a, np.float32) for a in val.audio[keep]]
    prose = (prose_streams(prose_minutes, exclude=manifest["keywords"],
                           cache_dir=REPO / ".cache" / "wakeword") if prose_minutes else [])
    result = calibrate(model_dir, recorded_speech_folders("calibration"),
                       audio=negatives + prose, fa_per_hour=fa_per_hour, min_threshold=0.5,
                       backend="onnx", description=_calibration_stream(len(negatives),
                                                                       prose_minutes))
    print(result.summary)
    return {"threshold": result.threshold, "hours": result.hours,
            "false_accepts": result.false_accepts, "target_fa_per_hour": fa_per_hour,
            "validation_negatives": len(negatives), "prose_minutes": prose_minutes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, nargs="?", default=None,
                        help="the run's best.pt (needed unless --calibrate-only "
                        "--no-validation-clips --keep-card)")
    parser.add_argument("--name", required=True)
    parser.add_argument("--phrase", default=None)
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--voice", default=None, help="voice for the example clip")
    parser.add_argument("--accuracy", type=Path, default=None,
                        help="benchmarks/results/accuracy_<keyword>.json: put its figures in "
                        "the card")
    parser.add_argument("--card-only", action="store_true",
                        help="only rewrite CARD.md (no export, calibration or example)")
    parser.add_argument("--no-calibrate", action="store_true",
                        help="keep the checkpoint's threshold instead of calibrating it")
    parser.add_argument("--no-negatives", action="store_true",
                        help="do not write negatives.npz (speech clips for enrolment validation)")
    parser.add_argument("--prose-minutes", type=float, default=PROSE_MINUTES,
                        help="minutes of running espeak-ng prose in the calibration stream "
                        f"(default {PROSE_MINUTES:g}; 0: none)")
    parser.add_argument("--fa-per-hour", type=float, default=FA_PER_HOUR,
                        help="calibration target: false accepts per hour of the calibration "
                        f"stream (default {FA_PER_HOUR:g}, mostly running speech)")
    parser.add_argument("--calibrate-only", action="store_true",
                        help="only recalibrate the threshold of models/NAME and rewrite CARD.md")
    parser.add_argument("--no-validation-clips", action="store_true",
                        help="calibrate without the checkpoint's validation clips (when the "
                        "run that trained the model is gone)")
    parser.add_argument("--keep-card", action="store_true",
                        help="do not rewrite CARD.md")
    parser.add_argument("--models-root", type=Path, default=REPO / "models",
                        help="folder holding the model folders (default models/)")
    args = parser.parse_args(argv)
    model_dir = args.models_root / args.name
    if args.calibrate_only:
        args.skip_export = args.no_negatives = True
    if args.checkpoint is None and not (args.calibrate_only and args.no_validation_clips
                                        and args.keep_card):
        parser.error("give the checkpoint (only --calibrate-only --no-validation-clips "
                     "--keep-card works without one)")
    exe = str(Path(sys.executable).parent / "wakeword")
    if args.card_only:
        args.skip_export = args.no_calibrate = args.no_negatives = True
    if not args.skip_export:
        run([exe, "--no-progress", "export", str(args.checkpoint), "--out", str(model_dir), "--force"])
    val = None
    if not (args.no_calibrate and args.no_negatives) and not args.no_validation_clips:
        val = validation_clips(args.checkpoint)  # built once, for both
    if not args.no_calibrate:
        calibrate_threshold(model_dir, val, fa_per_hour=args.fa_per_hour,
                            prose_minutes=args.prose_minutes)
    manifest = json.loads((model_dir / "manifest.json").read_text())
    phrase = args.phrase or manifest["keywords"][0]
    if not (model_dir / "example.wav").is_file() and not args.card_only:
        cmd = [exe, "example", "--phrase", phrase, "--out", str(model_dir / "example.wav")]
        if args.voice:
            cmd += ["--voice", args.voice]
        run(cmd)
    if not args.no_negatives:
        print(f"wrote {write_speech_negatives(model_dir, val)}")
    if args.keep_card:
        return 0
    run_json_path = args.checkpoint.parent / "run.json"
    run_json = json.loads(run_json_path.read_text()) if run_json_path.is_file() else {}
    accuracy = json.loads(args.accuracy.read_text()) if args.accuracy else None
    (model_dir / "CARD.md").write_text(card(args.name, model_dir, run_json, accuracy,
                                            accuracy.get("command") if accuracy else None))
    print(f"wrote {model_dir / 'CARD.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
