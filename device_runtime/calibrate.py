"""Pick a model's detection threshold from audio that must not trigger it.

A threshold chosen on synthetic validation clips says little about real speech (the shared data
README measured a "safe" threshold firing 14 times an hour on real speech). :func:`calibrate`
streams negative audio (speech, TV, the room the device will live in) through the same
:class:`~device_runtime.detector.Detector` the device runs (same smoothing, same refractory
merge) and picks the lowest threshold whose false accepts per hour stay within a target::

    result = calibrate("models/computer", ["recordings/kitchen/", "podcast.wav"],
                       fa_per_hour=0.5)
    result.threshold        # written into models/computer/manifest.json unless write=False

The stream must be long enough to resolve the target: with ``H`` hours, ``floor(target * H)``
false accepts are allowed, so under ``1 / target`` hours the rule allows none and the threshold
would land just above the stream's highest score. Such a result is reported (``resolved`` is
false) but never written: :func:`calibrate` refuses to write it. Audio that is mostly silence
(less than ``1 / target`` hours of sound above -70 dBFS) cannot be trusted to lower the
threshold either: it may raise it, never lower it. Files are streamed block by block.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from device_runtime.audio_file import iter_audio
from device_runtime.errors import DeviceRuntimeError
from device_runtime.manifest import load_manifest, save_manifest

__all__ = ["CalibrationResult", "calibrate", "count_detections", "threshold_for_rate"]

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
#: 10 ms frames quieter than this RMS (-70 dBFS) do not count as sound
SILENCE_RMS = 10 ** (-70 / 20)
MAX_FA_PER_HOUR = 3600.0
#: thresholds are picked from this grid (finer near 1, where wake-word thresholds live)
GRID = np.unique(np.concatenate([np.arange(0.05, 0.9, 0.01), np.arange(0.9, 0.999, 0.001),
                                 np.arange(0.999, 0.99999, 0.00001)])).round(6)


@dataclass(frozen=True)
class CalibrationResult:
    keyword: str
    threshold: float
    previous_threshold: float
    target_fa_per_hour: float
    hours: float
    false_accepts: int
    false_accepts_per_hour: float
    files: int
    resolved: bool  # False when the stream is too short for the target (no false accept allowed)
    written: bool

    @property
    def summary(self) -> str:
        note = "" if self.resolved else (
            f" (only {self.hours:.2f} h of audio: too short to resolve "
            f"{self.target_fa_per_hour:g} FA/h, so the threshold sits above every score)")
        return (f"{self.keyword}: threshold {self.previous_threshold:.4f} -> {self.threshold:.4f}"
                f"; {self.false_accepts} false accept(s) in {self.hours:.2f} h "
                f"({self.false_accepts_per_hour:.2f}/h, target {self.target_fa_per_hour:g}/h)"
                f"{note}")


def count_detections(scores: np.ndarray, threshold: float, refractory_steps: int) -> int:
    """Detections a stream of per-step ``scores`` yields at ``threshold``: a step at or above
    the threshold fires unless it is within ``refractory_steps`` of the last firing step
    (the :class:`Detector` rule)."""
    above = np.flatnonzero(np.asarray(scores) >= threshold)
    count, last = 0, -(10**12)
    for step in above:
        if step - last >= refractory_steps:
            count += 1
            last = step
    return count


def threshold_for_rate(streams: Sequence[np.ndarray], hours: float, target_fa_per_hour: float,
                       refractory_steps: int, grid: np.ndarray = GRID) -> tuple[float, int]:
    """The lowest grid threshold whose detections over ``streams`` stay within
    ``floor(target * hours)``; returns ``(threshold, detections)``."""
    allowed = math.floor(target_fa_per_hour * hours + 1e-9)
    best = (float(grid[-1]), 0)
    for threshold in grid[::-1]:  # from strict to lax; stop at the first that exceeds
        count = sum(count_detections(s, float(threshold), refractory_steps) for s in streams)
        if count > allowed:
            break
        best = (float(threshold), count)
    return best


def _duration(hours: float) -> str:
    seconds = hours * 3600.0
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{hours:.2f} h"


def _active_samples(block: np.ndarray, sample_rate_hz: int) -> int:
    """Samples of ``block`` in 10 ms frames louder than :data:`SILENCE_RMS`."""
    frame = max(1, sample_rate_hz // 100)
    n = block.size // frame
    if n == 0:
        return 0
    rms = np.sqrt(np.mean(np.square(block[: n * frame].reshape(n, frame), dtype=np.float64),
                          axis=1))
    return int(np.count_nonzero(rms >= SILENCE_RMS)) * frame


def _audio_files(sources: Iterable[str | os.PathLike[str]]) -> list[Path]:
    files: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise DeviceRuntimeError(f"{path}: no audio files ({', '.join(AUDIO_SUFFIXES)}) "
                                         "in this folder or below; point --negatives at "
                                         "recordings that must not trigger the model")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise DeviceRuntimeError(f"{path}: no such file or folder; check the path")
    if not files:
        raise DeviceRuntimeError("calibrate needs negative audio: give files or folders")
    return files


def calibrate(model_dir: str | os.PathLike[str], sources: Sequence[str | os.PathLike[str]]
              | None = None, *, audio: Sequence[np.ndarray] | None = None,
              fa_per_hour: float = 0.5, keyword: str | None = None, backend: str = "auto",
              min_threshold: float = 0.5, write: bool = True, progress: Any = None,
              description: str | None = None) -> CalibrationResult:
    """Choose ``keyword``'s threshold so ``audio``/``sources`` fire at most ``fa_per_hour``.

    ``sources`` are files or folders (searched recursively for WAV/FLAC/OGG; other rates are
    resampled); ``audio`` are float32 arrays at the model's rate. Everything is streamed as one
    continuous stream per file (the state is not reset inside a file). The threshold is never
    set below ``min_threshold``. With ``write`` the manifest's threshold and a
    ``provenance.calibration`` record are written atomically; the graphs and weights are not
    touched; ``description`` (what the negative audio is) goes into that record.
    """
    from device_runtime.detector import Detector

    if not (isinstance(fa_per_hour, numbers.Real) and 0 < fa_per_hour <= MAX_FA_PER_HOUR):
        raise DeviceRuntimeError(f"fa_per_hour is {fa_per_hour}; use a positive rate such as 0.5 "
                                 f"(at most {MAX_FA_PER_HOUR:g})")
    low, high = float(GRID[0]), float(GRID[-1])
    if not (isinstance(min_threshold, numbers.Real) and low <= min_threshold <= high):
        raise DeviceRuntimeError(f"min_threshold is {min_threshold}; use a probability in "
                                 f"[{low:g}, {high:g}] (default 0.5)")
    model_dir = Path(model_dir)
    manifest = load_manifest(model_dir)
    keyword = keyword or manifest.keywords[0]
    if keyword not in manifest.keywords:
        raise DeviceRuntimeError(f"{model_dir}: has no keyword {keyword!r}; it detects "
                                 f"{list(manifest.keywords)}")
    files = _audio_files(sources) if sources else []
    arrays = list(audio or [])
    if not files and not arrays:
        raise DeviceRuntimeError("calibrate needs negative audio: give files, folders or arrays")
    column = manifest.class_names.index(keyword)
    rate = manifest.sample_rate_hz
    streams: list[np.ndarray] = []
    samples = active = 0
    current: list[float] = []

    def collect(time_s: float, scores: np.ndarray) -> None:
        current.append(float(scores[column]))

    with Detector(model_dir, backend=backend, threshold=1.0, on_scores=collect,
                  trace_s=1.0) as det:
        items: list[Any] = [*files, *arrays]
        iterator = progress(items) if progress is not None else items
        for item in iterator:
            if isinstance(item, Path):
                blocks: Iterable[np.ndarray] = iter_audio(item, rate, downmix=True)
            else:
                blocks = [np.asarray(item, dtype=np.float32)]
            det.reset()
            current.clear()
            for block in blocks:  # one continuous stream per file, read block by block
                det.process(block)
                samples += block.size
                active += _active_samples(block.reshape(-1), rate)
            streams.append(np.asarray(current, dtype=np.float32))
        refractory_steps = max(1, math.ceil(det.refractory_s * rate / manifest.chunk_samples))
    hours = samples / rate / 3600.0
    active_hours = active / rate / 3600.0
    grid = GRID[GRID >= min_threshold]
    threshold, count = threshold_for_rate(streams, hours, fa_per_hour, refractory_steps, grid)
    resolved = math.floor(fa_per_hour * hours + 1e-9) >= 1
    needed_h = 1.0 / fa_per_hour
    previous = manifest.threshold(keyword)
    if not resolved:
        logger.warning("%s: %.2f h of negative audio cannot resolve %g false accepts per hour "
                       "(at least %.2f h needed)", model_dir, hours, fa_per_hour, needed_h)
        if write:
            raise DeviceRuntimeError(
                f"{model_dir}: {_duration(hours)} of negative audio is too short to resolve "
                f"{fa_per_hour:g} false accepts per hour (at least {_duration(needed_h)} needed); "
                "the manifest was not changed: give more audio, raise --fa-per-hour, or use "
                "--dry-run to see the figures")
    elif threshold < previous and active_hours < needed_h:
        if write:
            raise DeviceRuntimeError(
                f"{model_dir}: only {_duration(active_hours)} of the {_duration(hours)} of "
                f"negative audio is sound (the rest is near silence), less than the "
                f"{_duration(needed_h)} needed to trust {fa_per_hour:g} false accepts per hour; the "
                f"threshold would drop {previous:.4f} -> {threshold:.4f}, so the manifest was not "
                "changed: calibrate on real recordings of speech, TV or the room")
        logger.warning("%s: mostly silent negative audio; a threshold below %.4f would not be "
                       "written", model_dir, previous)
    written = False
    if write:
        record = {"keyword": keyword, "target_fa_per_hour": fa_per_hour, "hours": hours,
                  "false_accepts": count, "files": len(files), "arrays": len(arrays),
                  "previous_threshold": previous, "threshold": threshold,
                  "smoothing_steps": manifest.smoothing_steps,
                  "refractory_s": manifest.refractory_s}
        if description:
            record["description"] = description
        provenance = dict(manifest.provenance)
        old_history = provenance.get("calibration_history", [])
        history = list(old_history) if isinstance(old_history, list) else []
        if "calibration" in provenance:
            history.append(provenance["calibration"])
        provenance["calibration"] = record
        if history:
            provenance["calibration_history"] = history
        updated = replace(manifest, thresholds={**manifest.thresholds, keyword: threshold},
                          provenance=provenance)
        save_manifest(updated, model_dir)  # atomic; model.json holds no thresholds
        written = True
    result = CalibrationResult(keyword=keyword, threshold=threshold, previous_threshold=previous,
                               target_fa_per_hour=fa_per_hour, hours=hours, false_accepts=count,
                               false_accepts_per_hour=count / hours if hours else 0.0,
                               files=len(files) + len(arrays), resolved=resolved,
                               written=written)
    logger.info("%s: %s", model_dir, result.summary)
    return result
