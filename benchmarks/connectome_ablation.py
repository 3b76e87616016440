"""The connectome question: does the FlyWire kernel bank help, on real speech?

Four variants of one recipe, trained on the SAME cached synthetic data for "computer"
(``DataConfig(phrase="computer")``, optionally a seeded ``--subset``), with the SAME
``TrainConfig`` (``--epochs``, ``--seed``) and evaluated on the SAME real-speech set:

- ``default``          FIG. 4B network, frozen FlyWire kernels (the shipped design);
- ``random-kernels``   same network, each FlyWire kernel's taps randomly permuted (same values,
                       norm and sparsity: "matched statistics", no connectome structure);
- ``trained-kernels``  same network, the kernels are trained parameters (initialised from the
                       bank);
- ``gru``              a conventional GRU of about the same trained-parameter count.

Evaluation (:mod:`benchmarks.common`): positives are ../shared/data/keywords/computer padded
1 s either side and mixed with noise at 10 dB SNR; negatives are the benchmark negative set for
"computer" (other keywords' recordings, synthetic speech, recorded prompts, noise), the whole
set or the first ``--negative-hours`` of it (every component shortened in proportion).
Reported per variant: trained / frozen parameters, MACs per second (network and front end,
``wakeword.model.summary.summarize``), training wall and CPU time, FRR at 1 and 0.5 false
accepts per hour with thresholds, and ``mean_frr_0.1_10``: the mean, over 21 log-spaced targets
from 0.1 to 10 FA/h, of the lowest FRR with at most that many false accepts per hour (a
partial area under the DET curve; lower is better).

Writes ``benchmarks/results/connectome_ablation.json`` and ``connectome_ablation_det.png``
(``--out-dir``); checkpoints go to ``--work-dir`` (default ``benchmarks/out/connectome_ablation``,
gitignored).

    python -m benchmarks.connectome_ablation --epochs 4 --subset 800 --negative-hours 0.1  # smoke
    nice -n 5 python -m benchmarks.connectome_ablation --threads 1                        # full
    nice -n 5 python -m benchmarks.connectome_ablation --reuse-default  # default from runs/computer
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as `python benchmarks/connectome_ablation.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common

log = logging.getLogger("benchmarks.connectome_ablation")

VARIANTS = ("default", "random-kernels", "trained-kernels", "gru")
TARGETS = (1.0, 0.5)
PAUC_RANGE = (0.1, 10.0)
KEYWORD = "computer"


def mean_frr(curve: Any, low: float = PAUC_RANGE[0], high: float = PAUC_RANGE[1],
             n: int = 21) -> float | None:
    """Mean over ``n`` log-spaced FA/h targets in [low, high] of the lowest FRR reaching each
    (FRR 1.0 where a target is not reached)."""
    from wakeword.eval.metrics import operating_point

    values = []
    for target in np.geomspace(low, high, n):
        point = operating_point(curve, float(target))
        values.append(1.0 if point is None else point.false_reject_rate)
    return float(np.mean(values))


def _select_subset(clips: Any, n: int | None, seed: int) -> Any:
    """A seeded subset of ``n`` clips with the kinds in their original proportions."""
    if n is None or n >= len(clips):
        return clips
    rng = np.random.default_rng([seed, 0xAB1A])
    keep: list[int] = []
    for kind in np.unique(clips.kinds):
        members = np.flatnonzero(clips.kinds == kind)
        take = max(1, round(n * members.size / len(clips)))
        keep += rng.permutation(members)[:take].tolist()
    return clips.subset(np.sort(np.array(keep)))


def _network_config(variant: str) -> Any:
    from wakeword.model.config import NetworkConfig
    from wakeword.model.summary import PRESETS

    net = dict(PRESETS[variant])
    net["keywords"] = [KEYWORD]
    return NetworkConfig.from_dict(net)


def _check_reusable(path: Path, data_config: Any, train_config: Any, *,
                    run_json: bool = True) -> dict[str, Any]:
    """The run report of a finished ``wakeword train`` run whose configs match ours, or
    SystemExit naming the first difference."""
    import json

    from wakeword.train.checkpoint import load_checkpoint

    payload = load_checkpoint(path)
    want = {"train": train_config.to_dict(), "data": data_config.to_dict(),
            "network": _network_config("default").to_dict()}
    for key, value in want.items():
        have = payload[key]
        norm = json.loads(json.dumps(value))  # tuples -> lists, as stored
        if have != norm:
            diff = sorted(k for k in set(norm) | set(have) if norm.get(k) != have.get(k))
            raise SystemExit(f"--reuse-default: {path} has a different {key} config (fields "
                             f"{diff}: {[have.get(k) for k in diff]} vs ours "
                             f"{[norm.get(k) for k in diff]}); train it again without "
                             "--reuse-default")
    if not run_json:
        return {}
    report = path.parent / "run.json"
    if not report.is_file() or report.stat().st_mtime < path.stat().st_mtime - 5:
        raise SystemExit(f"--reuse-default: {report} is missing or older than {path}: the run "
                         "that wrote it has not finished; wait for it or train here")
    return dict(json.loads(report.read_text()))


def _wait_reusable(path: Path, data_config: Any, train_config: Any,
                   wait_s: float) -> dict[str, Any]:
    """:func:`_check_reusable`, retried every 20 s for up to ``wait_s`` while the run that
    writes ``path`` is unfinished."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return _check_reusable(path, data_config, train_config)
        except SystemExit as exc:
            if "has not finished" not in str(exc) or time.monotonic() > deadline:
                raise
            log.info("waiting for %s to finish (%s)", path.parent, exc)
            time.sleep(20)


