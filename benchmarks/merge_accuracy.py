"""Merge separately measured systems of one keyword into one accuracy JSON and DET plot.

    python -m benchmarks.merge_accuracy alexa benchmarks/results/accuracy_alexa_peers.json

The peers take about 20 minutes a keyword to score, ours under a minute; when only our model
changed, `python -m benchmarks.accuracy --keywords K --systems ours` is re-run and merged with the
stored peer results of the same evaluation set (same seeds, same positives and negatives: checked).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from wakeword.eval.metrics import DetCurve
from wakeword.eval.plots import plot_det

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keyword")
    parser.add_argument("others", type=Path, nargs="+", help="accuracy JSON files to merge in")
    args = parser.parse_args(argv)
    main_path = RESULTS / f"accuracy_{args.keyword}.json"
    data = json.loads(main_path.read_text())
    labels = {s["label"] for s in data["systems"]}
    for other in args.others:
        extra = json.loads(other.read_text())
        if (extra["positives"], extra["negatives"]) != (data["positives"], data["negatives"]):
            raise SystemExit(f"{other}: evaluated on a different set; re-run it")
        for system in extra["systems"]:
            if system["label"] not in labels:
                system["merged_from"] = {"file": other.name, "command": extra.get("command"),
                                         "machine_line": extra.get("machine_line")}
                data["systems"].append(system)
    curves = {}
    for s in data["systems"]:
        c = s["curve"]
        # stored curves are rounded for JSON: keep the first of any repeated threshold
        _, keep = np.unique(np.asarray(c["thresholds"], dtype=float), return_index=True)
        curves[s["label"]] = DetCurve(
            thresholds=np.asarray(c["thresholds"], dtype=float)[keep],
            false_reject_rate=np.asarray(c["false_reject_rate"], dtype=float)[keep],
            false_accepts_per_hour=np.asarray(c["false_accepts_per_hour"], dtype=float)[keep])
    plot_det(curves, RESULTS / f"det_{args.keyword}.png", title=f"DET: {args.keyword}")
    main_path.write_text(json.dumps(data, indent=1))
    for s in data["systems"]:
        ops = s["operating_points"]
        row = "  ".join(f"FRR@{k} FA/h {v['false_reject_rate']:.1%} (thr {v['threshold']:.3f})"
                        if v else f"FRR@{k} FA/h not reached" for k, v in ops.items())
        print(f"{s['label']:<32} {row}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
