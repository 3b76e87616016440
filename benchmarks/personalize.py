"""Personalisation: what on-device enrolment from 5 and 10 clips buys on real speech.

The model (``--model``, default ``models/computer``: trained from synthetic speech only, so it
has never heard these recordings) is fine-tuned with :func:`device_runtime.enroll` (numpy Adam
on the exported training-step graph, no torch) on ``n`` real recordings of one *source* of
../shared/data/keywords/computer, then both the base and the enrolled model are scored on:

- ``same``: the source's held-out recordings (never used for enrolment);
- ``other``: recordings of the other sources (``--other-positives`` of them, evenly spaced),
  to see whether enrolment costs other users anything;
- a fixed negative stream: the first ``--negative-hours`` of the benchmark negative set for
  "computer" (:func:`benchmarks.common.negative_set`, every component shortened in
  proportion).

Positives are processed as in the accuracy benchmark (padded 1 s, noise at 10 dB SNR). For each
target false-accept rate, each model gets its own threshold: the lowest threshold of the grid
with at most that many false accepts per hour on the negative stream; FRR is measured there
(so "before" and "after" are compared at the same false-accept rate). The FRR at the base
model's threshold (and the FA/h the enrolled model then makes) is reported too.

Sources. The recordings have no speaker ids (UUID file names, ~8 recordings per speaker in
the Picovoice set), so a source is a group of recordings that sound alike:

- ``cluster`` (default): Ward clustering of a per-file signature, the z-scored mean log-Mel
  spectrum of the speech frames (within 30 dB of the loudest frame) and of the quietest 20 %
  of frames (the noise floor), each with its mean over bins removed (level-independent). It is
  the long-term spectrum that cepstral mean normalisation removes because it carries the
  speaker's voice and the microphone and room; a cluster is "similar voice, similar device and
  room", the closest stand-in for one user that the data allow. ``--clusters`` groups are made
  and the ``--sources`` largest with at least ``max(--sizes) + --min-held-out`` files are used.
- ``block``: consecutive blocks of the sorted file list (random speakers, as the names are
  UUIDs): a control for how much of the gain is "this keyword on real speech" rather than
  "this user".

For each source, the enrolment pool is ``max(--sizes)`` seeded-shuffled files; ``n`` clips are
its first ``n`` (so 5 is a subset of 10) and the held-out ``same`` set is the rest of the
source, identical for every ``n``. Enrolment CPU seconds are ``time.process_time()`` around
``enroll`` (all its threads).

    python -m benchmarks.personalize --model /tmp/cmp_model --quick
    nice -n 5 python -m benchmarks.personalize --negative-hours 1
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as `python benchmarks/personalize.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common

log = logging.getLogger("benchmarks.personalize")

KEYWORD = "computer"


# -- sources ----------------------------------------------------------------------------------
def file_signature(audio: np.ndarray, sample_rate_hz: int = common.SAMPLE_RATE_HZ) -> np.ndarray:
    """Level-independent long-term log-Mel spectrum of the speech frames and of the noise floor
    (2 x 32 values)."""
    import torch

    from wakeword.features.mel import FrontendConfig, LogMel

    with torch.inference_mode():
        mel = LogMel(FrontendConfig())(torch.as_tensor(audio[None], dtype=torch.float32))[0]
    mel = mel.numpy().astype(np.float64)  # [frames, mels], natural-log power (scaled)
    energy = np.log(np.mean(np.exp(np.clip(mel, -30, 30)), axis=1))
    speech = mel[energy >= energy.max() - np.log(10 ** 3)]  # within 30 dB of the loudest frame
    quiet = mel[energy <= np.quantile(energy, 0.2)]
    parts = [np.mean(speech, 0), np.mean(quiet if len(quiet) else mel, 0)]
    return np.concatenate([p - p.mean() for p in parts])


def group_sources(paths: list[Path], audios: list[np.ndarray], method: str, n_groups: int,
                  seed: int) -> tuple[list[list[int]], dict[str, Any]]:
    """Indices of ``paths`` per source (largest first) and a description of the grouping."""
    if method == "block":
        size = int(np.ceil(len(paths) / n_groups))
        order = sorted(range(len(paths)), key=lambda i: paths[i].name)
        groups = [order[i:i + size] for i in range(0, len(order), size)]
        return groups, {"method": "block", "block_size": size}
    from scipy.cluster.hierarchy import fcluster, linkage

    feats = np.stack([file_signature(a) for a in audios])
    z = (feats - feats.mean(0)) / (feats.std(0) + 1e-9)
    labels = fcluster(linkage(z, method="ward"), t=n_groups, criterion="maxclust")
    groups = [list(np.flatnonzero(labels == k)) for k in np.unique(labels)]
    groups.sort(key=len, reverse=True)

    def spread(idx: list[int]) -> float:  # mean distance to the group's centroid
        g = z[idx]
        return float(np.mean(np.linalg.norm(g - g.mean(0), axis=1)))

    rng = np.random.default_rng([seed, 0x5EED])
    random_spread = [spread(list(rng.choice(len(z), size=len(g), replace=False)))
                     for g in groups if len(g) > 1]
    info = {"method": "cluster", "features": "mean log-Mel of speech frames (>= peak - 30 dB) "
            "and of the quietest 20 % of frames, each minus its mean over bins, z-scored; "
            "Ward linkage", "clusters": n_groups, "sizes": [len(g) for g in groups],
            "mean_centroid_distance": {
                "clusters": float(np.mean([spread(g) for g in groups if len(g) > 1])),
                "random_groups_of_the_same_sizes": float(np.mean(random_spread))}}
    return [[int(i) for i in g] for g in groups], info


# -- scoring ----------------------------------------------------------------------------------
def fa_curve(neg_scores: list[np.ndarray], step_s: float, refractory_s: float,
             hours: float) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds, false accepts per hour) on the negative stream."""
    from wakeword.eval.metrics import det_curve

    curve = det_curve(np.zeros(1), neg_scores, step_s, refractory_s, hours)
    return np.asarray(curve.thresholds), np.asarray(curve.false_accepts_per_hour)


