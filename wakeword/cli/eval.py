"""``wakeword eval``: false-reject rate and false accepts per hour of a model, with a DET curve.

    wakeword eval models/computer --positives data/computer --negatives speech/ music.wav \\
        --out runs/eval-computer

scores the keyword recordings (padded with silence and mixed with noise) and the negative audio,
prints the operating points at 1.0 and 0.5 false accepts per hour (or the JSON report with
``--json``) and, with ``--out``, writes ``curve.csv``, ``det.png`` and ``report.json``.

Negative files are checked first (unreadable files, header rates outside 4-384 kHz) and then
read and scored block by block: hours of negatives at any rate need no more memory than a few
seconds of audio. A file cut inside a frame loses that partial frame, with a warning.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from wakeword.data.audio_io import load_audio_blocks, load_folder
from wakeword.data.noise import NoiseBank
from wakeword.errors import ConfigError
from wakeword.eval.evaluate import evaluate
from wakeword.eval.outputs import write_outputs
from wakeword.eval.report import EvalReport
from wakeword.eval.scorer import load_scorer
from wakeword.eval.streams import negative_stream, positive_clips

__all__ = ["format_table", "register", "run"]

log = logging.getLogger(__name__)


def _snr_db(text: str) -> float | None:
    if text.lower() in ("none", "off"):
        return None
    try:
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of dB; use e.g. 10, or 'none' for clean clips") from exc


def register(subparsers: Any) -> None:
    """Add the ``eval`` subcommand to the ``wakeword`` parser."""
    parser = subparsers.add_parser(
        "eval",
        help="measure false rejects and false accepts per hour; write a DET curve",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", type=Path,
                        help="exported model folder (with manifest.json) or a *.pt checkpoint")
    parser.add_argument("--positives", metavar="DIR", type=Path, required=True,
                        help="folder of recordings of the keyword")
    parser.add_argument("--negatives", metavar="DIR_OR_FILE", type=Path, nargs="+",
                        required=True, help="audio files or folders without the keyword")
    parser.add_argument("--keyword", metavar="K", default=None,
                        help="keyword to evaluate (needed when the model has several)")
    parser.add_argument("--noise", metavar="DIR", type=Path, default=None,
                        help="folder of noise recordings mixed into the positives "
                             "(default: generated white/pink/brown noise)")
    parser.add_argument("--snr-db", type=_snr_db, default=10.0,
                        help="SNR of the positives' noise in dB, or 'none' (default: 10)")
    parser.add_argument("--pad-s", type=float, default=1.0,
                        help="seconds of silence before and after each positive (default: 1.0)")
    parser.add_argument("--refractory-s", type=float, default=1.0,
                        help="accepts closer than this to the previous one are merged "
                             "(default: 1.0)")
    parser.add_argument("--max-latency-s", type=float, default=0.5,
                        help="a positive counts only if detected by this long after the "
                             "recording ends (default: 0.5)")
    parser.add_argument("--backend", choices=("onnx", "tflite", "auto"), default="onnx",
                        help="runtime backend for an exported model folder (default: onnx)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the noise mixed into the positives (default: 0)")
    parser.add_argument("--out", metavar="DIR", type=Path, default=None,
                        help="folder for curve.csv, det.png and report.json")
    parser.add_argument("--json", action="store_true",
                        help="print the JSON report instead of a table")
    parser.set_defaults(handler=run)


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_table(report: EvalReport) -> str:
    """The report's headline numbers as a plain-text table."""
    lines = [
        f"keyword          {report.keyword}",
        f"positives        {report.n_positives}",
        f"negative audio   {report.negative_hours:.3f} h",
        f"refractory       {report.refractory_s:g} s (step {report.step_s * 1000:g} ms)",
        "",
        f"{'target FA/h':>11}  {'threshold':>12}  {'FRR':>8}  {'FA/h':>8}",
    ]
    for target, point in report.operating_points.items():
        if point is None:
            lowest = float(report.curve.false_accepts_per_hour.min())
            lines.append(f"{target:>11g}  not reached (lowest FA/h on the curve: {lowest:.3g})")
            continue
        lines.append(f"{target:>11g}  {point.threshold:>12.6g}  "
                     f"{point.false_reject_rate:>8.2%}  {point.false_accepts_per_hour:>8.3g}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Evaluate ``args.model`` and print (and optionally write) the report."""
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"{args.out}: exists and is not a folder; pass a folder for "
                          "curve.csv, det.png and report.json (--out)")
    scorer = load_scorer(args.model, backend=args.backend)
    noise = None
    if args.noise is not None:  # noise is drawn at random places: its recordings stay whole
        recordings, paths = load_folder(args.noise, loader=load_audio_blocks)
        log.info("noise bank: %d recordings from %s", len(paths), args.noise)
        noise = NoiseBank(recordings, recording_probability=1.0)
    positives = positive_clips(args.positives, pad_s=args.pad_s, snr_db=args.snr_db,
                               noise=noise, seed=args.seed)
    negatives = negative_stream(args.negatives)
    log.info("%d positive clips from %s; %.3f h of negatives from %d source(s)",
             len(positives), args.positives, negatives.hours, len(args.negatives))
    report = evaluate(scorer, positives, negatives, keyword=args.keyword,
                      refractory_s=args.refractory_s, max_latency_s=args.max_latency_s)
    if args.out is not None:
        files = write_outputs(report, args.out, label=Path(args.model).name)
        log.info("wrote %s, %s and %s", files.curve_csv, files.det_png, files.report_json)
    if args.json:
        sys.stdout.write(report.to_json())
    else:
        print(format_table(report))
    return 0
