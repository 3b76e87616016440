"""Run every benchmark behind ``benchmarks/RESULTS.md`` as one documented run.

    python benchmarks/run_all.py            # everything, full sizes (about an hour on 2 cores)
    python benchmarks/run_all.py --quick    # smoke test: small sizes, writes benchmarks/out/quick

Two lanes share the machine's two cores while nothing is being timed:

* lane A: ``accuracy`` (our three models and the peers, all keywords);
* lane B: ``connectome_ablation`` -> ``personalize`` -> ``train_time``;

then ``cost`` runs alone, so its latency and CPU figures are not disturbed by the other jobs.
Each step is its own process (``python -m benchmarks.<name>``), its output goes to
``benchmarks/out/run_all/<name>.log``; a failing step is reported and the others still run.
``benchmarks/results/run_all.json`` records the commit, the machine, each step's command, start,
wall time and exit code. The exit code is non-zero if any step failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/run_all.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common

ROOT = Path(__file__).resolve().parent.parent


def plan(quick: bool) -> tuple[list[list[str]], list[list[str]], list[str]]:
    """``(lane_a, lane_b, last)``: the steps as ``[module, *arguments]``."""
    quick_dir = str(ROOT / "benchmarks" / "out" / "quick")
    if quick:
        lane_a = [["accuracy", "--quick", "--no-progress"]]
        lane_b = [["connectome_ablation", "--epochs", "2", "--subset", "400",
                   "--negative-hours", "0.05", "--out-dir", quick_dir, "--no-progress"],
                  ["personalize", "--quick", "--out", f"{quick_dir}/personalize.json", "--no-progress"]]
        last = ["cost", "--seconds", "20", "--repeats", "1", "--out", f"{quick_dir}/cost.json"]
        return lane_a, lane_b, last
    lane_a = [["accuracy", "--no-progress"]]
    # The ablation trains every variant with the shipped default's recipe (all of its data,
    # 20 epochs, every-step loss on negatives), so "default" is a fresh draw of that model.
    lane_b = [["connectome_ablation", "--threads", "1", "--epochs", "20",
               "--negative-step-weight", "1.0", "--negative-step-start", "4",
               "--negative-hours", "2.0", "--no-progress"],
              ["personalize", "--model", "models/computer", "--negative-hours", "0.5",
               "--no-progress"],
              ["train_time", "--mode", "record", "--model-dir", "models/computer",
               "--threads", "1", "--estimate-fraction", "0.1", "--negative-hours", "2.0",
               "--no-progress"]]
    return lane_a, lane_b, ["cost"]


def _run(step: list[str], log_dir: Path, record: list[dict]) -> None:
    name, *rest = step
    cmd = [sys.executable, "-m", f"benchmarks.{name}", *rest]
    log_path = log_dir / f"{name}.log"
    started = time.time()
    print(f"$ python -m benchmarks.{name} {' '.join(rest)}   (log: {log_path})", flush=True)
    with open(log_path, "w", encoding="utf-8") as log:
        code = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                              check=False).returncode
    wall = time.time() - started
    print(f"  {name}: exit {code} after {wall / 60:.1f} min", flush=True)
    record.append({"step": name, "command": f"python -m benchmarks.{name} {' '.join(rest)}",
                   "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
                   "wall_s": wall, "exit_code": code, "log": str(log_path.relative_to(ROOT))})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/run_all.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke-test sizes")
    p.add_argument("--skip", default="", help="comma-separated steps to leave out")
    args = p.parse_args(argv)
    if not args.quick:
        import importlib.util

        missing = [m for m in ("pyopen_wakeword", "pymicro_wakeword")
                   if importlib.util.find_spec(m) is None]
        if missing:  # the accuracy step would silently leave the peers out
            print(f"error: {', '.join(missing)} not installed; the peers are part of the run: "
                  "pip install -e '.[peers]' (or make bench)", file=sys.stderr)
            return 2
    lane_a, lane_b, last = plan(args.quick)
    skip = {s for s in args.skip.split(",") if s}
    lane_a = [s for s in lane_a if s[0] not in skip]
    lane_b = [s for s in lane_b if s[0] not in skip]
    log_dir = ROOT / "benchmarks" / "out" / ("quick" if args.quick else "run_all")
    log_dir.mkdir(parents=True, exist_ok=True)
    record: list[dict] = []
    started = time.time()
    machine = common.machine_info()
    lanes = [threading.Thread(target=lambda steps=steps: [_run(s, log_dir, record)
                                                         for s in steps])
             for steps in (lane_a, lane_b) if steps]
    for lane in lanes:
        lane.start()
    for lane in lanes:
        lane.join()
    if last[0] not in skip:
        _run(last, log_dir, record)
    failed = [r["step"] for r in record if r["exit_code"] != 0]
    out = (log_dir if args.quick else ROOT / "benchmarks" / "results") / "run_all.json"
    common.write_json(out, {"command": "python benchmarks/run_all.py" + (" --quick" if args.quick
                                                                        else ""),
                            "machine": machine, "machine_line": common.machine_line(machine),
                            "started": time.strftime("%Y-%m-%dT%H:%M:%S",
                                                     time.localtime(started)),
                            "wall_s": time.time() - started, "steps": record,
                            "failed": failed})
    print(f"wrote {out}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
