"""Audio files read in blocks: memory stays flat however long the file is. numpy only.

* :class:`AudioFile` opens a file, checks its header (sample rate within
  :data:`MIN_FILE_RATE_HZ`-:data:`MAX_FILE_RATE_HZ`, known sample format) and yields
  ``[frames, channels]`` float32 blocks. PCM WAV (8/16/24/32-bit) is read with the standard
  library's ``wave``; FLAC, OGG and float WAV need the optional ``soundfile`` package.
* A WAV cut inside a sample or a frame (a partial 24-bit sample, half a stereo frame) loses
  only that partial frame, with a warning; a header that promises more data than the file holds
  ends at the file's end.
* :meth:`AudioFile.from_stream` reads a binary stream instead (standard input): a WAV
  stream when it starts with a RIFF/WAVE header, else raw 16-bit little-endian mono PCM at a
  given rate (what ``arecord -f S16_LE -r 16000 -c 1`` and ``sox ... -t raw`` write).
* :func:`iter_audio` turns a file (or a stream) into 1-D float32 mono blocks at the model's rate (streaming
  resampler, channel check or downmix, NaN check) and :func:`read_audio` joins them, for
  callers that want the whole signal (short clips).
"""

from __future__ import annotations

import logging
import math
import os
import wave
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from device_runtime.audio import (
    INT16_SCALE,
    SOUNDFILE_SUFFIXES,
    Resampler,
    check_finite,
)
from device_runtime.errors import AudioError, BackendUnavailableError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["BLOCK_FRAMES", "MAX_FILE_RATE_HZ", "MIN_FILE_RATE_HZ", "STDIN", "AudioFile",
           "iter_audio", "read_audio"]

logger = logging.getLogger(__name__)

MIN_FILE_RATE_HZ = 4000
MAX_FILE_RATE_HZ = 384000
BLOCK_FRAMES = 32768
STDIN = "-"  # the file name that means standard input on the command line


