"""The streaming keyword detector: audio in any chunk size -> model steps -> detections.

A :class:`Detector` is generic over the model folder's manifest (see
:mod:`device_runtime.manifest`): it feeds the graph's audio, state and weight inputs in the
manifest's order, carries every state output over to the next call, smooths the per-class
probabilities over ``smoothing_steps`` steps, and reports a :class:`Detection` when a keyword's
smoothed score reaches its threshold, at most once per ``refractory_s`` per keyword.

Example::

    >>> det = Detector("models/computer")                  # doctest: +SKIP
    >>> for chunk in chunks:                                # any size, int16/float32/bytes
    ...     for d in det.process(chunk):
    ...         print(d.keyword, d.time_s, d.score)
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from device_runtime.audio import ClipMeter, to_float32
from device_runtime.audio_file import iter_audio
from device_runtime.backends import BACKEND_CHOICES, Backend, open_backend, resolve_backend
from device_runtime.errors import DeviceRuntimeError, ModelError
from device_runtime.events import Detection, ScoreTrace
from device_runtime.manifest import Manifest, check_sidecar, load_manifest, model_file
from device_runtime.npz import load_npz

__all__ = ["DEFAULT_TRACE_S", "MODELS_DIR", "Detector", "list_pretrained", "load_weights",
           "resolve_model"]

if TYPE_CHECKING:
    from typing_extensions import Self

logger = logging.getLogger(__name__)

# The shipped models: inside the installed package (a wheel packs them from ``models/``), or
# the repository's ``models/`` folder in a clone or an editable install.
PACKAGED_MODELS_DIR = Path(__file__).resolve().parent / "models"
REPO_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
MODELS_DIR = PACKAGED_MODELS_DIR if PACKAGED_MODELS_DIR.is_dir() else REPO_MODELS_DIR
DEFAULT_TRACE_S = 600.0
MAX_WEIGHTS_BYTES = 512 * 1024 * 1024

DetectionCallback = Callable[[Detection], None]
ScoresCallback = Callable[[float, np.ndarray], None]


def list_pretrained(models_dir: str | os.PathLike[str] = MODELS_DIR) -> list[str]:
    """Names of the model folders (those holding a manifest.json) in ``models_dir``."""
    base = Path(models_dir)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / "manifest.json").is_file())


def _is_model_name(name: str) -> bool:
    return Path(name).name == name and name not in ("", ".", "..")


def resolve_model(model: str | os.PathLike[str]) -> Path:
    """The model folder ``model`` names: a path to a folder, else the name of a shipped model
    (``"computer"`` -> ``MODELS_DIR/computer``). A path that exists always wins."""
    path = Path(model)
    if path.exists() or not _is_model_name(str(model)):
        return path
    shipped = MODELS_DIR / str(model)
    if (shipped / "manifest.json").is_file():
        return shipped
    names = list_pretrained()
    raise ModelError(f"{model}: no such model folder, and no shipped model has that name; "
                     f"shipped models: {names or 'none'} (in {MODELS_DIR})")


def load_weights(model_dir: str | os.PathLike[str], manifest: Manifest) -> dict[str, np.ndarray]:
    """The graph's weight inputs from ``weights.npz``, checked against the manifest."""
    specs = manifest.weight_inputs
    if not specs:
        return {}
    path = model_file(model_dir, manifest.weights_file, field_name="weights_file")
    if not path.is_file():
        raise ModelError(f"{path}: missing; the graph takes its trained weights "
                         f"{[s.name for s in specs]} from this file: re-export the model")
    stored = load_npz(path, max_bytes=MAX_WEIGHTS_BYTES)
    weights = {}
    for spec in specs:
        if spec.name not in stored:
            raise ModelError(f"{path}: has no array {spec.name!r} (it holds {sorted(stored)}); "
                             "re-export the model")
        value = stored[spec.name]
        if tuple(value.shape) != spec.shape:
            raise ModelError(f"{path}: {spec.name} has shape {list(value.shape)} but the "
                             f"manifest input expects {list(spec.shape)}; re-export the model")
        if value.dtype.kind not in "biuf":
            raise ModelError(f"{path}: {spec.name} holds {value.dtype} values, expected "
                             f"{spec.dtype} numbers; re-export the model")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            bad = int(np.count_nonzero(~np.isfinite(value)))
            raise ModelError(f"{path}: {spec.name} holds {bad} NaN or infinite value(s) of "
                             f"{value.size}; the weights are damaged: re-export the model or "
                             "restore weights.npz")
        weights[spec.name] = np.ascontiguousarray(value, dtype=np.dtype(spec.dtype))
    return weights


