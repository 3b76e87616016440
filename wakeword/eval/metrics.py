"""Detection metrics on per-step keyword scores: false accepts, detections and the DET curve.

Pure numpy. Conventions used throughout:

- A *score stream* is one keyword's probability per model step, shape ``[steps]``; step ``k``
  covers audio up to ``(k + 1) * step_s`` seconds.
- A step *fires* when its score is ``>= threshold``.
- *Refractory merge*: a firing step is an *accept* unless it lies less than ``refractory_s``
  after the previous accept, i.e. accept ``i`` suppresses every step ``j`` with
  ``(j - i) * step_s < refractory_s``. Suppressed steps do not extend the refractory window
  (it runs from the last accept, as in a detector that goes quiet after it fires), so one long
  utterance fires once per ``refractory_s``.
- On a positive clip what matters is the clip's highest score (optionally inside a window of
  steps around the keyword): the clip is detected at every threshold up to that score.

``det_curve`` computes the curve for about a thousand thresholds over many hours of negative
scores quickly: per threshold only the firing steps are examined, groups of firing steps closer
together than the refractory gap whose span is below the gap count as exactly one accept each,
and only long dense groups are resolved by vectorised pointer jumping (``O(n log n)``, no
Python loop over steps). The greedy left-to-right merge keeps the largest possible set of
accepts that are pairwise at least ``refractory_s`` apart, so false accepts never increase with
the threshold and the curve is monotone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from wakeword.errors import ConfigError, DataError

__all__ = [
    "DetCurve",
    "OperatingPoint",
    "accept_steps",
    "count_false_accepts",
    "default_thresholds",
    "det_curve",
    "detected",
    "max_score",
    "operating_point",
    "refractory_steps",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# Default thresholds: evenly spaced in logit space, so the curve has resolution both near 0 and
# in the 0.99..0.9999999 region where confident models put their operating points.
DEFAULT_THRESHOLD_COUNT = 1000
DEFAULT_THRESHOLD_RANGE = (1e-4, 1.0 - 1e-7)
_WALK_STEPS = 2048  # Python iterations left after pointer jumping
_EPS = 1e-9


# -- small helpers ----------------------------------------------------------------------------
def _scores_1d(scores: npt.ArrayLike, name: str) -> npt.NDArray[np.floating[Any]]:
    array = np.asarray(scores)
    if array.ndim != 1:
        raise DataError(f"{name} must be a 1-D array of per-step scores, got shape {array.shape}; "
                        "pass one keyword's column, e.g. scores[:, 1]")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise DataError(f"{name} contains NaN or infinite scores; check the scorer's output")
    return array


def refractory_steps(refractory_s: float, step_s: float) -> int:
    """The smallest step distance between two accepts: ``ceil(refractory_s / step_s)``, >= 1.

    Two firing steps ``d`` steps apart are separate accepts when ``d * step_s >= refractory_s``.
    """
    if not (math.isfinite(step_s) and step_s > 0):
        raise ConfigError(f"step_s is {step_s}; it must be a positive number of seconds per step")
    if not (math.isfinite(refractory_s) and refractory_s >= 0):
        raise ConfigError(f"refractory_s is {refractory_s}; it must be >= 0 seconds")
    return max(1, math.ceil(refractory_s / step_s - _EPS))


def _next_accept(steps: IntArray, gap: int) -> npt.NDArray[np.int32]:
    """``nxt[k]``: index of the first firing step at least ``gap`` steps after ``steps[k]``.

    Counted through a prefix sum over the steps' span (``O(span)``, faster than a binary search
    per step when the firing steps are dense; ``searchsorted`` when they are sparse).
    """
    first = int(steps[0])
    span = int(steps[-1]) - first + gap
    if span > 8 * steps.size:
        return np.searchsorted(steps, steps + gap, side="left").astype(np.int32)
    firing_upto = np.zeros(span, dtype=np.int32)
    firing_upto[steps - first] = 1
    np.cumsum(firing_upto, out=firing_upto)  # firing_upto[x] = firing steps <= first + x
    return firing_upto[steps - first + (gap - 1)]


def _chain_length(steps: IntArray, gap: int) -> int:
    """Accepts the greedy merge keeps among sorted firing ``steps``.

    The accepts are the chain ``0 -> nxt[0] -> nxt[nxt[0]] -> ...`` (see :func:`_next_accept`).
    A few rounds of Wyllie's pointer jumping (vectorised) make every link skip ``2**rounds``
    accepts, then a short Python walk follows the chain: about ``_WALK_STEPS`` iterations
    whatever the stream's length.
    """
    m = steps.size
    jump = np.empty(m + 1, dtype=np.int32)
    jump[:m] = _next_accept(steps, gap)
    jump[m] = m  # sentinel: the end of every chain points to itself
    hops = np.ones(m + 1, dtype=np.int32)
    hops[m] = 0
    # Invariant: hops[k] = accepts on the chain from k up to (excluding) jump[k].
    most_accepts = min(m, (int(steps[-1]) - int(steps[0])) // gap + 1)
    gathered = np.empty_like(hops)
    links = 1
    while links * _WALK_STEPS < most_accepts and jump[0] != m:
        np.take(hops, jump, out=gathered)
        hops += gathered
        np.take(jump, jump, out=gathered)
        jump, gathered = gathered, jump
        links *= 2
    total, k = 0, 0
    while k != m:
        total += int(hops[k])
        k = int(jump[k])
    return total


def _accept_count(steps: IntArray, gap: int) -> int:
    """Number of accepts among sorted firing ``steps`` with minimum accept distance ``gap``."""
    n = steps.size
    if n <= 1 or gap <= 1:
        return int(n)
    # Groups: firing steps whose neighbours are closer than the gap. A group starts with an
    # accept (the previous group's last accept is at least `gap` before it), and a group whose
    # span is below the gap holds exactly that one accept.
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    np.greater_equal(np.diff(steps), gap, out=new_group[1:])
    starts = np.flatnonzero(new_group)
    if starts.size * 4 < n:  # dense: few groups, most of them long; chain over all steps
        return _chain_length(steps, gap)
    ends = np.append(starts[1:], n) - 1
    long = steps[ends] - steps[starts] >= gap
    n_long = int(np.count_nonzero(long))
    if n_long == 0:
        return int(starts.size)
    # Long groups are independent of each other too, so one chain over all their members
    # counts the accepts of every long group.
    members = np.repeat(long, ends - starts + 1)
    return int(starts.size - n_long + _chain_length(steps[members], gap))


def _join_segments(segments: Sequence[npt.ArrayLike], gap: int, name: str) -> FloatArray:
    """Concatenate score segments with ``gap`` steps of -inf between them (so they never merge)."""
    parts: list[FloatArray] = []
    separator = np.full(gap, -np.inf)
    for i, segment in enumerate(segments):
        if i:
            parts.append(separator)
        parts.append(np.asarray(_scores_1d(segment, f"{name}[{i}]"), dtype=np.float64))
    return np.concatenate(parts) if parts else np.zeros(0)


# -- single streams ---------------------------------------------------------------------------
def accept_steps(
    scores_1d: npt.ArrayLike, threshold: float, step_s: float, refractory_s: float
) -> IntArray:
    """Step indices of the accepts on one score stream (see the module docstring).

    >>> accept_steps([0, .9, .9, 0, .9, 0, 0, .9], 0.5, step_s=0.1, refractory_s=0.3)
    array([1, 4, 7])
    """
    scores = _scores_1d(scores_1d, "scores_1d")
    gap = refractory_steps(refractory_s, step_s)
    firing = np.flatnonzero(scores >= threshold)
    nxt = np.searchsorted(firing, firing + gap, side="left")
    accepts: list[int] = []
    k = 0
    while k < firing.size:
        accepts.append(int(firing[k]))
        k = int(nxt[k])
    return np.asarray(accepts, dtype=np.int64)


def count_false_accepts(
    scores_1d: npt.ArrayLike, threshold: float, step_s: float, refractory_s: float
) -> int:
    """Accepts on a negative score stream: firing steps, merged within ``refractory_s``.

    >>> count_false_accepts([0, .9, .9, 0, .9, 0, 0, .9], 0.5, step_s=0.1, refractory_s=0.3)
    3
    """
    scores = _scores_1d(scores_1d, "scores_1d")
    gap = refractory_steps(refractory_s, step_s)
    return _accept_count(np.flatnonzero(scores >= threshold), gap)


def max_score(scores_1d: npt.ArrayLike, window: tuple[int, int] | None = None) -> float:
    """Highest score of a clip, optionally only over steps ``window[0] <= k < window[1]``.

    Returns ``-inf`` when the window holds no step (such a clip is never detected).
    """
    scores = _scores_1d(scores_1d, "scores_1d")
    if window is not None:
        start, stop = window
        if start < 0 or stop < start:
            raise ConfigError(f"window is {window}; use (start_step, stop_step) with "
                              "0 <= start_step <= stop_step")
        scores = scores[start:stop]
    return float(scores.max()) if scores.size else -math.inf


def detected(
    scores_1d: npt.ArrayLike, threshold: float, window: tuple[int, int] | None = None
) -> bool:
    """Whether a positive clip is detected: some step (inside ``window``) is ``>= threshold``."""
    return max_score(scores_1d, window) >= threshold


# -- the DET curve ----------------------------------------------------------------------------
def default_thresholds(count: int = DEFAULT_THRESHOLD_COUNT) -> FloatArray:
    """``count`` ascending thresholds from 1e-4 to 1 - 1e-7, evenly spaced in logit space."""
    if count < 2:
        raise ConfigError(f"count is {count}; use at least 2 thresholds")
    low, high = (math.log(p / (1.0 - p)) for p in DEFAULT_THRESHOLD_RANGE)
    logits = np.linspace(low, high, count)
    return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float64)


def _readonly(values: npt.ArrayLike, dtype: type[np.float64] = np.float64) -> FloatArray:
    array = np.array(values, dtype=dtype)  # a private copy
    array.setflags(write=False)
    return array


@dataclass(frozen=True, kw_only=True, eq=False)
class DetCurve:
    """A detection-error trade-off curve, one entry per threshold (ascending).

    Fields (read-only float64 arrays of equal length):
        thresholds: ascending score thresholds.
        false_reject_rate: fraction of positive clips whose highest score is below the threshold
            (non-decreasing).
        false_accepts_per_hour: merged accepts on the negative streams per hour of negative
            audio (non-increasing).
    """

    thresholds: FloatArray
    false_reject_rate: FloatArray
    false_accepts_per_hour: FloatArray

    def __post_init__(self) -> None:
        for name in ("thresholds", "false_reject_rate", "false_accepts_per_hour"):
            array = _readonly(getattr(self, name))
            if array.ndim != 1:
                raise ConfigError(f"DetCurve.{name} must be 1-D, got shape {array.shape}")
            object.__setattr__(self, name, array)
        n = self.thresholds.size
        if n == 0 or self.false_reject_rate.size != n or self.false_accepts_per_hour.size != n:
            raise ConfigError(
                f"DetCurve arrays must be non-empty and equally long; got thresholds {n}, "
                f"false_reject_rate {self.false_reject_rate.size}, false_accepts_per_hour "
                f"{self.false_accepts_per_hour.size}")
        if np.any(np.diff(self.thresholds) <= 0):
            raise ConfigError("DetCurve.thresholds must be strictly ascending")

    def __len__(self) -> int:
        return int(self.thresholds.size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DetCurve):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, name), getattr(other, name))
            for name in ("thresholds", "false_reject_rate", "false_accepts_per_hour")
        )

    __hash__ = None  # type: ignore[assignment]  # holds arrays: unhashable like them

    def to_dict(self) -> dict[str, list[float]]:
        return {
            "thresholds": self.thresholds.tolist(),
            "false_reject_rate": self.false_reject_rate.tolist(),
            "false_accepts_per_hour": self.false_accepts_per_hour.tolist(),
        }


def det_curve(
    pos_max_scores: npt.ArrayLike,
    neg_stream_scores: npt.ArrayLike | Sequence[npt.ArrayLike],
    step_s: float,
    refractory_s: float,
    negative_hours: float,
    thresholds: npt.ArrayLike | None = None,
) -> DetCurve:
    """The DET curve of one keyword.

    Args:
        pos_max_scores: ``[n_positives]`` highest score of each positive clip (``-inf`` allowed:
            never detected). See :func:`max_score`.
        neg_stream_scores: one negative score stream ``[steps]`` or a sequence of streams
            (segments of the negative audio, scored separately; an accept never merges across
            segments).
        step_s: seconds of audio per score step.
        refractory_s: accepts closer than this to the previous accept are merged.
        negative_hours: hours of negative audio the streams were scored from.
        thresholds: thresholds to evaluate (sorted and de-duplicated); default
            :func:`default_thresholds`.

    Returns:
        A :class:`DetCurve` over the ascending thresholds.
    """
    pos = np.asarray(pos_max_scores, dtype=np.float64)
    if pos.ndim != 1 or pos.size == 0:
        raise DataError(f"pos_max_scores must be a non-empty 1-D array, got shape {pos.shape}; "
                        "evaluation needs at least one positive clip")
    if np.any(np.isnan(pos)):
        raise DataError("pos_max_scores contains NaN; check the scorer's output")
    if not (math.isfinite(negative_hours) and negative_hours > 0):
        raise ConfigError(f"negative_hours is {negative_hours}; it must be > 0 (false accepts "
                          "per hour need some negative audio)")
    gap = refractory_steps(refractory_s, step_s)
    if isinstance(neg_stream_scores, np.ndarray):
        if neg_stream_scores.ndim != 1:
            raise DataError(f"neg_stream_scores has shape {neg_stream_scores.shape}; pass one "
                            "keyword's scores [steps], or a list of such segments")
        segments: Sequence[npt.ArrayLike] = [neg_stream_scores]
    else:
        segments = list(neg_stream_scores)  # type: ignore[arg-type]
    stream = _join_segments(segments, gap, "neg_stream_scores")
    covered_hours = (stream.size - gap * max(len(segments) - 1, 0)) * step_s / 3600.0
    if covered_hours > negative_hours * (1 + 1e-6) + len(segments) * step_s / 3600.0:
        raise ConfigError(
            f"negative_hours is {negative_hours:.6g} but the negative scores cover "
            f"{covered_hours:.6g} h at step_s={step_s}; pass the duration of the negative audio")

    if thresholds is None:
        thr = default_thresholds()
    else:
        thr = np.unique(np.asarray(thresholds, dtype=np.float64))
        if thr.ndim != 1 or thr.size == 0 or not np.all(np.isfinite(thr)):
            raise ConfigError("thresholds must be a non-empty 1-D array of finite values")

    frr = np.searchsorted(np.sort(pos), thr, side="left") / pos.size  # share of pos < thr

    counts = np.zeros(thr.size, dtype=np.int64)
    # Walk the thresholds upwards, keeping only the steps that still fire: each round scans
    # the (shrinking) set of firing steps, never the whole stream again.
    candidates = np.flatnonzero(stream >= thr[0])
    candidate_scores = stream[candidates]
    for i, t in enumerate(thr):
        keep = candidate_scores >= t
        if not keep.all():
            candidates = candidates[keep]
            candidate_scores = candidate_scores[keep]
        if candidates.size == 0:
            break
        counts[i] = _accept_count(candidates, gap)
    return DetCurve(
        thresholds=thr,
        false_reject_rate=frr,
        false_accepts_per_hour=counts / negative_hours,
    )


# -- operating points -------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class OperatingPoint:
    """One threshold on a DET curve with its false-reject rate and false accepts per hour."""

    threshold: float
    false_reject_rate: float
    false_accepts_per_hour: float

    def to_dict(self) -> dict[str, float]:
        return {
            "threshold": self.threshold,
            "false_reject_rate": self.false_reject_rate,
            "false_accepts_per_hour": self.false_accepts_per_hour,
        }


def operating_point(curve: DetCurve, fa_per_hour: float) -> OperatingPoint | None:
    """The threshold with the lowest false-reject rate whose false accepts per hour are at most
    ``fa_per_hour``; ``None`` when no threshold of the curve gets there.

    Ties on the false-reject rate go to the fewest false accepts, and remaining ties (equal
    results over a range of thresholds) to the middle of that range, which leaves the most
    margin on both sides.
    """
    if not (math.isfinite(fa_per_hour) and fa_per_hour >= 0):
        raise ConfigError(f"fa_per_hour is {fa_per_hour}; use a target >= 0")
    ok = np.flatnonzero(curve.false_accepts_per_hour <= fa_per_hour)
    if ok.size == 0:
        return None
    frr = curve.false_reject_rate[ok]
    ok = ok[frr == frr.min()]
    fa = curve.false_accepts_per_hour[ok]
    ok = ok[fa == fa.min()]
    best = int(ok[(ok.size - 1) // 2])
    return OperatingPoint(
        threshold=float(curve.thresholds[best]),
        false_reject_rate=float(curve.false_reject_rate[best]),
        false_accepts_per_hour=float(curve.false_accepts_per_hour[best]),
    )