class _PrefixedStream:
    """A read-only binary stream that first returns ``prefix``, then the rest of ``stream``
    (so a header can be sniffed from a pipe, which cannot seek back)."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = prefix
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            data, self._prefix = self._prefix + self._stream.read(), b""
            return data
        head, self._prefix = self._prefix[:size], self._prefix[size:]
        if len(head) < size:
            head += _read_exactly(self._stream, size - len(head))
        return head

    def close(self) -> None:  # the caller owns the stream
        pass


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes: fewer only at the end of the stream (a pipe returns short reads)."""
    parts, got = [], 0
    while got < size:
        part = stream.read(size - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _decode_pcm(raw: bytes, width: int) -> np.ndarray:
    if width == 1:
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / INT16_SCALE
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        return ints.astype(np.float32) / float(1 << 23)
    return (np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2.0**31).astype(np.float32)


class AudioFile:
    """One audio file opened for block reading (a context manager).

    Attributes: ``path``, ``sample_rate_hz``, ``channels`` and ``frames`` (as the header
    declares; a cut file holds fewer), ``duration_s`` and ``container`` (``"WAV"`` when read
    with ``wave``, else soundfile's format name, e.g. ``"FLAC"``, ``"OGG"``, ``"MPEG"``).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._wave: Any = None
        self._sf: Any = None
        self._raw: BinaryIO | None = None
        if not self.path.is_file():
            raise AudioError(f"{self.path}: no such file")
        if self.path.suffix.lower() in SOUNDFILE_SUFFIXES:
            self._open_soundfile()
        else:
            self._open_wave()
        self._check_header()

    @classmethod
    def from_stream(cls, stream: BinaryIO, *, raw_sample_rate_hz: int = 16000,
                    name: str = "<stdin>") -> AudioFile:
        """Read a binary stream (e.g. ``sys.stdin.buffer``): WAV if it starts with a RIFF/WAVE
        header, else raw 16-bit little-endian mono PCM at ``raw_sample_rate_hz``. The stream is
        not closed. ``frames`` is what a WAV header declares, 0 for raw PCM (unknown)."""
        self = cls.__new__(cls)
        self.path = Path(name)
        self._wave = self._sf = self._raw = None
        head = _read_exactly(stream, 12)
        joined = _PrefixedStream(head, stream)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            self._open_wave(joined)
        else:
            self._raw = joined  # type: ignore[assignment]
            self.container = "RAW"
            self.sample_rate_hz = int(raw_sample_rate_hz)
            self.channels = 1
            self._width = 2
            self.frames = 0
        self._check_header()
        return self

    def _check_header(self) -> None:
        if not MIN_FILE_RATE_HZ <= self.sample_rate_hz <= MAX_FILE_RATE_HZ:
            rate = self.sample_rate_hz
            self.close()
            raise AudioError(f"{self.path}: the header says {rate} Hz, outside "
                             f"{MIN_FILE_RATE_HZ}-{MAX_FILE_RATE_HZ} Hz; the file is damaged "
                             "or not audio: re-record or convert it (e.g. sox in.wav -r 16000 "
                             "out.wav)")
        if self.channels < 1:
            self.close()
            raise AudioError(f"{self.path}: the header says {self.channels} channels; the file "
                             "is damaged")

    def _open_wave(self, stream: Any = None) -> None:
        try:
            # closed by close(); a stream is read, not closed (wave leaves file objects open)
            wf = wave.open(str(self.path) if stream is None else stream, "rb")  # noqa: SIM115
        except wave.Error as exc:
            if "unknown format" in str(exc) and stream is None:  # e.g. 32-bit float WAV
                logger.debug("%s: %s; trying soundfile", self.path, exc)
                self._open_soundfile()
                return
            raise AudioError(f"{self.path}: not a readable WAV file ({exc}); pass a PCM WAV, "
                             "or FLAC/OGG with soundfile installed") from exc
        except EOFError as exc:
            raise AudioError(f"{self.path}: truncated WAV file "
                             f"({str(exc) or 'it ends before the audio data'})") from exc
        except (OSError, ValueError, OverflowError) as exc:
            raise AudioError(f"{self.path}: not a readable WAV file ({exc})") from exc
        self._wave = wf
        self.container = "WAV"
        self.sample_rate_hz = int(wf.getframerate())
        self.channels = int(wf.getnchannels())
        self._width = int(wf.getsampwidth())
        self.frames = int(wf.getnframes())
        if self._width not in (1, 2, 3, 4):
            self.close()
            raise AudioError(f"{self.path}: {8 * self._width}-bit WAV is not supported; use "
                             "16-bit PCM")

    def _open_soundfile(self) -> None:
        try:
            import soundfile
        except ImportError as exc:
            raise BackendUnavailableError(
                f"{self.path}: reading {self.path.suffix or 'this'} files needs the optional "
                "'soundfile' package: pip install soundfile (or convert the file to 16-bit PCM "
                "WAV)") from exc
        try:
            self._sf = soundfile.SoundFile(str(self.path))
        except (RuntimeError, soundfile.LibsndfileError, ValueError, OSError) as exc:
            raise AudioError(f"{self.path}: cannot be decoded ({exc}); check the file") from exc
        self.container = str(self._sf.format)
        self.sample_rate_hz = int(self._sf.samplerate)
        self.channels = int(self._sf.channels)
        self.frames = int(self._sf.frames)

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate_hz

    def blocks(self, frames: int = BLOCK_FRAMES, *, warn_partial: bool = True
               ) -> Iterator[np.ndarray]:
        """``[n, channels]`` float32 blocks of at most ``frames`` frames, in order.

        A partial last frame is dropped with a warning (``warn_partial=False``: logged at DEBUG
        only, for a second pass over a file that was already reported)."""
        if self._sf is not None:
            yield from self._soundfile_blocks(frames)
            return
        frame_bytes = self._width * self.channels
        pending = b""
        while True:
            try:
                raw = (self._wave.readframes(frames) if self._raw is None
                       else self._raw.read(frames * frame_bytes))
            except (EOFError, OSError, wave.Error) as exc:
                raise AudioError(f"{self.path}: read error ({exc})") from exc
            if not raw:
                break
            raw = pending + raw
            whole = len(raw) - len(raw) % frame_bytes
            pending = raw[whole:]
            if whole:
                data = _decode_pcm(raw[:whole], self._width)
                yield data.reshape(-1, self.channels)
        if pending:
            logger.log(logging.WARNING if warn_partial else logging.DEBUG,
                       "%s: the file ends inside a frame (%d stray byte(s) of a %d-byte "
                       "frame); that partial frame was dropped (the file was probably cut)",
                       self.path, len(pending), frame_bytes)

    def _soundfile_blocks(self, frames: int) -> Iterator[np.ndarray]:
        import soundfile

        while True:
            try:
                data = self._sf.read(frames, dtype="float32", always_2d=True)
            except (RuntimeError, soundfile.LibsndfileError, ValueError) as exc:
                raise AudioError(f"{self.path}: cannot be decoded ({exc}); check the file") \
                    from exc
            if data.shape[0] == 0:
                return
            yield data

    def close(self) -> None:
        for handle in (self._wave, self._sf):
            if handle is not None:
                handle.close()
        self._wave = self._sf = self._raw = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _mono(block: np.ndarray, downmix: bool, where: str) -> np.ndarray:
    if block.shape[1] == 1:
        return block[:, 0]
    if not downmix:
        raise AudioError(
            f"{where}: has {block.shape[1]} channels but the model takes mono audio; average "
            "them with downmix=True (CLI: --downmix), or convert the file with "
            "`sox in.wav -c 1 out.wav`")
    mixed: np.ndarray = block.mean(axis=1, dtype=np.float32)
    return mixed


def iter_audio(path: str | os.PathLike[str] | BinaryIO, sample_rate_hz: int = 16000, *,
               downmix: bool = False, max_s: float | None = None,
               block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """1-D float32 mono blocks of ``path`` at ``sample_rate_hz``, read block by block.

    ``path`` may also be a binary stream (anything with ``read``, e.g. ``sys.stdin.buffer``):
    a WAV stream, or raw 16-bit little-endian mono PCM at ``sample_rate_hz`` (see
    :meth:`AudioFile.from_stream`).

    Other rates are resampled (streaming, same samples as :func:`~device_runtime.audio.resample`
    of the whole file). Several channels are an :class:`AudioError` unless ``downmix``. A file
    longer than ``max_s`` seconds (by its header or by what it holds) is an
    :class:`AudioError`. A file with no samples is an :class:`AudioError` (raised at the end).
    """
    if hasattr(path, "read"):
        opened = AudioFile.from_stream(path, raw_sample_rate_hz=sample_rate_hz)  # type: ignore[arg-type]
    else:
        opened = AudioFile(path)  # type: ignore[arg-type]
    where = str(opened.path)
    with opened as audio:
        rate = audio.sample_rate_hz
        if max_s is not None and audio.duration_s > max_s:
            raise AudioError(f"{where}: is {audio.duration_s:.1f} s long, more than the "
                             f"{max_s:g} s allowed here; cut it to the part you need")
        limit = math.inf if max_s is None else max_s * rate
        resampler = None
        if rate != sample_rate_hz:
            logger.info("%s: resampling %d Hz -> %d Hz (the model's rate)", where, rate,
                        sample_rate_hz)
            resampler = Resampler(rate, sample_rate_hz)
        seen = 0
        for block in audio.blocks(block_frames):
            mono = _mono(block, downmix, where)
            try:
                check_finite(mono, where=where)
            except AudioError as exc:
                raise AudioError(f"{exc} (in the block starting at {seen / rate:.2f} s)") \
                    from None
            seen += mono.size
            if seen > limit:
                raise AudioError(f"{where}: holds more than the {max_s:g} s allowed here; cut "
                                 "it to the part you need")
            out = resampler.process(mono) if resampler is not None else mono
            if out.size:
                yield np.ascontiguousarray(out, dtype=np.float32)
        if seen == 0:
            raise AudioError(f"{where}: contains no samples")
        if resampler is not None:
            tail = resampler.flush()
            if tail.size:
                yield tail


def read_audio(path: str | os.PathLike[str], sample_rate_hz: int = 16000, *,
               downmix: bool = False, max_s: float | None = None) -> np.ndarray:
    """The whole file as 1-D float32 mono samples at ``sample_rate_hz`` (see
    :func:`iter_audio`); prefer :func:`iter_audio` for long files."""
    blocks = list(iter_audio(path, sample_rate_hz, downmix=downmix, max_s=max_s))
    return np.concatenate(blocks) if len(blocks) != 1 else blocks[0]