class _Trace:
    """A growable ring buffer of per-step scores holding at most ``capacity`` steps."""

    def __init__(self, n_classes: int, capacity: int | None) -> None:
        self.n_classes = n_classes
        self.capacity = capacity
        self.clear()

    def clear(self) -> None:
        size = 64 if self.capacity is None else min(64, self.capacity)
        self._times = np.zeros(size, dtype=np.float64)
        self._raw = np.zeros((size, self.n_classes), dtype=np.float32)
        self._smoothed = np.zeros((size, self.n_classes), dtype=np.float32)
        self._ready = np.zeros(size, dtype=bool)
        self._count = 0  # steps ever appended

    def _grow(self) -> None:
        size = self._times.size * 2
        if self.capacity is not None:
            size = min(size, self.capacity)
        for name in ("_times", "_raw", "_smoothed", "_ready"):
            old = getattr(self, name)
            new = np.zeros((size, *old.shape[1:]), dtype=old.dtype)
            new[: old.shape[0]] = old
            setattr(self, name, new)

    def append(self, time_s: float, raw: np.ndarray, smoothed: np.ndarray | None) -> None:
        if self._count >= self._times.size and (self.capacity is None
                                                or self._times.size < self.capacity):
            self._grow()
        i = self._count % self._times.size
        self._times[i] = time_s
        self._raw[i] = raw
        if smoothed is None:
            self._smoothed[i] = np.nan
            self._ready[i] = False
        else:
            self._smoothed[i] = smoothed
            self._ready[i] = True
        self._count += 1

    def snapshot(self, class_names: tuple[str, ...]) -> ScoreTrace:
        size = self._times.size
        n = min(self._count, size)
        if self._count <= size:
            order = np.arange(n)
        else:
            start = self._count % size
            order = np.concatenate([np.arange(start, size), np.arange(0, start)])
        return ScoreTrace(class_names=class_names, times_s=self._times[order].copy(),
                          raw=self._raw[order].copy(), smoothed=self._smoothed[order].copy(),
                          ready=self._ready[order].copy(), first_step=self._count - n)


