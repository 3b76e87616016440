"""Issue 4's performance record: time to synthesise the default data for "computer", time to
train it, and the model's figures on real speech.

Two modes:

- ``--mode full``: a FRESH cache folder (``--cache-dir``, which must not exist; default a new
  temporary folder, deleted afterwards unless ``--keep-cache``), ``build_dataset`` timed
  (text-to-speech, rendering, augmentation), then ``Trainer.fit`` with the default
  ``TrainConfig`` (``--epochs`` to override) on ``--threads`` torch threads, then the
  evaluation. About 20+ min of CPU on a 2-core machine.
- ``--mode record``: no training; the timings of an existing ``wakeword train`` run
  (``--run-dir``, default ``runs/computer``: ``run.json``'s ``data_seconds`` and
  ``train_seconds``) are recorded as they are, and its ``best.pt`` is evaluated. Beware: that
  run's data time is only what its synthesis cache did not hold (the run log says how many
  clips were synthesised then). ``--estimate-fraction F`` (default 0.1) additionally builds
  a scaled-down dataset (``F`` x the clip counts and Kokoro clips) in a fresh cache and
  times it, so ``time / F`` estimates a fresh synthesis (an overestimate of the fixed costs,
  e.g. the room impulse responses, which do not scale).

Evaluation (both modes, :mod:`benchmarks.common`): positives are the real recordings of
../shared/data/keywords/computer padded 1 s and mixed at 10 dB SNR; negatives are the benchmark
set for "computer" (other keywords' recordings, synthetic speech, recorded prompts, noise; all
of it, or ``--negative-hours``); FRR at 1 and 0.5 FA/h with thresholds.

Writes ``benchmarks/results/train_time.json`` (``--out``) and prints a table.

    python -m benchmarks.train_time --mode record --negative-hours 0.2     # quick
    nice -n 5 python -m benchmarks.train_time --mode full --threads 2       # a free machine
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python benchmarks/train_time.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common

log = logging.getLogger("benchmarks.train_time")

KEYWORD = "computer"
TARGET_S = 20 * 60  # issue 4: synthesis plus training under 20 minutes


def _timed(fn: Any, *a: Any, **kw: Any) -> tuple[Any, float, float]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - wall0, time.process_time() - cpu0


def estimate_synthesis(fraction: float, seed: int, work: Path) -> dict[str, Any]:
    """Build ``fraction`` of the default dataset in a fresh cache and time it."""
    from wakeword.data import recorded_speech
    from wakeword.data.dataset import DataConfig, build_dataset

    base = DataConfig(phrase=KEYWORD, seed=seed, recorded_speech=recorded_speech.available())
    small = DataConfig(phrase=KEYWORD, seed=seed, recorded_speech=base.recorded_speech,
                       n_positives=max(1, round(base.n_positives * fraction)),
                       n_negatives=max(1, round(base.n_negatives * fraction)),
                       max_kokoro_clips=round(base.max_kokoro_clips * fraction))
    cache = work / "estimate_cache"
    clips, wall_s, cpu_s = _timed(build_dataset, small, cache)
    return {"fraction": fraction, "clips": len(clips), "kinds": clips.counts(),
            "wall_s": wall_s, "cpu_s": cpu_s,
            "estimated_full_wall_s": wall_s / fraction, "estimated_full_cpu_s": cpu_s / fraction,
            "note": "a scaled-down fresh build; the fixed costs (room impulse responses, "
            "synthesizer start-up) are scaled up too, so this overestimates them"}


def run_full(args: argparse.Namespace, work: Path) -> tuple[dict[str, Any], Path]:
    from wakeword.data import recorded_speech
    from wakeword.data.dataset import DataConfig, build_dataset
    from wakeword.features.mel import FrontendConfig
    from wakeword.kernels.bank import load_default_bank
    from wakeword.model.config import NetworkConfig
    from wakeword.model.wakeword_model import WakeWordModel
    from wakeword.train.checkpoint import KernelSource
    from wakeword.train.trainer import TrainConfig, Trainer

    cache = args.cache_dir or (work / "cache")
    if cache.exists():
        raise SystemExit(f"--cache-dir {cache} exists; --mode full needs a fresh folder")
    data_config = DataConfig(phrase=KEYWORD, seed=args.seed,
                             recorded_speech=recorded_speech.available())
    train_kw: dict[str, Any] = {"seed": args.seed}
    if args.epochs is not None:
        train_kw["epochs"] = args.epochs
    train_config = TrainConfig(**train_kw)
    clips, data_wall, data_cpu = _timed(build_dataset, data_config, cache)
    train_set, val_set = clips.split(train_config.val_fraction, train_config.seed)
    bank = load_default_bank()
    kernels = KernelSource.from_bank(bank)
    model = WakeWordModel(FrontendConfig(), NetworkConfig(keywords=(KEYWORD,)), kernels.kernels,
                          kernels.path)
    trainer = Trainer(model, kernels, train_config, data_config=data_config.to_dict())
    result, train_wall, train_cpu = _timed(trainer.fit, train_set.audio, train_set.labels,
                                           val_set.audio, val_set.labels, work / "run")
    if not args.keep_cache:
        shutil.rmtree(cache, ignore_errors=True)
    timings = {"mode": "full", "fresh_cache": True, "cache_dir": str(cache),
               "data_wall_s": data_wall, "data_cpu_s": data_cpu,
               "train_wall_s": train_wall, "train_cpu_s": train_cpu,
               "total_wall_s": data_wall + train_wall,
               "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
               "n_train": len(train_set), "n_val": len(val_set), "kinds": clips.counts(),
               "train_config": train_config.to_dict(), "data_config": data_config.to_dict(),
               "val": result.metrics.get("val", {})}
    return timings, result.best_checkpoint


def default_run_dir(model_dir: Path | None) -> Path:
    """The run folder that trained ``model_dir`` (its manifest's ``provenance.source`` is that
    run's ``best.pt``), or ``runs/computer`` without a model folder."""
    if model_dir is None:
        return common.REPO_ROOT / "runs" / KEYWORD
    manifest_path = model_dir / "manifest.json"
    try:
        source = json.loads(manifest_path.read_text())["provenance"]["source"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"{manifest_path}: cannot read provenance.source ({exc}); pass "
                         "--run-dir with the run that trained this model") from exc
    run_dir = Path(source).parent
    return run_dir if run_dir.is_absolute() else common.REPO_ROOT / run_dir


def run_record(args: argparse.Namespace, work: Path) -> tuple[dict[str, Any], Path]:
    from wakeword.train.checkpoint import load_checkpoint

    if args.run_dir is None:
        args.run_dir = default_run_dir(args.model_dir)
    run_json = args.run_dir / "run.json"
    best = args.run_dir / "best.pt"
    if not run_json.is_file() or not best.is_file():
        raise SystemExit(f"{args.run_dir}: needs run.json and best.pt from a finished "
                         "`wakeword train` run")
    report = json.loads(run_json.read_text())
    if args.model_dir is not None:  # the folder exported from that run's best.pt
        checkpoint = work / "model"
        shutil.copytree(args.model_dir, checkpoint)
        manifest = json.loads((checkpoint / "manifest.json").read_text())
        payload = {"train": None, "data": None}
        if not str(manifest.get("version", "")).endswith(f"+epoch{report.get('best_epoch')}"):
            raise SystemExit(f"--model-dir {args.model_dir}: manifest version "
                             f"{manifest.get('version')!r} does not name the run's best epoch "
                             f"{report.get('best_epoch')}; it was not exported from this run")
    else:
        if best.stat().st_mtime > run_json.stat().st_mtime + 5:
            raise SystemExit(f"{best} is newer than {run_json}: a new run is writing "
                             f"{args.run_dir}; wait for it, or pass --model-dir with the folder "
                             "exported from the run that wrote run.json")
        checkpoint = work / "best.pt"  # a copy: a new run may overwrite the folder meanwhile
        shutil.copy2(best, checkpoint)
        payload = load_checkpoint(checkpoint)
    log_path = args.run_dir.parent / f"{args.run_dir.name}.log"
    synth_line = None
    if log_path.is_file():
        for line in log_path.read_text(errors="replace").splitlines():
            if "synthesised now" in line:
                synth_line = line.split(":", 2)[-1].strip()
    timings = {"mode": "record", "fresh_cache": False, "run_dir": str(args.run_dir),
               "data_wall_s": report.get("data_seconds"),
               "train_wall_s": report.get("train_seconds"),
               "total_wall_s": (report.get("data_seconds") or 0) + (report.get("train_seconds")
                                                                  or 0),
               "epochs_run": report.get("epochs_run"), "best_epoch": report.get("best_epoch"),
               "n_train": report.get("n_train"), "n_val": report.get("n_val"),
               "kinds": report.get("kinds"), "train_config": payload.get("train"),
               "data_config": payload.get("data"), "val": report.get("val"),
               "run_log_dataset_line": synth_line,
               "caveat": "recorded from run.json: data_seconds is what that run spent on data "
               "with the synthesis cache it found (see run_log_dataset_line: clips taken from "
               "the cache were not synthesised then), so it is NOT a fresh-synthesis time; both "
               "figures are wall-clock seconds on a machine shared with other jobs"}
    if args.estimate_fraction > 0:
        log.info("timing a fresh build of %.0f %% of the dataset", 100 * args.estimate_fraction)
        timings["synthesis_estimate"] = estimate_synthesis(args.estimate_fraction, args.seed,
                                                           work)
    return timings, checkpoint


def evaluate_folder(model_dir: Path, positives: list[Any], negatives: Any,
                    args: argparse.Namespace) -> dict[str, Any]:
    """FRR at 1 and 0.5 FA/h of an exported folder on the runtime (``--backend``; scores
    after the manifest's smoothing, as in benchmarks/accuracy.py)."""
    from benchmarks.accuracy import _our_column, score_system
    from wakeword.eval.metrics import det_curve, operating_point
    from wakeword.eval.scorer import load_scorer

    scorer = load_scorer(model_dir, backend=args.backend)
    try:
        pos_max, neg, timing = score_system(scorer, _our_column(scorer, KEYWORD), positives,
                                            negatives, args.max_latency_s)
        step_s = float(scorer.step_s)
    finally:
        scorer.close()
    curve = det_curve(pos_max, neg, step_s, args.refractory_s, negatives.hours)
    points = {}
    for target in (1.0, 0.5):
        point = operating_point(curve, target)
        points[f"{target:g}"] = None if point is None else point.to_dict()
    return {"scorer": f"runtime ({args.backend}), smoothed scores", "operating_points": points,
            "scoring": {**timing, "cpu_s_per_audio_s": timing["cpu_s"] / timing["audio_s"]},
            "curve": {k: [float(f"{x:.6g}") for x in v] for k, v in curve.to_dict().items()}}


def print_table(results: dict[str, Any]) -> None:
    t, e = results["timings"], results["evaluation"]

    def sec(x: Any) -> str:
        return "n/a" if x is None else f"{x:,.0f} s ({x / 60:.1f} min)"

    print()
    print(f"mode                 {t['mode']} ({'fresh cache' if t['fresh_cache'] else 'recorded from ' + t.get('run_dir', '')})")
    cpu = t.get("data_cpu_s")
    print(f"data                 {sec(t['data_wall_s'])}"
          + ("" if cpu is None else f"  CPU {cpu:.0f} s"))
    if t.get("run_log_dataset_line"):
        print(f"  (that run: {t['run_log_dataset_line']})")
    est = t.get("synthesis_estimate")
    if est:
        print(f"fresh-synthesis est. {sec(est['estimated_full_wall_s'])} wall, "
              f"{est['estimated_full_cpu_s']:.0f} s CPU (from a {100 * est['fraction']:.0f} % "
              f"build: {est['wall_s']:.0f} s wall)")
    print(f"training             {sec(t['train_wall_s'])}  ({t['epochs_run']} epochs, best "
          f"{t['best_epoch']})")
    print(f"data + training      {sec(t['total_wall_s'])}  (target {TARGET_S // 60} min)")
    for target in ("1", "0.5"):
        p = e["operating_points"][target]
        print(f"FRR at {target:>3} FA/h       " + ("not reached" if p is None else
              f"{100 * p['false_reject_rate']:.1f}% (threshold {p['threshold']:.4g}, "
              f"{p['false_accepts_per_hour']:.2f} FA/h)"))
    print(f"evaluation           {results['positives']['n']} real positives, "
          f"{results['negatives']['hours']:.2f} h negatives")
    print(f"machine: {results['machine_line']}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.train_time", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=("full", "record"), default="full")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--epochs", type=int, default=None,
                   help="training epochs (default: TrainConfig's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="--mode full: a folder that does not exist yet (default: a temporary one)")
    p.add_argument("--keep-cache", action="store_true")
    p.add_argument("--run-dir", type=Path, default=None,
                   help="--mode record: the finished run to record (default: the run named by "
                   "--model-dir's manifest, provenance.source, else runs/computer)")
    p.add_argument("--model-dir", type=Path, default=None,
                   help="--mode record: evaluate this exported folder (made from the run's "
                   "best.pt) instead of best.pt, e.g. when a new run is overwriting it")
    p.add_argument("--backend", choices=("onnx", "tflite"), default="onnx",
                   help="runtime backend for --model-dir (default onnx)")
    p.add_argument("--estimate-fraction", type=float, default=0.1,
                   help="--mode record: time a fresh build of this share of the data (0: skip)")
    p.add_argument("--negative-hours", type=float, default=None,
                   help="hours of the benchmark negatives (default: all)")
    p.add_argument("--refractory-s", type=float, default=1.0)
    p.add_argument("--max-latency-s", type=float, default=0.5)
    p.add_argument("--out", type=Path, default=common.RESULTS_DIR / "train_time.json")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from benchmarks.connectome_ablation import evaluate_variant

    if not common.begin(args, "benchmarks/train_time.py", threads=args.threads):
        return 0
    started = time.perf_counter()
    machine = common.machine_info()
    work = Path(tempfile.mkdtemp(prefix="train_time_"))
    try:
        if args.mode == "full":
            timings, checkpoint = run_full(args, work)
        else:
            timings, checkpoint = run_record(args, work)
        positives = common.keyword_positives(KEYWORD, args.seed)
        negatives = common.negative_set(KEYWORD, common.NegativeOptions(seed=args.seed),
                                        max_hours=args.negative_hours)
        args.work_dir = work
        if checkpoint.is_dir():
            evaluation = evaluate_folder(checkpoint, positives, negatives, args)
            evaluation["model_dir"] = str(args.model_dir)
        else:
            evaluation = evaluate_variant("train_time", checkpoint, positives, negatives, args)
            evaluation.pop("_curve")
            evaluation.pop("checkpoint")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {
        "benchmark": "train_time",
        "command": "python -m benchmarks.train_time " + " ".join(
            argv if argv is not None else sys.argv[1:]),
        "machine": machine, "machine_line": common.machine_line(machine),
        "threads": args.threads, "cpu_count": os.cpu_count(),
        "target_s": TARGET_S, "timings": timings,
        "positives": {"source": f"shared/data/keywords/{KEYWORD}", "pad_s": 1.0, "snr_db": 10.0,
                      "n": len(positives)},
        "negatives": negatives.summary(),
        "evaluation": evaluation,
        "wall_s": time.perf_counter() - started,
    }
    path = common.write_json(args.out, results)
    print_table(results)
    print(f"wall time {results['wall_s']:.0f} s; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
