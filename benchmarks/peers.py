"""Peer wake-word models behind the evaluation ``Scorer`` protocol and a common stream API.

Two peers, both with built-in "alexa" and "hey_jarvis" models (TFLite inside their wheels):

- openWakeWord through ``pyopen-wakeword`` 1.1.0 (``OpenWakeWordFeatures`` turns s16le audio
  into Google speech embeddings: a mel model every 80 ms (1,280 samples) and an embedding model
  every 8 mel frames; ``OpenWakeWord`` scores the last 16 embeddings). One probability per
  80 ms. It has no smoothing: its CLI fires when a probability is ``> 0.5``.
- microWakeWord through ``pymicro-wakeword`` 2.5.0 (``MicroWakeWordFeatures``: the TFLite Micro
  front end, 40 features every 10 ms (160 samples) from a 30 ms window; ``MicroWakeWord``: a
  streaming int8 model run once per 3 feature frames, i.e. every 30 ms). Its detector
  compares the mean of the last ``sliding_window_size`` (5) probabilities with the model's
  ``probability_cutoff`` (alexa 0.9, hey_jarvis 0.97 in the shipped JSON).

What the adapters do about the peers' APIs:

- Audio goes in as s16le bytes (what both take), converted from float32 with
  :func:`to_int16_bytes`, in each peer's own hop (1,280 samples for openWakeWord, 480 for
  microWakeWord), so every step's score is available at the end of its step as the
  ``Scorer`` protocol says.
- Reset. ``pyopen_wakeword``'s ``reset()`` restores exactly the constructor's state: the
  feature buffer is "auto-filled" with 8 s of zeros (upstream openWakeWord refills it with
  unseeded noise instead); the first 80 ms chunk after a reset therefore yields ~76 scores of
  zero history at once, and the adapter keeps the last one (the window that ends with the
  chunk). ``pymicro_wakeword``'s ``reset()`` re-creates the TFLite interpreter (its streaming
  model keeps internal state) and clears the front end. Every ``score`` call resets first, so
  state is fresh per call (a smoke test checks that scoring twice gives identical scores).
- ``MicroWakeWord.process_streaming_prob`` returns ``0.0`` both on the two calls of every three
  that only collect a feature frame and while its sliding window fills; that ``0.0`` is not a
  score. The adapter counts feature frames against the model's ``stride`` to know which calls
  ran the model, and reads the smoothed value only once the window is full (earlier steps are
  "not ready" and score as background, like ``RuntimeScorer``'s warm-up). The raw
  per-inference probability is read from the detector's window (``_probabilities``, a private
  attribute of the pinned 2.5.0).
- Scores: microWakeWord's are the 5-step means it thresholds; openWakeWord's are its raw
  probabilities (what its CLI thresholds). Both are ``[steps, 2]`` (background, keyword).

Example::

    scorer = make_scorer("openwakeword", "alexa")
    scores = scorer.score(audio)          # float32 16 kHz -> [steps, 2]
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "FAMILIES",
    "PEER_MODELS",
    "MicroWakeWordScorer",
    "MicroWakeWordStream",
    "OpenWakeWordScorer",
    "OpenWakeWordStream",
    "PeerInfo",
    "make_scorer",
    "make_stream",
    "peer_info",
    "to_int16_bytes",
]

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16000
FAMILIES = ("openwakeword", "microwakeword")
PEER_MODELS = ("alexa", "hey_jarvis")
OWW_CHUNK_SAMPLES = 1280  # pyopen_wakeword.openwakeword.SAMPLES_PER_CHUNK (80 ms)
MWW_FEATURE_SAMPLES = 160  # pymicro_wakeword.microwakeword.SAMPLES_PER_CHUNK (10 ms)
OWW_DEFAULT_THRESHOLD = 0.5  # pyopen_wakeword CLI's --probability-threshold default
PACKAGES = {"openwakeword": "pyopen-wakeword", "microwakeword": "pymicro-wakeword"}


def to_int16_bytes(audio: npt.ArrayLike) -> bytes:
    """float32 audio in [-1, 1] -> s16le bytes (scaled by 32767, rounded, clipped)."""
    samples = np.asarray(audio, dtype=np.float32)
    ints = np.clip(np.rint(samples * 32767.0), -32768, 32767).astype("<i2")
    return ints.tobytes()


class PeerStream(Protocol):
    """A peer model as a stream: s16le bytes in, keyword scores out."""

    hop_samples: int

    def process(self, chunk: bytes) -> list[float]:
        """Feed s16le audio; return the scores (decision statistic) the peer produced."""
        ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


def _check_model(family: str, model: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"peer family is {family!r}; use one of {list(FAMILIES)}")
    if model not in PEER_MODELS:
        raise ValueError(f"peer model is {model!r}; use one of {list(PEER_MODELS)} (the "
                         "built-in models both peers ship)")


class OpenWakeWordStream:
    """openWakeWord (pyopen-wakeword): mel + embedding front end and one keyword model."""

    hop_samples = OWW_CHUNK_SAMPLES

    def __init__(self, model: str) -> None:
        _check_model("openwakeword", model)
        from pyopen_wakeword import Model, OpenWakeWord, OpenWakeWordFeatures

        self.model = model
        self._features = OpenWakeWordFeatures.from_builtin()
        self._model = OpenWakeWord.from_builtin(Model(model))
        self.default_threshold = OWW_DEFAULT_THRESHOLD
        self.model_files = [str(self._model.tflite_model), str(self._features.mel_path),
                            str(self._features.emb_path)]

    def process(self, chunk: bytes) -> list[float]:
        scores: list[float] = []
        for embedding in self._features.process_streaming(chunk):
            scores.extend(float(p) for p in self._model.process_streaming(embedding))
        return scores

    def reset(self) -> None:
        self._features.reset()
        self._model.reset()

    def close(self) -> None:
        self._model.close()
        self._features.close()


class MicroWakeWordStream:
    """microWakeWord (pymicro-wakeword): TFLite Micro front end and a streaming int8 model.

    :meth:`process` returns one score per model run once the sliding window is full (the
    window mean the detector thresholds); :attr:`last_raw` holds the raw probabilities of the
    runs of the last call, ready or not.
    """

    hop_samples = 3 * MWW_FEATURE_SAMPLES  # replaced by stride * 160 once loaded

    def __init__(self, model: str) -> None:
        _check_model("microwakeword", model)
        from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model

        self.model = model
        self._model = MicroWakeWord.from_builtin(Model(model))
        self._features = MicroWakeWordFeatures()
        self.stride = int(self._model.stride)
        self.window = int(self._model.sliding_window_size)
        self.hop_samples = self.stride * MWW_FEATURE_SAMPLES
        self.default_threshold = float(self._model.probability_cutoff)
        self.model_files = [str(self._model.tflite_model)]
        self._frames = 0
        self.last_raw: list[float] = []

    def process(self, chunk: bytes) -> list[float]:
        scores: list[float] = []
        self.last_raw = []
        for features in self._features.process_streaming(chunk):
            result = self._model.process_streaming_prob(features)
            self._frames += 1
            if self._frames % self.stride:
                continue  # this call only collected a feature frame: its 0.0 is no score
            window = self._model._probabilities  # pymicro-wakeword 2.5.0 internals
            self.last_raw.append(float(window[-1]))
            if result is not None and len(window) >= self.window:
                scores.append(float(result))
        return scores

    def reset(self) -> None:
        self._features.reset()
        self._model.reset()  # re-creates the interpreter: its streaming state is inside
        self._frames = 0
        self.last_raw = []

    def close(self) -> None:
        self._model.close()


def make_stream(family: str, model: str) -> OpenWakeWordStream | MicroWakeWordStream:
    """A fresh peer stream for ``family`` ("openwakeword" / "microwakeword") and ``model``."""
    _check_model(family, model)
    if family == "openwakeword":
        return OpenWakeWordStream(model)
    return MicroWakeWordStream(model)


class _PeerScorer:
    """Scores float32 16 kHz audio through a peer stream, one step per peer hop."""

    family = ""

    def __init__(self, model: str) -> None:
        self.stream = make_stream(self.family, model)
        self.model = model
        self.keywords: tuple[str, ...] = (model,)
        self.step_s: float = self.stream.hop_samples / SAMPLE_RATE_HZ
        self.default_threshold: float = self.stream.default_threshold

    def score(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``[samples // hop, 2]`` scores (background, keyword) from a fresh state: step ``k``
        holds the last score the peer produced while being fed audio ``k*hop .. (k+1)*hop``;
        steps where it produced none (warm-up) score as background."""
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"audio must be mono [samples], got shape {samples.shape}")
        hop = self.stream.hop_samples
        steps = samples.size // hop
        data = to_int16_bytes(samples[: steps * hop])
        keyword = np.zeros(steps, dtype=np.float32)
        self.stream.reset()
        width = 2 * hop
        for k in range(steps):
            produced = self.stream.process(data[k * width:(k + 1) * width])
            if produced:
                keyword[k] = produced[-1]
        out = np.empty((steps, 2), dtype=np.float32)
        out[:, 1] = keyword
        out[:, 0] = 1.0 - keyword
        return out

    def close(self) -> None:
        self.stream.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r})"


