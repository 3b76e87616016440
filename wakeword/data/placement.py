"""Arranging speech inside a fixed-length clip: trim silence, place a segment, cut a window."""

from __future__ import annotations

import numpy as np

from wakeword.data.audio_io import SAMPLE_RATE_HZ
from wakeword.errors import ConfigError

__all__ = ["active_span", "place_at_end", "random_window", "trim_silence"]


def active_span(audio: np.ndarray, *, sample_rate_hz: int = SAMPLE_RATE_HZ,
                frame_ms: float = 10.0, range_db: float = 40.0,
                floor_margin_db: float = 10.0, pad_ms: float = 30.0) -> tuple[int, int]:
    """``(start, end)`` sample indices of the speech in ``audio`` (energy-based).

    A 10-ms frame is active when its level is within ``range_db`` of the loudest frame and at
    least ``floor_margin_db`` above the noise floor (the 10th percentile of frame levels), so
    both clean TTS and recordings with room noise are trimmed. ``pad_ms`` of context is kept on
    each side for weak onsets and endings. Returns ``(0, 0)`` for silence.
    """
    audio = np.asarray(audio, dtype=np.float32)
    frame = max(1, round(sample_rate_hz * frame_ms / 1000.0))
    n_frames = int(np.ceil(audio.size / frame))
    if n_frames == 0:
        return 0, 0
    padded = np.zeros(n_frames * frame, dtype=np.float64)
    padded[: audio.size] = audio
    power = np.mean(padded.reshape(n_frames, frame) ** 2, axis=1)
    if power.max() <= 1e-12:
        return 0, 0
    level_db = 10.0 * np.log10(power + 1e-12)
    threshold = max(level_db.max() - range_db, np.percentile(level_db, 10) + floor_margin_db)
    active = np.flatnonzero(level_db >= min(threshold, level_db.max()))
    pad = round(sample_rate_hz * pad_ms / 1000.0)
    start = max(0, int(active[0]) * frame - pad)
    end = min(audio.size, (int(active[-1]) + 1) * frame + pad)
    return start, end


def trim_silence(audio: np.ndarray, *, sample_rate_hz: int = SAMPLE_RATE_HZ,
                 range_db: float = 40.0, pad_ms: float = 30.0) -> np.ndarray:
    """``audio`` without its leading and trailing silence (see :func:`active_span`); an empty
    array if it is all silence."""
    start, end = active_span(audio, sample_rate_hz=sample_rate_hz, range_db=range_db,
                             pad_ms=pad_ms)
    return np.asarray(audio, dtype=np.float32)[start:end].copy()


def place_at_end(segment: np.ndarray, n_samples: int, end_sample: int) -> np.ndarray:
    """A clip of ``n_samples`` zeros with ``segment`` ending at ``end_sample`` (exclusive).

    If the segment is longer than ``end_sample`` its beginning is cut off.
    """
    if not 0 < end_sample <= n_samples:
        raise ConfigError(f"place_at_end: end_sample is {end_sample}; use 1..{n_samples}")
    clip = np.zeros(n_samples, dtype=np.float32)
    segment = np.asarray(segment, dtype=np.float32)
    length = min(segment.size, end_sample)
    if length:
        clip[end_sample - length: end_sample] = segment[segment.size - length:]
    return clip


def random_window(audio: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """``n_samples`` of ``audio``: a random window if it is longer, else the whole audio at a
    random offset in a clip of zeros."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.size >= n_samples:
        start = int(rng.integers(audio.size - n_samples + 1))
        return audio[start: start + n_samples].copy()
    clip = np.zeros(n_samples, dtype=np.float32)
    start = int(rng.integers(n_samples - audio.size + 1))
    clip[start: start + audio.size] = audio
    return clip
