"""Scorers: anything that turns audio into per-step class probabilities, and ``load_scorer``.

A :class:`Scorer` is what evaluation needs from a model, whatever runs it: the torch-free
runtime on an exported model folder (:class:`RuntimeScorer`) or the PyTorch network from a
training checkpoint (``wakeword.train.checkpoint.load_scorer``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from wakeword.errors import CheckpointError, ConfigError, DataError

__all__ = ["CHECKPOINT_SUFFIX", "RuntimeScorer", "Scorer", "load_scorer"]


CHECKPOINT_SUFFIX = ".pt"
SAMPLE_RATE_HZ = 16000
MANIFEST_NAME = "manifest.json"  # device_runtime.manifest.MANIFEST_NAME, without importing it


@runtime_checkable
class Scorer(Protocol):
    """Scores audio in steps.

    Attributes:
        keywords: the keyword of each class after background: class ``k`` is ``keywords[k-1]``.
        step_s: seconds of audio per score step (80 ms by default).
    """

    keywords: tuple[str, ...]
    step_s: float

    def score(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Score float32 mono 16 kHz ``audio`` ``[samples]`` from a fresh streaming state.

        Returns ``[steps, 1 + len(keywords)]`` class probabilities (column 0 is background);
        ``steps = samples // (step_s * 16000)``: a last partial step is not scored.
        """
        ...


class RuntimeScorer:
    """Scores with the torch-free runtime (``device_runtime.Detector``) on an exported folder.

    The scores are what the detector compares with its thresholds: the per-step probabilities
    after the manifest's smoothing. Steps before the detector is ready (warm-up, smoothing
    window filling) cannot fire, so they score as background (1 for class 0, 0 for keywords).
    ``keywords`` and ``step_s`` come from the folder's manifest; audio must be at its sample
    rate (16 kHz).
    """

    def __init__(self, model_dir: str | os.PathLike[str], backend: str = "onnx") -> None:
        from device_runtime import Detector

        self.model_dir = Path(model_dir)
        # trace_s=None: keep every step's scores, however long the audio
        self._detector: Any = Detector(self.model_dir, backend=backend, trace_s=None)
        manifest = self._detector.manifest
        if manifest.sample_rate_hz != SAMPLE_RATE_HZ:
            self._detector.close()
            raise ConfigError(f"{self.model_dir / MANIFEST_NAME}: sample_rate_hz is "
                              f"{manifest.sample_rate_hz} but evaluation audio is "
                              f"{SAMPLE_RATE_HZ} Hz; export the model for {SAMPLE_RATE_HZ} Hz")
        self.keywords: tuple[str, ...] = tuple(manifest.keywords)
        self.step_s: float = manifest.chunk_samples / manifest.sample_rate_hz

    def score(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim != 1:
            raise DataError(f"audio must be mono [samples], got shape {samples.shape}")
        self._detector.reset()
        self._detector.process(samples)
        trace = self._detector.scores
        scores = np.array(trace.smoothed, dtype=np.float32)
        not_ready = ~np.asarray(trace.ready, dtype=bool)
        scores[not_ready] = 0.0
        scores[not_ready, 0] = 1.0
        return scores

    def close(self) -> None:
        """Release the runtime's interpreter."""
        self._detector.close()

    def __repr__(self) -> str:
        return f"RuntimeScorer({str(self.model_dir)!r})"


def load_scorer(path: str | os.PathLike[str], *, backend: str = "onnx") -> Scorer:
    """A scorer for ``path``: an exported model folder (with ``manifest.json``) runs on the
    torch-free runtime with ``backend``; a ``*.pt`` training checkpoint runs in PyTorch."""
    path = Path(path)
    if path.is_dir():
        if not (path / MANIFEST_NAME).is_file():
            raise ConfigError(f"{path}: a model folder needs {MANIFEST_NAME} (written by "
                              "`wakeword export`); pass an exported folder or a *.pt checkpoint")
        return RuntimeScorer(path, backend=backend)
    if path.suffix == CHECKPOINT_SUFFIX:
        if not path.is_file():
            raise CheckpointError(f"{path}: checkpoint not found; pass the *.pt file that "
                                  "`wakeword train` wrote")
        from wakeword.train.checkpoint import load_scorer as load_checkpoint_scorer

        scorer: Scorer = load_checkpoint_scorer(path)
        return scorer
    raise ConfigError(f"{path}: not a model; pass an exported model folder (with "
                      f"{MANIFEST_NAME}) or a training checkpoint (*{CHECKPOINT_SUFFIX})")
