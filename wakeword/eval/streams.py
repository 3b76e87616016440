"""Evaluation audio: padded, noisy positive clips and long negative streams.

Positives are the keyword recordings, each padded with silence on both sides (so a streaming
model hears the keyword start and has time to fire after it) and mixed with noise at a given
SNR, the way training mixes it (``wakeword.data``: ``NoiseBank`` and ``mix_at_snr``).
Negatives are files and folders of audio without the keyword, packed into segments of a bounded
length; each segment is scored from a fresh state and their false accepts add up.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from wakeword.data.audio_io import load_audio, load_folder
from wakeword.data.augment import mix_at_snr
from wakeword.data.noise import NoiseBank
from wakeword.errors import ConfigError, DataError

__all__ = [
    "SAMPLE_RATE_HZ",
    "NegativeStream",
    "PositiveClip",
    "negative_stream",
    "positive_clips",
]

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16000
AudioArray = npt.NDArray[np.float32]
PathLike = str | os.PathLike[str]


@dataclass(frozen=True, kw_only=True, eq=False)
class PositiveClip:
    """One padded positive clip: float32 mono ``audio``; the recording (from ``source``) spans
    ``keyword_start_s .. keyword_end_s`` inside it."""

    audio: AudioArray
    keyword_start_s: float
    keyword_end_s: float
    source: Path | None = None


@dataclass(frozen=True, kw_only=True, eq=False)
class NegativeStream:
    """Negative audio as float32 mono segments (scored separately; counts add up)."""

    segments: tuple[AudioArray, ...]
    sample_rate_hz: int = SAMPLE_RATE_HZ

    @property
    def seconds(self) -> float:
        return sum(int(s.size) for s in self.segments) / self.sample_rate_hz

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0


def positive_clips(
    folder: PathLike,
    *,
    pad_s: float = 1.0,
    snr_db: float | None = 10.0,
    noise: NoiseBank | None = None,
    seed: int = 0,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
) -> list[PositiveClip]:
    """Load the keyword recordings in ``folder`` and build padded, noisy positive clips.

    Args:
        folder: a folder of recordings of the keyword
            (:func:`wakeword.data.audio_io.load_folder`; unreadable files are skipped with a
            warning).
        pad_s: seconds of silence added before and after each recording.
        snr_db: signal-to-noise ratio of the mix, as in training
            (:func:`wakeword.data.augment.mix_at_snr`: the recording's active power over the
            noise power). ``None`` leaves the clips clean.
        noise: where the noise comes from, e.g. ``NoiseBank.from_folder(dir,
            recording_probability=1.0)``; ``None``: generated white/pink/brown noise
            (``NoiseBank()``).
        seed: seeds the noise, so equal arguments give bit-identical clips.
        sample_rate_hz: sample rate of the clips.

    A mix that would clip is scaled down as a whole (the SNR is kept).
    """
    if not (math.isfinite(pad_s) and pad_s >= 0):
        raise ConfigError(f"pad_s is {pad_s}; use a number of seconds >= 0")
    if snr_db is not None and not math.isfinite(snr_db):
        raise ConfigError(f"snr_db is {snr_db}; use a finite number of dB, or None for no noise")
    bank = NoiseBank() if noise is None else noise
    rng = np.random.default_rng(seed)
    pad = np.zeros(round(pad_s * sample_rate_hz), dtype=np.float32)
    recordings, paths = load_folder(folder, sample_rate_hz=sample_rate_hz)
    clips: list[PositiveClip] = []
    for recording, path in zip(recordings, paths, strict=True):
        speech = np.asarray(recording, dtype=np.float32)
        mixed = np.concatenate([pad, speech, pad])
        if snr_db is not None:
            mixed = mix_at_snr(mixed, bank.sample(mixed.size, rng), snr_db)
        peak = float(np.max(np.abs(mixed))) if mixed.size else 0.0
        if peak > 1.0:
            mixed = mixed / np.float32(peak)
        clips.append(PositiveClip(
            audio=np.ascontiguousarray(mixed, dtype=np.float32),
            keyword_start_s=pad.size / sample_rate_hz,
            keyword_end_s=(pad.size + speech.size) / sample_rate_hz,
            source=Path(path),
        ))
    return clips


def _expand(sources: Iterable[PathLike], sample_rate_hz: int) -> Iterable[AudioArray]:
    for source in sources:
        path = Path(source)
        if path.is_dir():
            yield from load_folder(path, sample_rate_hz=sample_rate_hz)[0]
        elif path.is_file():
            yield load_audio(path, sample_rate_hz)
        else:
            raise DataError(f"{path}: no such file or folder; pass audio files or folders of "
                            "negative audio (speech, noise, music without the keyword)")


def negative_stream(
    sources: Sequence[PathLike],
    *,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    segment_s: float = 600.0,
) -> NegativeStream:
    """Concatenate the audio of ``sources`` (files and folders, in order) into one stream.

    Consecutive clips are joined back to back into segments of about ``segment_s`` seconds
    (a longer file stays whole), so short clips play as one continuous stream without building
    one giant array. Folders are read with :func:`wakeword.data.audio_io.load_folder`
    (unreadable files skipped with a warning), files with ``load_audio``.
    """
    if not sources:
        raise DataError("no negative sources given; pass audio files or folders")
    if not (math.isfinite(segment_s) and segment_s > 0):
        raise ConfigError(f"segment_s is {segment_s}; use a positive number of seconds")
    limit = segment_s * sample_rate_hz
    segments: list[AudioArray] = []
    pending: list[AudioArray] = []
    pending_samples = 0
    for clip in _expand(sources, sample_rate_hz):
        if pending and pending_samples + clip.size > limit:
            segments.append(np.concatenate(pending))
            pending, pending_samples = [], 0
        pending.append(np.asarray(clip, dtype=np.float32))
        pending_samples += clip.size
    if pending:
        segments.append(np.concatenate(pending))
    segments = [s for s in segments if s.size]
    if not segments:
        raise DataError(f"{[str(s) for s in sources]}: no negative audio found; pass audio "
                        "files or folders that hold some")
    return NegativeStream(segments=tuple(segments), sample_rate_hz=sample_rate_hz)
