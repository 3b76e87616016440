"""The data engine's default build for one phrase, measured on this machine.

Runs (or finishes) ``wakeword data build --phrase PHRASE`` with the default settings in the
data cache (``--cache-dir``, default the user's cache), then builds it a second time with the
cache warm in a fresh process (the same command; imports included), and records:

- what the build holds: ``positives`` and ``positives_by_source``, ``negative_hours`` and
  ``negative_hours_by_source`` (``real_speech`` = recorded human speech), voices, speakers;
- ``first_build_s``: the time of the first build, from the build log the engine keeps in the
  cache (every stage's time summed over the runs that did work, so a build that was stopped
  and resumed counts only the time spent working); ``--extra-first-build-s`` adds time spent
  outside that log (stated in ``notes``);
- ``cached_build_s``: wall time of the second, fully cached build;
- ``disk_bytes``: the cache entries this build uses (its syntheses and pools);
- the machine.

Writes ``benchmarks/results/data_build.json`` and ``data_build.png`` (shares by source).

    python -m benchmarks.data_build --phrase computer
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import common

RESULTS = Path(__file__).resolve().parent / "results"


def _disk_bytes(data: Any) -> int:
    """Bytes of this build's cache entries: its syntheses and its pool files (not the
    pools of other builds or settings in the same cache)."""
    from wakeword.data.engine import load_synths, synthesis_plan
    from wakeword.data.tts_cache import SynthesisCache

    synths = load_synths(data.config)
    cache = SynthesisCache(data.cache_dir)
    total = 0
    for requests in synthesis_plan(data.config, synths).values():
        for request in requests:
            path = cache.path(request, synths.versions[request.synthesizer])
            if path.is_file():
                total += path.stat().st_size
    return total + sum(p.stat().st_size for p in data.pool_files)


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    pos = result["positives_by_source"]
    a.bar(list(pos), list(pos.values()), color=["#4c72b0", "#dd8452", "#55a868"][:len(pos)])
    a.set_title(f"positives of {result['phrase']!r}: {result['positives']:,} clips")
    a.set_ylabel("clips")
    neg = dict(sorted(result["negative_hours_by_source"].items(), key=lambda kv: -kv[1]))
    b.barh(list(neg), list(neg.values()), color="#8172b3")
    b.invert_yaxis()
    b.set_xlabel("hours")
    b.set_title(f"negatives: {result['negative_hours']:.1f} h")
    fig.suptitle(f"default build: first {result['first_build_s'] / 60:.0f} min, cached "
                 f"{result['cached_build_s']:.0f} s ({result['machine']['cores']} cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phrase", default="computer")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--extra-first-build-s", type=float, default=0.0,
                        help="first-build time spent outside the engine's build log")
    parser.add_argument("--note", action="append", default=[], help="a note to record")
    parser.add_argument("--out", type=Path, default=RESULTS / "data_build.json")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    common.setup_logging()
    from wakeword.data.engine import BuildConfig, build, build_log
    from wakeword.progress import set_progress

    set_progress(not args.no_progress)
    config = BuildConfig(phrase=args.phrase)
    t0 = time.monotonic()
    data = build(config, args.cache_dir)  # the first build, or what is left of it
    finish_s = time.monotonic() - t0
    command = [sys.executable, "-m", "wakeword.cli.main", "--no-progress", "data", "build",
               "--phrase", args.phrase, "--json"]
    if args.cache_dir is not None:
        command += ["--cache-dir", str(args.cache_dir)]
    t1 = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    cached_s = time.monotonic() - t1
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return 1
    second = json.loads(done.stdout)
    log = build_log(args.cache_dir, config)
    stages = {k: round(v["seconds"], 1) for k, v in log.get("stages", {}).items()}
    first_s = sum(stages.values()) + args.extra_first_build_s
    stats = data.stats()
    result = {
        **stats,
        "first_build_s": round(first_s, 1),
        "first_build_stages_s": stages,
        "cached_build_s": round(cached_s, 1),
        "cached_over_first": round(cached_s / first_s, 4) if first_s else None,
        "finish_call_s": round(finish_s, 1),
        "disk_bytes": _disk_bytes(data),
        "cache_dir": str(data.cache_dir),
        "config": config.to_dict(),
        "second_build_matches": second["positives"] == stats["positives"]
        and abs(second["negative_hours"] - stats["negative_hours"]) < 1e-9,
        "notes": args.note,
        "machine": common.machine_info(),
    }
    common.write_json(args.out, result)
    _plot(result, args.out.with_suffix(".png"))
    pos = result["positives"]
    print(f"phrase              {result['phrase']}")
    print(f"positives           {pos:,}: " + ", ".join(
        f"{k} {v:,} ({100 * v / pos:.0f} %)" for k, v in result["positives_by_source"].items()))
    print(f"negatives           {result['negative_hours']:.2f} h: " + ", ".join(
        f"{k} {v:.2f} h" for k, v in result["negative_hours_by_source"].items()))
    print(f"first build         {first_s / 60:.1f} min   cached rebuild {cached_s:.1f} s "
          f"({100 * (result['cached_over_first'] or 0):.2f} % of the first)")
    print(f"disk                {result['disk_bytes'] / 1e9:.2f} GB in {data.cache_dir}")
    print(f"machine             {common.machine_line(result['machine'])}")
    print(f"wrote               {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
