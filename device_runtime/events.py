"""What the detector reports: detections and the per-step score trace.

Both are plain frozen dataclasses; nothing here imports an interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Detection", "ScoreTrace"]


@dataclass(frozen=True)
class Detection:
    """One keyword detection.

    Attributes:
        keyword: the detected keyword (one of the model's ``keywords``).
        score: the (smoothed) probability of the keyword class when it crossed the threshold.
        time_s: end of the model step that fired, in seconds since the start of the stream
            (the detector's construction, its last ``reset()``, or the start of the file).
        class_index: the keyword's column in the score vector (0 is background).
        step: index of the model step that fired (one step per ``chunk_samples`` of audio).
        threshold: the threshold the score crossed.
    """

    keyword: str
    score: float
    time_s: float
    class_index: int
    step: int
    threshold: float


@dataclass(frozen=True)
class ScoreTrace:
    """Per-step scores of a detector, oldest first.

    Attributes:
        class_names: column names, ``class_names[0]`` is the background class.
        times_s: ``[n]`` end time of each step in seconds since the stream started.
        raw: ``[n, n_classes]`` probabilities exactly as the graph returned them.
        smoothed: ``[n, n_classes]`` moving average over ``smoothing_steps`` steps, the value
            compared with the thresholds. Rows where the detector was not yet ready (warm-up)
            are NaN, never a made-up 0.0.
        ready: ``[n]`` bool, whether the detector was ready (warm-up over) at that step.
        first_step: index of the first row's step; non-zero when older rows were dropped
            because the trace keeps only the last ``trace_s`` seconds.
    """

    class_names: tuple[str, ...]
    times_s: np.ndarray
    raw: np.ndarray
    smoothed: np.ndarray
    ready: np.ndarray
    first_step: int = 0

    def __len__(self) -> int:
        return int(self.times_s.shape[0])

    def column(self, name: str) -> np.ndarray:
        """The smoothed score column of class ``name`` (NaN during warm-up)."""
        if name not in self.class_names:
            raise KeyError(f"{name!r} is not a class of this model; use one of "
                           f"{list(self.class_names)}")
        return self.smoothed[:, self.class_names.index(name)]
