"""Evaluation: score positives and negative streams, DET curves, operating points, plots.

    from wakeword.eval import evaluate, load_scorer, negative_stream, positive_clips
    scorer = load_scorer("models/computer")
    report = evaluate(scorer, positive_clips("clips/computer"), negative_stream(["speech/"]))
    print(report.at_1_fa_per_hour)

``metrics`` is pure numpy; ``plots`` imports matplotlib only when drawing. Negative audio is
read and scored block by block (``negative_stream``, ``open_stream``): memory does not grow
with the hours of negatives.
"""

from wakeword.eval.evaluate import evaluate, stream_keyword_scores
from wakeword.eval.metrics import (
    DetCurve,
    OperatingPoint,
    accept_steps,
    count_false_accepts,
    default_thresholds,
    det_curve,
    detected,
    max_score,
    operating_point,
)
from wakeword.eval.outputs import EvalFiles, write_outputs
from wakeword.eval.plots import plot_det, plot_score_trace
from wakeword.eval.report import EvalReport
from wakeword.eval.scorer import RuntimeScorer, Scorer, ScoreStream, load_scorer, open_stream
from wakeword.eval.streams import (
    NegativeStream,
    PositiveClip,
    negative_stream,
    positive_clips,
)

__all__ = [
    "DetCurve",
    "EvalFiles",
    "EvalReport",
    "NegativeStream",
    "OperatingPoint",
    "PositiveClip",
    "RuntimeScorer",
    "ScoreStream",
    "Scorer",
    "accept_steps",
    "count_false_accepts",
    "default_thresholds",
    "det_curve",
    "detected",
    "evaluate",
    "load_scorer",
    "max_score",
    "negative_stream",
    "open_stream",
    "operating_point",
    "plot_det",
    "plot_score_trace",
    "positive_clips",
    "stream_keyword_scores",
    "write_outputs",
]
