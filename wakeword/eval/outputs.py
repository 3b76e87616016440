"""Write an evaluation's files: ``curve.csv``, ``det.png`` and ``report.json``."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

from wakeword.errors import ConfigError
from wakeword.eval.atomic import write_text_atomic
from wakeword.eval.plots import plot_det
from wakeword.eval.report import TARGET_FA_PER_HOUR, EvalReport

__all__ = ["CURVE_CSV", "DET_PNG", "REPORT_JSON", "EvalFiles", "curve_csv", "write_outputs"]

CURVE_CSV = "curve.csv"
DET_PNG = "det.png"
REPORT_JSON = "report.json"


@dataclass(frozen=True, kw_only=True)
class EvalFiles:
    """Where :func:`write_outputs` wrote each file."""

    curve_csv: Path
    det_png: Path
    report_json: Path


def curve_csv(report: EvalReport) -> str:
    """The DET curve as CSV: a ``threshold,frr,fa_per_hour`` header, one row per threshold."""
    out = io.StringIO()
    out.write("threshold,frr,fa_per_hour\n")
    curve = report.curve
    for t, frr, fa in zip(curve.thresholds.tolist(), curve.false_reject_rate.tolist(),
                          curve.false_accepts_per_hour.tolist(), strict=True):
        out.write(f"{t!r},{frr!r},{fa!r}\n")
    return out.getvalue()


def write_outputs(
    report: EvalReport, out_dir: str | os.PathLike[str], *, label: str | None = None
) -> EvalFiles:
    """Write ``curve.csv``, ``det.png`` and ``report.json`` into ``out_dir`` (created if
    missing), each atomically. ``label`` names the curve in the plot (default: the keyword)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder; pass a folder for the outputs")
    out.mkdir(parents=True, exist_ok=True)
    csv_path = write_text_atomic(out / CURVE_CSV, curve_csv(report))
    png_path = plot_det(
        {label or report.keyword: report.curve}, out / DET_PNG,
        targets_fa_per_hour=TARGET_FA_PER_HOUR,
        title=f"DET: '{report.keyword}', {report.n_positives} positives, "
              f"{report.negative_hours:.2f} h negatives, refractory {report.refractory_s:g} s",
    )
    json_path = write_text_atomic(out / REPORT_JSON, report.to_json())
    return EvalFiles(curve_csv=csv_path, det_png=png_path, report_json=json_path)
