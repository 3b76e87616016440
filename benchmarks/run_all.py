"""Run every benchmark that regenerates a table of ``benchmarks/RESULTS.md``.

    python benchmarks/run_all.py            # accuracy (full, >= 2 h negatives) and cost
    python benchmarks/run_all.py --quick    # smoke test: ~10 min of negatives, 20 s of audio

Each step is its own process (``python -m benchmarks.<name>``) so a failure in one is reported
and the others still run; the exit code is non-zero if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/run_all.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke-test sizes")
    args = p.parse_args(argv)
    steps = [
        ["accuracy", *(["--quick"] if args.quick else [])],
        ["cost", *(["--seconds", "20", "--repeats", "1", "--out",
                    str(ROOT / "benchmarks" / "out" / "quick" / "cost.json")]
                   if args.quick else [])],
    ]
    failed = []
    for name, *rest in steps:
        cmd = [sys.executable, "-m", f"benchmarks.{name}", *rest]
        print(f"$ {' '.join(cmd[1:])}", flush=True)
        if subprocess.run(cmd, cwd=ROOT, check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
