"""Evaluation audio: padded, noisy positive clips and long negative streams.

Positives are the keyword recordings, each padded with silence on both sides (so a streaming
model hears the keyword start and has time to fire after it) and mixed with noise at a given
SNR, the way training mixes it (``wakeword.data``: ``NoiseBank`` and ``mix_at_snr``).
Negatives are files and folders of audio without the keyword, packed into segments of a bounded
length; each segment is scored from a fresh state and their false accepts add up.

Audio files are read block by block (:func:`wakeword.data.audio_io.iter_audio_blocks`): header
rates outside 4-384 kHz and unreadable files are refused with a message naming the file, a
file cut inside a frame loses that frame with a warning. Negatives are only checked and
measured when the stream is built; their audio is read again, block by block, while it is
scored, so hours of negatives never sit in memory.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from wakeword.data.audio_io import (
    count_samples,
    iter_audio_blocks,
    load_audio_blocks,
    load_folder,
)
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


class NegativeStream:
    """Negative audio as float32 mono segments, each scored from a fresh state (their false
    accepts add up).

    ``NegativeStream(segments=(a, b))`` holds its audio in memory. :func:`negative_stream`
    builds one from files without keeping their audio: a segment is then a run of files, read
    block by block when it is scored (:meth:`blocks`), so memory does not grow with the hours
    of negatives. :attr:`segments` joins each segment into one array (it reads the files:
    fine for minutes of audio, not for hours).
    """

    def __init__(self, segments: Sequence[AudioArray] = (), *,
                 sample_rate_hz: int = SAMPLE_RATE_HZ) -> None:
        self.sample_rate_hz = int(sample_rate_hz)
        self._arrays: tuple[AudioArray, ...] | None = tuple(segments)
        self._files: tuple[tuple[tuple[Path, int], ...], ...] = ()

    @classmethod
    def from_files(cls, segments: Sequence[Sequence[tuple[PathLike, int]]], *,
                   sample_rate_hz: int = SAMPLE_RATE_HZ) -> NegativeStream:
        """A stream whose segment ``i`` plays the files of ``segments[i]`` back to back; each
        file is given as ``(path, samples at sample_rate_hz)`` (see
        :func:`wakeword.data.audio_io.count_samples`)."""
        stream = cls(sample_rate_hz=sample_rate_hz)
        stream._arrays = None
        stream._files = tuple(tuple((Path(path), int(n)) for path, n in segment)
                              for segment in segments)
        return stream

    @property
    def n_segments(self) -> int:
        return len(self._arrays) if self._arrays is not None else len(self._files)

    @property
    def segment_samples(self) -> tuple[int, ...]:
        """Samples in each segment."""
        if self._arrays is not None:
            return tuple(int(np.size(s)) for s in self._arrays)
        return tuple(sum(n for _, n in segment) for segment in self._files)

    @property
    def files(self) -> tuple[Path, ...]:
        """The audio files the stream reads, in order (empty for audio held in memory)."""
        return tuple(path for segment in self._files for path, _ in segment)

    @property
    def seconds(self) -> float:
        return sum(self.segment_samples) / self.sample_rate_hz

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0

    @property
    def segments(self) -> tuple[AudioArray, ...]:
        """Every segment as one float32 array (files are read whole: prefer :meth:`blocks`)."""
        if self._arrays is not None:
            return self._arrays
        return tuple(np.concatenate(list(self.blocks(i))) for i in range(self.n_segments))

    def blocks(self, index: int) -> Iterator[AudioArray]:
        """Segment ``index`` as consecutive float32 blocks (its files read block by block)."""
        if self._arrays is not None:
            yield self._arrays[index]
            return
        for path, expected in self._files[index]:
            got = 0
            for block in iter_audio_blocks(path, self.sample_rate_hz, warn_partial=False):
                got += block.size
                yield block
            if got != expected:
                raise DataError(f"{path}: now holds {got / self.sample_rate_hz:.2f} s of audio "
                                f"but held {expected / self.sample_rate_hz:.2f} s when the "
                                "evaluation started; do not change files while they are "
                                "evaluated, then run it again")

    def describe(self, index: int) -> str:
        """``negative segment <index>`` and, for files, the files it plays."""
        if self._arrays is not None:
            return f"negative segment {index}"
        names = [str(path) for path, _ in self._files[index]]
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        return f"negative segment {index} ({shown})"

    def __repr__(self) -> str:
        where = "in memory" if self._arrays is not None else f"{len(self.files)} file(s)"
        return (f"NegativeStream({self.n_segments} segment(s), {self.seconds:.1f} s at "
                f"{self.sample_rate_hz} Hz, {where})")


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
    recordings, paths = load_folder(folder, sample_rate_hz=sample_rate_hz,
                                    loader=load_audio_blocks)
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


def _measure(sources: Sequence[PathLike], sample_rate_hz: int) -> list[tuple[Path, int]]:
    """Every audio file of ``sources`` with its length in samples (files checked, not kept)."""
    files: list[tuple[Path, int]] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            counts, paths = load_folder(path, sample_rate_hz=sample_rate_hz,
                                        loader=count_samples)
            files.extend(zip(paths, counts, strict=True))
        elif path.is_file():
            files.append((path, count_samples(path, sample_rate_hz)))
        else:
            raise DataError(f"{path}: no such file or folder; pass audio files or folders of "
                            "negative audio (speech, noise, music without the keyword)")
    return files


def negative_stream(
    sources: Sequence[PathLike],
    *,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    segment_s: float = 600.0,
) -> NegativeStream:
    """The audio of ``sources`` (files and folders, in order) as one stream of segments.

    Consecutive files are joined back to back into segments of about ``segment_s`` seconds
    (a longer file stays whole), so short clips play as one continuous stream. Every file is
    checked and measured here (block by block: a bad file is found before any scoring);
    its audio is read again, block by block, when the segment is scored
    (:meth:`NegativeStream.blocks`), so memory does not grow with the file's length. In
    folders, unreadable files are skipped with one warning
    (:func:`wakeword.data.audio_io.load_folder`); a named file that cannot be read is a
    :class:`DataError` naming it.
    """
    if not sources:
        raise DataError("no negative sources given; pass audio files or folders")
    if not (math.isfinite(segment_s) and segment_s > 0):
        raise ConfigError(f"segment_s is {segment_s}; use a positive number of seconds")
    limit = segment_s * sample_rate_hz
    segments: list[list[tuple[Path, int]]] = []
    pending: list[tuple[Path, int]] = []
    pending_samples = 0
    for path, samples in _measure(sources, sample_rate_hz):
        if pending and pending_samples + samples > limit:
            segments.append(pending)
            pending, pending_samples = [], 0
        pending.append((path, samples))
        pending_samples += samples
    if pending:
        segments.append(pending)
    segments = [s for s in segments if sum(n for _, n in s)]
    if not segments:
        raise DataError(f"{[str(s) for s in sources]}: no negative audio found; pass audio "
                        "files or folders that hold some")
    return NegativeStream.from_files(segments, sample_rate_hz=sample_rate_hz)