def threshold_at(thresholds: np.ndarray, fa_per_hour: np.ndarray, target: float) -> float | None:
    """The lowest threshold with at most ``target`` false accepts per hour."""
    ok = np.flatnonzero(fa_per_hour <= target + 1e-9)
    return None if ok.size == 0 else float(thresholds[ok[0]])


def fa_at(thresholds: np.ndarray, fa_per_hour: np.ndarray, threshold: float) -> float:
    i = int(np.searchsorted(thresholds, threshold, side="left"))
    return float(fa_per_hour[min(i, len(fa_per_hour) - 1)])


def score_model(model_dir: Path, positives: list[Any], negatives: common.NegativeSet,
                args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.accuracy import _our_column, score_system
    from wakeword.eval.scorer import load_scorer

    scorer = load_scorer(model_dir, backend=args.backend)
    try:
        pos_max, neg, timing = score_system(scorer, _our_column(scorer, KEYWORD), positives,
                                            negatives, args.max_latency_s)
        step_s = float(scorer.step_s)
    finally:
        if hasattr(scorer, "close"):
            scorer.close()
    thresholds, fa = fa_curve(neg, step_s, args.refractory_s, negatives.hours)
    return {"pos_max": pos_max, "thresholds": thresholds, "fa": fa, "timing": timing}


def frr(pos_max: np.ndarray, threshold: float | None) -> float | None:
    return None if threshold is None or pos_max.size == 0 else float(np.mean(pos_max < threshold))


def compare(before: dict[str, Any], after: dict[str, Any], index: dict[str, np.ndarray],
            targets: list[float]) -> dict[str, Any]:
    """FRR per positive subset before/after, at each target FA/h."""
    out: dict[str, Any] = {}
    for target in targets:
        t_before = threshold_at(before["thresholds"], before["fa"], target)
        t_after = threshold_at(after["thresholds"], after["fa"], target)
        row: dict[str, Any] = {"threshold_before": t_before, "threshold_after": t_after,
                               "fa_per_hour_before": None if t_before is None else
                               fa_at(before["thresholds"], before["fa"], t_before),
                               "fa_per_hour_after": None if t_after is None else
                               fa_at(after["thresholds"], after["fa"], t_after),
                               "after_at_base_threshold_fa_per_hour": None if t_before is None
                               else fa_at(after["thresholds"], after["fa"], t_before)}
        for name, idx in index.items():
            row[f"frr_{name}_before"] = frr(before["pos_max"][idx], t_before)
            row[f"frr_{name}_after"] = frr(after["pos_max"][idx], t_after)
            row[f"frr_{name}_after_at_base_threshold"] = frr(after["pos_max"][idx], t_before)
        out[f"{target:g}"] = row
    return out


def _model_info(model_dir: Path) -> dict[str, Any]:
    """Manifest version, threshold, provenance source and the weights' sha256."""
    import hashlib
    import json

    manifest = json.loads((model_dir / "manifest.json").read_text())
    weights = model_dir / manifest.get("weights_file", "weights.npz")
    return {"version": manifest.get("version"), "thresholds": manifest.get("thresholds"),
            "source": manifest.get("provenance", {}).get("source"),
            "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}


# -- output -----------------------------------------------------------------------------------
def _pct(x: float | None) -> str:
    return "  n/a" if x is None else f"{100 * x:5.1f}%"


def print_table(results: dict[str, Any]) -> None:
    print()
    for target in results["settings"]["targets_fa_per_hour"]:
        key = f"{target:g}"
        print(f"at {key} FA/h on {results['negatives']['hours']:.2f} h of negatives "
              "(each model at its own threshold; [base thr] = enrolled model at the base "
              "threshold)")
        print(f"{'source':<10}{'n':>3}{'held':>5}  {'same before':>11}{'after':>8}{'[base thr]':>11}"
              f"  {'other before':>12}{'after':>8}{'[base thr]':>11}  {'thr b/a':>13}"
              f"{'FA/h@base':>10}{'CPU s':>7}{'acc':>5}")
        for r in results["runs"]:
            c = r["comparison"][key]
            tb, ta = c["threshold_before"], c["threshold_after"]
            thr = f"{'-' if tb is None else f'{tb:.3f}'}/{'-' if ta is None else f'{ta:.3f}'}"
            fab = c["after_at_base_threshold_fa_per_hour"]
            print(f"{r['source']:<10}{r['n_enrol']:>3}{r['n_same_held_out']:>5}  "
                  f"{_pct(c['frr_same_before']):>11}{_pct(c['frr_same_after']):>8}"
                  f"{_pct(c['frr_same_after_at_base_threshold']):>11}  "
                  f"{_pct(c['frr_other_before']):>12}{_pct(c['frr_other_after']):>8}"
                  f"{_pct(c['frr_other_after_at_base_threshold']):>11}  {thr:>13}"
                  f"{'n/a' if fab is None else f'{fab:.1f}':>10}"
                  f"{r['enroll']['cpu_s']:>7.1f}{'yes' if r['enroll']['accepted'] else 'no':>5}")
        agg = results["summary"].get(key, {})
        for n, s in agg.items():
            print(f"  mean over sources, n={n}: same {_pct(s['frr_same_before'])} -> "
                  f"{_pct(s['frr_same_after'])}, other {_pct(s['frr_other_before'])} -> "
                  f"{_pct(s['frr_other_after'])}, enrolment CPU {s['cpu_s']:.1f} s")
        print()
    print(f"model: {results['model']}; grouping: {results['sources']['info']['method']}")
    print(f"machine: {results['machine_line']}")


def summarise(runs: list[dict[str, Any]], targets: list[float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for target in targets:
        key = f"{target:g}"
        per_n: dict[str, Any] = {}
        for n in sorted({r["n_enrol"] for r in runs}):
            rows = [r for r in runs if r["n_enrol"] == n]
            entry: dict[str, Any] = {"runs": len(rows),
                                     "cpu_s": float(np.mean([r["enroll"]["cpu_s"] for r in rows]))}
            for field in ("frr_same_before", "frr_same_after", "frr_other_before",
                          "frr_other_after", "frr_same_after_at_base_threshold"):
                vals = [r["comparison"][key][field] for r in rows]
                entry[field] = (None if any(v is None for v in vals) else float(np.mean(vals)))
            per_n[str(n)] = entry
        out[key] = per_n
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.personalize", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=common.REPO_ROOT / "models" / KEYWORD,
                   help="exported model folder with training-step graphs (default models/computer)")
    p.add_argument("--sizes", default="5,10", help="enrolment clip counts (default 5,10)")
    p.add_argument("--sources", type=int, default=3, help="sources to enrol (default 3)")
    p.add_argument("--grouping", choices=("cluster", "block"), default="cluster")
    p.add_argument("--clusters", type=int, default=12,
                   help="clusters (or blocks) the recordings are grouped into (default 12)")
    p.add_argument("--min-held-out", type=int, default=5,
                   help="a source needs at least this many held-out recordings (default 5)")
    p.add_argument("--other-positives", type=int, default=120,
                   help="recordings of other sources scored as 'other' (default 120)")
    p.add_argument("--negative-hours", type=float, default=0.5,
                   help="hours of the benchmark negatives in the fixed stream (default 0.5)")
    p.add_argument("--targets", default="1,2,5",
                   help="false accepts per hour at which FRR is compared (default 1,2,5)")
    p.add_argument("--epochs", type=int, default=30, help="enrolment epochs (default 30)")
    p.add_argument("--backend", choices=("onnx", "tflite"), default="onnx")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--refractory-s", type=float, default=1.0)
    p.add_argument("--max-latency-s", type=float, default=0.5)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 1 source, sizes 5, 0.1 h negatives, 30 other positives")
    p.add_argument("--out", type=Path, default=common.RESULTS_DIR / "personalize.json")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from device_runtime import enroll
    from wakeword.progress import progress

    if not common.begin(args, "benchmarks/personalize.py", threads=1):
        return 0
    if not (args.model / "manifest.json").is_file():
        raise SystemExit(f"--model {args.model}: no manifest.json; export a checkpoint first "
                         "(wakeword export runs/computer/best.pt --out /tmp/cmp_model)")
    sizes = sorted(int(x) for x in args.sizes.split(","))
    targets = [float(x) for x in args.targets.split(",")]
    if args.quick:
        args.sources, sizes, args.negative_hours, args.other_positives = 1, [5], 0.1, 30
    started = time.perf_counter()
    machine = common.machine_info()

    positives = common.keyword_positives(KEYWORD, args.seed)
    paths = [Path(c.source) for c in positives]
    from wakeword.data.audio_io import load_audio

    raw = [load_audio(p, common.SAMPLE_RATE_HZ) for p in paths]
    groups, group_info = group_sources(paths, raw, args.grouping, args.clusters, args.seed)
    need = max(sizes) + args.min_held_out
    eligible = [g for g in groups if len(g) >= need][: args.sources]
    if not eligible:
        raise SystemExit(f"no source has {need} recordings; lower --clusters or --sizes")
    if len(eligible) < args.sources:
        log.warning("only %d source(s) have >= %d recordings", len(eligible), need)
    negatives = common.negative_set(KEYWORD, common.NegativeOptions(seed=args.seed),
                                    max_hours=args.negative_hours)

    results: dict[str, Any] = {
        "benchmark": "personalize",
        "command": "python -m benchmarks.personalize " + " ".join(
            argv if argv is not None else sys.argv[1:]),
        "machine": machine, "machine_line": common.machine_line(machine),
        "model": str(args.model),
        "model_info": _model_info(args.model),
        "settings": {"sizes": sizes, "sources": args.sources, "grouping": args.grouping,
                     "clusters": args.clusters, "min_held_out": args.min_held_out,
                     "other_positives": args.other_positives, "epochs": args.epochs,
                     "backend": args.backend, "seed": args.seed, "quick": args.quick,
                     "refractory_s": args.refractory_s, "max_latency_s": args.max_latency_s,
                     "targets_fa_per_hour": targets,
                     "threshold_rule": "per model, the lowest grid threshold with at most the "
                     "target false accepts per hour on the negative stream"},
        "negatives": negatives.summary(),
        "sources": {"info": group_info},
        "runs": [],
    }
    base_cache: dict[str, Any] = {}
    work = Path(tempfile.mkdtemp(prefix="personalize_"))
    try:
        for s_i, group in enumerate(eligible):
            rng = np.random.default_rng([args.seed, s_i, 0xE1])
            shuffled = [group[int(i)] for i in rng.permutation(len(group))]
            pool, same = shuffled[: max(sizes)], shuffled[max(sizes):]
            others = sorted(set(range(len(paths))) - set(group))
            picks = np.linspace(0, len(others) - 1, min(args.other_positives, len(others)))
            other = [others[int(i)] for i in picks.round().astype(int)]
            eval_idx = same + other
            eval_clips = [positives[i] for i in eval_idx]
            index = {"same": np.arange(len(same)),
                     "other": np.arange(len(same), len(eval_idx))}
            source = f"{args.grouping}{s_i}"
            key = ",".join(map(str, eval_idx))
            if key not in base_cache:
                log.info("%s: scoring the base model (%d positives, %.2f h negatives)", source,
                         len(eval_clips), negatives.hours)
                base_cache[key] = score_model(args.model, eval_clips, negatives, args)
            before = base_cache[key]
            for n in progress(sizes, desc=f"{source} enrolments", total=len(sizes)):
                clip_dir = work / f"{source}_n{n}_clips"
                clip_dir.mkdir()
                for i in pool[:n]:
                    (clip_dir / paths[i].name).symlink_to(paths[i].resolve())
                out_dir = work / f"{source}_n{n}_model"
                cpu0, wall0 = time.process_time(), time.perf_counter()
                result = enroll(args.model, clip_dir, out_dir=out_dir, epochs=args.epochs,
                                seed=args.seed + s_i, backend=args.backend)
                cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
                log.info("%s n=%d: enrolled in %.1f s CPU (%s)", source, n, cpu_s,
                         result.summary if hasattr(result, "summary") else "")
                after = score_model(out_dir, eval_clips, negatives, args)
                run = {
                    "source": source, "source_size": len(group), "n_enrol": n,
                    "n_same_held_out": len(same), "n_other": len(other),
                    "enrol_files": [paths[i].name for i in pool[:n]],
                    "enroll": {"cpu_s": cpu_s, "wall_s": wall_s, "accepted": result.accepted,
                               "n_train_positives": result.n_train_positives,
                               "n_val_positives": result.n_val_positives,
                               "n_train_negatives": result.n_train_negatives,
                               "recall_before": result.recall_before,
                               "recall_after": result.recall_after,
                               "false_accepts_before": result.false_accepts_before,
                               "false_accepts_after": result.false_accepts_after,
                               "losses": list(result.losses)},
                    "comparison": compare(before, after, index, targets),
                }
                results["runs"].append(run)
                results["summary"] = summarise(results["runs"], targets)
                results["wall_s"] = time.perf_counter() - started
                common.write_json(args.out, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["summary"] = summarise(results["runs"], targets)
    results["wall_s"] = time.perf_counter() - started
    path = common.write_json(args.out, results)
    print_table(results)
    print(f"wall time {results['wall_s']:.0f} s; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
