"""Accuracy on real speech: false-reject rate at 1 and 0.5 false accepts per hour, DET curves.

For each keyword (``computer``, ``alexa``, ``hey_jarvis``) every available system is scored on
the same positives and the same >= 2 h of negatives (see :mod:`benchmarks.common`):

- ours: ``models/<keyword>`` (exported folder, ``--backend`` onnx or tflite, scores after the
  manifest's smoothing) and any ``--extra-model KEYWORD=PATH[@LABEL]`` (a folder or a ``*.pt``
  checkpoint, e.g. for development);
- for "alexa" and "hey_jarvis": openWakeWord and microWakeWord (:mod:`benchmarks.peers`).

A positive clip counts as detected when a step ending between the recording's start and
``--max-latency-s`` after its end scores at or above the threshold; on negatives, accepts
closer than ``--refractory-s`` are merged (``wakeword.eval.metrics``). Besides the operating
points at 1 and 0.5 FA/h, each system is also measured at its shipped threshold (the peers'
defaults, our manifest's), and the false accepts there and at the 1 FA/h threshold are traced
back to the clips that caused them.

Writes ``det_<keyword>.png`` (all systems on one plot) and ``accuracy_<keyword>.json`` to
``--out-dir``
(default ``benchmarks/results``; with ``--quick``, ``benchmarks/out/quick``), raw scores to
``benchmarks/out/scores/``, and prints a table.

    python -m benchmarks.accuracy --quick                      # ~10 min of negatives
    nice -n 10 python -m benchmarks.accuracy                   # the full run
    python -m benchmarks.accuracy --keywords alexa --systems openwakeword,microwakeword
"""

from __future__ import annotations

