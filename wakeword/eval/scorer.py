"""Scorers: anything that turns audio into per-step class probabilities, and ``load_scorer``.

A :class:`Scorer` is what evaluation needs from a model, whatever runs it: the torch-free
runtime on an exported model folder (:class:`RuntimeScorer`) or the PyTorch network from a
training checkpoint (``wakeword.train.checkpoint.load_scorer``).

Long audio is scored as a stream (:func:`open_stream`): blocks go in one after another, the
model's state carries over from block to block, and each block returns the scores of the steps
it completed, so the audio never has to be in memory at once. The scores are those of
``score`` on the joined blocks (the same steps; equal to float rounding).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from wakeword.errors import CheckpointError, ConfigError, DataError

__all__ = ["CHECKPOINT_SUFFIX", "RuntimeScorer", "ScoreStream", "Scorer", "TorchStream",
           "load_scorer", "open_stream"]


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


class ScoreStream(Protocol):
    """One stream being scored from a fresh state (see :func:`open_stream`)."""

    def push(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Feed the next float32 mono samples; return ``[steps, 1 + len(keywords)]`` class
        probabilities of the steps they completed (a partial step waits for the next block)."""
        ...

    def close(self) -> None:
        """End the stream (a last partial step is never scored)."""
        ...


def _mono(audio: npt.ArrayLike) -> npt.NDArray[np.float32]:
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim != 1:
        raise DataError(f"audio must be mono [samples], got shape {samples.shape}")
    return samples


class _DetectorStream:
    """A :class:`ScoreStream` on a ``device_runtime.Detector``: the same scores as
    :meth:`RuntimeScorer.score`, collected step by step through the detector's ``on_scores``
    callback instead of its trace."""

    def __init__(self, detector: Any, n_classes: int) -> None:
        self._detector = detector
        self._n_classes = n_classes
        self._ready: list[np.ndarray] = []
        self._hook = detector.on_scores
        detector.reset()
        detector.on_scores = self._collect

    def _collect(self, time_s: float, smoothed: np.ndarray) -> None:
        self._ready.append(smoothed)

    def push(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        samples = _mono(audio)
        self._ready.clear()
        before = self._detector.steps
        self._detector.process(samples)
        steps = self._detector.steps - before
        scores = np.zeros((steps, self._n_classes), dtype=np.float32)
        scores[:, 0] = 1.0  # steps before the detector is ready cannot fire (as in score())
        if self._ready:  # readiness only starts, never stops: the ready steps are the last
            scores[steps - len(self._ready):] = np.stack(self._ready)
        self._ready.clear()
        return scores

    def close(self) -> None:
        self._detector.on_scores = self._hook
        self._detector.reset()  # drops the score trace of the stream


class TorchStream:
    """A :class:`ScoreStream` on a PyTorch ``WakeWordModel``: ``stream_step`` chunk by chunk,
    carrying the model's streaming state (and a partial chunk) from one block to the next.
    Its scores equal the clip path's (``softmax(model(audio))``) to float rounding."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self._chunk = int(model.chunk_samples)
        self._state = list(model.initial_stream_state(1))
        self._pending = np.zeros(0, dtype=np.float32)

    def push(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        import torch

        samples = _mono(audio)
        if self._pending.size:
            samples = np.concatenate([self._pending, samples])
        steps = samples.size // self._chunk
        rows = []
        with torch.inference_mode():
            for k in range(steps):
                chunk = torch.from_numpy(samples[None, k * self._chunk:(k + 1) * self._chunk])
                probs, *self._state = self._model.stream_step(chunk, *self._state)
                rows.append(probs[0].numpy())
        self._pending = samples[steps * self._chunk:].copy()
        if not rows:
            n_classes = len(self._model.network_config.class_names)
            return np.zeros((0, n_classes), dtype=np.float32)
        return np.stack(rows).astype(np.float32, copy=False)

    def close(self) -> None:
        self._pending = np.zeros(0, dtype=np.float32)


def open_stream(scorer: Scorer) -> ScoreStream | None:
    """A stream scored from a fresh state with ``scorer``, or ``None`` when it cannot stream.

    A scorer streams when it has an ``open_stream()`` method (:class:`RuntimeScorer`), or a
    PyTorch ``model`` with ``stream_step`` (the checkpoint scorer of
    ``wakeword.train.checkpoint``). Other scorers only score whole arrays (``score``).
    """
    opener = getattr(scorer, "open_stream", None)
    if callable(opener):
        stream: ScoreStream = opener()
        return stream
    model = getattr(scorer, "model", None)
    if all(hasattr(model, name) for name in ("stream_step", "initial_stream_state",
                                             "chunk_samples", "network_config")):
        return TorchStream(model)
    return None


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
        samples = _mono(audio)
        self._detector.reset()
        self._detector.process(samples)
        trace = self._detector.scores
        scores = np.array(trace.smoothed, dtype=np.float32)
        not_ready = ~np.asarray(trace.ready, dtype=bool)
        scores[not_ready] = 0.0
        scores[not_ready, 0] = 1.0
        return scores

    def open_stream(self) -> ScoreStream:
        """Score audio block by block from a fresh state (see :class:`ScoreStream`); close the
        stream before scoring anything else with this scorer."""
        return _DetectorStream(self._detector, len(self.keywords) + 1)

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