class Detector:
    """Streaming keyword detection with one exported model folder.

    Args:
        model_dir: a model folder (``manifest.json`` + graphs + ``weights.npz``).
        backend: ``"onnx"``, ``"tflite"`` or ``"auto"`` (ONNX if installed, else TFLite).
            A named backend is never replaced by another.
        threshold: ``None`` (the manifest's per-keyword thresholds), one float for every
            keyword, or a dict ``{keyword: threshold}`` (keywords left out keep the manifest's).
        smoothing_steps: moving-average length in model steps; ``None`` uses the manifest's.
        refractory_s: after a detection, the same keyword is not reported again for this many
            seconds; ``None`` uses the manifest's.
        on_detection: optional callback receiving each :class:`Detection` (also returned).
        on_scores: optional callback ``(time_s, smoothed_scores)`` after every ready step.
        trace_s: seconds of per-step scores kept for :attr:`scores` (``None``: everything).
        num_threads: interpreter threads.

    Audio is mono at the manifest's ``sample_rate_hz``: float32 in [-1, 1], int16, or raw
    s16le bytes, in chunks of any size; see :mod:`device_runtime.audio` for the NaN and
    clipping policy. Not thread-safe: use one detector per thread.
    """

    def __init__(self, model_dir: str | os.PathLike[str], backend: str = "auto",
                 threshold: float | Mapping[str, float] | None = None,
                 smoothing_steps: int | None = None, refractory_s: float | None = None, *,
                 on_detection: DetectionCallback | None = None,
                 on_scores: ScoresCallback | None = None,
                 trace_s: float | None = DEFAULT_TRACE_S, num_threads: int = 1) -> None:
        self._closed = True  # until fully built, so close()/__del__ on failure are safe
        self.model_dir = Path(model_dir)
        if backend not in BACKEND_CHOICES:
            raise ValueError(f"backend must be one of {BACKEND_CHOICES}, got {backend!r}")
        self.manifest = manifest = load_manifest(self.model_dir)
        check_sidecar(manifest, self.model_dir)
        self.thresholds = self._resolve_thresholds(manifest, threshold)
        self.smoothing_steps = int(manifest.smoothing_steps if smoothing_steps is None
                                   else smoothing_steps)
        self.refractory_s = float(manifest.refractory_s if refractory_s is None
                                  else refractory_s)
        if self.smoothing_steps < 1:
            raise ValueError(f"smoothing_steps must be >= 1, got {self.smoothing_steps}")
        if not self.refractory_s >= 0:
            raise ValueError(f"refractory_s must be >= 0, got {self.refractory_s}")
        if trace_s is not None and not trace_s > 0:
            raise ValueError(f"trace_s must be positive or None, got {trace_s}")
        self.on_detection = on_detection
        self.on_scores = on_scores
        fmt = resolve_backend(backend, manifest.graphs, where=str(self.model_dir))
        self._weights = load_weights(self.model_dir, manifest)
        graph = model_file(self.model_dir, manifest.graphs[fmt], field_name=f"graphs.{fmt}")
        self._backend: Backend = open_backend(
            fmt, graph, inputs=manifest.inputs,
            n_outputs=len(manifest.outputs), num_threads=num_threads)
        self.backend = fmt
        logger.debug("%s: %s backend, chunk %d samples", self.model_dir, fmt,
                     manifest.chunk_samples)
        enrollment = manifest.provenance.get("enrollment")
        if isinstance(enrollment, dict) and enrollment.get("accepted") is False:
            logger.warning("%s: this fine-tuned model validated worse than its base model %s; "
                           "prefer the base model", self.model_dir, enrollment.get("base_model"))

        # graph call plan
        self._score_index = next(i for i, t in enumerate(manifest.outputs) if t.role == "scores")
        self._state_feeds = [(i, t.state_of) for i, t in enumerate(manifest.outputs)
                             if t.role == "state"]
        self._state_specs = {t.name: t for t in manifest.state_inputs}
        self._n_classes = len(manifest.class_names)
        self._chunk = manifest.chunk_samples
        self._refractory_samples = self.refractory_s * manifest.sample_rate_hz
        capacity = None if trace_s is None else max(
            1, math.ceil(trace_s * manifest.sample_rate_hz / self._chunk))
        self._trace = _Trace(self._n_classes, capacity)
        self._clip = ClipMeter(manifest.sample_rate_hz)
        self._closed = False
        self.reset()

    # -- construction helpers -------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, name: str, **kwargs: Any) -> Detector:
        """A detector for the shipped model ``name`` (see :func:`list_pretrained`): from the
        installed package's ``device_runtime/models``, or the repository's ``models/`` folder.

        ``kwargs`` are the constructor's (backend, threshold, ...).
        """
        path = MODELS_DIR / name
        if not _is_model_name(name) or not (path / "manifest.json").is_file():
            names = list_pretrained()
            raise ModelError(f"{path}: no model named {name!r}; available: {names or 'none'} "
                             f"(in {MODELS_DIR}); or pass a folder path to Detector()")
        return cls(path, **kwargs)

    @staticmethod
    def _resolve_thresholds(manifest: Manifest,
                            threshold: float | Mapping[str, float] | None) -> dict[str, float]:
        resolved = {kw: manifest.threshold(kw) for kw in manifest.keywords}
        if threshold is None:
            pass
        elif isinstance(threshold, Mapping):
            unknown = sorted(set(threshold) - set(manifest.keywords))
            if unknown:
                raise ValueError(f"threshold names {unknown}, which are not keywords of "
                                 f"{manifest.name}; use some of {list(manifest.keywords)}")
            resolved.update({k: float(v) for k, v in threshold.items()})
        else:
            resolved = {kw: float(threshold) for kw in manifest.keywords}
        for kw, value in resolved.items():
            if not 0.0 < value <= 1.0:
                raise ValueError(f"threshold for {kw!r} is {value}; use a probability in (0, 1]")
        return resolved

    # -- state ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget all audio: exactly the state of a newly constructed detector."""
        self._check_open()
        self._states = {name: np.zeros(spec.shape, dtype=np.dtype(spec.dtype))
                        for name, spec in self._state_specs.items()}
        self._buffer = np.zeros((1, self._chunk), dtype=np.float32)
        self._fill = 0
        self._odd_byte = b""
        self._step = 0
        self._window = np.zeros((self.smoothing_steps, self._n_classes), dtype=np.float64)
        self._window_count = 0
        self._last_fire: dict[str, int] = {}
        self._trace.clear()
        self._clip.reset()

    def close(self) -> None:
        """Release the interpreter. Any later use raises; closing twice is allowed."""
        if getattr(self, "_closed", True):
            self._closed = True
            return
        self._closed = True
        self._backend.close()

    def __enter__(self) -> Self:
        self._check_open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise DeviceRuntimeError(f"Detector({self.model_dir}) is closed; create a new one")

    # -- properties -------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def keywords(self) -> tuple[str, ...]:
        return self.manifest.keywords

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.manifest.class_names

    @property
    def sample_rate_hz(self) -> int:
        return self.manifest.sample_rate_hz

    @property
    def chunk_samples(self) -> int:
        return self._chunk

    @property
    def ready(self) -> bool:
        """Whether warm-up is over: smoothed scores exist and detections can fire."""
        self._check_open()
        return self._window_count >= self.smoothing_steps

    @property
    def warmup_s(self) -> float:
        """Audio needed before the detector is ready, in seconds."""
        steps = self.manifest.warmup_steps + self.smoothing_steps
        return steps * self._chunk / self.sample_rate_hz

    @property
    def steps(self) -> int:
        """Model steps run since construction or reset."""
        return self._step

    @property
    def time_s(self) -> float:
        """Seconds of audio scored since construction or reset (whole steps only)."""
        return self._step * self._chunk / self.sample_rate_hz

    @property
    def clipped_samples(self) -> int:
        """Samples at or beyond full scale seen since construction or reset."""
        return self._clip.clipped_samples

    @property
    def scores(self) -> ScoreTrace:
        """The per-step score trace (the last ``trace_s`` seconds), oldest first."""
        self._check_open()
        return self._trace.snapshot(self.class_names)

    # -- processing -------------------------------------------------------------------------
    def process(self, chunk: np.ndarray | bytes | bytearray | memoryview) -> list[Detection]:
        """Feed audio of any length; return the detections it completed, oldest first.

        Samples are buffered until a whole model chunk (``chunk_samples``) is available, so
        the result does not depend on how the stream is cut. Raw bytes are s16le; a trailing
        odd byte is kept for the next call. A chunk with NaN or inf raises
        :class:`~device_runtime.errors.AudioError` and leaves the detector unchanged.
        """
        self._check_open()
        if isinstance(chunk, (bytes, bytearray, memoryview)):
            raw = self._odd_byte + bytes(chunk)
            cut = len(raw) - (len(raw) % 2)
            samples = to_float32(raw[:cut])
            self._odd_byte = raw[cut:]
        else:
            samples = to_float32(chunk)
        samples = np.ascontiguousarray(self._clip.check(samples))
        found: list[Detection] = []
        c, pos, n = self._chunk, 0, samples.size
        if self._fill:
            take = min(c - self._fill, n)
            self._buffer[0, self._fill:self._fill + take] = samples[:take]
            self._fill += take
            pos = take
            if self._fill == c:
                self._fill = 0
                self._run_step(self._buffer, found)
        while n - pos >= c:
            frame = samples[pos:pos + c].reshape(1, c)
            self._run_step(frame, found)
            pos += c
        if pos < n:
            self._buffer[0, : n - pos] = samples[pos:]
            self._fill = n - pos
        return found

    def process_file(self, path: str | os.PathLike[str], *, downmix: bool = False) -> list[Detection]:
        """Reset, then replay an audio file through :meth:`process`; times are from the file's
        start. Other sample rates are resampled; a final partial chunk is not scored, as in a
        stream. The file is read block by block (memory does not grow with its length); its
        scores are then in :attr:`scores` (the last ``trace_s`` seconds of them). A file that
        cannot be opened leaves the detector unchanged; an error later in the file (a NaN
        block) leaves it with the audio before the error."""
        self._check_open()
        blocks = iter_audio(path, self.sample_rate_hz, downmix=downmix)
        first = next(blocks)  # header and first block checked before the reset
        self.reset()
        found = self.process(first)
        for block in blocks:
            found.extend(self.process(block))
        return found

    def _run_step(self, frame: np.ndarray, found: list[Detection]) -> None:
        inputs = []
        for spec in self.manifest.inputs:
            if spec.role == "audio":
                inputs.append(frame)
            elif spec.role == "state":
                inputs.append(self._states[spec.name])
            else:
                inputs.append(self._weights[spec.name])
        outputs = self._backend.run(inputs)
        for index, name in self._state_feeds:
            spec = self._state_specs[str(name)]
            self._states[str(name)] = np.asarray(outputs[index], dtype=np.dtype(spec.dtype)) \
                .reshape(spec.shape)
        raw = np.asarray(outputs[self._score_index], dtype=np.float32).reshape(-1)
        if not np.isfinite(raw).all():
            raise ModelError(f"{self.model_dir}: the model produced non-finite scores "
                             f"({raw.tolist()}) at step {self._step}; its graph or weights are "
                             "damaged: re-export the model (no detection was reported)")
        step = self._step
        self._step += 1
        time_s = self._step * self._chunk / self.sample_rate_hz
        smoothed = None
        if step >= self.manifest.warmup_steps:
            self._window[self._window_count % self.smoothing_steps] = raw
            self._window_count += 1
            if self._window_count >= self.smoothing_steps:
                smoothed = self._window.mean(axis=0).astype(np.float32)
        self._trace.append(time_s, raw, smoothed)
        if smoothed is None:
            return
        if self.on_scores is not None:
            self.on_scores(time_s, smoothed)
        for index, keyword in enumerate(self.keywords, start=1):
            score = float(smoothed[index])
            limit = self.thresholds[keyword]
            if not score >= limit:  # NaN never detects
                continue
            last = self._last_fire.get(keyword)
            if last is not None and (step - last) * self._chunk < self._refractory_samples:
                continue
            self._last_fire[keyword] = step
            detection = Detection(keyword=keyword, score=score, time_s=time_s,
                                  class_index=index, step=step, threshold=limit)
            logger.debug("detected %s at %.2f s (score %.3f)", keyword, time_s, score)
            found.append(detection)
            if self.on_detection is not None:
                self.on_detection(detection)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self.backend}, {self._step} steps"
        return f"Detector({str(self.model_dir)!r}, {state})"