def train_variant(variant: str, train_set: Any, val_set: Any, data_config: Any,
                  train_config: Any, work_dir: Path) -> tuple[Path, dict[str, Any]]:
    from wakeword.features.mel import FrontendConfig
    from wakeword.kernels.bank import load_default_bank
    from wakeword.model.wakeword_model import WakeWordModel
    from wakeword.train.checkpoint import KernelSource
    from wakeword.train.trainer import Trainer

    bank = load_default_bank()
    kernels = KernelSource.from_bank(bank)
    model = WakeWordModel(FrontendConfig(), _network_config(variant), kernels.kernels,
                          kernels.path)
    out = work_dir / variant
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = Trainer(model, kernels, train_config, data_config=data_config.to_dict()).fit(
        train_set.audio, train_set.labels, val_set.audio, val_set.labels, out)
    timing = {"train_wall_s": time.perf_counter() - wall0,
              "train_cpu_s": time.process_time() - cpu0,
              "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
              "val": result.metrics.get("val", {}), "source": "trained here"}
    return result.best_checkpoint, timing


def evaluate_variant(label: str, checkpoint: Path, positives: list[Any],
                     negatives: common.NegativeSet, args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.accuracy import score_system
    from wakeword.eval.metrics import det_curve, operating_point
    from wakeword.model.summary import summarize
    from wakeword.train.checkpoint import TorchScorer, load_model

    model = load_model(checkpoint)
    summary = summarize(model, label).to_dict()
    scorer = TorchScorer(model)
    pos_max, neg, timing = score_system(scorer, 1, positives, negatives, args.max_latency_s)
    curve = det_curve(pos_max, neg, scorer.step_s, args.refractory_s, negatives.hours)
    points = {}
    for target in TARGETS:
        point = operating_point(curve, target)
        points[f"{target:g}"] = None if point is None else point.to_dict()
    raw = args.work_dir / "scores"
    raw.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(raw / f"{label}.npz", pos_max=pos_max,
                        **{f"neg_{i}": s.astype(np.float32) for i, s in enumerate(neg)})
    return {
        "checkpoint": str(checkpoint),
        "model": summary,
        "operating_points": points,
        f"mean_frr_{PAUC_RANGE[0]:g}_{PAUC_RANGE[1]:g}": mean_frr(curve),
        "scoring": {**timing, "cpu_s_per_audio_s": timing["cpu_s"] / timing["audio_s"]},
        "curve": {k: [float(f"{x:.6g}") for x in v] for k, v in curve.to_dict().items()},
        "_curve": curve,
    }


SAME_SETTINGS = ("epochs", "subset", "seed", "threads", "refractory_s", "max_latency_s",
                 "negative_hours_requested")


def _merge_previous(results: dict[str, Any], curves: dict[str, Any],
                    args: argparse.Namespace, path: Path) -> None:
    """Copy the variants of an earlier run's JSON ``path`` (same settings, data and train
    config) into ``results``, with their curves rebuilt from the raw scores in ``--work-dir``."""
    import json

    from wakeword.eval.metrics import det_curve

    if not path.is_file():
        raise SystemExit(f"--merge: {path} does not exist")
    old = json.loads(path.read_text())
    for key in SAME_SETTINGS:
        if old["settings"].get(key) != results["settings"][key]:
            raise SystemExit(f"--merge: {path} was run with {key}={old['settings'].get(key)!r}, "
                             f"this run with {results['settings'][key]!r}")
    for key in ("train_config",):
        if old[key] != json.loads(json.dumps(results[key])):
            raise SystemExit(f"--merge: {path} has a different {key}")
    if old["data"]["config"] != json.loads(json.dumps(results["data"]["config"])):
        raise SystemExit(f"--merge: {path} has a different data config")
    if abs(old["negatives"]["hours"] - results["negatives"]["hours"]) > 1e-9:
        raise SystemExit(f"--merge: {path} used {old['negatives']['hours']} h of negatives")
    step_s = None
    for name, entry in old["variants"].items():
        raw = args.work_dir / "scores" / f"{name}.npz"
        if not raw.is_file():
            raise SystemExit(f"--merge: {raw} (raw scores of {name}) is missing")
        with np.load(raw) as data:
            pos_max = data["pos_max"]
            neg = [data[f"neg_{i}"].astype(np.float64)
                   for i in range(len([k for k in data.files if k.startswith("neg_")]))]
        step_s = entry["model"]["steps_per_second"] ** -1
        curves[name] = det_curve(pos_max, neg, step_s, args.refractory_s,
                                 results["negatives"]["hours"])
        results["variants"][name] = {**entry, "merged_from": old.get("command")}
    results["merged_commands"] = [*results.get("merged_commands", []),
                                  *old.get("merged_commands", []), old.get("command")]
    log.info("merged %s from %s", list(old["variants"]), path)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def print_table(results: dict[str, Any]) -> None:
    key = f"mean_frr_{PAUC_RANGE[0]:g}_{PAUC_RANGE[1]:g}"
    print()
    print(f"{'variant':<17}{'trained':>8}{'frozen':>8}{'net MAC/s':>11}{'FE MAC/s':>11}"
          f"{'train s':>9}{'CPU s':>8}{'ep':>4}  {'FRR@1FA/h':>10}{'thr':>8}  {'FRR@.5FA/h':>10}"
          f"{'thr':>8}  {'meanFRR':>8}")
    for name, r in results["variants"].items():
        m, t = r["model"], r["training"]
        cells = []
        for target in ("1", "0.5"):
            p = r["operating_points"][target]
            cells.append(f"{'not reached':>10}{'':>8}" if p is None else
                         f"{_pct(p['false_reject_rate']):>10}{p['threshold']:8.3g}")
        cpu = t.get("train_cpu_s")
        print(f"{name:<17}{m['trained_parameters']:>8}{m['frozen_parameters']:>8}"
              f"{m['network_macs_per_second']:>11.3g}{m['frontend_macs_per_second']:>11.3g}"
              f"{t.get('train_wall_s', float('nan')):>9.0f}"
              f"{'n/a' if cpu is None else f'{cpu:.0f}':>8}{t.get('epochs_run', '?'):>4}  "
              f"{cells[0]}  {cells[1]}  {_pct(r[key]):>8}")
    s = results["settings"]
    print(f"\npositives: {results['positives']['n']} real 'computer' recordings (1 s pad, 10 dB "
          f"SNR); negatives: {results['negatives']['hours']:.2f} h; epochs {s['epochs']}, "
          f"subset {s['subset'] or 'all'} clips, seed {s['seed']}")
    print(f"meanFRR = mean FRR over 21 log-spaced targets {PAUC_RANGE[0]:g}-{PAUC_RANGE[1]:g} "
          "FA/h (lower is better)")
    print(f"machine: {results['machine_line']}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.connectome_ablation",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help=f"comma-separated presets (default {','.join(VARIANTS)})")
    p.add_argument("--negative-step-weight", type=float, default=1.0,
                   help="TrainConfig.negative_step_weight (0: the clip loss only; default 1.0)")
    p.add_argument("--negative-step-start", type=int, default=4,
                   help="TrainConfig.negative_step_start: first epoch of the every-step loss "
                   "(default 4)")
    p.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    p.add_argument("--subset", type=int, default=None,
                   help="train on a seeded, kind-stratified subset of N clips (quick runs)")
    p.add_argument("--seed", type=int, default=0, help="data, split, training and eval seed")
    p.add_argument("--train-seed", type=int, default=None,
                   help="seed of the weight initialisation and batches only (default --seed): "
                   "another draw of each variant on the same data and evaluation")
    p.add_argument("--negative-hours", type=float, default=None,
                   help="use this many hours of the benchmark negatives (default: all of the "
                   "set benchmarks/common.py builds, >= 2 h)")
    p.add_argument("--reuse-default", action="store_true",
                   help="take the default variant from --default-checkpoint (its data, train "
                   "and network configs must match ours) instead of training it")
    p.add_argument("--wait-default-s", type=float, default=0.0,
                   help="with --reuse-default, wait up to this long for the run to finish")
    p.add_argument("--default-checkpoint", type=Path,
                   default=common.REPO_ROOT / "runs" / "computer" / "best.pt")
    p.add_argument("--cache-dir", type=Path, default=common.REPO_ROOT / ".cache" / "wakeword",
                   help="synthesis cache of the training data")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--refractory-s", type=float, default=1.0)
    p.add_argument("--max-latency-s", type=float, default=0.5)
    p.add_argument("--out-dir", type=Path, default=common.RESULTS_DIR)
    p.add_argument("--work-dir", type=Path, default=common.OUT_DIR / "connectome_ablation",
                   help="checkpoints and raw scores (gitignored)")
    p.add_argument("--merge", nargs="*", type=Path, default=None, metavar="JSON",
                   help="keep the variants already in these JSONs (default: --out-dir's; run "
                   "with the same settings, curves rebuilt from --work-dir's raw scores) and add "
                   "or replace --variants; with --variants '' nothing is trained (e.g. to join "
                   "two runs made in parallel)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not common.begin(args, "benchmarks/connectome_ablation.py", threads=args.threads):
        return 0
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in variants:
        if v not in VARIANTS:
            raise SystemExit(f"--variants: {v!r} is not one of {list(VARIANTS)}")
    if args.reuse_default and args.subset is not None:
        raise SystemExit("--reuse-default trains nothing for 'default', but --subset changes "
                         "the data: the variants would not share data; drop one of them")
    from wakeword.data import recorded_speech
    from wakeword.data.dataset import DataConfig, build_dataset
    from wakeword.eval.plots import plot_det
    from wakeword.train.trainer import TrainConfig

    started = time.perf_counter()
    machine = common.machine_info()
    data_config = DataConfig(phrase=KEYWORD, seed=args.seed,
                             recorded_speech=recorded_speech.available())
    train_seed = args.seed if args.train_seed is None else args.train_seed
    train_config = TrainConfig(epochs=args.epochs, seed=train_seed,
                               negative_step_weight=args.negative_step_weight,
                               negative_step_start=args.negative_step_start)
    if args.reuse_default and "default" in variants:  # evaluated last: its run may be finishing
        variants = [v for v in variants if v != "default"] + ["default"]

    t0 = time.perf_counter()
    clips = _select_subset(build_dataset(data_config, args.cache_dir), args.subset, args.seed)
    data_s = time.perf_counter() - t0
    train_set, val_set = clips.split(train_config.val_fraction, args.seed)  # same split for every train seed
    log.info("data: %d clips %s (%d train / %d validation) in %.0f s", len(clips),
             clips.counts(), len(train_set), len(val_set), data_s)

    positives = common.keyword_positives(KEYWORD, args.seed)
    negatives = common.negative_set(KEYWORD, common.NegativeOptions(seed=args.seed),
                                    max_hours=args.negative_hours)
    results: dict[str, Any] = {
        "benchmark": "connectome_ablation",
        "command": "python -m benchmarks.connectome_ablation " + " ".join(
            argv if argv is not None else sys.argv[1:]),
        "machine": machine, "machine_line": common.machine_line(machine),
        "settings": {"epochs": args.epochs, "subset": args.subset, "seed": args.seed,
                     "train_seed": train_seed,
                     "threads": args.threads, "refractory_s": args.refractory_s,
                     "max_latency_s": args.max_latency_s,
                     "negative_hours_requested": args.negative_hours,
                     "reuse_default": args.reuse_default,
                     "targets_fa_per_hour": list(TARGETS),
                     "mean_frr_definition": f"mean over 21 log-spaced targets in "
                     f"[{PAUC_RANGE[0]:g}, {PAUC_RANGE[1]:g}] FA/h of the lowest FRR with at "
                     "most that many false accepts per hour (1.0 where not reached)"},
        "data": {"config": data_config.to_dict(), "clips": len(clips), "kinds": clips.counts(),
                 "n_train": len(train_set), "n_val": len(val_set), "build_s": data_s},
        "train_config": train_config.to_dict(),
        "positives": {"source": f"shared/data/keywords/{KEYWORD}", "pad_s": 1.0,
                      "snr_db": 10.0, "n": len(positives)},
        "negatives": negatives.summary(),
        "variants": {},
    }
    curves = {}
    if args.merge is not None:
        for path in args.merge or [args.out_dir / "connectome_ablation.json"]:
            _merge_previous(results, curves, args, path)
    for variant in variants:
        if variant == "default" and args.reuse_default:
            reused = _wait_reusable(args.default_checkpoint, data_config, train_config,
                                    args.wait_default_s)
            # a copy, so a new run writing runs/computer cannot swap it under us
            checkpoint = args.work_dir / "default-reused" / "best.pt"
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(args.default_checkpoint, checkpoint)
            _check_reusable(checkpoint, data_config, train_config, run_json=False)
            training = {"source": f"reused {args.default_checkpoint} (configs checked equal; "
                        "training time from its run.json, measured in that run)",
                        "train_wall_s": reused.get("train_seconds"), "train_cpu_s": None,
                        "epochs_run": reused.get("epochs_run"),
                        "best_epoch": reused.get("best_epoch"), "val": reused.get("val")}
        else:
            log.info("training %s", variant)
            checkpoint, training = train_variant(variant, train_set, val_set, data_config,
                                                 train_config, args.work_dir)
        log.info("evaluating %s", variant)
        entry = evaluate_variant(variant, checkpoint, positives, negatives, args)
        curves[variant] = entry.pop("_curve")
        entry["training"] = training
        results["variants"][variant] = entry
        op = entry["operating_points"]["1"]
        log.info("%s: FRR at 1 FA/h %s", variant,
                 "not reached" if op is None else f"{100 * op['false_reject_rate']:.1f}%")
        # write after every variant so a long run leaves partial results
        results["wall_s"] = time.perf_counter() - started
        common.write_json(args.out_dir / "connectome_ablation.json", results)
    results["variants"] = {k: results["variants"][k] for k in VARIANTS
                           if k in results["variants"]}
    curves = {k: curves[k] for k in VARIANTS if k in curves}
    title = (f"'computer': {len(positives)} real pos., {negatives.hours:.2f} h neg., "
             f"{args.epochs} ep.{f', {args.subset} clips' if args.subset else ''}")
    plot = plot_det(curves, args.out_dir / "connectome_ablation_det.png", title=title)
    results["plot"] = plot.name
    results["wall_s"] = time.perf_counter() - started
    path = common.write_json(args.out_dir / "connectome_ablation.json", results)
    print_table(results)
    print(f"wall time {results['wall_s']:.0f} s; wrote {path} and {plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