import argparse
import collections
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as `python benchmarks/accuracy.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common, peers

log = logging.getLogger("benchmarks.accuracy")

KEYWORDS = ("computer", "alexa", "hey_jarvis")
PEER_KEYWORDS = ("alexa", "hey_jarvis")
SYSTEM_KINDS = ("ours", "openwakeword", "microwakeword")
PEER_LABELS = {"openwakeword": "openWakeWord", "microwakeword": "microWakeWord"}
TARGETS = (1.0, 0.5)


# -- systems ----------------------------------------------------------------------------------
def _our_column(scorer: Any, keyword: str) -> int:
    names = [k.replace(" ", "_").lower() for k in scorer.keywords]
    want = keyword.replace(" ", "_").lower()
    if want in names:
        return names.index(want) + 1
    if len(names) == 1:
        log.warning("%r detects %r, not %r; scoring its only keyword", scorer, scorer.keywords[0],
                    keyword)
        return 1
    raise ValueError(f"{scorer!r} detects {list(scorer.keywords)}; none is {keyword!r}")


def _our_threshold(path: Path, keyword: str) -> float | None:
    manifest = path / "manifest.json"
    if not manifest.is_file():
        return None
    import json

    data = json.loads(manifest.read_text())
    thresholds = data.get("thresholds") or {}
    for name, value in thresholds.items():
        if name.replace(" ", "_").lower() == keyword:
            return float(value)
    return float(next(iter(thresholds.values()))) if thresholds else 0.5


def systems_for(keyword: str, args: argparse.Namespace,
                extra: dict[str, list[tuple[str, Path]]]) -> list[dict[str, Any]]:
    """Descriptions of the systems to evaluate for ``keyword`` (loaded lazily)."""
    kinds = set(args.systems)
    out: list[dict[str, Any]] = []
    if "ours" in kinds:
        found = common.find_model_dirs([keyword])
        if keyword in found:
            out.append({"label": f"wakeword {keyword} ({args.backend})", "kind": "ours",
                        "path": found[keyword], "backend": args.backend})
        else:
            log.info("models/%s not found: no model of ours for %s", keyword, keyword)
    for label, path in extra.get(keyword, []):  # --extra-model: also with --systems ''
        out.append({"label": label, "kind": "ours", "path": path, "backend": args.backend})
    if keyword in PEER_KEYWORDS:
        for family in peers.available_families([k for k in peers.FAMILIES if k in kinds]):
            out.append({"label": f"{PEER_LABELS[family]} {keyword}", "kind": family,
                        "model": keyword})
    return out


def load_system(system: dict[str, Any], keyword: str) -> tuple[Any, int, float | None, dict]:
    """(scorer, score column, shipped threshold, description)."""
    if system["kind"] == "ours":
        from wakeword.eval.scorer import load_scorer

        scorer = load_scorer(system["path"], backend=system["backend"])
        path = Path(system["path"])
        info = {"path": str(path), "backend": system["backend"] if path.is_dir() else "torch",
                "keywords": list(scorer.keywords), "step_s": scorer.step_s}
        return scorer, _our_column(scorer, keyword), _our_threshold(path, keyword), info
    scorer = peers.make_scorer(system["kind"], system["model"])
    info = peers.peer_info(system["kind"], system["model"]).to_dict()
    return scorer, 1, scorer.default_threshold, info


# -- scoring ----------------------------------------------------------------------------------
def score_system(scorer: Any, column: int, positives: list[Any], negatives: common.NegativeSet,
                 max_latency_s: float | None) -> tuple[np.ndarray, list[np.ndarray], dict]:
    from wakeword.eval.evaluate import keyword_scores, positive_window
    from wakeword.eval.metrics import max_score
    from wakeword.progress import progress

    step_s = float(scorer.step_s)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    pos_max = np.empty(len(positives))
    traces: list[tuple[int, np.ndarray]] = []
    for i, clip in enumerate(progress(positives, desc="positives", total=len(positives))):
        scores = keyword_scores(scorer, clip.audio, column, f"positive clip {i}")
        window = positive_window(clip, step_s, max_latency_s)
        pos_max[i] = max_score(scores, window)
        first = 0 if window is None else window[0]
        last = scores.size if window is None else window[1]
        traces.append((first, np.asarray(scores[first:last], np.float32)))
    neg = [keyword_scores(scorer, segment, column, f"negative segment {i}")
           for i, segment in enumerate(progress(negatives.segments, desc="negatives",
                                                total=len(negatives.segments)))]
    audio_s = (sum(c.audio.size for c in positives) + sum(s.size for s in negatives.segments)) \
        / common.SAMPLE_RATE_HZ
    timing = {"cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - wall0,
              "audio_s": audio_s, "traces": traces}
    return pos_max, neg, timing


def spoken_ends(positives: list[Any], range_db: float = 30.0) -> np.ndarray:
    """Where the spoken keyword ends in each positive clip (seconds), estimated from the clean
    recording's energy: the last sample within ``range_db`` of its peak (NaN without a
    readable source file)."""
    from wakeword.data.audio_io import load_audio
    from wakeword.data.engine import phrase_bounds

    out = np.full(len(positives), np.nan)
    for i, clip in enumerate(positives):
        if clip.source is None:
            continue
        try:
            audio = load_audio(clip.source, common.SAMPLE_RATE_HZ)
        except Exception as exc:  # noqa: BLE001 - an unreadable source only loses its estimate
            log.warning("%s: no spoken-end estimate (%s)", clip.source, exc)
            continue
        _, end = phrase_bounds(audio, range_db=range_db)
        if end > 0:
            out[i] = clip.keyword_start_s + end / common.SAMPLE_RATE_HZ
    return out


def detection_latency(traces: list[tuple[int, np.ndarray]], ends_s: np.ndarray,
                      threshold: float, step_s: float) -> dict[str, Any]:
    """Time from the spoken keyword's end to the first step at or above ``threshold`` (the
    step's score is available at its end), over the detected positives."""
    delays = []
    for (first, scores), end in zip(traces, ends_s):
        hits = np.flatnonzero(scores >= threshold)
        if hits.size and np.isfinite(end):
            delays.append((first + int(hits[0]) + 1) * step_s - end)
    if not delays:
        return {"threshold": threshold, "n": 0}
    d = np.asarray(delays)
    return {"threshold": threshold, "n": int(d.size), "median_s": float(np.median(d)),
            "p10_s": float(np.percentile(d, 10)), "p90_s": float(np.percentile(d, 90)),
            "share_before_end": float(np.mean(d < 0))}


def false_accepts(neg_scores: list[np.ndarray], negatives: common.NegativeSet, threshold: float,
                  step_s: float, refractory_s: float, top: int = 15) -> dict[str, Any]:
    """Where the accepts at ``threshold`` come from: per component and the top clips."""
    from wakeword.eval.metrics import accept_steps

    labels: list[str] = []
    for i, scores in enumerate(neg_scores):
        for step in accept_steps(scores, threshold, step_s, refractory_s):
            sample = int(round((int(step) + 1) * step_s * common.SAMPLE_RATE_HZ)) - 1
            labels.append(negatives.label_at(i, sample))
    by_component = collections.Counter(negatives.component_of(lab) for lab in labels)
    hours = {k: v / 3600 for k, v in negatives.components.items()}

    def text_of(label: str) -> str:  # "espeak:voice:text" -> text; files keep their name
        head, _, rest = label.partition(":")
        if head in ("espeak", "kokoro"):
            return f"{head}: {rest.partition(':')[2]}"
        return label

    texts = collections.Counter(text_of(lab) for lab in labels)
    return {
        "threshold": threshold,
        "false_accepts": len(labels),
        "per_hour": len(labels) / negatives.hours,
        "by_component": {k: {"count": by_component.get(k, 0),
                             "per_hour": by_component.get(k, 0) / h if h else None}
                         for k, h in hours.items()},
        "top_clips": texts.most_common(top),
    }


def raw_scores_path(keyword: str, label: str, *, quick: bool = False) -> Path:
    """Where a system's raw scores for ``keyword`` are kept (``benchmarks/out/scores``): the
    per-positive maxima and every negative segment's score trace, threshold-free."""
    safe = "".join(ch if ch.isalnum() else "_" for ch in label)
    return common.OUT_DIR / "scores" / ("quick" if quick else "full") / keyword / f"{safe}.npz"


def summarise(label: str, info: dict, pos_max: np.ndarray, neg: list[np.ndarray],
              negatives: common.NegativeSet, step_s: float, shipped: float | None,
              args: argparse.Namespace, timing: dict) -> tuple[dict[str, Any], Any]:
    from wakeword.eval.metrics import count_false_accepts, det_curve
    from wakeword.eval.report import EvalReport

    curve = det_curve(pos_max, neg, step_s, args.refractory_s, negatives.hours)
    report = EvalReport.from_curve(curve, keyword=label, n_positives=pos_max.size,
                                   negative_hours=negatives.hours, step_s=step_s,
                                   refractory_s=args.refractory_s)
    points = {}
    for target, point in report.operating_points.items():
        points[f"{target:g}"] = None if point is None else point.to_dict()
    traces, ends_s = timing.pop("traces"), timing.pop("spoken_ends_s")
    result: dict[str, Any] = {
        "label": label, "info": info, "step_s": step_s, "n_positives": int(pos_max.size),
        "negative_hours": negatives.hours, "operating_points": points,
        "positives_without_a_scored_step": int(np.sum(pos_max == -np.inf)),
        "scoring": {**timing, "cpu_s_per_audio_s": timing["cpu_s"] / timing["audio_s"]},
    }
    latency = {}
    if report.at_1_fa_per_hour is not None:
        latency["at_1_fa_per_hour"] = detection_latency(
            traces, ends_s, report.at_1_fa_per_hour.threshold, step_s)
    if shipped is not None:
        latency["at_shipped_threshold"] = detection_latency(traces, ends_s, shipped, step_s)
    result["detection_latency_after_spoken_end"] = latency
    if shipped is not None:
        fa = sum(count_false_accepts(s, shipped, step_s, args.refractory_s) for s in neg)
        result["shipped_threshold"] = {
            "threshold": shipped,
            "false_reject_rate": float(np.mean(pos_max < shipped)),
            "false_accepts_per_hour": fa / negatives.hours,
            "false_accepts": false_accepts(neg, negatives, shipped, step_s, args.refractory_s),
        }
    one = report.at_1_fa_per_hour
    if one is not None:
        result["false_accepts_at_1_fa_per_hour"] = false_accepts(
            neg, negatives, one.threshold, step_s, args.refractory_s)
    result["curve"] = {k: [float(f"{x:.6g}") for x in v] for k, v in curve.to_dict().items()}
    return result, curve


# -- output -----------------------------------------------------------------------------------
def _pct(x: float | None) -> str:
    return "  n/a " if x is None else f"{100 * x:5.1f}%"


def print_table(results: dict[str, Any]) -> None:
    print()
    print(f"{'keyword':<11}{'system':<34}{'pos':>5}{'neg h':>7}  {'FRR@1FA/h':>10} "
          f"{'thr':>9}  {'FRR@.5FA/h':>10} {'thr':>9}  {'shipped thr':>11} {'FRR':>6} "
          f"{'FA/h':>6}")
    for keyword, entry in results["keywords"].items():
        for r in entry["systems"]:
            cells = []
            for target in ("1", "0.5"):
                p = r["operating_points"][target]
                if p is None:
                    cells.append(f"{'not reached':>10} {'':>9}")
                elif p["false_reject_rate"] >= 1.0:  # only by rejecting everything
                    cells.append(f"{'100% (all)':>10} {'':>9}")
                else:
                    cells.append(f"{_pct(p['false_reject_rate']):>10} {p['threshold']:9.4g}")
            s = r.get("shipped_threshold")
            shipped = (f"{s['threshold']:11.4g} {_pct(s['false_reject_rate']):>6} "
                       f"{s['false_accepts_per_hour']:6.2f}") if s else f"{'':>11} {'':>6} {'':>6}"
            print(f"{keyword:<11}{r['label'][:33]:<34}{r['n_positives']:>5}"
                  f"{r['negative_hours']:7.2f}  {cells[0]}  {cells[1]}  {shipped}")
    print()
    print(f"machine: {results['machine_line']}")


def run_keyword(keyword: str, args: argparse.Namespace,
                extra: dict[str, list[tuple[str, Path]]]) -> dict[str, Any] | None:
    from wakeword.eval.plots import plot_det

    systems = systems_for(keyword, args, extra)
    if not systems:
        log.info("%s: no system to evaluate; skipped", keyword)
        return None
    options = common.NegativeOptions(
        seed=args.seed, espeak_minutes=args.espeak_minutes,
        kokoro_utterances=args.kokoro_utterances, kokoro_max_wall_s=args.kokoro_max_wall_s,
        use_kokoro=not args.no_kokoro, use_asterisk=not args.no_asterisk)
    limit = args.quick_positives if args.quick else None
    positive_info: dict[str, Any]
    if keyword == "hey_jarvis":
        positives, positive_info = common.hey_jarvis_positives(args.hey_jarvis_n, args.seed,
                                                               limit)
    else:
        positives = common.keyword_positives(keyword, args.seed, limit)
        positive_info = {"source": f"shared/data/keywords/{keyword}", "pad_s": 1.0,
                         "snr_db": 10.0}
    negatives = common.negative_set(keyword, options,
                                    max_hours=args.quick_hours if args.quick else None)
    entry: dict[str, Any] = {"positives": {**positive_info, "n": len(positives)},
                             "negatives": negatives.summary(), "systems": []}
    curves = {}
    ends_s = spoken_ends(positives)
    for system in systems:
        log.info("%s: scoring %s", keyword, system["label"])
        scorer, column, shipped, info = load_system(system, keyword)
        step_s = float(scorer.step_s)
        pos_max, neg, timing = score_system(scorer, column, positives, negatives,
                                            args.max_latency_s)
        timing["spoken_ends_s"] = ends_s
        if hasattr(scorer, "close"):
            scorer.close()
        result, curve = summarise(system["label"], info, pos_max, neg, negatives, step_s,
                                  shipped, args, timing)
        entry["systems"].append(result)
        curves[system["label"]] = curve
        raw = raw_scores_path(keyword, system["label"], quick=args.quick)
        raw.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(raw, pos_max=pos_max, step_s=step_s,
                            **{f"neg_{i}": s.astype(np.float32) for i, s in enumerate(neg)})
        op = result["operating_points"]["1"]
        log.info("%s / %s: FRR at 1 FA/h %s (%.0f s CPU for %.0f s audio)", keyword,
                 system["label"], "not reached" if op is None else
                 f"{100 * op['false_reject_rate']:.1f}%", timing["cpu_s"], timing["audio_s"])
    args.out_dir.mkdir(parents=True, exist_ok=True)
    title = (f"{keyword}: {len(positives)} positives, {negatives.hours:.2f} h negatives"
             f"{' (quick)' if args.quick else ''}")
    plot = plot_det(curves, args.out_dir / f"det_{keyword}.png", title=title)
    entry["plot"] = plot.name
    return entry


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.accuracy", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keywords", default=",".join(KEYWORDS),
                   help=f"comma-separated keywords (default {','.join(KEYWORDS)})")
    p.add_argument("--systems", default=",".join(SYSTEM_KINDS),
                   help=f"comma-separated system kinds (default {','.join(SYSTEM_KINDS)})")
    p.add_argument("--backend", choices=("onnx", "tflite"), default="onnx",
                   help="runtime backend for our exported models (default onnx)")
    p.add_argument("--extra-model", action="append", default=[], metavar="KEYWORD=PATH[@LABEL]",
                   help="also evaluate this model folder or checkpoint for KEYWORD")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: --quick-hours of negatives, --quick-positives positives")
    p.add_argument("--quick-hours", type=float, default=10 / 60)
    p.add_argument("--quick-positives", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--refractory-s", type=float, default=1.0)
    p.add_argument("--max-latency-s", type=float, default=0.5,
                   help="a detection must come at most this long after the recording ends")
    p.add_argument("--espeak-minutes", type=float, default=50.0)
    p.add_argument("--kokoro-utterances", type=int, default=150)
    p.add_argument("--kokoro-max-wall-s", type=float, default=3600.0,
                   help="stop synthesising Kokoro negatives after this long (a cap hit is "
                   "logged and recorded; the default is meant never to be hit)")
    p.add_argument("--no-kokoro", action="store_true", help="no Kokoro speech in the negatives")
    p.add_argument("--no-asterisk", action="store_true",
                   help="leave out asterisk-core-sounds-en-wav even if installed")
    p.add_argument("--hey-jarvis-n", type=int, default=100,
                   help="Kokoro-synthesised 'hey jarvis' positives")
    p.add_argument("--out-dir", type=Path, default=None,
                   help="where JSON and PNGs go (default benchmarks/results, or "
                   "benchmarks/out/quick with --quick)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not common.begin(args, "benchmarks/accuracy.py"):
        return 0
    args.keywords = [k.strip() for k in args.keywords.split(",") if k.strip()]
    args.systems = [k.strip() for k in args.systems.split(",") if k.strip()]
    for k in args.keywords:
        if k not in KEYWORDS:
            raise SystemExit(f"--keywords: {k!r} is not one of {list(KEYWORDS)}")
    for k in args.systems:
        if k not in SYSTEM_KINDS:
            raise SystemExit(f"--systems: {k!r} is not one of {list(SYSTEM_KINDS)}")
    if args.out_dir is None:
        args.out_dir = common.OUT_DIR / "quick" if args.quick else common.RESULTS_DIR
    extra = common.parse_extra_models(args.extra_model)
    machine = common.machine_info()
    started = time.perf_counter()
    results: dict[str, Any] = {
        "benchmark": "accuracy",
        "command": "python -m benchmarks.accuracy " + " ".join(argv if argv is not None
                                                               else sys.argv[1:]),
        "machine": machine, "machine_line": common.machine_line(machine),
        "settings": {"quick": args.quick, "seed": args.seed, "refractory_s": args.refractory_s,
                     "max_latency_s": args.max_latency_s, "backend": args.backend,
                     "targets_fa_per_hour": list(TARGETS),
                     "positive_window": "steps ending from the recording start to "
                     "max_latency_s after the recording end"},
        "keywords": {},
    }
    written = []
    for keyword in args.keywords:
        keyword_started = time.perf_counter()
        entry = run_keyword(keyword, args, extra)
        if entry is None:
            continue
        results["keywords"][keyword] = entry
        # one file per keyword, so keywords can be (re)run separately
        written.append(common.write_json(
            args.out_dir / f"accuracy_{keyword}.json",
            {**{k: v for k, v in results.items() if k != "keywords"},
             "keyword": keyword, "wall_s": time.perf_counter() - keyword_started, **entry}))
    print_table(results)
    print(f"wall time {time.perf_counter() - started:.0f} s; wrote "
          f"{', '.join(str(p) for p in written) or 'nothing'} and the DET plot(s) in "
          f"{args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
