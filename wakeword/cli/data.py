"""`wakeword data`: build, inspect, locate and clear the training-data cache."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from wakeword.errors import ConfigError, DataError

log = logging.getLogger(__name__)

CACHE_DIR_HELP = "data cache folder (default: $WAKEWORD_CACHE_DIR, else ~/.cache/wakeword)"


def add_build_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `wakeword data build` and `wakeword train`."""
    g = p.add_argument_group("training data (see `wakeword data build --help`)")
    g.add_argument("--cache-dir", type=Path, default=None, help=CACHE_DIR_HELP)
    g.add_argument("--n-positives", type=int, default=None,
                   help="synthesised positive clips (default 20000)")
    g.add_argument("--kokoro-share", type=float, default=None,
                   help="share of syntheses spoken by Kokoro, the rest by espeak-ng (default 0.85)")
    g.add_argument("--n-near-miss", type=int, default=None,
                   help="near-miss clips (default 2000)")
    g.add_argument("--kokoro-sentences", type=int, default=None,
                   help="sentences of running speech read by Kokoro (default 300)")
    g.add_argument("--espeak-sentences", type=int, default=None,
                   help="sentences of running speech read by espeak-ng (default 5000)")
    g.add_argument("--no-real-speech", action="store_true",
                   help="leave out the recorded speech of ../shared/data/speech and the Debian "
                   "packages klettres-data and hedgewars-data")
    g.add_argument("--speech", type=Path, action="append", default=[],
                   help="folder of recorded speech to use as negatives (searched recursively; "
                   "manifest.csv with path,speaker,text used when present; repeatable)")
    g.add_argument("--noise-minutes", type=float, default=None,
                   help="minutes of noise and music-like sound (default 40)")
    g.add_argument("--tts-dir", type=Path, default=None,
                   help="Kokoro voice files folder (default: $WAKEWORD_TTS_DIR or "
                   "../shared/tts/kokoro)")
    g.add_argument("--workers", type=int, default=2,
                   help="synthesis processes (default 2: both cores of a small machine)")


