"""The step recipe, measured: network variants x seeds, each trained the same way and scored on
the accuracy benchmark's real-speech set, with mean and spread.

Every run is ``wakeword train`` with the step recipe (``train.steps > 0``: keyword-end labels,
the cached feature bank, warm-up + cosine decay, ramped negative weight, mined hard negatives)
on the data engine's default build of the keyword, and keeps the checkpoint and threshold that
its held-out data chose (recall at ``--target-fa-per-hour`` on held-out speakers' running
speech): nothing here selects on the benchmark. Variants (``--variants``):

- ``fig4b-gated``      the FIG. 4B network of the recipe (frozen FlyWire kernels);
- ``random-kernels``   the same with each kernel's taps shuffled (no connectome structure);
- ``trained-kernels``  the same with the kernels trained (initialised from the bank);
- ``gru-reference``    a conventional streaming GRU of the same trained-parameter budget.

Each run is scored by :mod:`benchmarks.accuracy`'s protocol (positives: the keyword's shared
recordings padded 1 s and mixed with noise at 10 dB SNR; negatives: the benchmark's >= 3 h
set): FRR at 1 and 0.5 FA/h, FRR and FA/h at the run's own (held-out) threshold, and the
detection latency after the spoken keyword's end. Runs are kept in ``--work-dir`` and resumed or
reused, so the script can be stopped and rerun.

    python -m benchmarks.recipe --keyword computer --variants fig4b-gated --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as `python benchmarks/recipe.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import accuracy, common

log = logging.getLogger("benchmarks.recipe")

VARIANTS = ("fig4b-gated", "random-kernels", "trained-kernels", "gru-reference")


def network_dict(variant: str) -> dict[str, Any]:
    from wakeword.model.summary import PRESETS

    if variant == "fig4b-gated":
        return dict(PRESETS["fig4b-gated"])
    if variant in ("random-kernels", "trained-kernels"):
        return {**PRESETS["fig4b-gated"], "kernel_source": variant.split("-")[0]}
    if variant == "gru-reference":
        return dict(PRESETS["gru-reference"])
    raise SystemExit(f"--variants: {variant!r} is not one of {list(VARIANTS)}")


def train_config(args: argparse.Namespace, seed: int) -> Any:
    from wakeword.train.trainer import TrainConfig

    return TrainConfig(steps=args.steps, eval_every=args.eval_every, warmup_steps=500,
                       batch_size=128, learning_rate=args.learning_rate, spec_augment=True,
                       bank_epochs=3, target_fa_per_hour=args.target_fa_per_hour, seed=seed,
                       channel_augment=args.channel_augment, vtlp=args.vtlp)


def run_dir(args: argparse.Namespace, variant: str, seed: int) -> Path:
    return args.work_dir / args.keyword / f"{variant}_s{seed}"


def finished(path: Path, steps: int) -> bool:
    from wakeword.train.checkpoint import load_checkpoint

    last = path / "last.pt"
    return (path / "best.pt").is_file() and last.is_file() and \
        int(load_checkpoint(last)["epoch"]) >= steps - 1


def train_run(args: argparse.Namespace, variant: str, seed: int) -> Path:
    from wakeword.data.engine import BuildConfig
    from wakeword.kernels.bank import load_default_bank
    from wakeword.model.config import NetworkConfig
    from wakeword.train.checkpoint import KernelSource
    from wakeword.train.pipeline import train_phrase

    folder = run_dir(args, variant, seed)
    if finished(folder, args.steps):
        log.info("%s seed %d: finished run in %s, reused", variant, seed, folder)
        return folder / "best.pt"
    phrase = args.keyword.replace("_", " ")
    network = NetworkConfig.from_dict({**network_dict(variant), "keywords": [phrase]})
    train_phrase(BuildConfig(phrase=phrase), network, train_config(args, seed), folder,
                 kernels=KernelSource.from_bank(load_default_bank()), cache_dir=args.cache_dir,
                 resume=True)
    return folder / "best.pt"


def score_run(checkpoint: Path, positives: list[Any], negatives: Any, ends_s: np.ndarray,
              args: argparse.Namespace, label: str) -> dict[str, Any]:
    from wakeword.eval.scorer import load_scorer
    from wakeword.train.checkpoint import load_checkpoint

    payload = load_checkpoint(checkpoint)
    shipped = float(payload["metrics"]["threshold"])
    scorer = load_scorer(checkpoint)
    pos_max, neg, timing = accuracy.score_system(scorer, 1, positives, negatives,
                                                 args.max_latency_s)
    timing["spoken_ends_s"] = ends_s
    result, _curve = accuracy.summarise(label, {"checkpoint": str(checkpoint)}, pos_max, neg,
                                        negatives, float(scorer.step_s), shipped, args, timing)
    result.pop("curve", None)
    result["held_out"] = {k: payload["metrics"]["val"].get(k) for k in
                          ("threshold", "recall", "fa_per_hour", "target_fa_per_hour")}
    result["best_step"] = payload["metrics"].get("best_step")
    return result


def _frr(result: dict[str, Any], target: str) -> float | None:
    point = result["operating_points"].get(target)
    return None if point is None else float(point["false_reject_rate"])


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def stats(values: list[float | None]) -> dict[str, Any]:
        xs = [v for v in values if v is not None]
        if not xs:
            return {"n": 0}
        return {"n": len(xs), "mean": float(np.mean(xs)), "min": float(np.min(xs)),
                "max": float(np.max(xs)), "std": float(np.std(xs))}

    return {
        "frr_at_1_fa_per_hour": stats([_frr(r, "1") for r in runs]),
        "frr_at_0.5_fa_per_hour": stats([_frr(r, "0.5") for r in runs]),
        "frr_at_held_out_threshold": stats([r["shipped_threshold"]["false_reject_rate"]
                                            for r in runs]),
        "fa_per_hour_at_held_out_threshold": stats(
            [r["shipped_threshold"]["false_accepts_per_hour"] for r in runs]),
        "latency_median_s_at_1_fa_per_hour": stats(
            [r["detection_latency_after_spoken_end"].get("at_1_fa_per_hour", {})
             .get("median_s") for r in runs]),
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.recipe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keyword", default="computer", choices=("computer", "alexa"))
    p.add_argument("--variants", default="fig4b-gated,gru-reference")
    p.add_argument("--seeds", default="0")
    p.add_argument("--steps", type=int, default=15000)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--learning-rate", type=float, default=0.005)
    p.add_argument("--target-fa-per-hour", type=float, default=1.0)
    p.add_argument("--channel-augment", type=float, default=0.8)
    p.add_argument("--vtlp", type=float, default=0.8)
    p.add_argument("--score-only", action="store_true",
                   help="score finished runs only; never train")
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--work-dir", type=Path, default=common.OUT_DIR / "recipe")
    p.add_argument("--out-dir", type=Path, default=common.RESULTS_DIR)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="evaluation-set seed")
    p.add_argument("--refractory-s", type=float, default=1.0)
    p.add_argument("--max-latency-s", type=float, default=0.5)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not common.begin(args, "benchmarks/recipe.py", threads=args.threads):
        return 0
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    for v in variants:
        network_dict(v)
    started = time.perf_counter()
    positives = common.keyword_positives(args.keyword, args.seed)
    negatives = common.negative_set(args.keyword, common.NegativeOptions(seed=args.seed))
    ends_s = accuracy.spoken_ends(positives)
    out: dict[str, Any] = {
        "benchmark": "recipe", "keyword": args.keyword,
        "command": "python -m benchmarks.recipe " + " ".join(argv if argv is not None
                                                             else sys.argv[1:]),
        "machine": common.machine_info(),
        "settings": {"steps": args.steps, "eval_every": args.eval_every,
                     "channel_augment": args.channel_augment, "vtlp": args.vtlp,
                     "learning_rate": args.learning_rate,
                     "target_fa_per_hour": args.target_fa_per_hour,
                     "refractory_s": args.refractory_s, "max_latency_s": args.max_latency_s,
                     "selection": "each run's checkpoint and threshold from its held-out data "
                     "(data engine val split); the benchmark set is only scored"},
        "positives": {"n": len(positives), "source": f"shared/data/keywords/{args.keyword}"},
        "negatives": negatives.summary(), "variants": {},
    }
    for variant in variants:
        runs = []
        for seed in seeds:
            folder = run_dir(args, variant, seed)
            if args.score_only and not finished(folder, args.steps):
                log.info("%s seed %d: not finished, skipped (--score-only)", variant, seed)
                continue
            checkpoint = train_run(args, variant, seed)
            result = score_run(checkpoint, positives, negatives, ends_s, args,
                               f"{variant} seed {seed}")
            result["seed"] = seed
            runs.append(result)
            log.info("%s seed %d: FRR at 1 FA/h %s; at its held-out threshold %.3f: FRR %.1f%%, "
                     "%.2f FA/h", variant, seed, _frr(result, "1"),
                     result["shipped_threshold"]["threshold"],
                     100 * result["shipped_threshold"]["false_reject_rate"],
                     result["shipped_threshold"]["false_accepts_per_hour"])
        if runs:
            out["variants"][variant] = {"network": network_dict(variant), "runs": runs,
                                        "summary": aggregate(runs)}
    out["wall_s"] = time.perf_counter() - started
    path = common.write_json(args.out_dir / f"recipe_{args.keyword}.json", out)
    print(f"\n{'variant':<18}{'seeds':>6}  {'FRR@1FA/h mean (min-max)':>28}  "
          f"{'held-out thr: FRR, FA/h':>26}  {'latency':>8}")
    for variant, entry in out["variants"].items():
        s = entry["summary"]
        one = s["frr_at_1_fa_per_hour"]
        frr = s["frr_at_held_out_threshold"]
        fa = s["fa_per_hour_at_held_out_threshold"]
        lat = s["latency_median_s_at_1_fa_per_hour"]
        cell = (f"{100 * one['mean']:5.1f}% ({100 * one['min']:.1f}-{100 * one['max']:.1f})"
                if one["n"] else "not reached")
        latency = f"{1000 * lat['mean']:.0f} ms" if lat["n"] else ""
        print(f"{variant:<18}{len(entry['runs']):>6}  {cell:>28}  "
              f"{100 * frr['mean']:8.1f}%, {fa['mean']:5.2f}      "
              f"{latency:>8}")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
