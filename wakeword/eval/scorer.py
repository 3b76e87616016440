"""Scorers: anything that turns audio into per-step class probabilities, and ``load_scorer``.

A :class:`Scorer` is what evaluation needs from a model, whatever runs it: the torch-free
runtime on an exported model folder (:class:`RuntimeScorer`) or the PyTorch network from a
training checkpoint (``wakeword.train.checkpoint.load_scorer``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from wakeword.errors import CheckpointError, ConfigError, DataError

__all__ = ["CHECKPOINT_SUFFIX", "RuntimeScorer", "Scorer", "load_scorer"]

log = logging.getLogger(__name__)

CHECKPOINT_SUFFIX = ".pt"
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

    Relies on this much of the detector: ``Detector(model_dir, backend=...)``, ``reset()``
    (state of a new detector), ``process(chunk)`` with one ``chunk_samples`` chunk (one model
    step), after which ``last_scores`` holds that step's class probabilities
    ``[n_classes]``. ``keywords`` and ``step_s`` come from the folder's manifest.
    """

    def __init__(self, model_dir: str | os.PathLike[str], backend: str = "onnx") -> None:
        from device_runtime import Detector
        from device_runtime.manifest import load_manifest

        self.model_dir = Path(model_dir)
        manifest = load_manifest(self.model_dir)
        if backend not in manifest.graphs:
            raise ConfigError(f"{self.model_dir / MANIFEST_NAME}: graphs has no {backend!r} "
                              f"model; use backend one of {sorted(manifest.graphs)}")
        self.keywords: tuple[str, ...] = tuple(manifest.keywords)
        self.step_s: float = manifest.chunk_samples / manifest.sample_rate_hz
        self._chunk_samples = manifest.chunk_samples
        self._n_classes = len(manifest.class_names)
        self._detector: Any = Detector(self.model_dir, backend=backend)

    def score(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim != 1:
            raise DataError(f"audio must be mono [samples], got shape {samples.shape}")
        self._detector.reset()
        steps = samples.size // self._chunk_samples
        scores = np.empty((steps, self._n_classes), dtype=np.float32)
        for k in range(steps):
            self._detector.process(samples[k * self._chunk_samples:(k + 1) * self._chunk_samples])
            scores[k] = self._detector.last_scores
        return scores

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