def build_config(args: argparse.Namespace, phrase: str, seed: int = 0) -> Any:
    from wakeword.data.engine import BuildConfig

    kw: dict[str, Any] = {"phrase": phrase, "seed": seed,
                          "real_speech": not args.no_real_speech,
                          "speech_dirs": tuple(str(p) for p in args.speech)}
    for name in ("n_positives", "kokoro_share", "n_near_miss", "kokoro_sentences",
                 "espeak_sentences", "noise_minutes"):
        if getattr(args, name) is not None:
            kw[name] = getattr(args, name)
    if args.tts_dir is not None:
        kw["tts_dir"] = str(args.tts_dir)
    return BuildConfig(**kw)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="build and inspect training data (cached, resumable)",
                       description="The data engine: tens of thousands of synthesised "
                       "positives, hours of recorded and synthetic speech, noise; built once "
                       "per machine into a cache and reused by every `wakeword train`.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.required = True

    b = dsub.add_parser("build", help="build (or finish building) the data for a phrase",
                        description="Synthesise and pack the training data of a phrase. The "
                        "default build (20,000 positives, about 12 h of negatives) takes about "
                        "2.5 hours on a 2-core machine the first time and seconds afterwards; "
                        "stopped at any time (Ctrl-C), it resumes where it stopped.")
    b.add_argument("--phrase", required=True, help='the wake phrase, e.g. "computer"')
    b.add_argument("--seed", type=int, default=0,
                   help="seed of the data plan (voices, texts, placement)")
    b.add_argument("--json", action="store_true", help="print the statistics as JSON")
    add_build_options(b)
    b.set_defaults(handler=_build)

    s = dsub.add_parser("stats", help="counts, hours, voices and sources of a built data set",
                        description="Statistics of a built data set: of a training run folder "
                        "(its run.json names the data) or of --phrase with the build options.")
    s.add_argument("run", nargs="?", type=Path, help="training run folder (optional)")
    s.add_argument("--phrase", help="the wake phrase (instead of a run folder)")
    s.add_argument("--seed", type=int, default=0,
                   help="seed the data was built with (as for `data build --seed`)")
    s.add_argument("--json", action="store_true", help="print JSON")
    add_build_options(s)
    s.set_defaults(handler=_stats)

    w = dsub.add_parser("where", help="print the cache folder and its size")
    w.add_argument("--cache-dir", type=Path, default=None, help=CACHE_DIR_HELP)
    w.set_defaults(handler=_where)

    c = dsub.add_parser("clear", help="delete the data cache (everything in it is rebuildable)")
    c.add_argument("--cache-dir", type=Path, default=None, help=CACHE_DIR_HELP)
    c.add_argument("--yes", action="store_true", help="do not ask")
    c.set_defaults(handler=_clear)


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def print_stats(stats: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(stats, indent=2))
        return
    pos = stats["positives"]
    print(f"phrase            {stats['phrase']}")
    print(f"positives         {pos:,}  " + ", ".join(
        f"{k} {v:,} ({100 * v / max(1, pos):.0f} %)"
        for k, v in sorted(stats["positives_by_source"].items())))
    print(f"voices            Kokoro {stats['kokoro_voices_distinct']:,} distinct (blends of "
          f"{stats['kokoro_base_voices_used']} base voices), espeak-ng "
          f"{stats['espeak_voices_distinct']}")
    print(f"near misses       {stats['near_miss_clips']:,} clips of "
          f"{stats['near_miss_phrases']} phrases")
    total = stats["negative_hours"]
    print(f"negatives         {total:.2f} h")
    for k, v in sorted(stats["negative_hours_by_source"].items(), key=lambda kv: -kv[1]):
        val = stats["negative_val_hours_by_source"].get(k, 0.0)
        print(f"  {k:<16}{v:7.2f} h ({100 * v / max(total, 1e-9):4.1f} %), "
              f"{val:.2f} h held out")
    print(f"recorded speakers {stats['real_speech_speakers']} in "
          f"{', '.join(stats['real_speech_corpora']) or 'none'}")


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _build(args: argparse.Namespace) -> int:
    from wakeword.data.engine import build

    if args.workers < 1:
        raise ConfigError(f"--workers is {args.workers}; use 1 or more")
    config = build_config(args, args.phrase, args.seed)
    # a `kill` (SIGTERM) stops the build like Ctrl-C: the time spent is logged, nothing is lost
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        data = build(config, args.cache_dir, workers=args.workers)
    except KeyboardInterrupt:
        print("interrupted: everything made so far is cached; run the same command again to "
              "resume", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    stats = data.stats()
    stats["build_seconds"] = data.build_seconds
    print_stats(stats, args.json)
    if not args.json:
        print(f"built in          {data.build_seconds:.1f} s"
              f"{' (from the cache)' if data.cached else ''}; cache {data.cache_dir}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    from wakeword.data.engine import BuildConfig, build

    if args.run is not None:
        path = Path(args.run) / "run.json"
        if not path.is_file():
            raise DataError(f"{args.run}: no run.json; pass a folder written by `wakeword "
                            "train`, or --phrase")
        try:
            config = BuildConfig.from_dict(json.loads(path.read_text())["data"])
        except (KeyError, json.JSONDecodeError, TypeError) as exc:
            raise DataError(f"{path}: has no data section ({exc}); it was written by an older "
                            "`wakeword train`: use --phrase instead") from exc
    elif args.phrase:
        config = build_config(args, args.phrase, args.seed)
    else:
        raise ConfigError("give a training run folder or --phrase")
    data = build(config, args.cache_dir, cached_only=True)
    print_stats(data.stats(), args.json)
    return 0


def _where(args: argparse.Namespace) -> int:
    from wakeword.data.cache_dir import resolve_cache_dir

    folder = resolve_cache_dir(args.cache_dir)
    size = _folder_bytes(folder) if folder.is_dir() else 0
    print(f"{folder}  ({size / 1e9:.2f} GB; move it by setting WAKEWORD_CACHE_DIR, clear it "
          "with `wakeword data clear`)")
    return 0


def _clear(args: argparse.Namespace) -> int:
    from wakeword.data.cache_dir import resolve_cache_dir

    folder = resolve_cache_dir(args.cache_dir)
    if not folder.is_dir():
        print(f"{folder}: nothing to clear")
        return 0
    ours = {"tts", "pools", "builds", "rirs", "prose"}
    foreign = [p.name for p in folder.iterdir()
               if p.name not in ours and not p.name.startswith(("prose-", "."))]
    if foreign:
        names = ", ".join(sorted(foreign)[:5])
        raise DataError(f"{folder} holds files the data engine did not write ({names}); it is "
                        "not a wakeword cache, so nothing was deleted. Check --cache-dir / "
                        "WAKEWORD_CACHE_DIR")
    if not args.yes:
        answer = input(f"delete {folder} ({_folder_bytes(folder) / 1e9:.2f} GB)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("kept")
            return 1
    shutil.rmtree(folder)
    print(f"deleted {folder}")
    return 0
