"""Evaluate a scorer on positive clips and a negative stream: the DET curve and a report."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from wakeword.errors import ConfigError, DataError
from wakeword.eval.metrics import det_curve, max_score
from wakeword.eval.report import EvalReport
from wakeword.eval.scorer import Scorer, open_stream
from wakeword.eval.streams import NegativeStream, PositiveClip
from wakeword.progress import progress

__all__ = ["evaluate", "keyword_scores", "positive_window", "stream_keyword_scores"]

log = logging.getLogger(__name__)


def _keyword_column(scorer: Scorer, keyword: str | None) -> tuple[str, int]:
    keywords = tuple(scorer.keywords)
    if keyword is None:
        if len(keywords) != 1:
            raise ConfigError(f"{scorer!r} detects {list(keywords)}; choose one with keyword= "
                              "(--keyword on the command line)")
        keyword = keywords[0]
    if keyword not in keywords:
        raise ConfigError(f"keyword is {keyword!r} but {scorer!r} detects {list(keywords)}; "
                          "use one of those")
    return keyword, keywords.index(keyword) + 1


def keyword_scores(
    scorer: Scorer, audio: npt.NDArray[np.float32], column: int, where: str
) -> npt.NDArray[np.float64]:
    """One keyword's per-step scores for ``audio``, checking the scorer's output shape."""
    return _column(scorer, scorer.score(audio), column, where)


def _column(scorer: Scorer, output: npt.ArrayLike, column: int, where: str
            ) -> npt.NDArray[np.float64]:
    scores = np.asarray(output)
    n_classes = len(scorer.keywords) + 1
    if scores.ndim != 2 or scores.shape[1] != n_classes:
        raise ConfigError(f"{scorer!r} returned scores of shape {scores.shape} for {where}; a "
                          f"scorer must return [steps, {n_classes}] class probabilities")
    column_scores = scores[:, column].astype(np.float64)
    if not np.all(np.isfinite(column_scores)):
        raise DataError(f"{scorer!r} returned NaN or infinite scores for {where}")
    return column_scores


def stream_keyword_scores(
    scorer: Scorer, blocks: Iterable[npt.NDArray[np.float32]], column: int, where: str
) -> npt.NDArray[np.float64]:
    """One keyword's per-step scores for audio arriving in ``blocks``, scored as one stream
    from a fresh state: the scores of :func:`keyword_scores` on the joined blocks.

    A scorer that streams (:func:`wakeword.eval.scorer.open_stream`) gets the blocks one by
    one, carrying its state, so memory does not grow with the audio's length; any other
    scorer gets the joined audio in one ``score`` call.
    """
    stream = open_stream(scorer)
    if stream is None:
        parts = list(blocks)
        if len(parts) == 1:
            audio = parts[0]
        else:
            audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        return keyword_scores(scorer, audio, column, where)
    pieces: list[npt.NDArray[np.float64]] = []
    try:
        for block in blocks:
            pieces.append(_column(scorer, stream.push(block), column, where))
    finally:
        stream.close()
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float64)


def positive_window(
    clip: PositiveClip, step_s: float, max_latency_s: float | None
) -> tuple[int, int] | None:
    """Steps that may detect ``clip``'s keyword: those whose score is available (at the end of
    the step) after the recording starts and at most ``max_latency_s`` after it ends; ``None``
    (the whole clip) when ``max_latency_s`` is None."""
    if max_latency_s is None:
        return None
    start = math.floor(clip.keyword_start_s / step_s + 1e-9)
    stop = math.floor((clip.keyword_end_s + max_latency_s) / step_s + 1e-9)
    return start, max(start, stop)


def evaluate(
    scorer: Scorer,
    positives: Sequence[PositiveClip],
    negatives: NegativeStream,
    *,
    keyword: str | None = None,
    refractory_s: float = 1.0,
    max_latency_s: float | None = 0.5,
    thresholds: npt.ArrayLike | None = None,
) -> EvalReport:
    """Score every positive clip and negative segment and summarise the keyword's DET curve.

    Args:
        scorer: the model (see :func:`wakeword.eval.scorer.load_scorer`).
        positives: padded keyword clips (:func:`wakeword.eval.streams.positive_clips`).
        negatives: audio without the keyword (:func:`wakeword.eval.streams.negative_stream`);
            each segment is scored as a stream, block by block
            (:func:`stream_keyword_scores`).
        keyword: the keyword to evaluate; may be omitted when the scorer has only one.
        refractory_s: accepts closer than this to the previous accept are merged into one.
        max_latency_s: a positive counts as detected only by steps ending between the start of
            the recording and this long after its end (``None``: anywhere in the padded clip).
        thresholds: the curve's thresholds (default
            :func:`wakeword.eval.metrics.default_thresholds`).
    """
    if not positives:
        raise DataError("no positive clips; pass a folder of keyword recordings")
    if max_latency_s is not None and not (math.isfinite(max_latency_s) and max_latency_s >= 0):
        raise ConfigError(f"max_latency_s is {max_latency_s}; use seconds >= 0 or None")
    keyword, column = _keyword_column(scorer, keyword)
    step_s = float(scorer.step_s)

    pos_max = np.empty(len(positives))
    for i, clip in enumerate(progress(positives, desc="scoring positives", total=len(positives))):
        scores = keyword_scores(scorer, clip.audio, column, f"positive clip {i}")
        pos_max[i] = max_score(scores, positive_window(clip, step_s, max_latency_s))

    neg_scores = [
        stream_keyword_scores(scorer, negatives.blocks(i), column, negatives.describe(i))
        for i in progress(range(negatives.n_segments), desc="scoring negatives",
                          total=negatives.n_segments)
    ]
    curve = det_curve(pos_max, neg_scores, step_s, refractory_s, negatives.hours, thresholds)
    report = EvalReport.from_curve(
        curve, keyword=keyword, n_positives=len(positives), negative_hours=negatives.hours,
        step_s=step_s, refractory_s=refractory_s,
    )
    log.info("%s: %d positives, %.3f h of negatives scored", keyword, len(positives),
             negatives.hours)
    return report