class OpenWakeWordScorer(_PeerScorer):
    """openWakeWord's built-in ``model`` as a ``Scorer`` (80 ms steps, raw probabilities)."""

    family = "openwakeword"


class MicroWakeWordScorer(_PeerScorer):
    """microWakeWord's built-in ``model`` as a ``Scorer`` (30 ms steps, 5-step window means)."""

    family = "microwakeword"


def make_scorer(family: str, model: str) -> OpenWakeWordScorer | MicroWakeWordScorer:
    """A ``Scorer`` for a peer's built-in model."""
    _check_model(family, model)
    if family == "openwakeword":
        return OpenWakeWordScorer(model)
    return MicroWakeWordScorer(model)


@dataclass(frozen=True, kw_only=True)
class PeerInfo:
    """What a peer model is: package version, files, step and default threshold."""

    family: str
    model: str
    package: str
    package_version: str
    step_s: float
    default_threshold: float
    decision_statistic: str
    model_files: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "model": self.model, "package": self.package,
                "package_version": self.package_version, "step_s": self.step_s,
                "default_threshold": self.default_threshold,
                "decision_statistic": self.decision_statistic,
                "model_files": list(self.model_files)}


def peer_info(family: str, model: str) -> PeerInfo:
    """Describe a peer model (loads it briefly)."""
    stream = make_stream(family, model)
    try:
        statistic = ("raw probability per 80 ms step (no smoothing)" if family == "openwakeword"
                     else "mean of the last 5 probabilities (one per 30 ms)")
        return PeerInfo(
            family=family, model=model, package=PACKAGES[family],
            package_version=importlib.metadata.version(PACKAGES[family]),
            step_s=stream.hop_samples / SAMPLE_RATE_HZ,
            default_threshold=stream.default_threshold, decision_statistic=statistic,
            model_files=tuple(stream.model_files))
    finally:
        stream.close()


def available_families(families: Sequence[str] = FAMILIES) -> list[str]:
    """The peer families whose package is installed."""
    found = []
    for family in families:
        try:
            importlib.metadata.version(PACKAGES[family])
        except importlib.metadata.PackageNotFoundError:
            log.warning("%s is not installed (pip install %s); skipping it", PACKAGES[family],
                        PACKAGES[family])
            continue
        found.append(family)
    return found
