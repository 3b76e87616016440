"""PNG plots: DET curves (several models on one plot) and a score trace.

Rendered with matplotlib's Agg canvas directly (no pyplot, no global backend switch) and written
atomically. matplotlib is imported when a plot is drawn (the ``train`` extra).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from wakeword.errors import ConfigError, require
from wakeword.eval.atomic import write_bytes_atomic
from wakeword.eval.metrics import DetCurve, accept_steps, operating_point

__all__ = ["plot_det", "plot_score_trace"]

TARGET_MARKERS = ("o", "s", "^", "D", "v")


def _figure(width_in: float, height_in: float) -> Any:
    require("matplotlib", "train")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), dpi=120, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: str | os.PathLike[str]) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return write_bytes_atomic(path, buffer.getvalue())


def _decade_below(value: float) -> float:
    return float(10.0 ** math.floor(math.log10(value)))


def plot_det(
    curves: Mapping[str, DetCurve],
    path: str | os.PathLike[str],
    *,
    targets_fa_per_hour: Sequence[float] = (1.0, 0.5),
    title: str = "DET curve",
) -> Path:
    """Draw DET curves (label -> curve) into one PNG and return its path.

    x: false accepts per hour, y: false-reject rate, both logarithmic (the usual keyword
    spotting DET view: the interesting corner is small on both axes). Zero values, which a log
    axis cannot show, are drawn on the lower edge. Dotted lines mark the target false-accept
    rates; each curve's lowest-FRR operating point at each target gets a marker, and its legend
    entry states the false-reject rates and thresholds there. Curves are drawn as staircases
    (the thresholds are discrete).
    """
    if not curves:
        raise ConfigError("plot_det needs at least one curve (label -> DetCurve)")
    if not 1 <= len(targets_fa_per_hour) <= len(TARGET_MARKERS):
        raise ConfigError(f"targets_fa_per_hour has {len(targets_fa_per_hour)} values; give 1 "
                          f"to {len(TARGET_MARKERS)} (one marker shape each)")
    markers = TARGET_MARKERS[: len(targets_fa_per_hour)]
    from matplotlib.ticker import FuncFormatter

    fa_all = np.concatenate([c.false_accepts_per_hour for c in curves.values()])
    frr_all = np.concatenate([c.false_reject_rate for c in curves.values()])
    # Lower edges: a decade below the smallest non-zero value (zeros are drawn on the edge).
    x_candidates = [0.01, *targets_fa_per_hour]
    if np.any(fa_all > 0):
        x_candidates.append(float(fa_all[fa_all > 0].min()) / 2)
    y_candidates = [0.01]
    if np.any(frr_all > 0):
        y_candidates.append(float(frr_all[frr_all > 0].min()) / 2)
    x_lo = _decade_below(min(x_candidates))
    y_lo = _decade_below(min(y_candidates))
    # Upper edge: the largest rate, but no further than 1000 FA/h (nobody operates there).
    x_hi = min(10.0 ** math.ceil(math.log10(max(10.0, float(fa_all.max())))), 1000.0)

    figure = _figure(8.0, 6.0 + 0.25 * (len(curves) + len(targets_fa_per_hour)))
    ax = figure.add_subplot()
    for index, (label, curve) in enumerate(curves.items()):
        color = f"C{index % 10}"
        summary = []
        for target, marker in zip(targets_fa_per_hour, markers, strict=True):
            point = operating_point(curve, target)
            if point is None:
                summary.append(f"<= {target:g} FA/h not reached")
                continue
            summary.append(f"FRR {point.false_reject_rate:.2%} at <= {target:g} FA/h "
                           f"(threshold {point.threshold:.6g})")
            ax.plot(max(point.false_accepts_per_hour, x_lo), max(point.false_reject_rate, y_lo),
                    marker=marker, color=color, markersize=8, markeredgecolor="black",
                    linestyle="none", zorder=3)
        fa = np.maximum(curve.false_accepts_per_hour, x_lo)
        frr = np.maximum(curve.false_reject_rate, y_lo)
        # Between two thresholds draw the pessimistic corner (FRR rises before FA falls): the
        # staircase only passes through rates some threshold actually achieves or beats.
        ax.plot(fa, frr, color=color, linewidth=1.8, drawstyle="steps-pre",
                label=f"{label}: " + "; ".join(summary))
    for target, marker in zip(targets_fa_per_hour, markers, strict=True):
        ax.plot([], [], marker=marker, color="0.6", markeredgecolor="black", linestyle="none",
                label=f"operating point: lowest FRR with <= {target:g} FA/h")
    for target in targets_fa_per_hour:
        ax.axvline(target, color="0.5", linestyle=":", linewidth=1)
        ax.annotate(f"{target:g} FA/h", (target, y_lo), xytext=(2, 3),
                    textcoords="offset points", va="bottom", fontsize=8, color="0.35",
                    rotation=90)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, 1.0)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:g}%"))
    ax.set_xlabel("false accepts per hour (0 drawn at the left edge)")
    ax.set_ylabel("false-reject rate (0 drawn at the bottom edge)")
    ax.set_title(title)
    ax.grid(True, which="major", linewidth=0.6, alpha=0.6)
    ax.grid(True, which="minor", linewidth=0.3, alpha=0.3)
    # below the axes, so it never hides a curve however many models are compared
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, frameon=False)
    return _save(figure, path)


def plot_score_trace(
    scores_1d: npt.ArrayLike,
    path: str | os.PathLike[str],
    *,
    step_s: float,
    threshold: float,
    refractory_s: float = 1.0,
    keyword_span_s: tuple[float, float] | None = None,
    title: str = "score trace",
) -> Path:
    """Draw one keyword's score over time with the threshold and the accepts; return the path.

    Step ``k`` is drawn at ``(k + 1) * step_s`` seconds, when its score is available. Accepts
    (firing steps after the refractory merge) get red markers; ``keyword_span_s`` shades where
    the keyword is, if known.
    """
    scores = np.asarray(scores_1d, dtype=np.float64)
    accepts = accept_steps(scores, threshold, step_s, refractory_s)
    times = (np.arange(scores.size) + 1) * step_s

    figure = _figure(9.0, 3.2)
    ax = figure.add_subplot()
    if keyword_span_s is not None:
        ax.axvspan(*keyword_span_s, color="C2", alpha=0.15, label="keyword")
    ax.plot(times, scores, color="C0", linewidth=1.2, label="score")
    ax.axhline(threshold, color="C3", linestyle="--", linewidth=1,
               label=f"threshold {threshold:.6g}")
    if accepts.size:
        ax.plot(times[accepts], scores[accepts], "v", color="C3", markersize=8,
                label=f"{accepts.size} accept(s), refractory {refractory_s:g} s")
    ax.set_xlim(0, max(float(times[-1]) if times.size else 0.0, step_s))
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("keyword probability")
    ax.set_title(title)
    ax.grid(True, linewidth=0.5, alpha=0.5)
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    return _save(figure, path)
